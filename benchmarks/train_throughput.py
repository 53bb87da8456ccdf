"""Training throughput: train.py's step loop vs a standard torchvision DataLoader loop, A/B alternating.

    python benchmarks/train_throughput.py [--data-dir ../shared/data] [--rounds 7] [--batches 60] [--quick]

Both loops train the pair train.py trains, a tied and an untied model (fresh copies, same init),
on the same batches with the same batch size, Adam, one-cycle schedule, loss and denoising noise;
they differ in how batches are made and how the two models share the machine:
A = training.train_epoch (the whole dataset as one uint8 tensor, shuffled indices; the two models
    step side by side, one thread each, with the cores shared out by training.configure_threads);
B = DataLoader(datasets.MNIST(transform=ToTensor()), batch_size, shuffle=True), fp32, torch's
    F.binary_cross_entropy (A's training.binary_cross_entropy gives its gradient bit for bit, faster),
    the two models stepped one after the other with every core;
C = A forced to fp32, to show what the data pipeline and the side-by-side steps alone gain.
The rounds alternate A, B, C, A, B, C, ... and the medians are compared (samples/s: images
each model trained on, per second).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from types import SimpleNamespace

os.environ.setdefault("TQDM_DISABLE", "1")
import torch
import torch.nn.functional as F
from _common import machine, median, mnist_root, parse_with_quick

import train
from tiedae import add_noise, training

GOAL = 2.5


def project_loop(x_train: torch.Tensor, args, rounds_total: int):
    """training.train_epoch over the first `batches` batches of the in-memory uint8 dataset."""
    recipe = train.recipe_from_args(args)  # train.py's defaults with this run's batch size and precision
    models, optimizers, schedulers = training.make_pair(recipe, (rounds_total + 2) * args.batches + 10, torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    subset = x_train[: args.batches * args.batch_size]

    def run_once() -> float:
        training.configure_threads()
        start = time.perf_counter()
        training.train_epoch(models, optimizers, schedulers, subset, recipe, generator, epoch=1)
        return len(subset) / (time.perf_counter() - start)

    return run_once


def dataloader_loop(root: str, args, rounds_total: int):
    """B: the standard loop: torchvision MNIST with ToTensor through a DataLoader."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    recipe = train.recipe_from_args(args)
    models, optimizers, schedulers = training.make_pair(recipe, (rounds_total + 2) * args.batches + 10, torch.device("cpu"))
    loader = DataLoader(
        datasets.MNIST(root, train=True, download=True, transform=transforms.ToTensor()), batch_size=args.batch_size, shuffle=True
    )

    def run_once() -> float:
        torch.set_num_threads(os.cpu_count() or 1)  # the usual setting: every core for each model in turn
        seen = 0
        start = time.perf_counter()
        for i, (x, _) in enumerate(loader):
            if i == args.batches:
                break
            x = x.view(len(x), -1)  # (B, 1, 28, 28) -> (B, 784)
            noisy = add_noise(x, "gaussian", torch.rand(len(x)) * args.noise_max)
            for name, model in models.items():
                model.train()
                loss = F.binary_cross_entropy(model(noisy), x)
                optimizers[name].zero_grad(set_to_none=True)
                loss.backward()
                optimizers[name].step()
                schedulers[name].step()
            seen += len(x)
        return seen / (time.perf_counter() - start)

    return run_once


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data-dir", default=None, help="MNIST root (default ../shared/data, else synthetic digits)")
    p.add_argument("--rounds", type=int, default=7, help="A/B rounds")
    p.add_argument("--batches", type=int, default=60, help="batches per loop per round")
    p.add_argument("--batch-size", type=int, default=128, help="batch size for both loops")
    args = parse_with_quick(p, {"rounds": 2, "batches": 5}, "2 rounds of 5 batches")
    root, data_note = mnist_root(args.data_dir)
    defaults = train.get_args([])
    loop_args = SimpleNamespace(**{**vars(defaults), "batch_size": args.batch_size, "batches": args.batches})
    loop_args.precision = training.pick_precision(defaults.precision, torch.device("cpu"))  # as train.py resolves it
    x_train, _ = training.load_mnist(root)
    x_train = x_train.reshape(len(x_train), -1)  # (N, 28, 28) -> (N, 784) uint8
    if len(x_train) < args.batches * args.batch_size:
        args.batches = len(x_train) // args.batch_size
        loop_args.batches = args.batches
    fp32_args = SimpleNamespace(**{**vars(loop_args), "precision": "fp32"})
    runs = {
        "A train.py loop": project_loop(x_train, loop_args, args.rounds),
        "B DataLoader loop": dataloader_loop(root, loop_args, args.rounds),
        "C train.py loop fp32": project_loop(x_train, fp32_args, args.rounds),
    }
    for run in runs.values():  # warm-up, not counted
        run()
    rates = {name: [] for name in runs}
    print(f"{machine()}; data: {data_note}; train.py precision {loop_args.precision}")
    print(
        f"{'round':>6}  {'A train.py':>12}  {'B DataLoader':>12}  {'C train.py fp32':>15}  {'A/B':>5}  {'C/B':>5}   (samples/s)"
    )
    for r in range(args.rounds):
        for name, run in runs.items():
            rates[name].append(run())
        a, b, c = (rates[name][-1] for name in runs)
        print(f"{r + 1:>6}  {a:>12,.0f}  {b:>12,.0f}  {c:>15,.0f}  {a / b:>5.2f}  {c / b:>5.2f}")
    a, b, c = (median(rates[name]) for name in runs)
    ratio = a / b
    print(f"{'median':>6}  {a:>12,.0f}  {b:>12,.0f}  {c:>15,.0f}  {ratio:>5.2f}  {c / b:>5.2f}")
    verdict = "quick run, not judged" if args.quick else ("meets" if ratio >= GOAL else "misses") + f" the {GOAL}x goal"
    print(
        f"SUMMARY train throughput: train.py loop ({loop_args.precision}) {a:,.0f} samples/s vs DataLoader (fp32) {b:,.0f} samples/s "
        f"= {ratio:.2f}x ({verdict}); train.py loop in fp32: {c / b:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
