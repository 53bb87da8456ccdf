"""Bad input and faults: every kind of bad input the app knows, fired at a running server, then faults.

    python benchmarks/faults.py

Part 1 starts `python app.py` on a free port and sends each bad input through the API
(gradio_client, or raw HTTP for what the client refuses to send, such as NaN), expecting a
clear message each time; then checks the server still answers a normal call.
Part 2 injects faults: Hub unreachable, truncated safetensors, a config of another
architecture, training interrupted while saving, and a push failing mid-way.
Each line says handled / NOT HANDLED with the message shown. Exits 1 if anything is not
handled. This is a correctness check, so --quick (accepted for CI symmetry) runs it all too.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np
from _common import ROOT, free_port, mnist_root, start_server, wait_http_200
from PIL import Image, ImageDraw

from tiedae.drawing import draw_digit, photograph

RESULTS: list[tuple[str, bool, str]] = []


def report(kind: str, handled: bool, message: str) -> None:
    RESULTS.append((kind, handled, message))
    first_line = " ".join(str(message).split())[:150]
    print(f"{'handled    ' if handled else 'NOT HANDLED'}  {kind:<38} {first_line}", flush=True)


# --- part 1: bad input through the API ----------------------------------------------------------


def png_bytes(image: Image.Image, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A valid-looking PNG header claiming a huge size, with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b"")


def bad_files(folder: Path) -> dict[str, tuple[bytes, str, str]]:
    """name -> (file bytes, file name, what the answer must contain); "error:" answers are refusals."""
    dot = Image.new("RGB", (800, 800), "white")
    ImageDraw.Draw(dot).ellipse((400, 400, 412, 412), fill="black")
    digit = draw_digit(3)
    sixteen = Image.fromarray(np.asarray(digit.convert("L"), dtype=np.uint16) * 257)
    huge = draw_digit(5, size=(6000, 6000), box=(1500, 1000, 4000, 5000))
    upright = photograph(draw_digit(4, size=(600, 800), box=(150, 200, 400, 600), width=36), seed=5)
    exif = Image.Exif()
    exif[0x0112] = 6  # a phone photo stored sideways, the tag saying so
    return {
        "blank white canvas": (png_bytes(Image.new("RGBA", (800, 800), "white")), "blank.png", "Draw a digit"),
        "blank transparent canvas": (png_bytes(Image.new("RGBA", (800, 800), (0, 0, 0, 0))), "clear.png", "Draw a digit"),
        "near-blank (faint specks)": (png_bytes(_specks()), "specks.png", "Draw a digit"),
        "a single dot": (png_bytes(dot), "dot.png", "dot"),
        "tiny image (4x4)": (png_bytes(Image.new("L", (4, 4), 0)), "tiny.png", "too small"),
        "non-image bytes named .png": (b"this is certainly not a PNG file" * 10, "fake.png", "error:not an image"),
        "text file": (b"hello\n", "notes.txt", "error:not an image"),
        "zero-byte file": (b"", "empty.png", "error:not an image"),
        "truncated PNG": (png_bytes(digit)[:300], "cut.png", "error:not an image"),
        "decompression bomb header": (bomb_png(100_000, 100_000), "bomb.png", "error:too large"),
        "huge image (6000x6000)": (png_bytes(huge), "huge.png", "<img"),
        "RGBA transparent strokes": (png_bytes(draw_digit(3, background=None)), "rgba.png", "<img"),
        "mode L": (png_bytes(digit.convert("L")), "l.png", "<img"),
        "mode P": (png_bytes(digit.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE)), "p.png", "<img"),
        "mode 1": (png_bytes(digit.convert("1")), "one.png", "<img"),
        "16-bit grey PNG": (png_bytes(sixteen), "sixteen.png", "<img"),
        "CMYK JPEG": (png_bytes(digit.convert("CMYK"), "JPEG"), "cmyk.jpg", "<img"),
        "light strokes on dark": (png_bytes(draw_digit(3, ink="white", background="black")), "dark.png", "<img"),
        "photo: uneven light and a shadow": (png_bytes(upright, "JPEG"), "photo.jpg", "<img"),
        "photo: EXIF-rotated JPEG": (_jpeg(upright.transpose(Image.Transpose.ROTATE_90), exif), "sideways.jpg", "<img"),
        "photo of blank paper": (
            png_bytes(photograph(Image.new("L", (800, 600), 255), seed=1), "JPEG"),
            "paper.jpg",
            "Draw a digit",
        ),
    }


def _jpeg(image: Image.Image, exif: Image.Exif) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def _specks() -> Image.Image:
    canvas = np.full((800, 800), 255, np.uint8)
    rng = np.random.default_rng(0)
    canvas[rng.integers(0, 800, 40), rng.integers(0, 800, 40)] = 240
    return Image.fromarray(canvas)


def call_raw(url: str, data: list, endpoint: str = "reconstruct") -> tuple[str, str]:
    """POST /gradio_api/call/<endpoint> with a raw JSON body; returns (event, data) of the result."""
    body = json.dumps({"data": data}, allow_nan=True).encode()
    request = urllib.request.Request(f"{url}gradio_api/call/{endpoint}", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            event_id = json.loads(r.read())["event_id"]
    except urllib.error.HTTPError as e:
        return "http_error", f"HTTP {e.code}: {e.read().decode(errors='replace')[:200]}"
    with urllib.request.urlopen(f"{url}gradio_api/call/{endpoint}/{event_id}", timeout=60) as r:
        text = r.read().decode()
    event, payload = "", ""
    for line in text.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            payload = line.split(":", 1)[1].strip()
    return event, payload


def upload_raw(url: str, content: bytes, name: str) -> tuple[int, str]:
    """POST /gradio_api/upload; returns (status, server path or message)."""
    boundary = "tiedaeboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{url}gradio_api/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())[0]
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")[:200]


def data_uri(content: bytes) -> str:
    """File bytes as the app's pad sends a drawing: a PNG data URL (whatever the bytes are)."""
    return "data:image/png;base64," + base64.b64encode(content).decode()


def file_value(path: str) -> dict:
    return {"background": None, "layers": [], "composite": {"path": path, "meta": {"_type": "gradio.FileData"}}}


def bad_input_run(url: str, folder: Path) -> None:
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(url, verbose=False)
    good = folder / "good.png"
    draw_digit(7).save(good)
    good_value = {"background": None, "layers": [], "composite": handle_file(str(good))}

    # Every file goes down three paths: as the page's pad sends a stroke (a data URL through /stroke), as a
    # Sketchpad's composite through /reconstruct, and as an upload; our code reads the file on each.
    for kind, (content, name, expected) in bad_files(folder).items():
        path = folder / name
        path.write_bytes(content)
        on_pad = expected.removeprefix("error:")  # the pad's path answers in the page, whatever the file
        html, numbers = client.predict(data_uri(content), "gaussian", 0.3, 0, api_name="/stroke")
        report(f"  as a stroke: {kind}", on_pad in html, "reconstructed" if on_pad == "<img" else html.replace("<", " <"))
        try:
            html, numbers = client.predict(
                {"background": None, "layers": [], "composite": handle_file(str(path))},
                "gaussian",
                0.3,
                0,
                api_name="/reconstruct",
            )
            # read by our code, as the stroke's data URL is (the API's drawings are not preprocessed by Gradio)
            message = html if on_pad == "<img" else html.replace("<", " <")
            report(kind, on_pad in html, "reconstructed" if on_pad == "<img" and on_pad in html else message)
        except AppError as e:
            report(kind, False, f"refused: {str(e)[:90]}")
        # refused on the upload path as on the others (a dot is not blown up onto the pad)
        on_upload = {"Draw a digit": "error:No digit found", "too small": "error:too small", "dot": "error:just a dot"}.get(
            expected, expected
        )
        if name.endswith(".txt"):
            on_upload = "error:Invalid file type"  # the upload only takes image files: Gradio says so before our code
        try:
            client.predict(handle_file(str(path)), api_name="/upload_to_canvas")
            report(f"  as an upload: {kind}", not on_upload.startswith("error:"), "put on the canvas")
        except AppError as e:
            report(f"  as an upload: {kind}", on_upload.startswith("error:") and on_upload[6:] in str(e), str(e))

    status, message = upload_raw(url, os.urandom(12 * 1024 * 1024), "big.png")
    report("upload over max_file_size (12 MB)", status == 413 and "size" in message.lower(), f"HTTP {status}: {message}")

    # (kind, data, expected outcome, text the answer must contain): "error" = refused with that
    # message; "page" = answered with that in the page (a hint, or the reconstruction)
    cases = [
        ("noise level NaN", [None, "gaussian", float("nan"), 0], "error", "Noise level"),
        ("noise level +inf", [None, "gaussian", float("inf"), 0], "error", "Noise level must be a number from 0 to 1"),
        ("noise level -inf", [None, "gaussian", float("-inf"), 0], "error", "Noise level must be a number from 0 to 1"),
        ("noise level negative", [None, "gaussian", -0.5, 0], "error", "Noise level must be a number from 0 to 1"),
        ("noise level over 1", [None, "gaussian", 3.0, 0], "error", "Noise level must be a number from 0 to 1"),
        ("noise level as text", [None, "gaussian", "lots", 0], "error", "Noise level must be a number"),
        ("unknown noise kind", [None, "speckle", 0.3, 0], "error", "Noise type must be one of"),
        ("noise kind null", [None, None, 0.3, 0], "error", "Noise type"),
        ("seed negative", [None, "gaussian", 0.3, -4], "error", "Seed must be a whole number"),
        ("seed as text", [None, "gaussian", 0.3, "abc"], "error", "Seed must be a whole number"),
        ("seed NaN", [None, "gaussian", 0.3, float("nan")], "error", "Seed must be a whole number"),
        ("seed fractional", [None, "gaussian", 0.3, 2.5], "error", "Seed must be a whole number"),
        ("drawing is a number", [42, "gaussian", 0.3, 0], "error", "EditorData"),
        ("drawing dict with unknown keys", [{"foo": 1}, "gaussian", 0.3, 0], "page", "Draw a digit"),
        ("composite is a number", [{"background": None, "layers": [], "composite": 7}, "gaussian", 0.3, 0], "error", "composite"),
        ("layers is not a list", [{"background": None, "layers": "x", "composite": None}, "gaussian", 0.3, 0], "error", "layers"),
        ("file path outside the cache", [file_value("/etc/passwd"), "gaussian", 0.3, 0], "error", "not uploaded"),
        ("too few arguments", [None, "gaussian"], "error", "enough input values"),
        ("extra argument (ignored)", [None, "gaussian", 0.3, 0, 5], "page", "tied-img"),
    ]
    status, uploaded = upload_raw(url, png_bytes(draw_digit(2)), "two.png")
    for kind, data, outcome, needle in cases:
        if data[0] is None:
            data = [file_value(uploaded), *data[1:]]
        event, payload = call_raw(url, data)
        if outcome == "error":
            handled = event in ("error", "http_error") and needle in payload
        else:
            handled = event == "complete" and needle in payload
        report(kind, handled, f"{event}: {payload}")

    # The pad's own event: anything but an image data URL is refused in the page, files on the server included
    big = "data:image/png;base64," + "A" * 5_000_000
    stroke_cases = [
        ("stroke: a server file path", ["/etc/passwd", "gaussian", 0.3, 0], "data URL"),
        ("stroke: a text data URL", ["data:text/plain;base64,aGVsbG8=", "gaussian", 0.3, 0], "data URL"),
        ("stroke: bad base64", ["data:image/png;base64,***", "gaussian", 0.3, 0], "not valid base64"),
        ("stroke: 5 MB data URL", [big, "gaussian", 0.3, 0], "too large"),
        ("stroke: a number", [42, "gaussian", 0.3, 0], "Cannot read"),
        ("stroke: a clear pad", ["", "gaussian", 0.3, 0], "Draw a digit"),
        ("stroke: null", [None, "gaussian", 0.3, 0], "Draw a digit"),
        ("stroke: noise level NaN", [data_uri(png_bytes(draw_digit(2))), "gaussian", float("nan"), 0], "Noise level"),
    ]
    for kind, data, needle in stroke_cases:
        event, payload = call_raw(url, data, "stroke")
        report(kind, event in ("complete", "error") and needle in payload, f"{event}: {payload[:120]}")

    # The latent explorer's endpoints: a point of a 2-D map, and the path between two drawings
    status, blank = upload_raw(url, png_bytes(Image.new("RGB", (280, 280), "white")), "blank.png")
    explorer_cases = [
        ("map point far outside", "decode_latent", ["tied", 1e6, 0.0], "far outside the map"),
        ("map point NaN", "decode_latent", ["tied", float("nan"), 0.0], "finite"),
        ("map point +inf", "decode_latent", ["untied", 0.0, float("inf")], "finite"),
        ("map point as text", "decode_latent", ["tied", "left", 0.0], "must be numbers"),
        ("map model unknown", "decode_latent", ["both", 0.0, 0.0], "Model must be one of"),
        ("map model null", "decode_latent", [None, 0.0, 0.0], "Model must be one of"),
        ("interpolation: blank drawing", "interpolate", [file_value(uploaded), file_value(blank), 8], "second drawing is blank"),
        ("interpolation: 1 step", "interpolate", [file_value(uploaded), file_value(uploaded), 1], "Steps must be"),
        ("interpolation: 500 steps", "interpolate", [file_value(uploaded), file_value(uploaded), 500], "Steps must be"),
        ("interpolation: no drawings", "interpolate", [None, None, 8], "first drawing is blank"),
        # the sparse codes' endpoint: k from 1 to the trained k, a drawing as /reconstruct takes it
        ("sparse: k = 0", "sparse", [file_value(uploaded), 0], "k must be a whole number from 1 to"),
        ("sparse: k over the trained k", "sparse", [file_value(uploaded), 1000], "k must be a whole number from 1 to"),
        ("sparse: k fractional", "sparse", [file_value(uploaded), 2.5], "k must be a whole number"),
        ("sparse: k NaN", "sparse", [file_value(uploaded), float("nan")], "k must be a whole number"),
        ("sparse: k as text", "sparse", [file_value(uploaded), "eight"], "k must be a whole number"),
        ("sparse: blank drawing", "sparse", [file_value(blank), 8], "Draw a digit"),
        ("sparse: no drawing", "sparse", [None, 8], "Draw a digit"),
        ("sparse: drawing is a number", "sparse", [42, 8], "EditorData"),
    ]
    for kind, endpoint, data, needle in explorer_cases:
        event, payload = call_raw(url, data, endpoint)
        report(kind, event in ("error", "http_error") and needle in payload, f"{event}: {payload}")

    try:
        html, numbers = client.predict(good_value, "gaussian", 0.3, 0, api_name="/reconstruct")
        report(
            "normal call after all of the above",
            numbers is not None and numbers["tied"]["mse"] > 0,
            f"tied MSE {numbers['tied']['mse']}",
        )
    except Exception as e:
        report("normal call after all of the above", False, f"{type(e).__name__}: {e}")


# --- part 2: faults -------------------------------------------------------------------------------


def hub_unreachable() -> None:
    env = {
        **os.environ,
        "TIEDAE_HUB": "tiedae",
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "HF_HUB_CACHE": tempfile.mkdtemp(),
        "HF_HUB_ETAG_TIMEOUT": "2",
        "HF_HUB_DOWNLOAD_TIMEOUT": "2",
    }
    code = "import app, json; from space import models; print(json.dumps([models.shipped_models().source, models.shipped_models().warning]))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        report("Hub unreachable", False, result.stderr.strip().splitlines()[-1] if result.stderr else "app failed to start")
        return
    source, warning = json.loads(result.stdout.strip().splitlines()[-1])
    report(
        "Hub unreachable -> bundled fallback", bool(warning) and "bundled" in source and "bundled" in warning, warning or source
    )


def broken_checkpoint(kind: str, damage) -> None:
    from space.models import load_bundled

    folder = Path(tempfile.mkdtemp()) / "checkpoints"
    shutil.copytree(ROOT / "checkpoints", folder)
    damage(folder)
    try:
        load_bundled(folder)
        report(kind, False, "loaded without complaint")
    except (ValueError, FileNotFoundError) as e:
        report(kind, "untied" in str(e) and ("config.json" in str(e) or "model.safetensors" in str(e)), str(e))
    except Exception as e:
        report(kind, False, f"{type(e).__name__}: {e}")


def truncate_weights(folder: Path) -> None:
    weights = folder / "untied" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])


def other_architecture(folder: Path) -> None:
    (folder / "untied" / "config.json").write_text(json.dumps({"sizes": [784, 256, 32], "tied": False}))


def flipped_tie(folder: Path) -> None:
    (folder / "untied" / "config.json").write_text(json.dumps({"sizes": [784, 400, 20], "tied": True}))


INTERRUPTED_SAVE = """
import sys, train
from tiedae import publish
real = publish.card_data
def crash(name, *a, **k):
    if name == "untied":
        raise KeyboardInterrupt("killed while saving")
    return real(name, *a, **k)
publish.card_data = crash
try:
    train.main(["--dry-run", "--data-dir", sys.argv[1], "--out", sys.argv[2], "--seed", "9"])
except KeyboardInterrupt:
    sys.exit(130)
"""

FAILING_PUSH = """
import sys, train, huggingface_hub
from huggingface_hub import HfApi
huggingface_hub.get_token = lambda: "hf_not_a_real_token"
calls = []
HfApi.create_repo = lambda self, repo_id, **k: repo_id
def upload(self, *, repo_id, folder_path, **k):
    calls.append(repo_id)
    if len(calls) == 2:
        raise ConnectionError("connection reset while uploading " + repo_id)
    return "ok"
HfApi.upload_folder = upload
sys.exit(train.main(["--push-only", sys.argv[1], "--push-to-hub", "someone"]))
"""


def digest(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def fresh_checkpoints(data_root: str) -> tuple[Path, dict]:
    """A dry-run checkpoint folder in a temp dir, and the bytes of each of its files."""
    out = Path(tempfile.mkdtemp()) / "ckpt"
    command = [sys.executable, "train.py", "--dry-run", "--data-dir", data_root, "--out", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return out, {name: digest(out / name) for name in ("tied", "untied")}


def interrupted_save(data_root: str) -> None:
    out, before = fresh_checkpoints(data_root)
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_SAVE, data_root, str(out)], cwd=ROOT, capture_output=True, text=True
    )
    intact = {name: digest(out / name) for name in ("tied", "untied")} == before
    leftovers = list(out.glob(".staging-*"))
    report(
        "training interrupted during save",
        result.returncode == 130 and intact and not leftovers,
        f"previous checkpoints {'intact' if intact else 'CHANGED'}, {len(leftovers)} staging dirs left (exit {result.returncode})",
    )


def failing_push(data_root: str) -> None:
    out, before = fresh_checkpoints(data_root)
    result = subprocess.run([sys.executable, "-c", FAILING_PUSH, str(out)], cwd=ROOT, capture_output=True, text=True)
    intact = {name: digest(out / name) for name in ("tied", "untied")} == before
    message = result.stderr.strip()
    report(
        "push failing mid-way",
        result.returncode == 1 and intact and "--push-only" in message and "hf_not_a_real_token" not in result.stdout + message,
        message.replace("\n", " | "),
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="accepted for CI; the run is always complete")
    p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tiedae-faults-"))
    port = free_port()
    server = start_server(ROOT / "app.py", port)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http_200(port)
        print(f"part 1: bad input through the API of {url}")
        bad_input_run(url, folder)
        report("server process still running", server.poll() is None, f"pid {server.pid}")
    finally:
        server.terminate()
        server.wait(timeout=30)

    print("\npart 2: faults")
    hub_unreachable()
    broken_checkpoint("truncated safetensors", truncate_weights)
    broken_checkpoint("config of another architecture", other_architecture)
    broken_checkpoint("config claiming the wrong kind (tied)", flipped_tie)
    data_root, _ = mnist_root(str(folder / "no-such-dir"), synthetic_size=300)
    interrupted_save(data_root)
    failing_push(data_root)

    bad = [kind for kind, handled, _ in RESULTS if not handled]
    print(
        f"SUMMARY faults: {len(RESULTS) - len(bad)}/{len(RESULTS)} handled" + (f"; NOT handled: {', '.join(bad)}" if bad else "")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
