"""Sparse codes: your digit as k parts. Each sparse model's active atoms for the drawing, the reconstruction
building up atom by atom, each model's whole dictionary, and an atom's card.

Data flows one way: drawing -> `drawing_digit` -> each sparse model's code at k (tiedae.atoms.digit_parts) -> HTML.
The dictionaries and the atom cards read the statistics saved beside the checkpoints (atoms.npz).
"""

from __future__ import annotations

import functools
import html
import logging
import threading

import gradio as gr
import numpy as np

import tiedae  # torch-free until first use
from space.errors import refused
from space.inputs import drawing_digit
from space.models import LoadedModels, shipped_pairs
from space.pictures import png_data_uri, png_file
from space.side_by_side import image_scores
from tiedae.constants import MODEL_NAMES, SPARSE_HIDDEN
from tiedae.controls import whole_number
from tiedae.families import FAMILIES
from tiedae.preprocess import SketchError

log = logging.getLogger("tiedae")

ARCH = next((name for name, family in FAMILIES.items() if family.dictionary), None)  # the family with atoms
API_NAME = ARCH  # its endpoint is named after it: /sparse
BLANK = "Draw a digit (0–9) on the canvas, upload an image, or pick an example below."  # as /reconstruct says it
CAPTION = (
    f"A sparse autoencoder codes your digit with only **k of its {SPARSE_HIDDEN:,} atoms**: it scores every atom, "
    "keeps the k best and adds them up. Below, each model's active atoms in order of activation, and the "
    "reconstruction as they are added one by one. Lower k to keep only the strongest atoms. "
    "In the **tied** model an atom is at once the filter that picks it and the stroke it draws; the **untied** "
    "model started that way and then let its decoder drift. Click an atom for its card."
)
DICTIONARY_CAPTION = (
    "Each model's whole dictionary, the atoms used most often on the 10,000 MNIST test digits first (row by row), "
    "dead atoms (never used) tinted red. Click an atom for its card."
)
STEP_SCALE = 2  # the build-up's frames, 56 px each


def sparse_pair() -> LoadedModels:
    """The shipped sparse pair, or a clear error if it is not loaded."""
    pairs = shipped_pairs()
    if ARCH is None or ARCH not in pairs:
        folder = f"checkpoints/{FAMILIES[ARCH].checkpoints}/" if ARCH else "checkpoints/"
        raise refused(f"The sparse pair is not loaded ({folder} holds no usable checkpoints).")
    return pairs[ARCH]


def check_k(k: object, trained: int) -> int:
    try:
        return whole_number(k, 1, trained, "k")
    except ValueError as e:
        raise refused(str(e)) from None


def digit_of(drawing) -> np.ndarray:
    """The drawing's 28×28 digit, or the message /reconstruct gives for a blank or unusable one."""
    try:
        digit = drawing_digit(drawing)
    except SketchError as e:
        raise refused(str(e)) from None
    if digit is None:
        raise refused(BLANK)
    return digit


def parts_of(drawing, k: object) -> tuple[dict, int, np.ndarray]:
    """Each sparse model's parts of the drawing at k ({"tied": digit_parts, "untied": …}), k, and the 28×28 digit."""
    loaded = sparse_pair()
    trained = min(model.k for model in loaded.models.values())
    k = check_k(k, trained)
    import torch

    digit = digit_of(drawing)
    x = torch.from_numpy(digit).reshape(-1)
    return {name: tiedae.atoms.digit_parts(model, x, k) for name, model in loaded.models.items()}, k, digit


def _scores(image, digit: np.ndarray) -> dict[str, float]:
    import torch

    return image_scores(image.reshape(1, -1), torch.from_numpy(digit).reshape(1, -1))


def sparse_numbers(drawing, k: object) -> dict:
    """What /sparse returns: per model its reconstruction at k (a PNG data URI, MSE and PSNR against the drawing's
    digit) and its active atoms, strongest first (index, activation, the atom as a PNG data URI)."""
    parts, k, digit = parts_of(drawing, k)
    out: dict = {"k": k}
    for name, part in parts.items():
        final = part["reconstruction"]
        out[name] = {
            "reconstruction": png_data_uri(tiedae.images.to_uint8(final.reshape(28, 28))),
            **_scores(final, digit),
            "atoms": [
                {"index": index, "activation": round(activation, 5), "image": png_data_uri(picture)}
                for (index, activation), picture in zip(part["atoms"], part["pictures"])
            ],
        }
    return out


def _frames(steps, scale: int = STEP_SCALE) -> str:
    pictures = tiedae.images.to_uint8(steps.reshape(-1, 28, 28))
    return "".join(
        f'<img class="sparse-step" alt="after {i + 1} atoms" title="after {i + 1} atom{"s" if i else ""}" '
        f'width="{28 * scale}" height="{28 * scale}" src="{png_data_uri(picture)}">'
        for i, picture in enumerate(pictures)
    )


def parts_html(parts: dict, k: int, digit: np.ndarray) -> str:
    """Both models side by side: the reconstruction at k and its numbers, the active atoms, the build-up."""
    columns = []
    for name, part in parts.items():
        final = part["reconstruction"]
        scores = _scores(final, digit)
        tiles = "".join(
            f'<figure class="atom-tile" data-model="{name}" data-atom="{index}" title="atom {index}: activation {activation:.3f}">'
            f'<img alt="atom {index}" src="{png_data_uri(picture)}"><figcaption>#{index}<br>{activation:.2f}</figcaption></figure>'
            for (index, activation), picture in zip(part["atoms"], part["pictures"])
        )
        active = len(part["atoms"])
        fewer = f" (only {active} fire for this digit)" if active < k else ""
        columns.append(
            f'<div class="sparse-model" id="sparse-{name}"><div class="pair-title"><b>{name}</b> sparse · top {k}{fewer}</div>'
            f'<figure class="panel"><img id="sparse_{name}-parts-img" alt="{name} reconstruction" '
            f'src="{png_data_uri(tiedae.images.to_uint8(final.reshape(28, 28)))}">'
            f"<figcaption>MSE {scores['mse']:.4f} · {scores['psnr']:.1f} dB</figcaption></figure>"
            f'<p class="sparse-label">Its {active} active atoms, strongest first (#index, activation):</p>'
            f'<div class="atom-tiles">{tiles or "<i>none: no atom fires</i>"}</div>'
            f'<p class="sparse-label">The reconstruction as atoms are added, one by one:</p>'
            f'<div class="sparse-steps">{_frames(part["steps"]) if active else ""}</div></div>'
        )
    return f'<div class="sparse-parts">{"".join(columns)}</div>'


def sparse_view(drawing, k: object) -> str:
    """The section's view of the drawing at k (a hint in the section if there is no drawing yet or it is unusable)."""
    try:
        return parts_html(*parts_of(drawing, k))
    except gr.Error as e:
        return f'<p class="hint">{html.escape(e.message)}</p>'


def follow_drawing(drawing, k: object, is_open: bool):
    """The parts again after the drawing changed, while the section is open."""
    if not is_open:
        return gr.skip()
    return sparse_view(drawing, k)


@functools.cache
def dictionary_files() -> tuple[str, ...]:
    """Each model's dictionary grid as a PNG file (drawn once)."""
    loaded = sparse_pair()
    if loaded.atoms is None:
        raise refused("The sparse checkpoints have no atoms.npz, so their dictionaries cannot be ordered.")
    return tuple(
        png_file(tiedae.atoms.dictionary_grid(loaded.models[name].atoms(), loaded.atoms[name]), f"dictionary-{name}")
        for name in MODEL_NAMES
    )


def dictionaries() -> tuple:
    """The two dictionary grids and their captions, for the section's first view (which also starts reading MNIST's
    test digits for the atoms' cards, downloading them where the server has none: the first card need not wait)."""
    threading.Thread(target=mnist_test_digits, daemon=True).start()
    loaded = sparse_pair()
    files = dictionary_files()
    captions = []
    for name in MODEL_NAMES:
        summary = loaded.atoms[name].summary()
        captions.append(
            f"**{name}**: {summary['atoms']:,} atoms, {summary['dead_atoms']:,} dead "
            f"({100 * summary['dead_fraction']:.1f}%) on the test digits"
        )
    return (*files, *captions)


def mnist_test_digits():
    """The MNIST test images (N, 28, 28) uint8 for the atoms' cards, or None if they cannot be had here."""
    with _test_digits_lock:  # one read (or download) at a time: the section's first view starts one in the background
        return _test_digits(_data_dir())


_test_digits_lock = threading.Lock()


def _data_dir() -> str:
    from space import live_training

    return live_training.DATA_DIR


@functools.cache
def _test_digits(data_dir: str):
    try:
        from torchvision import datasets

        return datasets.MNIST(root=data_dir, train=False, download=True).data.numpy()
    except Exception as e:  # offline and not on disk: the cards say so; asked once per folder
        log.warning("atom cards: no MNIST test images in %s: %s", data_dir, e)
        return None


def histogram_svg(counts: np.ndarray, peak: float) -> str:
    """An atom's activations as bars (an inline SVG): how many test digits gave each activation, from 0 to its peak."""
    width, height, bars = 240, 60, len(counts)
    top = max(int(counts.max()), 1)
    rects = "".join(
        f'<rect x="{i * width / bars:.1f}" y="{height - height * c / top:.1f}" width="{width / bars - 1:.1f}" '
        f'height="{height * c / top:.1f}"><title>{c:,} digits</title></rect>'
        for i, c in enumerate(counts.tolist())
    )
    return (
        f'<svg class="atom-histogram" viewBox="0 0 {width} {height + 14}" width="{width}" height="{height + 14}" '
        f'role="img" aria-label="histogram of activations">{rects}'
        f'<text x="0" y="{height + 12}">0</text><text x="{width}" y="{height + 12}" text-anchor="end">{peak:.2f}</text></svg>'
    )


def atom_card(name: str, atom: int) -> str:
    """One atom's card: its picture, how often it fires, its activations, the test digits that use it most, and for
    the untied model how far its decoder atom has drifted from its encoder filter."""
    import torch

    loaded = sparse_pair()
    if name not in loaded.models:
        raise refused(f"Model must be one of {', '.join(loaded.models)}; got {name!r}.")
    model, stats = loaded.models[name], (loaded.atoms or {}).get(name)
    try:
        atom = whole_number(atom, 0, model.latent_size - 1, "Atom")
    except ValueError as e:
        raise refused(str(e)) from None
    encoder, decoder = model.dictionary.weight[atom].detach(), model.atoms()[atom].detach()
    pictures = tiedae.atoms.atom_pictures(torch.stack([decoder, encoder]))
    cosine = torch.nn.functional.cosine_similarity(encoder, decoder, dim=0).item()
    if model.tied:
        drift = "Encoder filter and decoder atom are the same weights (cosine 1 by construction)."
        images = f'<img alt="atom {atom}" src="{png_data_uri(pictures[0])}">'
    else:
        drift = f"Cosine between its encoder filter and its decoder atom: <b>{cosine:.3f}</b> (1 when it started)."
        images = (
            f'<figure><img alt="decoder atom {atom}" src="{png_data_uri(pictures[0])}"><figcaption>decoder atom</figcaption></figure>'
            f'<figure><img alt="encoder filter {atom}" src="{png_data_uri(pictures[1])}"><figcaption>encoder filter</figcaption></figure>'
        )
    lines = [f'<div class="atom-card" id="atom-card-{name}-{atom}"><h4>{name} sparse model · atom #{atom}</h4>']
    lines.append(f'<div class="atom-card-images">{images}</div><p>{drift}</p>')
    if stats is None:
        lines.append("<p>No atoms.npz beside this checkpoint: how often it fires is unknown.</p>")
    else:
        rank = int(np.nonzero(stats.order() == atom)[0][0]) + 1
        freq = float(stats.frequency[atom])
        if freq == 0:
            lines.append(f"<p><b>Dead</b>: none of the {stats.images:,} test digits uses it (k = {stats.k}).</p>")
        else:
            lines.append(
                f"<p>Fires for <b>{100 * freq:.2f}%</b> of the {stats.images:,} test digits (k = {stats.k}), "
                f"number {rank:,} of {len(stats.frequency):,} by use.</p>"
                f"<p>Its activations on them:</p>{histogram_svg(stats.histogram[atom], float(stats.top_values[atom, 0]))}"
            )
            lines.append(top_digits_html(stats, atom))
    lines.append("</div>")
    return "".join(lines)


def top_digits_html(stats, atom: int) -> str:
    digits = mnist_test_digits()
    indices = [int(i) for i in stats.top_indices[atom] if i >= 0]
    if digits is None:
        return (
            "<p>The test digits that use it most need MNIST's test set, which this server could not load "
            "(start the app with <code>--data-dir DIR</code>, DIR holding MNIST/raw/).</p>"
        )
    shown = [
        f'<figure><img alt="test digit {i}" src="{png_data_uri(digits[i])}"><figcaption>{value:.2f}</figcaption></figure>'
        for i, value in zip(indices, stats.top_values[atom].tolist())
        if i < len(digits)
    ]
    return f'<p>The test digits that use it most (activation):</p><div class="atom-top-digits">{"".join(shown)}</div>'


def card_view(name: str, atom: object) -> str:
    try:
        return atom_card(name, atom)
    except gr.Error as e:
        return f'<p class="hint">{html.escape(e.message)}</p>'


def picked(value: str) -> str:
    """A click on an atom tile in the parts ("tied:123:<time>") as its card."""
    try:
        name, atom, _ = str(value).split(":", 2)
        return card_view(name, int(atom))
    except ValueError:
        return gr.skip()


def grid_click_handler(name: str):
    """The select handler of one dictionary grid: the card of the atom clicked."""

    def on_click(evt: gr.SelectData) -> str:
        loaded = sparse_pair()
        try:
            x, y = map(float, evt.index)
            atom = tiedae.atoms.atom_at(loaded.atoms[name], x, y)
        except (TypeError, ValueError, KeyError) as e:
            raise refused(f"Could not find an atom there: {e}") from None
        return card_view(name, atom)

    return on_click


ATOM_PICK_JS = """
// A click on an atom tile in the sparse parts sends "model:atom:time" as this component's value (its change event
// opens the atom's card); the time makes a second click on the same atom a change too.
document.addEventListener("click", (event) => {
  const tile = event.target.closest("[data-atom]");
  if (tile) props.value = `${tile.dataset.model}:${tile.dataset.atom}:${Date.now()}`;
});
"""
