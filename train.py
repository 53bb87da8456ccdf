"""Train the tied and the untied autoencoder on MNIST, evaluate both, publish to the Hub.

    python train.py --data-dir ../shared/data          # train both, write checkpoints/
    python train.py --arch conv --out checkpoints/conv # the convolutional pair
    python train.py --dry-run                          # one tiny batch end to end
    python train.py --push-to-hub NAMESPACE            # ... and upload both models
    python train.py --push-only checkpoints --push-to-hub NAMESPACE   # upload only

Both models see the same batches in the same order with the same noise, optimizer,
schedule and epochs; they differ only in weight tying.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import torch
import torch.nn.functional as F
from tqdm import tqdm

from tiedae import NOISE_KINDS, add_noise, mse, psnr
from tiedae.constants import DEFAULT_SIZES, MNIST_PIXELS
from tiedae.model import ARCH_CLASSES, MODEL_CLASSES, REPO_PREFIX, HubAutoencoder, config_repo_prefix, repo_prefix
from tiedae.recipe import ARCH_NAMES, DISTORT_MAX, DISTORT_ROTATION_DEGREES, DISTORT_SCALE, DISTORT_SHEAR, LOSS_NAMES, Recipe
from tiedae.study import STUDY_FILE

STUDY_PATH = Path(__file__).resolve().parent / "checkpoints" / STUDY_FILE  # quoted and linked by the model cards
EVAL_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
EPOCH_EVAL_SIZE = 1000  # per-epoch progress uses the first 1,000 test images; the final evaluation uses all
EVAL_SEED = 1234  # test-set noise is fixed so every model and every run sees the same corruption
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


T = TypeVar("T")


class BinaryCrossEntropy(torch.autograd.Function):
    """F.binary_cross_entropy (mean) in whole-tensor ops: torch's CPU kernel goes one element at a time.

    That kernel was a quarter of a train step (2.3 of 9.9 ms, torch.profiler, bf16, one core); these ops
    take 0.9 ms. The formulas are the kernel's (logs clamped at -100; gradient (x - y) / max((1 - x) x, 1e-12) / N),
    so the gradient is the same bit for bit and a run trains to the same weights (tests/test_train.py).
    """

    @staticmethod
    def forward(ctx, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(output, target)
        log_miss = torch.log1p(-output).clamp_min_(-100).mul_(target - 1)
        return log_miss.sub_(torch.log(output).clamp_min_(-100).mul_(target)).mean()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        output, target = ctx.saved_tensors
        slope = ((1 - output) * output).clamp_min_(1e-12)
        return (grad * (output - target)).div_(slope).div_(output.numel()), None


def binary_cross_entropy(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of output in [0, 1] against target in [0, 1]; see BinaryCrossEntropy."""
    return BinaryCrossEntropy.apply(output, target)


LOSSES = {"bce": binary_cross_entropy, "mse": F.mse_loss}


class TrainError(Exception):
    """A problem to report in one clear message, without a traceback."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each flag's default after its help, unless the help already names it or there is none (no "(default: None)")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or "default:" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def get_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = Recipe()  # the defaults live in one place
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    p.add_argument("--data-dir", default="./data", help="MNIST root (torchvision layout MNIST/raw/)")
    p.add_argument("--out", default=None, help="output directory (default: checkpoints, or a temp dir with --dry-run)")
    p.add_argument(
        "--arch", choices=tuple(ARCH_NAMES), default=d.arch, help="the pair to train: fully connected or convolutional"
    )
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=None,
        help=f"layer widths, input first (default: {' '.join(map(str, d.sizes))}; "
        f"with --arch conv: {MNIST_PIXELS} and the code size, {' '.join(map(str, Recipe.for_arch('conv').sizes))})",
    )
    p.add_argument(
        "--channels", type=int, nargs=2, default=list(d.channels), help="with --arch conv: the two conv layers' channels"
    )
    p.add_argument("--epochs", type=int, default=d.epochs, help="training epochs")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="training batch size")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (Adam, one-cycle schedule)")
    p.add_argument(
        "--denoise", action=argparse.BooleanOptionalAction, default=d.denoise, help="train on noisy inputs with clean targets"
    )
    p.add_argument(
        "--loss", choices=tuple(LOSS_NAMES), default=d.loss, help="training loss: binary cross-entropy or mean squared error"
    )
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default=d.precision,
        help="matmul precision while training; bf16 autocasts matmuls, weights stay fp32; auto: bf16 where the device has native bf16",
    )
    p.add_argument("--noise-kind", choices=NOISE_KINDS, default=d.noise_kind, help="training noise kind")
    p.add_argument("--noise-max", type=float, default=d.noise_max, help="training noise level drawn per sample from U[0, max]")
    p.add_argument("--clean-fraction", type=float, default=d.clean_fraction, help="share of training images shown without noise")
    p.add_argument(
        "--distort",
        type=float,
        default=d.distort,
        help=f"random affine map per training image, this strong (1: {Recipe(distort=1).distortion().replace('%', '%%')}; 0: off)",
    )
    p.add_argument("--train-size", type=int, default=d.train_size, help="use only the first N training images (default: all)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed for init, data order and training noise")
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="repeat the comparison for these seeds and report mean ± std (checkpoints from the first)",
    )
    p.add_argument("--device", default="auto", help="cpu, cuda, mps, … or auto (the machine's accelerator, else cpu)")
    p.add_argument("--dry-run", action="store_true", help="one tiny batch end to end, in seconds")
    p.add_argument(
        "--push-to-hub", metavar="NAMESPACE", default=None, help="upload both models to NAMESPACE/<prefix>-tied and -untied"
    )
    p.add_argument(
        "--repo-prefix",
        default=None,
        help=f"Hub repo name prefix (default: {REPO_PREFIX} for {'-'.join(map(str, DEFAULT_SIZES))}, "
        f"{REPO_PREFIX}-2d for a 2-D code, else the sizes appended)",
    )
    p.add_argument("--private", action="store_true", help="create the Hub repos as private")
    p.add_argument(
        "--push-only",
        metavar="DIR",
        default=None,
        help="upload existing checkpoints from DIR (holding tied/ and untied/) without training",
    )
    args = p.parse_args(argv)
    if args.push_only and not args.push_to_hub:
        p.error("--push-only needs --push-to-hub NAMESPACE")
    if not 0 <= args.noise_max <= 1:
        p.error("--noise-max must be between 0 and 1")
    if not 0 <= args.clean_fraction <= 1:
        p.error("--clean-fraction must be between 0 and 1")
    if not 0 <= args.distort <= DISTORT_MAX:
        p.error(f"--distort must be between 0 and {DISTORT_MAX:g}")
    if args.sizes is None:
        args.sizes = list(Recipe.for_arch(args.arch).sizes)
    if args.sizes[0] != MNIST_PIXELS:
        p.error(f"--sizes must start with {MNIST_PIXELS} (28×28 MNIST pixels)")
    if args.arch == "conv" and len(args.sizes) != 2:
        p.error(f"with --arch conv, --sizes is {MNIST_PIXELS} and the code size (the conv layers are --channels)")
    if min(args.sizes) < 1 or min(args.channels) < 1:
        p.error("--sizes and --channels must be positive")
    return args


def checkpoint_prefix(root: Path) -> str:
    """The Hub repo prefix for the checkpoints in root/tied (from its config.json), or the default if unreadable."""
    try:
        return config_repo_prefix(json.loads((root / "tied" / "config.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return REPO_PREFIX  # push_to_hub then says what is missing


def recipe_from_args(args: argparse.Namespace, **changes) -> Recipe:
    """The Recipe the flags describe (with `changes` applied)."""
    values = {field.name: getattr(args, field.name) for field in dataclasses.fields(Recipe)}
    return Recipe(**{**values, **changes})


def pick_device(name: str) -> torch.device:
    """The machine's accelerator (CUDA, MPS, …) for 'auto', else the CPU; otherwise the named device."""
    if name != "auto":
        return torch.device(name)
    return torch.accelerator.current_accelerator(check_available=True) or torch.device("cpu")


def pick_precision(name: str, device: torch.device) -> str:
    """'bf16' or 'fp32'; 'auto' picks bf16 only where the hardware computes it natively (else it is slow)."""
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        try:
            flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            return "fp32"
        return "bf16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "fp32"
    return "fp32"


def configure_threads() -> None:
    """The cores shared out between the models, which train and are evaluated side by side (see side_by_side).

    A model's matmuls are small (a batch of 128 by 784 by 400): two models on one core each run faster
    than one model after the other on two cores (benchmarks/train_throughput.py). Each model's work
    touches only that model, so the results are the same as one after the other.
    """
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // len(MODEL_CLASSES)))


def side_by_side(tasks: dict[str, Callable[[], T]]) -> dict[str, T]:
    """Each task's result, the tasks run at once in threads of their own (torch releases the GIL)."""
    with ThreadPoolExecutor(len(tasks), thread_name_prefix="tiedae") as pool:
        futures = {name: pool.submit(task) for name, task in tasks.items()}
        return {name: future.result() for name, future in futures.items()}


def make_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam, with the fused kernel (one pass over each parameter per step) where the build has it."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except RuntimeError:
        return torch.optim.Adam(model.parameters(), lr=lr)


def make_pair(
    recipe: Recipe, total_steps: int, device: torch.device
) -> tuple[dict[str, HubAutoencoder], dict[str, torch.optim.Optimizer], dict[str, torch.optim.lr_scheduler.LRScheduler]]:
    """Both models from the recipe's seed, each with its optimizer and a one-cycle schedule over `total_steps`."""
    models, optimizers, schedulers = {}, {}, {}
    for name, cls in ARCH_CLASSES[recipe.arch].items():
        torch.manual_seed(recipe.seed)
        models[name] = cls(**recipe.model_kwargs()).to(device)
        optimizers[name] = make_optimizer(models[name], recipe.lr)
        schedulers[name] = torch.optim.lr_scheduler.OneCycleLR(optimizers[name], max_lr=recipe.lr, total_steps=total_steps)
    return models, optimizers, schedulers


def load_mnist(data_dir: str) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST train and test images as uint8 tensors (N, 28, 28), through torchvision."""
    from torchvision import datasets

    try:
        train = datasets.MNIST(root=data_dir, train=True, download=True).data
        test = datasets.MNIST(root=data_dir, train=False, download=True).data
    except Exception as e:  # torchvision raises RuntimeError, URLError, AssertionError, ... here
        raw = Path(data_dir, "MNIST", "raw").resolve()
        raise TrainError(
            f"Could not load MNIST from {raw} and could not download it ({type(e).__name__}: {e}).\n"
            f"Put the four MNIST files there ({', '.join(IDX_FILES)}, optionally .gz), "
            "or pass --data-dir pointing at a folder that holds MNIST/raw/."
        ) from None
    return train, test


def load_test_labels(data_dir: str) -> torch.Tensor:
    """The MNIST test labels (10,000 ints 0–9), for the 2-D latent map."""
    from torchvision import datasets

    return datasets.MNIST(root=data_dir, train=False, download=True).targets


def distort(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Each image (B, 784) in [0, 1] through its own random small affine map: more digits from the same 10,000.

    The training set is small enough that both models learn it better than the test set (train MSE about
    0.7× test), so slightly rotated, scaled and sheared digits are new examples of the same handwriting.
    """
    n = len(images)
    u = torch.rand(n, 3, generator=generator, device=generator.device).to(images) * 2 - 1  # (B, 3) in [-1, 1]
    angle, scale, shear = (
        u.mul(strength).mul(u.new_tensor([math.radians(DISTORT_ROTATION_DEGREES), DISTORT_SCALE, DISTORT_SHEAR])).unbind(1)
    )
    scale = 1 + scale
    cos, sin, zero, one = angle.cos(), angle.sin(), torch.zeros_like(angle), torch.ones_like(angle)
    rotate = torch.stack([cos, -sin, sin, cos], 1).view(n, 2, 2)
    shear_map = torch.stack([one, shear, zero, one], 1).view(n, 2, 2)
    # affine_grid maps each output pixel to where it samples the input: the inverse of the digit's distortion
    no_shift = zero.view(n, 1, 1).expand(n, 2, 1)
    theta = torch.cat([rotate @ shear_map / scale.view(n, 1, 1), no_shift], 2)  # (B, 2, 3)
    side = math.isqrt(images.shape[1])
    grid = F.affine_grid(theta, [n, 1, side, side], align_corners=False)
    out = F.grid_sample(images.view(n, 1, side, side), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.view(n, -1)  # (B, 1, 28, 28) -> (B, 784)


def train_step(
    model: HubAutoencoder,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    noisy: torch.Tensor,
    clean: torch.Tensor,
    recipe: Recipe,
) -> float:
    """One optimizer step of one model on one batch (noisy in, clean target); its loss."""
    with torch.autocast(clean.device.type, dtype=torch.bfloat16, enabled=recipe.precision == "bf16"):  # per thread
        output = model(noisy)
    loss = LOSSES[recipe.loss](output.float(), clean)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    return loss.item()


def training_batch(
    x_train: torch.Tensor, indices: torch.Tensor, recipe: Recipe, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (noisy, clean) pair for these training images, each (B, 784) in [0, 1]: distorted and noised per the recipe."""
    clean = x_train[indices].float().div_(255)  # uint8 (B, 784) -> [0, 1]
    if recipe.distort > 0:  # drawn only then, so recipes without it keep their random stream
        clean = distort(clean, recipe.distort, generator)
    if not recipe.denoise:
        return clean, clean
    levels = torch.rand(len(clean), generator=generator, device=generator.device).to(clean) * recipe.noise_max
    if recipe.clean_fraction > 0:  # drawn only then, so recipes without it keep their random stream
        shown_clean = torch.rand(len(clean), generator=generator, device=generator.device).to(clean.device)
        levels[shown_clean < recipe.clean_fraction] = 0
    return add_noise(clean, recipe.noise_kind, levels, generator=generator), clean


def train_epoch(
    models: dict[str, HubAutoencoder],
    optimizers: dict[str, torch.optim.Optimizer],
    schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler],
    x_train: torch.Tensor,
    recipe: Recipe,
    generator: torch.Generator,
    epoch: int,
    *,
    dry_run: bool = False,
    quiet: bool = False,
) -> dict[str, float]:
    """One pass over x_train (uint8 (N, 784)); every model steps on the same noisy batch."""
    for model in models.values():
        model.train()
    n = len(x_train)
    perm = torch.randperm(n, generator=generator, device=generator.device).to(x_train.device)
    starts = range(0, n, recipe.batch_size)
    if dry_run:
        starts = starts[:1]
    totals = dict.fromkeys(models, 0.0)
    # the models step side by side (see configure_threads); one pool for the epoch, not one per batch
    with ThreadPoolExecutor(len(models), thread_name_prefix="train-step") as pool:
        bar = tqdm(starts, desc=f"epoch {epoch:3d}", leave=False, unit="batch", disable=True if quiet else None)
        for start in bar:
            noisy, clean = training_batch(x_train, perm[start : start + recipe.batch_size], recipe, generator)
            steps = [
                pool.submit(train_step, models[name], optimizers[name], schedulers[name], noisy, clean, recipe) for name in models
            ]
            for name, done in zip(models, steps):
                totals[name] += done.result() * len(clean)
            bar.set_postfix({name: f"{total / min(n, start + len(clean)):.4f}" for name, total in totals.items()})
    seen = min(n, len(starts) * recipe.batch_size)
    return {name: total / seen for name, total in totals.items()}


@torch.inference_mode()
def reconstruct(model: HubAutoencoder, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Model outputs for x (N, 784) in chunks."""
    model.eval()
    return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def noisy_test_set(x_test: torch.Tensor, kind: str, level: float) -> torch.Tensor:
    """x_test corrupted as every evaluation corrupts it: a fixed seed for each (kind, level)."""
    seed = EVAL_SEED + 100 * NOISE_KINDS.index(kind) + EVAL_LEVELS.index(level)
    return add_noise(x_test, kind, level, seed=seed)


def noisy_test_sets(x_test: torch.Tensor) -> dict[tuple[str, float], torch.Tensor]:
    """The fixed corrupted copies of the test set every model is evaluated on."""
    # the clean input is the same for every kind: evaluated once, under the first
    return {
        (kind, level): noisy_test_set(x_test, kind, level)
        for kind in NOISE_KINDS
        for level in EVAL_LEVELS
        if level > 0 or kind == NOISE_KINDS[0]
    }


def summarize(outputs: torch.Tensor, x_test: torch.Tensor) -> dict[str, float]:
    """Test-set MSE (mean over pixels and images) and PSNR (mean of per-image dB)."""
    return {"mse": mse(outputs, x_test).mean().item(), "psnr": psnr(outputs, x_test).mean().item()}


def evaluate(reconstruct_fn, x_test: torch.Tensor, test_sets: dict) -> dict[str, list[dict]]:
    """{kind: [{level, mse, psnr}, ...]} for reconstruct_fn over every corrupted test set."""
    results: dict[str, list[dict]] = {kind: [] for kind in NOISE_KINDS}
    for (kind, level), noisy in test_sets.items():
        results[kind].append({"level": level, **summarize(reconstruct_fn(noisy), x_test)})
    clean = results[NOISE_KINDS[0]][0]
    for kind in NOISE_KINDS[1:]:
        results[kind].insert(0, dict(clean))  # level 0 is the clean input for every kind
    return results


def fit_pca(x_train: torch.Tensor, k: int):
    """The best linear k-D code (PCA on the training set) as a reconstruct function."""
    x = x_train.double()
    mean = x.mean(dim=0)
    _, _, vh = torch.linalg.svd(x - mean, full_matrices=False)
    basis = vh[:k].T  # (784, k)

    def pca_reconstruct(noisy: torch.Tensor) -> torch.Tensor:
        centred = noisy.double() - mean
        return (centred @ basis @ basis.T + mean).clamp(0, 1).to(noisy.dtype)

    return pca_reconstruct


def run(
    recipe: Recipe,
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    device: torch.device,
    *,
    dry_run: bool = False,
    quiet: bool = False,
    on_epoch=None,
):
    """Train both models with `recipe` (its seed too); return them and the training seconds.

    Each epoch prints both models' loss and MSE on the first test images, unless `quiet`.
    `on_epoch(epoch, models)`, if given, runs after each epoch; returning True stops training.
    """
    steps_per_epoch = 1 if dry_run else recipe.batches_per_epoch(len(x_train))
    models, optimizers, schedulers = make_pair(recipe, max(2, recipe.epochs * steps_per_epoch), device)
    generator = torch.Generator(device=device).manual_seed(recipe.seed)
    x_progress = x_test[:EPOCH_EVAL_SIZE].float().div(255)
    start = time.perf_counter()
    for epoch in range(1, recipe.epochs + 1):
        losses = train_epoch(models, optimizers, schedulers, x_train, recipe, generator, epoch, dry_run=dry_run, quiet=quiet)
        if not quiet:
            test = side_by_side(
                {
                    name: lambda m=model: mse(reconstruct(m, x_progress), x_progress).mean().item()
                    for name, model in models.items()
                }
            )
            print(
                f"epoch {epoch:3d}/{recipe.epochs}  {time.perf_counter() - start:6.1f}s  "
                + "  ".join(f"{name}: loss {losses[name]:.4f} test MSE {test[name]:.5f}" for name in models)
                + f"  (first {len(x_progress)} test images)",
                flush=True,
            )
        if on_epoch is not None and on_epoch(epoch, models):
            break
    return models, time.perf_counter() - start


def evaluate_all(models: dict[str, HubAutoencoder], x_train: torch.Tensor, x_test: torch.Tensor) -> dict[str, dict]:
    """Test metrics for both models, PCA with the same latent size, and the noisy input."""
    x_test_float = x_test.float().div(255)
    test_sets = noisy_test_sets(x_test_float)
    latent = next(iter(models.values())).latent_size
    tasks = {
        name: lambda m=model: evaluate(lambda x: reconstruct(m, x), x_test_float, test_sets) for name, model in models.items()
    }
    results = side_by_side(tasks)
    results["pca"] = evaluate(fit_pca(x_train.float().div(255), latent), x_test_float, test_sets)
    results["noisy_input"] = evaluate(lambda x: x, x_test_float, test_sets)
    return results


def print_table(results: dict[str, dict], spread: dict[str, dict] | None = None) -> None:
    """MSE per noise kind and level for every model and reference (± std over seeds if given)."""
    names = list(results)
    print(f"\n{'noise':<12}{'level':>6}" + "".join(f"{n:>20}" for n in names) + "   (test MSE)")
    for kind in NOISE_KINDS:
        for i, row in enumerate(results[names[0]][kind]):
            cells = []
            for n in names:
                value = results[n][kind][i]["mse"]
                std = spread[n][kind][i]["mse"] if spread else None
                cells.append(f"{value:.5f} ± {std:.5f}" if std is not None else f"{value:.5f}")
            print(f"{kind:<12}{row['level']:>6.2f}" + "".join(f"{c:>20}" for c in cells))
    print()


def mean_and_std(per_seed: list[dict[str, dict]]) -> tuple[dict, dict]:
    """Elementwise mean and sample std of several evaluate_all results."""
    mean, std = {}, {}
    for name in per_seed[0]:
        mean[name], std[name] = {}, {}
        for kind, rows in per_seed[0][name].items():
            mean[name][kind], std[name][kind] = [], []
            for i, row in enumerate(rows):
                m, s = {"level": row["level"]}, {"level": row["level"]}
                for key in ("mse", "psnr"):
                    values = [r[name][kind][i][key] for r in per_seed]
                    m[key] = statistics.fmean(values)
                    s[key] = statistics.stdev(values) if len(values) > 1 else 0.0
                mean[name][kind].append(m)
                std[name][kind].append(s)
    return mean, std


def main(argv: list[str] | None = None) -> int:
    args = get_args(argv)
    try:
        if args.push_only:
            push_checkpoints(Path(args.push_only), args)
            return 0
        token = require_token() if args.push_to_hub else None
        out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="tiedae-dry-run-") if args.dry_run else "checkpoints")
        device = pick_device(args.device)
        configure_threads()
        x_train, x_test = load_mnist(args.data_dir)
        if args.train_size:
            x_train = x_train[: args.train_size]
        if args.dry_run:
            x_train, x_test = x_train[: args.batch_size], x_test[:256]
        recipe = recipe_from_args(
            args, precision=pick_precision(args.precision, device), **({"epochs": 1} if args.dry_run else {})
        )
        seeds = args.seeds or [recipe.seed]
        print(f"training on {len(x_train)} images, testing on {len(x_test)}, device {device} ({recipe.precision}), seeds {seeds}")
        x_train_dev = x_train.reshape(len(x_train), -1).to(device)  # (N, 28, 28) -> (N, 784), uint8 on device
        per_seed, first = [], None
        for seed in seeds:
            seed_recipe = dataclasses.replace(recipe, seed=seed)
            models, seconds = run(
                seed_recipe, x_train_dev, x_test.reshape(len(x_test), -1).to(device), device, dry_run=args.dry_run
            )
            models = {name: model.cpu() for name, model in models.items()}
            results = evaluate_all(models, x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1))
            print_table(results)
            per_seed.append(results)
            first = first or (models, results, seconds, seed_recipe)
        summary = None
        if len(seeds) > 1:
            mean, std = mean_and_std(per_seed)
            print(f"mean ± std over seeds {seeds}:")
            print_table(mean, std)
            summary = {"seeds": seeds, "mean": mean, "std": std}
        models, results, seconds, recipe = first
        from tiedae.publish import write_checkpoints

        test_labels = load_test_labels(args.data_dir)[: len(x_test)] if recipe.sizes[-1] == 2 else None

        write_checkpoints(
            out,
            models,
            results,
            recipe=recipe,
            summary=summary,
            device=str(device),
            namespace=args.push_to_hub,
            prefix=args.repo_prefix or repo_prefix(recipe.sizes, arch=recipe.arch, channels=recipe.channels),
            train_size=len(x_train),
            test_size=len(x_test),
            seconds=seconds,
            study_path=STUDY_PATH if STUDY_PATH.exists() else None,
            latent_map=None if test_labels is None else (x_test.reshape(len(x_test), -1), test_labels),
        )
        print(f"checkpoints written to {out.resolve()}")
        if args.push_to_hub:
            push_checkpoints(out, args, token=token)
    except TrainError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def require_token() -> str:
    """The Hub token, checked before any training so a push cannot fail late for want of it."""
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise TrainError("--push-to-hub needs a Hugging Face token: run `hf auth login` or set HF_TOKEN, then try again.")
    return token


def push_checkpoints(root: Path, args: argparse.Namespace, token: str | None = None) -> None:
    """Upload root/tied and root/untied, each to its own model repo."""
    from tiedae.publish import push_to_hub

    token = token or require_token()
    prefix = args.repo_prefix or checkpoint_prefix(root)
    try:
        urls = push_to_hub(root, namespace=args.push_to_hub, prefix=prefix, private=args.private, token=token)
    except Exception as e:
        raise TrainError(
            f"upload failed ({type(e).__name__}: {e}).\nThe local checkpoints in {root.resolve()} are intact; "
            f"retry the upload alone with:\n  python train.py --push-only {root} --push-to-hub {args.push_to_hub}"
            + (f" --repo-prefix {args.repo_prefix}" if args.repo_prefix else "")
            + (" --private" if args.private else "")
        ) from None
    for url in urls:
        print(f"uploaded {url}")


if __name__ == "__main__":
    sys.exit(main())
