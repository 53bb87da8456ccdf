"""Helpers shared by the benchmark scripts: paths, an MNIST root, and small statistics."""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "data"


def shipped_pairs(root: Path) -> dict[str, tuple[str, Path]]:
    """Every shipped pair, present or not: name -> (its models' /reconstruct prefix, the folder holding tied/ and
    untied/). Each family's pair, from the family table, then the 2-D pair."""
    from tiedae.families import FAMILIES

    pairs = {name: (family.result_prefix, root / family.checkpoints) for name, family in FAMILIES.items()}
    pairs["2d"] = ("2d_", root / "2d")  # the first family's shape with a 2-D code, for the latent maps
    return pairs


def mnist_root(data_dir: str | None, *, synthetic_size: int = 2000) -> tuple[str, str]:
    """(root, description): the real MNIST if data_dir has MNIST/raw/, else a synthetic IDX set in a temp dir."""
    root = Path(data_dir) if data_dir else DEFAULT_DATA
    if (root / "MNIST" / "raw").is_dir():
        return str(root), f"MNIST at {root}"
    from tiedae.drawing import draw_digit
    from tiedae.preprocess import sketch_to_mnist

    tmp = Path(tempfile.mkdtemp(prefix="tiedae-bench-data-"))
    raw = tmp / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    digits = [np.round(255 * sketch_to_mnist(draw_digit(d))).astype(np.uint8) for d in range(10)]
    for prefix, n in (("train", synthetic_size), ("t10k", synthetic_size // 2)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.stack([np.roll(digits[k], tuple(rng.integers(-2, 3, 2)), axis=(0, 1)) for k in labels])
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, n) + labels.tobytes())
    return str(tmp), f"synthetic stroke digits ({synthetic_size} train) in {tmp}: {root} has no MNIST/raw/"


def parse_with_quick(p: argparse.ArgumentParser, quick: dict, what: str) -> argparse.Namespace:
    """Add --quick (a smoke run: `what`), parse, and let --quick set the options in `quick`."""
    p.add_argument("--quick", action="store_true", help=f"{what}: a smoke run")
    args = p.parse_args()
    if args.quick:
        vars(args).update(quick)
    return args


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> str:
    """One line: cores, CPU model, torch and gradio versions."""
    import os
    import platform

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for module in ("torch", "gradio"):
        try:
            versions.append(f"{module} {__import__(module).__version__}")
        except ImportError:
            pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, " + ", ".join(versions)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(script: Path, port: int, *args: str) -> subprocess.Popen:
    """`python script args…` serving on 127.0.0.1:port, quietly."""
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_ANALYTICS_ENABLED": "False"}
    return subprocess.Popen(
        [sys.executable, str(script), *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def verdict(quick: bool, met: dict[str, bool]) -> str:
    """A SUMMARY line's verdict on its goals: 'all goals met', 'missed: …', or not judged in a quick run."""
    if quick:
        return "quick run, not judged"
    return "all goals met" if all(met.values()) else "missed: " + ", ".join(k for k, v in met.items() if not v)


def wait_http_200(port: int, timeout: float = 120) -> float:
    """Seconds until GET / answers 200."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"no HTTP 200 on port {port} within {timeout}s")
