"""Training precision: a train step of each pair in fp32 and in bf16 on this CPU, A/B alternating.

    python benchmarks/precision.py [--data-dir ../shared/data] [--rounds 5] [--batches 8] [--quick]

The shipped checkpoints were trained with bf16 autocast on a CPU that computes bf16 natively
(AVX512-BF16 or AMX); on one that does not, torch emulates it and a step is slower than in fp32.
train.py's `--precision auto` picks bf16 only where the CPU has it (training.pick_precision). This
times training.train_epoch over the same batches for the MLP pair (train.py's default recipe) and
the conv pair (`--arch conv`'s), fp32 and bf16 alternating, and says whether `auto` picked the
faster one here. The figure is ms per batch of 128 for the pair (both models stepping).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TQDM_DISABLE", "1")
import torch
from _common import machine, median, mnist_root, parse_with_quick

from tiedae import training
from tiedae.recipe import Recipe


def timed_pair(x_train: torch.Tensor, recipe: Recipe, batches: int, rounds: int):
    """A function that trains the pair on `batches` batches and returns ms per batch."""
    models, optimizers, schedulers = training.make_pair(recipe, (rounds + 2) * batches + 10, torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    x = x_train[: batches * recipe.batch_size]

    def run_once() -> float:
        start = time.perf_counter()
        training.train_epoch(models, optimizers, schedulers, x, recipe, generator, 1, quiet=True)
        return (time.perf_counter() - start) * 1000 / batches

    return run_once


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data-dir", default=None, help="MNIST root (default ../shared/data, else synthetic digits)")
    p.add_argument("--rounds", type=int, default=5, help="A/B rounds")
    p.add_argument("--batches", type=int, default=8, help="batches per pair per round")
    args = parse_with_quick(p, {"rounds": 1, "batches": 2}, "1 round of 2 batches")
    root, data_note = mnist_root(args.data_dir)
    x_train, _ = training.load_mnist(root)
    x_train = x_train.reshape(len(x_train), -1)  # (N, 28, 28) -> (N, 784) uint8
    auto = training.pick_precision("auto", torch.device("cpu"))
    native = " ".join(sorted(training.cpu_bf16_flags())) or "none"
    print(f"{machine()}; data: {data_note}; native bf16: {native}; --precision auto picks {auto}")

    ratios, faster = {}, {}
    for arch in ("mlp", "conv"):
        runs = {
            precision: timed_pair(x_train, Recipe.for_arch(arch, batch_size=128, precision=precision), args.batches, args.rounds)
            for precision in ("fp32", "bf16")
        }
        for run in runs.values():  # warm-up, not counted
            run()
        times = {precision: [] for precision in runs}
        for _ in range(args.rounds):
            for precision, run in runs.items():
                times[precision].append(run())
        fp32, bf16 = median(times["fp32"]), median(times["bf16"])
        ratios[arch], faster[arch] = bf16 / fp32, "bf16" if bf16 < fp32 else "fp32"
        print(f"{arch:>5}  fp32 {fp32:8.1f} ms  bf16 {bf16:8.1f} ms  bf16/fp32 {bf16 / fp32:5.2f}  (median of {args.rounds})")

    picked_faster = all(choice == auto for choice in faster.values())
    verdict = (
        "quick run, not judged" if args.quick else ("auto picked the faster" if picked_faster else "auto did NOT pick the faster")
    )
    print(
        f"SUMMARY precision: bf16/fp32 per step: mlp {ratios['mlp']:.2f}x, conv {ratios['conv']:.2f}x; "
        f"native bf16 {native}, auto picks {auto} ({verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
