"""The side by side: a drawing, noised, through every family's tied and untied model, with the numbers.

Data flows one way: drawing -> `sketch_to_mnist` -> `add_noise` -> every model -> `mse`/`psnr` -> display.
Uploads and examples are put on the pad first (their strokes, cropped), so a visitor can draw over them.
"""

from __future__ import annotations

import html
import random
import re
from typing import TYPE_CHECKING

import gradio as gr
import numpy as np
from PIL import Image

import tiedae  # torch-free until first use: the page is served first, torch and the models load behind it
from space.errors import refused
from space.inputs import EXAMPLE_FILES, drawing_digit
from space.models import LoadedModels, shipped_pairs
from space.page_first import PAGE_FIRST
from space.pictures import png_data_uri
from tiedae.constants import CANVAS_SIZE, MAX_SEED, MNIST_PIXELS
from tiedae.controls import check_controls
from tiedae.families import FAMILIES
from tiedae.images import to_uint8
from tiedae.preprocess import (
    STROKE_WIDE,
    SketchError,
    check_not_a_dot,
    crop_square,
    find_ink,
    image_from_data_uri,
    ink_box,
    stroke_width,
)
from tiedae.ties import partly_tied

if TYPE_CHECKING:
    import torch

    from tiedae.model import HubAutoencoder

BLANK_HINT = '<p class="hint">✏️ <b>Draw a digit (0–9)</b> on the canvas, upload an image, or pick an example below.</p>'


INPUT_PANELS = (("clean", "Clean input (28×28)"), ("noisy", "Noisy input"))
NOISE_CHOICES = [("Gaussian", "gaussian"), ("Salt & pepper", "salt_pepper"), ("Uniform", "uniform")]


COUNTS = {2: "Two", 3: "Three", 4: "Four", 5: "Five"}


def intro() -> str:
    """The page's heading and first lines: what the side by side shows, every family's pair named."""
    # each pair's shapes in a span of their own, which a phone leaves out: its pad and every answer then fit one screen
    pairs = [re.sub(r" (\(.*\))$", r'<span class="shapes"> \1</span>', family.intro) for family in FAMILIES.values()]
    listed = pairs[0] if len(pairs) == 1 else ", ".join(pairs[:-1]) + " and " + pairs[-1]
    return (
        "# tiedae — tied vs untied autoencoders\n"
        f"Draw a digit and add noise. {COUNTS.get(len(pairs), len(pairs))} pairs of MNIST autoencoders reconstruct it: {listed}. In each pair the "
        "**tied** model decodes with its encoder's own weights (transposed; for conv layers, the same kernels in a "
        "transposed convolution), the **untied** one has decoder weights of its own. What does tying cost?"
    )


def model_label(key: str) -> str:
    """A result key as the numbers table names it: 'conv_tied' -> '<b>tied</b> conv'."""
    for family in FAMILIES.values():
        for name, model_key in family.model_names().items():
            if key == model_key:
                return f"<b>{name}</b> {family.label}"
    return key.replace("_", " ")  # noisy_input


def reconstruct(drawing, noise_kind: str, noise_level: float, seed: int, side: object = "shipped") -> tuple[str, dict | None]:
    """Drawing -> MNIST 28×28 -> noise -> every family's tied and untied models -> (display HTML, numbers).

    `side` is "shipped", or a visitor's live-training session (space.live_training.side_shown): the pair they
    trained, while they have one, stands in for the shipped pair of its family. A live run waits for it (page_first).
    """
    with PAGE_FIRST.answering():
        return _reconstruct(drawing, noise_kind, noise_level, seed, side)


def _reconstruct(drawing, noise_kind: str, noise_level: float, seed: int, side: object) -> tuple[str, dict | None]:
    try:
        kind, level, seed = check_controls(noise_kind, noise_level, seed)
    except ValueError as e:
        raise refused(str(e)) from None
    try:
        clean = drawing_digit(drawing)
    except SketchError as e:
        gr.Warning(str(e))
        return f'<p class="hint">⚠️ {html.escape(str(e))}</p>', None
    if clean is None:
        return BLANK_HINT, None
    pairs = shipped_pairs()
    trained = getattr(side, "trained", None)
    if trained is not None:
        pairs = {**pairs, trained.arch: trained.pair}
    models, parameters = pair_models(pairs)
    out = reconstruct_digit(clean, models, kind, level, seed)
    uris = {name: png_data_uri(image) for name, image in out["images"].items()}  # encoded once, shown and returned
    titles = pair_titles(pairs)
    if trained is not None:
        titles[trained.arch] = f"Yours: {titles[trained.arch]}"
    return (
        result_html(uris, out["metrics"], parameters, stroke_note(clean) + noise_notes(pairs, level), titles),
        result_numbers(uris, out["metrics"], parameters),
    )


def reconstruct_digit(clean: np.ndarray, models: dict[str, HubAutoencoder], kind: str, level: float, seed: int) -> dict:
    """Noise the (28, 28) clean digit, run every model; images as uint8 (28, 28), metrics vs clean."""
    import torch

    with torch.inference_mode():  # no autograd bookkeeping anywhere on a stroke's path
        x = torch.from_numpy(clean).reshape(1, MNIST_PIXELS)  # (28, 28) -> (1, 784)
        noisy = tiedae.noise.add_noise(x, kind, level, seed=seed)
        images = {"clean": x, "noisy": noisy}
        metrics = {"noisy_input": image_scores(noisy, x)}
        for name, model in models.items():
            images[name] = model(noisy)
            metrics[name] = image_scores(images[name], x)
    as_uint8 = {k: to_uint8(v.reshape(28, 28)) for k, v in images.items()}
    return {"images": as_uint8, "metrics": metrics}


def noisy_digit(clean: np.ndarray, kind: str, level: float, seed: int) -> np.ndarray:
    """The (28, 28) clean digit with the noise reconstruct_digit adds for the same controls."""
    import torch

    return tiedae.noise.add_noise(torch.from_numpy(clean), kind, level, seed=seed).numpy()


def image_scores(output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """MSE and PSNR of an output against its target, rounded as the page and the API show them."""
    return {"mse": round(tiedae.mse(output, target).item(), 6), "psnr": round(tiedae.psnr(output, target).item(), 2)}


def pair_models(pairs: dict[str, LoadedModels]) -> tuple[dict[str, HubAutoencoder], dict[str, int]]:
    """The models of every loaded pair under their result keys ('tied', …, 'conv_untied'), and their parameter counts."""
    models, parameters = {}, {}
    for arch, loaded in pairs.items():
        for name, key in FAMILIES[arch].model_names().items():
            models[key], parameters[key] = loaded.models[name], loaded.parameters[name]
    return models, parameters


def pair_titles(pairs: dict[str, LoadedModels]) -> dict[str, str]:
    """Each pair's title over its reconstructions, from its models: 'MLP 784-400-20', 'Conv 64-128 channels'."""
    titles = {}
    for arch, loaded in pairs.items():
        tied = loaded.models["tied"]
        titles[arch] = FAMILIES[arch].title(tied.hparams) + (f" · tied: {tied.ties}" if partly_tied(tied.tie) else "")
    return titles


def noise_notes(pairs: dict[str, LoadedModels], level: float) -> str:
    """While noise is on, what the shown pairs trained without it say about it (the sparse pair's note)."""
    if level <= 0:
        return ""
    return "".join(
        f'<p class="note noise-note">{html.escape(FAMILIES[arch].noise_note)}</p>' for arch in pairs if FAMILIES[arch].noise_note
    )


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

    The input pair, then one pair per family (tied, untied): where the column has room two pairs share a row, the
    input and the first family's, and each later family's pair sits under the one before; where not, the pairs stack.
    """
    titles = titles or {}
    pairs = [("input", "Input", [_figure(key, label, uris[key]) for key, label in INPUT_PANELS])]
    for arch, family in FAMILIES.items():
        keys = family.model_names()
        if all(key in uris for key in keys.values()):
            figures = [_figure(key, name.title(), uris[key]) for name, key in keys.items()]
            pairs.append((arch, titles.get(arch, family.label), figures))
    blocks = []
    for i, (arch, title, figures) in enumerate(pairs):
        if i > 1:  # a spacer under the input pair, so that each later family's pair sits under the one before
            blocks.append('<div class="pair pair-spacer"></div>')
        blocks.append(f'<div class="pair pair-{arch}"><div class="pair-title">{title}</div>{"".join(figures)}</div>')
    return f'<div class="panels">{"".join(blocks)}</div>' + metrics_table(metrics, parameters) + note


def metrics_table(metrics: dict[str, dict], parameters: dict[str, int]) -> str:
    """HTML table: MSE and PSNR against the clean input, and parameter counts."""
    rows = "".join(
        f"<tr><td>{model_label(name)}</td><td>{metrics[name]['mse']:.4f}</td><td>{metrics[name]['psnr']:.1f} dB</td>"
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
    for name in parameters:  # tied, untied (the first family's pair), then each loaded family's, e.g. conv_tied, conv_untied
        numbers[name] = {**metrics[name], "parameters": parameters[name], "image": uris[name]}
    return numbers


def ink_on_canvas(ink: np.ndarray, size: int) -> Image.Image:
    """A stroke map as dark strokes on a white size×size canvas (grey), cropped to the digit with a margin."""
    top, bottom, left, right = ink_box(ink)
    side = 1.4 * max(bottom - top, right - left)  # the digit and a margin around it
    square = crop_square(ink, (top + bottom) / 2, (left + right) / 2, side, size)
    return Image.fromarray(to_uint8(1 - square), mode="L")


def upload_to_canvas(path: str | None):
    """Put an uploaded image or example on the canvas as the strokes found in it, dark on white, cropped to the digit."""
    if path is None:
        return gr.skip(), gr.skip()
    try:
        ink = find_ink(image_from_data_uri(path) if path.startswith("data:") else path)
        if ink is not None:
            check_not_a_dot(ink)  # the rule sketch_to_mnist applies: once cropped onto the pad a dot would be a disk
    except SketchError as e:
        raise refused(str(e)) from None
    if ink is None:
        raise refused("No digit found in that image: it looks blank, or the strokes are too faint to tell from the paper.")
    canvas = ink_on_canvas(ink, CANVAS_SIZE)
    return png_data_uri(np.asarray(canvas)), gr.Tabs(selected="draw")  # shown on the pad, drawn over there


def picked_to_canvas(picked: str):
    """The Upload tab's image (a data URL read in the browser) onto the canvas; the tab is then cleared for the next."""
    if not picked:
        return gr.skip(), gr.skip(), gr.skip()
    if not isinstance(picked, str) or not picked.startswith("data:"):
        raise refused("An upload is sent as a data URL ('data:image/…;base64,…').")
    return *upload_to_canvas(picked), ""


def example_to_canvas(index: int):
    """Put the example clicked (its index among EXAMPLE_FILES) on the canvas, as an upload is."""
    paths = list(EXAMPLE_FILES.values())
    if not isinstance(index, int) or not 0 <= index < len(paths):
        raise refused(f"There is no example number {index!r}.")
    return upload_to_canvas(paths[index])


def new_seed() -> int:
    return random.randint(0, MAX_SEED)
