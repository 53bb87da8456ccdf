"""Live training in the Space: a visitor's settings become a Recipe, and the run reports after every epoch.

The loop is tiedae.training's, the one train.py runs, so a live run and the `train.py` command it prints
train the same two models and give the same test numbers. This module knows nothing of Gradio: the Space's
space/live_training.py wires `train_live` (a generator of `LiveUpdate`s) to the page and to the `/train` endpoint.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tiedae.constants import LIVE_DEFAULTS, LIVE_LIMITS, LIVE_SETTING_NAMES, LIVE_TIME_CAP, MNIST_PIXELS, MODEL_NAMES
from tiedae.controls import whole_number
from tiedae.families import FAMILIES
from tiedae.images import to_uint8
from tiedae.model import HubAutoencoder, count_parameters
from tiedae.recipe import Recipe
from tiedae.study import AXES, BASE_SETTING, NOISY
from tiedae.training import IDX_FILES, load_mnist, load_test_labels, noisy_test_set, test_mse, train_pair

LIMITS, DEFAULTS, TIME_CAP = LIVE_LIMITS, LIVE_DEFAULTS, LIVE_TIME_CAP
NOISE_LIMIT = 1.0  # the training noise: σ drawn per image from U[0, noise_level]; 0 trains on clean digits
RUN_OUT = "runs/live"  # where the printed train.py command writes its checkpoints (not over the shipped ones)


@dataclass
class LiveUpdate:
    """One report of a live run: after an epoch, and once more at the end (`final`)."""

    recipe: Recipe
    epoch: int
    curve: dict[str, list[float]]  # each model's test MSE after each epoch so far (first EPOCH_EVAL_SIZE test images)
    seconds: float  # wall time since the run started (loading the data not included)
    eta: float | None  # seconds left, estimated from the epochs so far
    images: dict[str, np.ndarray]  # uint8 rows of digits: "input", then one per model (see reconstruction_rows)
    models: dict[str, HubAutoencoder]
    final: dict | None = None  # the last update: the /train result (see final_result)
    stopped: str | None = None  # why the run ended early, if it did
    parameters: dict[str, int] = field(default_factory=dict)


def live_recipe(
    *,
    arch: object,
    train_size: object,
    latent: object,
    depth: object,
    epochs: object,
    noise_level: object,
    seed: object,
    tie: object = "all",
    precision: str = "fp32",
) -> Recipe:
    """The Recipe a live run trains; a ValueError naming the setting when one is out of range or of the wrong type."""
    if arch not in FAMILIES:
        raise ValueError(f"Architecture must be one of {', '.join(FAMILIES)}; got {arch!r}.")
    whole = {"train_size": train_size, "latent": latent, "depth": depth, "epochs": epochs, "seed": seed}
    values = {name: whole_number(value, *LIMITS[name], LIVE_SETTING_NAMES[name]) for name, value in whole.items()}
    if isinstance(noise_level, bool) or not isinstance(noise_level, (int, float)) or not 0 <= noise_level <= NOISE_LIMIT:
        raise ValueError(f"{LIVE_SETTING_NAMES['noise_level']} must be a number from 0 to {NOISE_LIMIT:g}; got {noise_level!r}.")
    noise_level = float(noise_level)
    if not isinstance(tie, str):
        raise ValueError(f"{LIVE_SETTING_NAMES['tie']} must be all, inner, outer or a mask of zeros and ones; got {tie!r}.")
    shape = FAMILIES[arch].live_kwargs(values["latent"], values["depth"])
    try:
        Recipe.for_arch(arch, **shape, tie=tie.strip().lower())
    except ValueError as e:
        raise ValueError(f"{LIVE_SETTING_NAMES['tie']}: {e}.") from None
    return Recipe.for_arch(
        arch,
        **shape,
        tie=tie.strip().lower(),
        epochs=values["epochs"],
        train_size=values["train_size"],
        denoise=noise_level > 0,
        noise_max=noise_level if noise_level > 0 else Recipe.noise_max,
        seed=values["seed"],
        precision=precision,
    )


@dataclass(frozen=True)
class LiveData:
    """MNIST as live runs use it, read once: training and test images, the fixed noisy test set, a row of test digits."""

    x_train: torch.Tensor  # (N, 784) uint8
    x_test: torch.Tensor  # (10000, 784) uint8
    clean: torch.Tensor  # (10000, 784) float in [0, 1]: x_test / 255, made once (not 31 MB per run)
    noisy: torch.Tensor  # clean with train.py's fixed test noise, Gaussian σ = 0.5
    row: torch.Tensor  # (10, 784) uint8: the first test image of each digit 0–9


@functools.lru_cache(maxsize=4)
def load_data(data_dir: str) -> LiveData:
    """MNIST from data_dir (downloaded there by torchvision if missing); a TrainError saying how to fix it if it cannot be had."""
    train, test = load_mnist(data_dir)
    labels = load_test_labels(data_dir)
    # (N, 28, 28) -> (N, 784); images past the live limit are never used
    x_train = train[: LIMITS["train_size"][1]].reshape(-1, MNIST_PIXELS).clone()
    x_test = test.reshape(len(test), MNIST_PIXELS)
    clean = x_test.float().div(255)
    row = torch.stack([x_test[int((labels == digit).nonzero()[0])] for digit in range(10)])
    return LiveData(x_train, x_test, clean, noisy_test_set(clean, *NOISY), row)


def data_ready(data_dir: str) -> bool:
    """Whether the four MNIST files are in data_dir/MNIST/raw already (else a first run downloads them)."""
    raw = Path(data_dir, "MNIST", "raw")
    return all((raw / name).is_file() or (raw / f"{name}.gz").is_file() for name in IDX_FILES)


@contextlib.contextmanager
def training_kernels() -> Iterator[None]:
    """oneDNN on while a run trains: the app turns it off for one-image inference, and without it a training step is
    several times slower (benchmarks/RESULTS.md). The switch is process-wide; strokes answered meanwhile are as right."""
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = True
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


@torch.inference_mode()
def reconstruction_rows(models: dict[str, HubAutoencoder], digits: torch.Tensor) -> dict[str, np.ndarray]:
    """The digits (K, 784) in [0, 1] and each model's reconstruction of them: {"input", model: uint8 (K, 28, 28)}."""
    rows = {"input": digits}
    for name, model in models.items():
        model.eval()
        rows[name] = model(digits)
    return {name: to_uint8(x.reshape(-1, 28, 28)) for name, x in rows.items()}


def test_scores(models: dict[str, HubAutoencoder], data: LiveData) -> dict[str, dict[str, float]]:
    """Each model's clean and noisy (Gaussian σ = 0.5, train.py's fixed test noise) MSE on the whole test set:
    tiedae.training.test_mse, the numbers train.py and the study report, chunk by chunk (the server's memory stays flat)."""
    scores = {name: test_mse(model, data.clean, data.noisy) for name, model in models.items()}
    return {name: {"test_mse_clean": s["clean"], "test_mse_noisy": s["noisy"]} for name, s in scores.items()}


def command(recipe: Recipe, data_dir: str) -> str:
    """The train.py command line that trains the same pair and writes its metrics.json."""
    return f"{recipe.command(data_dir)} --out {RUN_OUT}"


def final_result(update: LiveUpdate, scores: dict[str, dict[str, float]], data_dir: str) -> dict:
    """What /train returns last: per model its curve, clean and noisy test MSE and parameters; seconds; the command."""
    result = {
        name: {"curve": update.curve[name], **scores[name], "parameters": update.parameters[name], "tie": update.models[name].tie}
        for name in MODEL_NAMES
    }
    return {**result, "seconds": round(update.seconds, 2), "command": command(update.recipe, data_dir)}


def train_live(
    recipe: Recipe,
    data: LiveData,
    *,
    drawing: np.ndarray | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    time_cap: float = TIME_CAP,
    data_dir: str = "./data",
) -> Iterator[LiveUpdate]:
    """Train the pair on this thread (both models one after the other), yielding after every epoch and once at the end.

    The last update's `final` is the /train result, or its `stopped` says why the run ended early (Stop, or the
    time cap). `drawing` (28, 28) in [0, 1], if given, is reconstructed beside the row of test digits.
    """
    if recipe.train_size > len(data.x_train):
        raise ValueError(f"Only {len(data.x_train):,} training images are available here; choose at most that many.")
    x_train = data.x_train[: recipe.train_size]
    digits = data.row.float().div(255)
    if drawing is not None:
        digits = torch.cat([digits, torch.as_tensor(drawing, dtype=torch.float32).reshape(1, MNIST_PIXELS)])
    start = time.perf_counter()
    stopped = None

    def stop_now() -> bool:
        nonlocal stopped
        if should_stop():
            stopped = "stopped"
        elif time.perf_counter() - start > time_cap:
            stopped = f"time cap: a run may train for {time_cap:.0f} s"
        return stopped is not None

    curve: dict[str, list[float]] = {name: [] for name in MODEL_NAMES}
    update = None
    with training_kernels():
        for report in train_pair(
            recipe, x_train, data.x_test, torch.device("cpu"), parallel=False, should_stop=stop_now, quiet=True
        ):
            for name in MODEL_NAMES:
                curve[name].append(report.test_mse[name])
            update = LiveUpdate(
                recipe=recipe,
                epoch=report.epoch,
                curve={name: list(values) for name, values in curve.items()},
                seconds=time.perf_counter() - start,
                eta=None,
                images=reconstruction_rows(report.models, digits),
                models=report.models,
                parameters={name: count_parameters(model) for name, model in report.models.items()},
            )
            if report.epoch == recipe.epochs:  # the last epoch's update carries the result
                scores = test_scores(report.models, data)
                update.seconds = time.perf_counter() - start
                update.final = final_result(update, scores, data_dir)
            update.eta = update.seconds / report.epoch * (recipe.epochs - report.epoch)
            yield update
    release_memory()
    if update is None or update.final is None:  # stopped before the end: one more update says so
        last = update or LiveUpdate(recipe=recipe, epoch=0, curve=curve, seconds=0.0, eta=None, images={}, models={})
        yield dataclasses.replace(last, seconds=time.perf_counter() - start, eta=None, stopped=stopped or "stopped")


def release_memory() -> None:
    """Hand the memory a run freed back to the OS (glibc keeps it in each thread's arena otherwise); elsewhere a no-op."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def save_pair(models: dict[str, HubAutoencoder], result: dict, folder: Path) -> Path:
    """The pair as save_pretrained folders tied/ and untied/ (with the run's result in run.json), zipped; the zip's path."""
    with tempfile.TemporaryDirectory(prefix="tiedae-live-") as tmp:
        root = Path(tmp, "tiedae-live-pair")
        for name, model in models.items():
            model.save_pretrained(root / name)
        (root / "run.json").write_text(json.dumps(result, indent=2) + "\n")
        folder.mkdir(parents=True, exist_ok=True)
        return Path(shutil.make_archive(str(folder / "tiedae-live-pair"), "zip", root_dir=tmp, base_dir=root.name))


def nearest_study_cell(recipe: Recipe) -> tuple[str, object]:
    """The study axis and value nearest to a live run's setting (on that axis the other settings are the study's)."""
    if "latent" not in recipe.family.study_axes:  # a family studied along training-set size alone
        return "train_size", nearest(AXES["train_size"][1], recipe.train_size)
    depth = len(recipe.sizes) - 2
    latent = recipe.sizes[-1]
    mask = recipe.tie_mask()
    tie_value = f"{'-'.join(map(str, recipe.sizes))}:{mask}"
    if "0" in mask and tie_value in AXES["tie"][1]:  # a partly tied run of a shape the tied-layers axis has
        return "tie", tie_value
    if latent != BASE_SETTING["latent"] and depth == 1:
        return "latent", nearest(AXES["latent"][1], latent)
    if depth != 1 and latent == BASE_SETTING["latent"]:
        return "depth", AXES["depth"][1][depth - 1]
    return "train_size", nearest(AXES["train_size"][1], recipe.train_size)


def nearest(values: list[int], value: int) -> int:
    """The value nearest on a log scale."""
    return min(values, key=lambda v: abs(math.log(v / value)))
