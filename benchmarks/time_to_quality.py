"""Time to quality: wall time of train.py's default (quick) recipe until both models meet the first shipped bars.

    python benchmarks/time_to_quality.py [--data-dir ../shared/data] [--quick]

Bars (full MNIST test set, each model): clean test MSE <= 0.0105 and Gaussian sigma 0.5
test MSE <= 0.019, the bars of the first shipped checkpoints. The default recipe (60 epochs) is
the quick one; the shipped checkpoints now train longer (see README), which this does not time. The clock covers loading the data and training; the benchmark's own
evaluation after each epoch is paused out. Then the whole default command
(`python train.py --data-dir ...`: training, full evaluation, figures, cards) is timed as a
subprocess for reference.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TQDM_DISABLE", "1")
from _common import ROOT, machine, mnist_root

import train
from tiedae import mse, training

BARS = {0.0: 0.0105, 0.5: 0.019}
GOAL_SECONDS = 45


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data-dir", default=None, help="MNIST root (default ../shared/data, else synthetic digits)")
    p.add_argument("--quick", action="store_true", help="2 epochs, no subprocess run: a smoke run")
    args = p.parse_args()
    root, data_note = mnist_root(args.data_dir)
    print(f"{machine()}; data: {data_note}")

    clock = {"paused": 0.0}
    start = time.perf_counter()
    targs = train.get_args(["--data-dir", root] + (["--epochs", "2"] if args.quick else []))
    device = training.pick_device(targs.device)
    recipe = train.recipe_from_args(targs, precision=training.pick_precision(targs.precision, device))
    training.configure_threads()
    x_train, x_test = training.load_mnist(root)
    x_train = x_train.reshape(len(x_train), -1)  # (N, 28, 28) -> (N, 784)
    x_test = x_test.reshape(len(x_test), -1)
    pause = time.perf_counter()
    x_test_float = x_test.float().div(255)
    test_sets = {level: training.noisy_test_sets(x_test_float)["gaussian", level] for level in BARS}
    clock["paused"] += time.perf_counter() - pause
    met = {}
    real_stdout = sys.stdout

    def check(epoch: int, models: dict) -> bool:
        paused_at = time.perf_counter()
        scores = {
            name: {
                level: mse(training.reconstruct(model, noisy), x_test_float).mean().item() for level, noisy in test_sets.items()
            }
            for name, model in models.items()
        }
        ok = all(scores[name][level] <= bar for name in scores for level, bar in BARS.items())
        elapsed = paused_at - start - clock["paused"]
        row = "  ".join(f"{name} {scores[name][0.0]:.5f}/{scores[name][0.5]:.5f}" for name in scores)
        print(
            f"epoch {epoch:3d}  {elapsed:6.1f}s  clean/sigma0.5 MSE: {row}  {'BOTH MEET THE BARS' if ok else ''}",
            file=real_stdout,
            flush=True,
        )
        if ok and "epoch" not in met:
            met.update(epoch=epoch, seconds=elapsed)
        clock["paused"] += time.perf_counter() - paused_at
        return ok

    with open(os.devnull, "w") as quiet:  # train.py's own per-epoch lines would interleave with ours
        sys.stdout = quiet
        try:
            training.run(recipe, x_train.to(device), x_test.to(device), device, on_epoch=check)
        finally:
            sys.stdout = real_stdout
    if args.quick:
        print("SUMMARY time to quality (quick, 2 epochs): ran; not judged")
        return 0

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "train.py", "--data-dir", root, "--out", out], cwd=ROOT, check=True, capture_output=True)
        command_seconds = time.perf_counter() - t0
    print(f"whole default command (train both 60 epochs, evaluate, figures, cards): {command_seconds:.1f}s")
    if not met:
        print(f"SUMMARY time to quality: the bars were NOT met in {recipe.epochs} epochs; whole command {command_seconds:.1f}s")
        return 1
    verdict = "meets" if met["seconds"] <= GOAL_SECONDS else "misses"
    print(
        f"SUMMARY time to quality: both models meet the bars after epoch {met['epoch']} at {met['seconds']:.1f}s "
        f"({verdict} the {GOAL_SECONDS}s goal); whole default command {command_seconds:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
