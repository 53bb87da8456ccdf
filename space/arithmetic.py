"""Latent arithmetic: decode(z1 + z2 − z3) of three digits' codes, by the shipped tied and untied model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr
import numpy as np

import tiedae  # torch-free until first use
from space.errors import in_section, refused
from space.inputs import YOUR_DRAWING, api_digits, example_digit
from space.models import shipped_models
from space.pictures import png_data_uri
from tiedae.constants import MODEL_NAMES
from tiedae.images import to_uint8
from tiedae.preprocess import SketchError

if TYPE_CHECKING:
    from tiedae.model import HubAutoencoder


ARITH_DEFAULTS = ("Example 7", "Example 1", "Example 4")  # z1 + z2 − z3


ARITHMETIC_SIGNS = ("z₁", "+ z₂", "− z₃")


def arithmetic_digits(models: dict[str, HubAutoencoder], digits: list[np.ndarray]) -> dict:
    """Each model's decode(z1 + z2 − z3) of three 28×28 digits in [0, 1], and the three digits, as PNG data URIs."""
    assert len(digits) == 3, f"latent arithmetic takes three digits, got {len(digits)}"
    inputs = [png_data_uri(to_uint8(digit)) for digit in digits]
    return {"inputs": inputs, **{name: png_data_uri(tiedae.latent.arithmetic(model, *digits)) for name, model in models.items()}}


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


def arithmetic_view(drawing, first: str, second: str, third: str) -> str:
    """The latent arithmetic section: the three chosen digits and each 20-D model's decode(z1 + z2 − z3)."""
    choices = [first, second, third]
    try:
        digits = [example_digit(choice, drawing) for choice in choices]
    except SketchError as e:
        raise refused(str(e)) from None
    result = arithmetic_digits(shipped_models().models, digits)
    return arithmetic_html(result, choices)


def follow_drawing_arithmetic(drawing, first: str, second: str, third: str, is_open: bool):
    """The arithmetic again after the drawing changed, while it is open and one of its digits is the drawing."""
    if not is_open or YOUR_DRAWING not in (first, second, third):
        return gr.skip()
    return in_section(arithmetic_view)(drawing, first, second, third)


def arithmetic_api(drawing_a, drawing_b, drawing_c) -> dict:
    """decode(z1 + z2 − z3) of three drawings' codes by the tied and the untied 20-D model, images as PNG data URIs."""
    return arithmetic_digits(shipped_models().models, api_digits(drawing_a, drawing_b, drawing_c))
