"""Recompute the shipped checkpoints' test metrics on the real MNIST test set and compare to metrics.json.

    python benchmarks/quality.py [--data-dir ../shared/data] [--quick]

For the MLP pair (checkpoints/), the conv pair (checkpoints/conv/), the sparse pair (checkpoints/sparse/) and the
2-D pair (checkpoints/2d/) every number (tied, untied, PCA, noisy input; every noise kind and level; the PCA-20 and
PCA-30 references; a sparse model's dead atoms and firing) must agree with the shipped metrics.json to 1e-4. --quick checks the first 1,000 test images against a fresh
evaluation only (no comparison with the file, whose numbers are for all 10,000).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, shipped_pairs

from tiedae import training
from tiedae.model import load_checkpoint

TOLERANCE = 1e-4


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"), help="MNIST root (MNIST/raw/)")
    p.add_argument("--checkpoints", default=str(ROOT / "checkpoints"), help="folder holding tied/ and untied/")
    p.add_argument("--quick", action="store_true", help="first 1,000 test images, no comparison with metrics.json")
    args = p.parse_args()

    raw = Path(args.data_dir) / "MNIST" / "raw"
    if not raw.is_dir():
        print(f"SUMMARY quality: skipped, no MNIST at {raw} (pass --data-dir); nothing measured")
        return 0
    start = time.perf_counter()
    x_train_all, x_test = training.load_mnist(args.data_dir)
    if args.quick:
        x_test = x_test[:1000]
    worst, evaluated = 0.0, 0
    print(f"{'pair':<8}{'model':<12}{'noise':<12}{'level':>6}{'MSE now':>12}{'metrics.json':>14}{'|diff|':>10}{'PSNR now':>10}")
    root = Path(args.checkpoints)
    for pair, (_, folder) in shipped_pairs(root).items():
        if not (folder / "tied" / "metrics.json").is_file():
            print(f"{pair:<8}no checkpoints in {folder}: skipped")
            continue
        shipped = {name: json.loads((folder / name / "metrics.json").read_text()) for name in ("tied", "untied")}
        x_train = x_train_all[: shipped["tied"]["train_size"]]
        models = {name: load_checkpoint(folder / name, name) for name in ("tied", "untied")}
        results = training.evaluate_all(models, x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1))
        expected = {
            "tied": shipped["tied"]["test"],
            "untied": shipped["untied"]["test"],
            "pca": shipped["tied"]["pca"],
            "noisy_input": shipped["tied"]["noisy_input"],
        }
        for name, by_kind in results.items():
            for kind, rows in by_kind.items():
                for row, ref in zip(rows, expected[name][kind], strict=True):
                    diff = abs(row["mse"] - ref["mse"])
                    worst = max(worst, diff)
                    shown = f"{ref['mse']:>14.6f}{diff:>10.2g}" if not args.quick else f"{'(all 10k)':>14}{'':>10}"
                    print(f"{pair:<8}{name:<12}{kind:<12}{row['level']:>6.2f}{row['mse']:>12.6f}{shown}{row['psnr']:>10.2f}")
        evaluated += len(results)
        codes = training.code_reports(models, x_test.reshape(len(x_test), -1))  # a sparse model's dead atoms, firing
        for name, report in codes.items():
            for key, value in report.items():
                ref = shipped[name].get("code", {}).get(key)  # missing from the file: a failure, not a pass
                diff = 0.0 if args.quick else float("inf") if ref is None else abs(value - ref)
                worst = max(worst, diff)  # counts (dead atoms) must agree exactly, shares to the tolerance
                print(f"{pair:<8}{name:<12}{key:<18}{value:>12.6g}{ref if ref is not None else float('nan'):>14.6g}{diff:>10.2g}")
        if "references" in shipped["tied"]:  # PCA-20 and PCA-30, clean, fit on the same training images
            for name, mse in training.pca_references(x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)).items():
                ref = shipped["tied"]["references"][name]
                diff = 0.0 if args.quick else abs(mse - ref)
                worst = max(worst, diff)
                print(f"{pair:<8}{name:<12}{'clean':<12}{0:>6.2f}{mse:>12.6f}{ref:>14.6f}{diff:>10.2g}")
    seconds = time.perf_counter() - start
    if args.quick:
        print(
            f"SUMMARY quality (quick, {len(x_test)} test images): evaluated {evaluated} models × 16 settings in {seconds:.1f}s; not compared"
        )
        return 0
    ok = worst <= TOLERANCE
    print(
        f"SUMMARY quality: largest |MSE now - metrics.json| = {worst:.2g} over {len(x_test)} test images, "
        f"{evaluated} models ({'OK' if ok else 'FAIL'}, tolerance {TOLERANCE})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
