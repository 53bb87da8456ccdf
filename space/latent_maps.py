"""Latent maps: the 2-D pair's codes of the test digits, the drawing ringed on them, and a click decoded."""

from __future__ import annotations

import functools

import gradio as gr
import numpy as np

import tiedae  # torch-free until first use
from space.errors import refused
from space.inputs import drawing_digit
from space.models import LoadedModels, latent_models
from space.pictures import marked_file, png_data_uri, png_file
from space.side_by_side import noisy_digit
from tiedae.constants import DIGIT_COLORS, MODEL_NAMES
from tiedae.controls import check_controls
from tiedae.preprocess import SketchError

MARK_CLEAN, MARK_NOISY = (0, 0, 0), (255, 0, 255)  # rings on the maps: the drawing, and the drawing with noise


MARK_CLICK = (0, 150, 0)  # a cross on a map: the point last clicked (decoded below it)


LATENT_CAPTION = (
    "Two more twins, tied and untied, trained with a **2-D code** (784 → 400 → 2), so the code space can be drawn. "
    "Each dot is one MNIST test digit's code, coloured by its label; your drawing (and its noisy copy) is ringed as you "
    "draw. **Click a map** to see what that model's decoder makes of the point. Below each map, the decoder's output "
    "on a grid over it. Look for: how the digits spread and overlap in each model's space, and whether the tied "
    "decoder (the encoder's own weights, transposed) draws sharper or blurrier digits between the clusters."
)


def digit_legend() -> str:
    """The maps' colour key: one swatch per digit."""
    swatches = "".join(
        f'<span class="swatch"><i style="background: rgb{tuple(int(c) for c in color)}"></i>{digit}</span>'
        for digit, color in enumerate(DIGIT_COLORS)
    )
    marks = (
        f'<span class="swatch"><i class="ring" style="border-color: rgb{MARK_CLEAN}"></i>your drawing</span>'
        f'<span class="swatch"><i class="ring" style="border-color: rgb{MARK_NOISY}"></i>with noise</span>'
        f'<span class="swatch"><b style="color: rgb{MARK_CLICK}">+</b> the point clicked</span>'
    )
    return f'<div class="legend">{swatches}{marks}</div>'


@functools.cache
def latent_pictures() -> dict[str, np.ndarray]:
    """Each 2-D model's map of the test codes, drawn once."""
    return {name: latent_map.picture() for name, latent_map in latent_models().maps.items()}


@functools.cache
def plain_maps() -> tuple[str, str]:
    """Both maps with nothing marked, as files (every visitor sees them)."""
    return tuple(png_file(picture, f"map-{name}") for name, picture in latent_pictures().items())


@functools.cache
def latent_section() -> tuple[str, str]:
    """The decoded grids the latent section shows when first opened (mark_drawing puts up the maps)."""
    loaded = latent_models()
    grids = {name: tiedae.latent.decoded_grid(loaded.models[name], loaded.maps[name]) for name in MODEL_NAMES}
    return tuple(png_file(grid, f"grid-{name}") for name, grid in grids.items())


def mark_drawing(drawing, noise_kind: str, noise_level: float, seed: int, is_open: bool = True, shown=None):
    """Both maps with the current drawing's clean and noisy codes ringed (plain if there is none), and what they show.

    `shown` is what the page's maps show now (a gr.State): the same maps are not sent twice to one page.
    """
    unchanged = gr.skip(), gr.skip(), gr.skip()
    if not is_open:
        return unchanged
    try:
        loaded = latent_models()
    except gr.Error:
        return unchanged  # the section says what is missing
    try:
        kind, level, seed = check_controls(noise_kind, noise_level, seed)
        clean = drawing_digit(drawing)
    except (ValueError, SketchError):
        clean = None  # the reconstruction above says what is wrong
    if clean is None:
        return unchanged if shown == "plain" else (*plain_maps(), "plain")
    noisy = noisy_digit(clean, kind, level, seed)
    encode = tiedae.latent.encode_digit
    codes = {name: (encode(model, noisy), encode(model, clean)) for name, model in loaded.models.items()}
    marks = tuple(float(v) for pair in codes.values() for code in pair for v in code)  # what the rings show
    if shown == marks:
        return unchanged
    pictures = latent_pictures()
    maps = (
        marked_file(
            tiedae.latent.mark(pictures[name], loaded.maps[name], [(noisy_code, MARK_NOISY), (clean_code, MARK_CLEAN)]),
            f"map-{name}",
        )
        for name, (noisy_code, clean_code) in codes.items()
    )
    return (*maps, marks)


def click_handler(name: str):
    """The select handler of one map: decode the point clicked, and mark it on the map (the drawing's rings kept)."""

    def on_click(evt: gr.SelectData, shown=None):
        loaded = latent_models()
        try:
            column, row = map(float, evt.index)  # pixels of the map picture
            x, y = loaded.maps[name].to_code(column, row)
            decoded = decoded_html(decode_point(loaded, name, x, y), f"{name} decoder")
        except (TypeError, ValueError) as e:  # e.g. a click before the map's picture has loaded
            raise refused(f"Could not decode that point: {e}") from None
        picture = latent_pictures()[name]
        if isinstance(shown, (tuple, list)) and len(shown) == 4 * len(MODEL_NAMES):  # the drawing's rings (see mark_drawing)
            i = 4 * MODEL_NAMES.index(name)
            rings = [(np.array(shown[i : i + 2]), MARK_NOISY), (np.array(shown[i + 2 : i + 4]), MARK_CLEAN)]
            picture = tiedae.latent.mark(picture, loaded.maps[name], rings)
        picture = tiedae.latent.mark_point(picture, loaded.maps[name], np.array([x, y]), MARK_CLICK)
        return decoded, marked_file(picture, f"map-{name}")

    return on_click


def decode_point(loaded: LoadedModels, name: object, x: object, y: object) -> dict:
    """A 2-D model's decoder output at (x, y): the image (data URI), the point, and the nearest test digit's label."""
    if loaded.maps is None:
        raise ValueError("No 2-D models are loaded, so there is no latent map to decode from.")
    if name not in loaded.maps:
        raise ValueError(f"Model must be one of {', '.join(loaded.maps)}; got {name!r}.")
    latent_map = loaded.maps[name]
    x, y = latent_map.check_point(x, y)
    image = tiedae.latent.decode_codes(loaded.models[name], np.array([[x, y]]))[0]
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


def decode_latent(model: str, x: float, y: float) -> dict:
    """A 2-D model's decoder output at the code (x, y): the image as a PNG data URI, and the numbers."""
    try:
        return decode_point(latent_models(), model, x, y)
    except ValueError as e:
        raise refused(str(e)) from None
