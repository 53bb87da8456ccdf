"""The steps behind the Space, as plain functions: load models, reconstruct, and the figures.

Data flows one way: sketch -> `sketch_to_mnist` -> `add_noise` -> both models ->
`mse`/`psnr` -> display. `app.py` only wires these to Gradio components.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tiedae.constants import CHECKPOINTS, MAX_SEED, MNIST_PIXELS, MODEL_NAMES
from tiedae.latent import LatentMap, arithmetic, decode_codes, interpolation, strip
from tiedae.metrics import mse, psnr
from tiedae.model import (
    ARCH_CLASSES,
    LATENT_MAP_FILE,
    METRICS_FILE,
    MODEL_CLASSES,
    REPO_PREFIX,
    HubAutoencoder,
    count_parameters,
    repo_ids,
)
from tiedae.noise import NOISE_KINDS, add_noise, check_noise
from tiedae.plots import study_chart, sweep_image
from tiedae.preprocess import STROKE_WIDE, crop_square, ink_box, sketch_to_mnist, stroke_width
from tiedae.recipe import Recipe
from tiedae.study import AXES, METRICS, NOISY, SHIPPED_TRAIN_SIZE, load_study, study_finding, summarize
from tiedae.training import EPOCH_EVAL_SIZE

log = logging.getLogger("tiedae")


@dataclass
class LoadedModels:
    """Both models, their test metrics (None if unavailable) and where they came from."""

    models: dict[str, HubAutoencoder]
    metrics: dict[str, dict | None]
    source: str
    warning: str | None = None
    maps: dict[str, LatentMap] | None = None  # 2-D models only: each model's codes of the test digits
    parameters: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.parameters = {name: count_parameters(model) for name, model in self.models.items()}


def _read_metrics(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        log.warning("no usable %s: %s", path, e)
        return None


def load_bundled(root: Path = CHECKPOINTS, *, arch: str = "mlp") -> LoadedModels:
    """The checkpoints shipped in root/tied and root/untied (a pair of `arch`); errors name the bad file."""
    if not root.is_dir():  # e.g. the package installed with pip, which ships no checkpoints
        raise FileNotFoundError(
            f"{root}: no checkpoints folder here (checkpoints/ comes with the repository, not with the installed "
            "package); load the models from the Hub instead, e.g. TiedAutoencoder.from_pretrained('tiedae/tiedae-mnist-tied')"
        )
    models = {}
    for name, cls in ARCH_CLASSES[arch].items():
        folder = root / name
        if not (folder / "model.safetensors").is_file():
            raise FileNotFoundError(f"{folder / 'model.safetensors'}: checkpoint missing (run train.py to make it)")
        models[name] = cls.from_pretrained(folder)
    metrics = {name: _read_metrics(root / name / METRICS_FILE) for name in MODEL_CLASSES}
    maps = None
    if all((root / name / LATENT_MAP_FILE).is_file() for name in MODEL_CLASSES):
        maps = {name: LatentMap.load(root / name / LATENT_MAP_FILE) for name in MODEL_CLASSES}
    where = root.relative_to(CHECKPOINTS.parent) if root.is_relative_to(CHECKPOINTS.parent) else root.name
    return LoadedModels(models, metrics, source=f"bundled checkpoints ({where}/)", maps=maps)


def load_from_hub(
    namespace: str, *, revision: str | None = None, root: Path = CHECKPOINTS, prefix: str = REPO_PREFIX, arch: str = "mlp"
) -> LoadedModels:
    """NAMESPACE/<prefix>-tied and -untied from the Hub (or its cache); the bundled ones in root if that fails."""
    from huggingface_hub import hf_hub_download

    ids = repo_ids(namespace, prefix)
    try:
        models, metrics, maps = {}, {}, {}
        for name, cls in ARCH_CLASSES[arch].items():
            models[name] = cls.from_pretrained(ids[name], revision=revision)
            metrics_path = hf_hub_download(ids[name], METRICS_FILE, revision=revision)
            metrics[name] = _read_metrics(Path(metrics_path))
            if models[name].latent_size == 2:
                maps[name] = LatentMap.load(Path(hf_hub_download(ids[name], LATENT_MAP_FILE, revision=revision)))
    except Exception as e:  # offline, no such repo, bad files: all mean "use what we ship"
        reason = f"{type(e).__name__}: {e}".splitlines()[0]
        warning = f"Could not load {ids['tied']} / {ids['untied']} from the Hub ({reason}); showing the bundled checkpoints."
        log.warning(warning)
        loaded = load_bundled(root, arch=arch)
        loaded.warning = warning
        return loaded
    at = f"@{revision}" if revision else ""
    return LoadedModels(models, metrics, source=f"Hub: {ids['tied']}{at}, {ids['untied']}{at}", maps=maps or None)


PREPARED_CACHE_SIZE = 32  # recent drawings kept as 28×28 digits: ~3 KB each


class _Content:
    """An image as a cache key: hashed and compared by its content digest."""

    def __init__(self, image: object, digest: bytes) -> None:
        self.image, self.digest = image, digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Content) and other.digest == self.digest


@functools.lru_cache(maxsize=PREPARED_CACHE_SIZE)
def _prepare(content: _Content) -> np.ndarray | None:
    image, content.image = content.image, None  # the cache keeps the 28×28 digit, not the drawing
    return sketch_to_mnist(image)  # a SketchError propagates and nothing is kept


def image_key(image: object) -> bytes | None:
    """A digest of an image's content (pixels, or a file's bytes), or None if it cannot be read as such."""
    if isinstance(image, Image.Image):
        data = f"{image.mode} {image.size}".encode() + image.tobytes()
    elif isinstance(image, np.ndarray):
        data = f"{image.dtype} {image.shape}".encode() + np.ascontiguousarray(image).tobytes()
    elif isinstance(image, (str, os.PathLike)):
        try:
            data = Path(image).read_bytes()
        except OSError:
            return None  # let sketch_to_mnist say what is wrong with it
    else:
        return None
    return hashlib.blake2b(data, digest_size=16).digest()


def prepared_digit(image: object) -> np.ndarray | None:
    """sketch_to_mnist, remembered by content for recent images: moving a slider re-sends the same drawing."""
    digest = image_key(image)
    return sketch_to_mnist(image) if digest is None else _prepare(_Content(image, digest))


def ink_on_canvas(ink: np.ndarray, size: int) -> Image.Image:
    """A stroke map as dark strokes on a white size×size canvas (grey), cropped to the digit with a margin."""
    top, bottom, left, right = ink_box(ink)
    side = 1.4 * max(bottom - top, right - left)  # the digit and a margin around it
    square = crop_square(ink, (top + bottom) / 2, (left + right) / 2, side, size)
    return Image.fromarray(np.round(255 * (1 - square)).astype(np.uint8), mode="L")


@torch.inference_mode()
def reconstruct_digit(clean: np.ndarray, models: dict[str, HubAutoencoder], kind: str, level: float, seed: int) -> dict:
    """Noise the (28, 28) clean digit, run every model; images as uint8 (28, 28), metrics vs clean."""
    x = torch.from_numpy(clean).reshape(1, MNIST_PIXELS)  # (28, 28) -> (1, 784)
    noisy = add_noise(x, kind, level, seed=seed)
    images = {"clean": x, "noisy": noisy}
    metrics = {"noisy_input": _metrics(noisy, x)}
    for name, model in models.items():
        images[name] = model(noisy)
        metrics[name] = _metrics(images[name], x)
    as_uint8 = {k: (v.reshape(28, 28) * 255).round().to(torch.uint8).numpy() for k, v in images.items()}
    return {"images": as_uint8, "metrics": metrics}


def noisy_digit(clean: np.ndarray, kind: str, level: float, seed: int) -> np.ndarray:
    """The (28, 28) clean digit with the noise reconstruct_digit adds for the same controls."""
    return add_noise(torch.from_numpy(clean), kind, level, seed=seed).numpy()


def _metrics(output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    return {"mse": round(mse(output, target).item(), 6), "psnr": round(psnr(output, target).item(), 2)}


INPUT_PANELS = (("clean", "Clean input (28×28)"), ("noisy", "Noisy input"))
PAIRS = {  # each pair of models the side by side shows: its models' keys (in results and the API) and its title
    "mlp": ("tied", "untied"),
    "conv": ("conv_tied", "conv_untied"),
}
MODEL_LABELS = {
    "tied": "<b>tied</b> MLP",
    "untied": "<b>untied</b> MLP",
    "conv_tied": "<b>tied</b> conv",
    "conv_untied": "<b>untied</b> conv",
    "noisy_input": "noisy input",
}


def pair_models(pairs: dict[str, LoadedModels]) -> tuple[dict[str, HubAutoencoder], dict[str, int]]:
    """The models of every loaded pair under their result keys ('tied', …, 'conv_untied'), and their parameter counts."""
    models, parameters = {}, {}
    for arch, loaded in pairs.items():
        for key, name in zip(PAIRS[arch], MODEL_NAMES):
            models[key], parameters[key] = loaded.models[name], loaded.parameters[name]
    return models, parameters


def pair_titles(pairs: dict[str, LoadedModels]) -> dict[str, str]:
    """Each pair's title over its reconstructions, from its models: 'MLP 784-400-20', 'Conv 64-128 channels'."""
    titles = {}
    for arch, loaded in pairs.items():
        model = loaded.models[MODEL_NAMES[0]]
        if arch == "conv":
            titles[arch] = f"Conv {'-'.join(map(str, model.channels))} channels"  # short: on a phone it shares a row
        else:
            titles[arch] = f"MLP {'-'.join(map(str, model.sizes))}"
    return titles


def png_data_uri(image: np.ndarray) -> str:
    """A small uint8 image as an inline PNG (data: URI): no file to write, cache or fetch."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def stroke_note(clean: np.ndarray) -> str:
    """A note for the result when the 28×28 digit's strokes are wider than nearly all MNIST digits' ("" if not)."""
    width = stroke_width(clean)
    if width <= STROKE_WIDE:
        return ""
    # drawn small on the pad, the pen's strokes come out thick once the digit is scaled to MNIST's size
    return (
        f'<p class="note">Thick strokes: {width:.1f} px in the 28×28 digit, wider than in 98% of MNIST digits, '
        "so both models saw few like it. Draw the digit larger, or with a thinner pen.</p>"
    )


def _figure(key: str, label: str, uri: str) -> str:
    return f'<figure class="panel"><img id="{key}-img" alt="{label}" src="{uri}"><figcaption>{label}</figcaption></figure>'


def result_html(
    uris: dict[str, str],
    metrics: dict[str, dict],
    parameters: dict[str, int],
    note: str = "",
    titles: dict[str, str] | None = None,
) -> str:
    """The 28×28 images (PNG data URIs) side by side, upscaled crisply by the browser, the numbers and `note`.

    The input pair, then one pair per architecture (tied, untied): where the column has room the input and the
    MLP pair share a row and the conv pair sits under the MLP pair; where not, the pairs stack.
    """
    titles = titles or {}
    pairs = [("input", "Input", [_figure(key, label, uris[key]) for key, label in INPUT_PANELS])]
    for arch, keys in PAIRS.items():
        if all(key in uris for key in keys):
            title = titles.get(arch, arch.upper() if arch == "mlp" else arch.title())
            pairs.append((arch, title, [_figure(key, label, uris[key]) for key, label in zip(keys, ("Tied", "Untied"))]))
    blocks = [
        f'<div class="pair pair-{arch}"><div class="pair-title">{title}</div>{"".join(figures)}</div>'
        for arch, title, figures in pairs
    ]
    if len(blocks) > 2:  # a spacer under the input pair, so that the conv pair sits under the MLP pair where they share rows
        blocks.insert(2, '<div class="pair pair-spacer"></div>')
    return f'<div class="panels">{"".join(blocks)}</div>' + metrics_table(metrics, parameters) + note


def metrics_table(metrics: dict[str, dict], parameters: dict[str, int]) -> str:
    """HTML table: MSE and PSNR against the clean input, and parameter counts."""
    rows = "".join(
        f"<tr><td>{MODEL_LABELS[name]}</td><td>{metrics[name]['mse']:.4f}</td><td>{metrics[name]['psnr']:.1f} dB</td>"
        f"<td>{f'{parameters[name]:,}' if name in parameters else ''}</td></tr>"
        for name in [*parameters, "noisy_input"]
    )
    return (
        '<table class="metrics"><thead><tr><th></th><th>MSE ↓</th><th>PSNR ↑</th><th>parameters</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def result_numbers(uris: dict[str, str], metrics: dict[str, dict], parameters: dict[str, int]) -> dict:
    """What the API returns: metrics, parameter counts, and each 28×28 image as a PNG data URI."""
    numbers: dict[str, dict] = {
        "clean": {"image": uris["clean"]},
        "noisy_input": {**metrics["noisy_input"], "image": uris["noisy"]},
    }
    for name in parameters:  # tied, untied (the MLP pair), then conv_tied, conv_untied where the conv pair is loaded
        numbers[name] = {**metrics[name], "parameters": parameters[name], "image": uris[name]}
    return numbers


def sweep_results(metrics: dict[str, dict | None]) -> dict[str, dict] | None:
    """Both models' test sweeps plus PCA and the noisy input, from the metrics.json files."""
    if not all(metrics.values()):
        return None
    try:
        first = next(iter(metrics.values()))
        results = {name: m["test"] for name, m in metrics.items()}
        results["pca"] = first["pca"]
        results["noisy_input"] = first["noisy_input"]
        return results
    except (KeyError, TypeError):
        return None


def noise_sweep_image(metrics: dict[str, dict | None]) -> np.ndarray | None:
    """The noise-sweep chart rendered to an RGB array, or None if metrics are missing."""
    results = sweep_results(metrics)
    return None if results is None else sweep_image(results)


def shipped_point(metrics: dict[str, dict | None], metric: str) -> dict | None:
    """The loaded checkpoints' own test MSE for a study metric, with a label saying how they were trained."""
    kind, level = ("gaussian", 0.0) if metric == "test_mse_clean" else NOISY
    point = {}
    try:
        for name, m in metrics.items():
            point[name] = next(r["mse"] for r in m["test"][kind] if abs(r["level"] - level) < 1e-9)
        epochs = next(iter(metrics.values()))["recipe"]["epochs"]
    except (KeyError, TypeError, StopIteration):
        return None
    point["label"] = f"shipped checkpoint, {epochs} epochs"
    return point


BAR_HIDDEN = 0.02  # a ± std bar under 2% of its mean is shorter than its mark: 320-px charts span about 0.4-0.8 decades


def study_view(path: Path, metrics: dict[str, dict | None], metric: str = "test_mse_clean") -> tuple[str, list]:
    """The study as the app shows it: a caption made from study.json, and one chart per axis (StudyError if unusable)."""
    assert metric in METRICS, f"metric must be one of {sorted(METRICS)}, got {metric!r}"
    study = load_study(path)
    summary, conv_summary = summarize(study["rows"]), summarize(study["rows"], "conv")
    shipped = shipped_point(metrics, metric)
    caption = study_finding(study["rows"], metric)
    if "steps" in study:
        epochs = study["steps"] / Recipe().batches_per_epoch(SHIPPED_TRAIN_SIZE)
        caption += (
            f" Every pair trains {study['steps']:,} optimizer steps per model ({epochs:.0f} epochs at "
            f"{SHIPPED_TRAIN_SIZE:,} images)."
        )
    points = [
        cell[metric][name] for s in (summary, conv_summary) for cells in s.values() for cell in cells for name in MODEL_NAMES
    ]
    hidden = sum(std < BAR_HIDDEN * mean for mean, std in points)
    caption += f" Lines are means over seeds ({METRICS[metric]}), bars ± one standard deviation"
    caption += f"; {hidden} of {len(points)} bars are shorter than their marks, hidden behind them." if hidden else "."
    if conv_summary:
        caption += " Dashed: the conv pairs."
    if shipped is not None:
        caption += f" Diamonds mark the MLP models above ({shipped['label']})."
    charts = [study_chart(summary, axis, metric=metric, shipped=shipped, conv_summary=conv_summary) for axis in AXES]
    return caption, charts


def decode_point(loaded: LoadedModels, name: object, x: object, y: object) -> dict:
    """A 2-D model's decoder output at (x, y): the image (data URI), the point, and the nearest test digit's label."""
    if loaded.maps is None:
        raise ValueError("No 2-D models are loaded, so there is no latent map to decode from.")
    if name not in loaded.maps:
        raise ValueError(f"Model must be one of {', '.join(loaded.maps)}; got {name!r}.")
    latent_map = loaded.maps[name]
    x, y = latent_map.check_point(x, y)
    image = decode_codes(loaded.models[name], np.array([[x, y]]))[0]
    nearest = int(np.argmin(((latent_map.codes - (x, y)) ** 2).sum(axis=1)))
    column, row = latent_map.to_pixel(np.array([x, y]))
    return {
        "model": name,
        "x": x,
        "y": y,
        "on_map": bool(0 <= column < latent_map.size and 0 <= row < latent_map.size),
        "nearest_test_digit": int(latent_map.labels[nearest]),
        "image": png_data_uri(image),
    }


def decoded_html(point: dict, label: str) -> str:
    """One decoded point, shown large, with its coordinates."""
    where = "" if point["on_map"] else " (off the map)"
    return (
        f'<figure class="panel decoded"><img id="decoded-{point["model"]}-img" alt="{label}" src="{point["image"]}">'
        f"<figcaption>{label} at ({point['x']:.2f}, {point['y']:.2f}){where}; "
        f"nearest test code: {'an' if point['nearest_test_digit'] == 8 else 'a'} {point['nearest_test_digit']}</figcaption></figure>"
    )


def interpolate_digits(models: dict[str, HubAutoencoder], start: np.ndarray, end: np.ndarray, steps: int, t: float) -> dict:
    """Each model's path from one 28×28 digit's code to another's: `steps` frames, and the frame at t."""
    ts = [*np.linspace(0, 1, steps), t]  # the frames, then t: both digits are encoded once per model
    paths = {name: interpolation(model, start, end, ts) for name, model in models.items()}
    return {name: {"frames": frames[:-1], "at_t": frames[-1]} for name, frames in paths.items()}


def interpolation_numbers(paths: dict, steps: int) -> dict:
    """What the API returns: per model, the strip and each frame as PNG data URIs, and the t of each frame."""
    ts = [round(float(v), 4) for v in np.linspace(0, 1, steps)]
    return {
        "steps": steps,
        "t": ts,
        **{
            name: {"strip": png_data_uri(strip(path["frames"])), "frames": [png_data_uri(f) for f in path["frames"]]}
            for name, path in paths.items()
        },
    }


def interpolation_html(paths: dict, steps: int, t: float) -> str:
    """Both models' strips (the frame nearest t framed) and each model's decoding at t, shown large."""
    nearest = round(t * (steps - 1))
    rows = []
    for name, path in paths.items():
        uri = png_data_uri(strip(path["frames"], highlight=nearest))
        rows.append(
            f'<div class="interp-row"><div class="interp-name"><b>{name}</b></div>'
            f'<img class="interp-strip" id="strip-{name}-img" alt="{name} interpolation" src="{uri}">'
            f'<figure class="panel interp-at"><img id="at-t-{name}-img" alt="{name} at t" src="{png_data_uri(path["at_t"])}">'
            f"<figcaption>t = {t:.2f}</figcaption></figure></div>"
        )
    return "".join(rows)


ARITHMETIC_SIGNS = ("z₁", "+ z₂", "− z₃")


def arithmetic_digits(models: dict[str, HubAutoencoder], digits: list[np.ndarray]) -> dict:
    """Each model's decode(z1 + z2 − z3) of three 28×28 digits in [0, 1], and the three digits, as PNG data URIs."""
    assert len(digits) == 3, f"latent arithmetic takes three digits, got {len(digits)}"
    inputs = [png_data_uri(np.round(255 * digit).astype(np.uint8)) for digit in digits]
    return {"inputs": inputs, **{name: png_data_uri(arithmetic(model, *digits)) for name, model in models.items()}}


def arithmetic_html(result: dict, labels: list[str]) -> str:
    """The three inputs with their signs, then each model's decoding of z1 + z2 − z3."""
    inputs = "".join(
        f'<figure class="panel"><img id="arith-in-{i}-img" alt="{label}" src="{uri}"><figcaption>{sign}: {label}</figcaption></figure>'
        for i, (uri, sign, label) in enumerate(zip(result["inputs"], ARITHMETIC_SIGNS, labels))
    )
    outputs = "".join(
        f'<figure class="panel"><img id="arith-{name}-img" alt="{name} decoder" src="{result[name]}">'
        f"<figcaption>= {name} decoder</figcaption></figure>"
        for name in MODEL_NAMES
    )
    return f'<div class="arith"><div class="arith-in">{inputs}</div><div class="arith-out">{outputs}</div></div>'


LIVE_ROWS = (("input", "Test digits"), ("tied", "Tied"), ("untied", "Untied"))


def live_digits_html(images: dict[str, np.ndarray]) -> str:
    """A live run's reconstructions: the row of test digits (and the drawing, last) over each model's row."""
    if not images:
        return ""
    count = len(images["input"])
    head = "".join(f"<th>{digit}</th>" for digit in range(10)) + ("<th>yours</th>" if count > 10 else "")
    body = "".join(
        f"<tr><th>{label}</th>"
        + "".join(f'<td><img alt="{label} {i}" src="{png_data_uri(image)}"></td>' for i, image in enumerate(images[key]))
        + "</tr>"
        for key, label in LIVE_ROWS
    )
    return f'<table class="live-digits"><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>'


def clock(seconds: float) -> str:
    """'42 s', '3 min 05 s'."""
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def live_status(update) -> str:
    """One line on a live run: the epoch, the time so far and left, and each model's latest test MSE."""
    recipe = update.recipe
    if update.stopped:
        why = "Stopped" if update.stopped == "stopped" else f"Stopped at the {update.stopped}"
        return f"**{why}**, after {update.epoch} of {recipe.epochs} epochs ({clock(update.seconds)}). Press Train to start again."
    latest = ", ".join(f"{name} {values[-1]:.5f}" for name, values in update.curve.items())
    if update.final is not None:
        return (
            f"**Done:** {recipe.epochs} epochs in {clock(update.seconds)}. "
            f"Test MSE (first {EPOCH_EVAL_SIZE:,} test digits): {latest}."
        )
    return (
        f"**Training:** epoch {update.epoch} of {recipe.epochs} · {clock(update.seconds)} so far, about {clock(update.eta)} left · "
        f"test MSE {latest}"
    )


def live_result_html(final: dict) -> str:
    """The numbers at the end of a live run: both models' clean and noisy test MSE and parameter counts."""
    rows = "".join(
        f"<tr><td>{MODEL_LABELS[name].replace(' MLP', '')}</td><td>{final[name]['test_mse_clean']:.5f}</td>"
        f"<td>{final[name]['test_mse_noisy']:.5f}</td><td>{final[name]['parameters']:,}</td></tr>"
        for name in MODEL_NAMES
    )
    return (
        '<table class="metrics"><thead><tr><th></th><th>clean test MSE ↓</th><th>at Gaussian σ = 0.5 ↓</th>'
        f"<th>parameters</th></tr></thead><tbody>{rows}</tbody></table>"
        '<p class="note">On all 10,000 MNIST test digits, with the fixed test noise train.py evaluates with.</p>'
    )


def live_study_view(path: Path, recipe: Recipe, final: dict) -> tuple[str, object]:
    """The study at the setting nearest a live run (caption and chart, the run marked); StudyError if unusable."""
    from tiedae.live import nearest_study_cell
    from tiedae.study import describe

    axis, value = nearest_study_cell(recipe)
    study = load_study(path)
    summary = summarize(study["rows"], recipe.arch)
    cell = next((c for c in summary.get(axis, []) if c["value"] == value), None)
    steps = recipe.epochs * recipe.batches_per_epoch(recipe.train_size)
    yours = {
        "value": value,
        "arch": recipe.arch,
        **{name: final[name]["test_mse_clean"] for name in MODEL_NAMES},
        "label": f"your run: {recipe.train_size:,} images, {recipe.epochs} epochs ({steps:,} steps)",
    }
    pair = "conv pairs" if recipe.arch == "conv" else "MLP pairs"
    if cell is None:
        caption = f"The study has no {pair} at {describe(axis, value)} yet."
    else:
        numbers = ", ".join(
            f"{name} {cell['test_mse_clean'][name][0]:.5f} ± {cell['test_mse_clean'][name][1]:.5f}" for name in MODEL_NAMES
        )
        caption = (
            f"The study's {pair} at {describe(axis, value)}, the setting nearest yours: clean test MSE {numbers} "
            f"(mean ± std over {len(cell['seeds'])} seeds, {study.get('steps', 0):,} optimizer steps per model). "
            f"Yours took {steps:,} steps: the crosses."
        )
    chart = study_chart(
        summarize(study["rows"]),
        axis,
        conv_summary=summarize(study["rows"], "conv"),
        yours=yours,
    )
    return caption, chart
