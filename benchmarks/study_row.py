"""One real row of the shipped study, reproduced by running its own `python train.py …` command.

    python benchmarks/study_row.py [--data-dir ../shared/data] [--arch mlp --axis train_size --value 500 --seed 0] [--quick]
    python benchmarks/study_row.py --axis tie --value 784-400-20:01       # a tied-layers row
    python benchmarks/study_row.py --arch sparse --axis k --value 32      # a sparse row (and its dead atoms)

The row's command is run as written, in a subprocess, except that --data-dir points at the
MNIST here and --out at a temp dir. The tied and the untied model's clean and σ = 0.5 test MSE
from that run must match the study's rows to 1e-4. --quick only checks that every row's command
parses with train.py's own flags and names that row's setting (no training).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_DATA, ROOT, machine

import train
from tiedae.families import FAMILIES
from tiedae.study import NOISY_METRIC, STUDY_FILE, load_study, row_arch
from tiedae.ties import tie_mask

TOLERANCE = 1e-4


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data-dir", default=str(DEFAULT_DATA), help="MNIST root (MNIST/raw/)")
    p.add_argument("--study", default=str(ROOT / "checkpoints" / STUDY_FILE), help="the study.json whose row to reproduce")
    p.add_argument("--arch", default="mlp", choices=tuple(FAMILIES), help="the row's architecture")
    p.add_argument("--axis", default="train_size", help="the row's axis (default: the quickest cell)")
    p.add_argument("--value", default="500", help="the row's value on that axis")
    p.add_argument("--seed", type=int, default=0, help="the row's seed")
    p.add_argument("--quick", action="store_true", help="check that every row's command parses; train nothing")
    args = p.parse_args()
    print(machine())
    rows = load_study(args.study)["rows"]

    if args.quick:
        for row in rows:
            argv = shlex.split(row["command"])
            assert argv[:2] == ["python", "train.py"], row["command"]
            flags = train.get_args(argv[2:])
            assert flags.sizes == row["sizes"] and flags.seed == row["seed"], row["command"]
            assert flags.arch == row_arch(row), row["command"]
            if flags.arch == "conv":
                assert flags.channels == row["channels"], row["command"]
            assert (flags.train_size or 60_000) == row["train_size"], row["command"]
            if row["model"] == "tied" and "tie" in row:  # the tied-layers axis: the command ties what the row says
                assert tie_mask(flags.tie, len(row["tie"])) == row["tie"], row["command"]
            if "k" in row:  # a sparse row: the command keeps the row's k
                assert flags.k == row["k"], row["command"]
        print(f"SUMMARY study row (quick): all {len(rows)} commands parse and name their rows' settings; nothing trained")
        return 0

    if not (Path(args.data_dir) / "MNIST" / "raw").is_dir():
        print(f"SUMMARY study row: skipped, no MNIST at {args.data_dir} (pass --data-dir); nothing measured")
        return 0
    chosen = {
        r["model"]: r
        for r in rows
        if row_arch(r) == args.arch and r["axis"] == args.axis and str(r["value"]) == args.value and r["seed"] == args.seed
    }
    if set(chosen) != {"tied", "untied"}:
        print(
            f"error: no tied/untied {args.arch} pair for {args.axis}={args.value} seed {args.seed} in {args.study}",
            file=sys.stderr,
        )
        return 1
    command = chosen["tied"]["command"]
    argv = shlex.split(command)[2:]
    argv[argv.index("--data-dir") + 1] = args.data_dir
    with tempfile.TemporaryDirectory() as out:
        argv[argv.index("--out") + 1] = out
        print(f"running the row's command: {command}")
        start = time.perf_counter()
        subprocess.run([sys.executable, "train.py", *argv], cwd=ROOT, check=True, capture_output=True)
        seconds = time.perf_counter() - start
        worst = 0.0
        for name, row in chosen.items():
            metrics = json.loads((Path(out) / name / "metrics.json").read_text())
            gaussian = {r["level"]: r["mse"] for r in metrics["test"]["gaussian"]}
            for key, level in (("test_mse_clean", 0.0), (NOISY_METRIC, 0.5)):
                diff = abs(gaussian[level] - row[key])
                worst = max(worst, diff)
                print(f"{name:>7} {key:<22} study {row[key]:.6f}  rerun {gaussian[level]:.6f}  |diff| {diff:.1e}")
            if "dead_fraction" in row:  # a sparse row's dead atoms, from the rerun's metrics.json
                diff = abs(metrics["code"]["dead_fraction"] - row["dead_fraction"])
                worst = max(worst, diff)
                print(
                    f"{name:>7} {'dead_fraction':<22} study {row['dead_fraction']:.6f}  rerun {metrics['code']['dead_fraction']:.6f}  |diff| {diff:.1e}"
                )
    verdict = "within" if worst <= TOLERANCE else "NOT within"
    print(
        f"SUMMARY study row: {args.arch} {args.axis}={args.value} seed {args.seed} rerun by its own command in {seconds:.0f}s; "
        f"largest difference {worst:.1e} ({verdict} {TOLERANCE:g})"
    )
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
