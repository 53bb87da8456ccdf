"""The training loop shared by train.py (the command line), the Space's live training and the benchmarks.

`train_pair` trains a tied and an untied model side by side from one Recipe, epoch by epoch: both see
the same batches in the same order with the same noise, optimizer, schedule and epochs; they differ only
in weight tying. `evaluate_all` scores them on the MNIST test set against PCA and the noisy input.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
import torch.nn.functional as F
from tqdm import tqdm

from tiedae.constants import MODEL_NAMES, REFERENCE_PCA
from tiedae.metrics import mse, psnr_from_mse
from tiedae.model import HubAutoencoder
from tiedae.noise import NOISE_KINDS, add_noise
from tiedae.recipe import DISTORT_ROTATION_DEGREES, DISTORT_SCALE, DISTORT_SHEAR, Recipe

EVAL_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
EPOCH_EVAL_SIZE = 1000  # per-epoch progress uses the first 1,000 test images; the final evaluation uses all
EVAL_SEED = 1234  # test-set noise is fixed so every model and every run sees the same corruption
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

T = TypeVar("T")


class TrainError(Exception):
    """A problem to report in one clear message, without a traceback."""


def pick_device(name: str) -> torch.device:
    """The machine's accelerator (CUDA, MPS, …) for 'auto', else the CPU; otherwise the named device."""
    if name != "auto":
        return torch.device(name)
    return torch.accelerator.current_accelerator(check_available=True) or torch.device("cpu")


def cpu_bf16_flags() -> set[str]:
    """The CPU's native bf16 flags as /proc/cpuinfo names them (avx512_bf16, amx_bf16); empty where none or unreadable."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return set()
    return flags & {"avx512_bf16", "amx_bf16"}


def pick_precision(name: str, device: torch.device) -> str:
    """'bf16' or 'fp32'; 'auto' picks bf16 only where the hardware computes it natively (else it is slow)."""
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_bf16_flags() else "fp32"
    return "fp32"


def configure_threads() -> None:
    """The cores shared out between the models, which train and are evaluated side by side (see side_by_side).

    A model's matmuls are small (a batch of 128 by 784 by 400): two models on one core each run faster
    than one model after the other on two cores (benchmarks/train_throughput.py). Each model's work
    touches only that model, so the results are the same as one after the other.
    """
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // len(MODEL_NAMES)))


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
    for name, cls in recipe.family.classes().items():
        torch.manual_seed(recipe.seed)
        models[name] = cls(**(recipe.tied_kwargs() if name == "tied" else recipe.untied_kwargs())).to(device)
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
    """Each image (B, 784) in [0, 1] through its own random small affine map: more digits from the same images.

    On a small training set both models learn it better than the test set, so slightly rotated, scaled and
    sheared digits are new examples of the same handwriting.
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
    # No autocast weight cache: it casts a weight once per forward pass and shares that copy between its uses, and a
    # tied conv kernel is used twice (conv2d and conv_transpose2d). With the cache, a tied conv model stepped beside
    # its twin in another thread trained to different weights run to run; without it, to the same weights every
    # time, in threads or one after the other. Weights used once (every MLP, the untied conv) train bit for bit as before.
    with torch.autocast(clean.device.type, dtype=torch.bfloat16, enabled=recipe.precision == "bf16", cache_enabled=False):
        _, loss = model(noisy, clean, loss=recipe.loss)  # the model's own objective, in float32
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
    parallel: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, float] | None:
    """One pass over x_train (uint8 (N, 784)); every model steps on the same noisy batch. Its mean losses.

    `parallel`: the models step side by side in threads of their own (see configure_threads), else one after
    the other in this thread (the same numbers). `should_stop()` is asked before each batch; if it says so,
    the epoch ends there and None is returned.
    """
    for model in models.values():
        model.train()
    n = len(x_train)
    perm = torch.randperm(n, generator=generator, device=generator.device).to(x_train.device)
    starts = range(0, n, recipe.batch_size)
    if dry_run:
        starts = starts[:1]
    totals = dict.fromkeys(models, 0.0)
    # one pool for the epoch, not one per batch
    with ThreadPoolExecutor(len(models), thread_name_prefix="train-step") if parallel else contextlib.nullcontext() as pool:
        bar = tqdm(starts, desc=f"epoch {epoch:3d}", leave=False, unit="batch", disable=True if quiet else None)
        for start in bar:
            if should_stop is not None and should_stop():
                return None
            noisy, clean = training_batch(x_train, perm[start : start + recipe.batch_size], recipe, generator)
            steps = [(models[name], optimizers[name], schedulers[name], noisy, clean, recipe) for name in models]
            if parallel:
                losses = [future.result() for future in [pool.submit(train_step, *step) for step in steps]]
            else:
                losses = [train_step(*step) for step in steps]
            for name, loss in zip(models, losses):
                totals[name] += loss * len(clean)
            bar.set_postfix({name: f"{total / min(n, start + len(clean)):.4f}" for name, total in totals.items()})
    seen = min(n, len(starts) * recipe.batch_size)
    return {name: total / seen for name, total in totals.items()}


EVAL_BATCH = 2000  # test images per forward pass in evaluation: every test number is computed in these chunks


@torch.inference_mode()
def reconstruct(model: HubAutoencoder, x: torch.Tensor, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """Model outputs for x (N, 784) in chunks."""
    model.eval()
    return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


@torch.inference_mode()
def image_mse(model: HubAutoencoder, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Each image's MSE (N,) of the model's output for inputs against target, chunk by chunk: the same numbers as
    mse(reconstruct(model, inputs), target), without holding all the outputs at once."""
    model.eval()
    return torch.cat(
        [mse(model(inputs[i : i + EVAL_BATCH]), target[i : i + EVAL_BATCH]) for i in range(0, len(inputs), EVAL_BATCH)]
    )


def test_mse(model: HubAutoencoder, clean: torch.Tensor, noisy: torch.Tensor) -> dict[str, float]:
    """A model's two headline numbers, as train.py, the study and live training all report them: its MSE on the
    clean test images and on the same images with the fixed test noise (noisy_test_set(clean, *NOISY)), mean over images."""
    return {"clean": image_mse(model, clean, clean).mean().item(), "noisy": image_mse(model, noisy, clean).mean().item()}


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


def summarize(errors: torch.Tensor) -> dict[str, float]:
    """Test-set MSE (mean over pixels and images) and PSNR (mean of per-image dB) from each image's MSE (N,)."""
    return {"mse": errors.mean().item(), "psnr": psnr_from_mse(errors).mean().item()}


def evaluate(image_errors, test_sets: dict) -> dict[str, list[dict]]:
    """{kind: [{level, mse, psnr}, ...]} over every corrupted test set; image_errors(noisy) gives each image's MSE (N,)."""
    results: dict[str, list[dict]] = {kind: [] for kind in NOISE_KINDS}
    for (kind, level), noisy in test_sets.items():
        results[kind].append({"level": level, **summarize(image_errors(noisy))})
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


def pca_references(x_train: torch.Tensor, x_test: torch.Tensor) -> dict[str, float]:
    """Clean test MSE of PCA-20 and PCA-30 fit on these training images (uint8 (N, 784)): the linear references."""
    train, clean = x_train.float().div(255), x_test.float().div(255)
    return {f"PCA-{k}": mse(fit_pca(train, k)(clean), clean).mean().item() for k in REFERENCE_PCA}


@dataclass
class Epoch:
    """What train_pair reports after each epoch."""

    epoch: int
    models: dict[str, HubAutoencoder]  # the same models each epoch, trained one epoch further
    losses: dict[str, float]  # each model's mean training loss over the epoch
    test_mse: dict[str, float] | None  # each model's MSE on the first EPOCH_EVAL_SIZE test images (if asked for)
    seconds: float  # training time so far (the test MSE above not included)


def train_pair(
    recipe: Recipe,
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    device: torch.device,
    *,
    dry_run: bool = False,
    quiet: bool = True,
    progress: bool = True,
    parallel: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[Epoch]:
    """Train both models with `recipe` (its seed too), yielding an Epoch after each epoch.

    x_train is uint8 (N, 784), x_test uint8 (M, 784). `progress`: measure the test MSE after each epoch
    (inference only: the training is the same without it). `should_stop()` is asked before each batch;
    when it says so, the generator ends without reporting the unfinished epoch.
    """
    steps_per_epoch = 1 if dry_run else recipe.batches_per_epoch(len(x_train))
    models, optimizers, schedulers = make_pair(recipe, max(2, recipe.epochs * steps_per_epoch), device)
    generator = torch.Generator(device=device).manual_seed(recipe.seed)
    x_progress = x_test[:EPOCH_EVAL_SIZE].float().div(255)
    seconds = 0.0
    for epoch in range(1, recipe.epochs + 1):
        start = time.perf_counter()
        losses = train_epoch(
            models,
            optimizers,
            schedulers,
            x_train,
            recipe,
            generator,
            epoch,
            dry_run=dry_run,
            quiet=quiet,
            parallel=parallel,
            should_stop=should_stop,
        )
        seconds += time.perf_counter() - start
        if losses is None:
            return
        test_mse = None
        if progress:
            tasks = {
                name: lambda m=model: mse(reconstruct(m, x_progress), x_progress).mean().item() for name, model in models.items()
            }
            test_mse = side_by_side(tasks) if parallel else {name: task() for name, task in tasks.items()}
        yield Epoch(epoch, models, losses, test_mse, seconds)


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
    models, seconds = {}, 0.0
    for report in train_pair(recipe, x_train, x_test, device, dry_run=dry_run, quiet=quiet, progress=not quiet):
        models, seconds = report.models, report.seconds
        if not quiet:
            print(
                f"epoch {report.epoch:3d}/{recipe.epochs}  {seconds:6.1f}s  "
                + "  ".join(f"{name}: loss {report.losses[name]:.4f} test MSE {report.test_mse[name]:.5f}" for name in models)
                + f"  (first {min(EPOCH_EVAL_SIZE, len(x_test))} test images)",
                flush=True,
            )
        if on_epoch is not None and on_epoch(report.epoch, models):
            break
    return models, seconds


def evaluate_all(models: dict[str, HubAutoencoder], x_train: torch.Tensor, x_test: torch.Tensor) -> dict[str, dict]:
    """Test metrics for both models, PCA with the same latent size, and the noisy input."""
    x_test_float = x_test.float().div(255)
    test_sets = noisy_test_sets(x_test_float)
    latent = next(iter(models.values())).pca_size
    tasks = {  # image_mse: the path test_mse, the study and live training take too
        name: lambda m=model: evaluate(lambda x: image_mse(m, x, x_test_float), test_sets) for name, model in models.items()
    }
    results = side_by_side(tasks)
    pca = fit_pca(x_train.float().div(255), latent)
    results["pca"] = evaluate(lambda x: mse(pca(x), x_test_float), test_sets)
    results["noisy_input"] = evaluate(lambda x: mse(x, x_test_float), test_sets)
    return results


def code_reports(models: dict[str, HubAutoencoder], x_test: torch.Tensor) -> dict[str, dict]:
    """Each model's code_report on the test images (uint8 (N, 784)); {} for models whose code has nothing more to say."""
    images = x_test.float().div(255)
    return {name: model.code_report(images) for name, model in models.items()}


def codes_mean_and_std(per_seed: list[dict[str, dict]]) -> dict[str, dict] | None:
    """{model: {number: [mean, std]}} over several code_reports results (None if the models report nothing)."""
    if not any(per_seed[0].values()):
        return None
    out = {}
    for name, report in per_seed[0].items():
        out[name] = {}
        for key in report:
            values = [seed[name][key] for seed in per_seed]
            out[name][key] = [statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0]
    return out


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
