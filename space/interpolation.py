"""Interpolation: the path between two digits' codes, decoded by the shipped tied and untied model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr
import numpy as np

import tiedae  # torch-free until first use
from space.errors import in_section, refused
from space.inputs import YOUR_DRAWING, api_digits, example_digit
from space.models import shipped_models
from space.pictures import png_data_uri
from tiedae.controls import whole_number
from tiedae.preprocess import SketchError

if TYPE_CHECKING:
    from tiedae.model import HubAutoencoder


MIN_STEPS, MAX_STEPS = 5, 16  # interpolation frames


def check_steps(steps: object) -> int:
    try:
        return whole_number(steps, MIN_STEPS, MAX_STEPS, "Steps")
    except ValueError as e:
        raise refused(str(e)) from None


def interpolate_digits(models: dict[str, HubAutoencoder], start: np.ndarray, end: np.ndarray, steps: int, t: float) -> dict:
    """Each model's path from one 28×28 digit's code to another's: `steps` frames, and the frame at t."""
    ts = [*np.linspace(0, 1, steps), t]  # the frames, then t: both digits are encoded once per model
    paths = {name: tiedae.latent.interpolation(model, start, end, ts) for name, model in models.items()}
    return {name: {"frames": frames[:-1], "at_t": frames[-1]} for name, frames in paths.items()}


def interpolation_numbers(paths: dict, steps: int) -> dict:
    """What the API returns: per model, the strip and each frame as PNG data URIs, and the t of each frame."""
    ts = [round(float(v), 4) for v in np.linspace(0, 1, steps)]
    return {
        "steps": steps,
        "t": ts,
        **{
            name: {
                "strip": png_data_uri(tiedae.latent.strip(path["frames"])),
                "frames": [png_data_uri(f) for f in path["frames"]],
            }
            for name, path in paths.items()
        },
    }


def interpolation_html(paths: dict, steps: int, t: float) -> str:
    """Both models' strips (the frame nearest t framed) and each model's decoding at t, shown large."""
    nearest = round(t * (steps - 1))
    rows = []
    for name, path in paths.items():
        uri = png_data_uri(tiedae.latent.strip(path["frames"], highlight=nearest))
        rows.append(
            f'<div class="interp-row"><div class="interp-name"><b>{name}</b></div>'
            f'<img class="interp-strip" id="strip-{name}-img" alt="{name} interpolation" src="{uri}">'
            f'<figure class="panel interp-at"><img id="at-t-{name}-img" alt="{name} at t" src="{png_data_uri(path["at_t"])}">'
            f"<figcaption>t = {t:.2f}</figcaption></figure></div>"
        )
    return "".join(rows)


def interpolate_view(drawing, start: str, end: str, steps: int, t: float) -> str:
    """The interpolation section: both models' strips from `start` to `end`, and each one's decoding at t."""
    steps = check_steps(steps)
    if not isinstance(t, (int, float)) or not 0 <= t <= 1:
        raise refused(f"t must be a number from 0 to 1; got {t!r}.")
    try:
        a, b = example_digit(start, drawing), example_digit(end, drawing)
    except SketchError as e:
        raise refused(str(e)) from None
    paths = interpolate_digits(shipped_models().models, a, b, steps, float(t))
    return interpolation_html(paths, steps, float(t))


def follow_drawing(drawing, start: str, end: str, steps: int, t: float, is_open: bool):
    """The interpolation again after the drawing changed, while it is open and one of its ends is the drawing."""
    if not is_open or YOUR_DRAWING not in (start, end):
        return gr.skip()
    return in_section(interpolate_view)(drawing, start, end, steps, t)


def interpolate(drawing_a, drawing_b, steps: int) -> dict:
    """Both models' paths between two drawings' codes: each strip and frame as PNG data URIs."""
    steps = check_steps(steps)
    digits = api_digits(drawing_a, drawing_b)
    paths = interpolate_digits(shipped_models().models, *digits, steps, 0.0)
    return interpolation_numbers(paths, steps)
