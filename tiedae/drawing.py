"""Digits drawn as pen strokes with PIL, and phone photos of drawings: inputs for the app, tests and benchmarks.

They stand in for a person drawing on the Sketchpad (black strokes on an opaque white
canvas by default) or photographing a digit on paper. Not MNIST images, and not cut from any.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tiedae.images import to_uint8

Stroke = list[tuple[float, float]]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 24) -> Stroke:
    """Points on an ellipse from angle start to end (degrees, clockwise from 3 o'clock)."""
    return [
        (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
        for a in (start + (end - start) * i / (n - 1) for i in range(n))
    ]


# Each digit is a list of strokes in a unit box: x to the right, y downwards.
DIGIT_STROKES: dict[int, list[Stroke]] = {
    0: [_arc(0.5, 0.5, 0.38, 0.5, 0, 360, 40)],
    1: [[(0.3, 0.2), (0.55, 0.0), (0.55, 1.0)]],
    2: [_arc(0.5, 0.28, 0.38, 0.28, 190, 380) + [(0.1, 1.0), (0.92, 1.0)]],
    3: [_arc(0.45, 0.25, 0.38, 0.25, 200, 450), _arc(0.45, 0.72, 0.42, 0.28, 270, 510)],
    4: [[(0.72, 1.0), (0.72, 0.0), (0.08, 0.68), (0.95, 0.68)]],
    5: [[(0.85, 0.0), (0.25, 0.0), (0.2, 0.42)] + _arc(0.48, 0.68, 0.4, 0.32, 230, 500)],
    6: [[(0.75, 0.0), (0.45, 0.12), (0.24, 0.38)] + _arc(0.5, 0.7, 0.36, 0.3, 180, 540)],
    7: [[(0.08, 0.0), (0.92, 0.0), (0.38, 1.0)]],
    8: [_arc(0.5, 0.25, 0.3, 0.25, 90, 450), _arc(0.5, 0.74, 0.38, 0.26, -90, 270)],
    9: [_arc(0.5, 0.3, 0.36, 0.3, 0, 360), [(0.86, 0.3), (0.8, 1.0)]],
}


def draw_digit(
    digit: int,
    *,
    size: tuple[int, int] = (800, 800),
    box: tuple[float, float, float, float] | None = None,
    width: float | None = None,
    ink: str = "black",
    background: str | None = "white",
    mode: str = "RGBA",
) -> Image.Image:
    """Render `digit` with round pen strokes inside `box` (x0, y0, x1, y1 in px).

    Defaults: an 800×800 opaque white canvas with black strokes, the digit filling the
    middle 60% of the height with a pen about a tenth of the digit's height.
    """
    assert digit in DIGIT_STROKES, f"digit must be 0-9, got {digit!r}"
    w, h = size
    if box is None:
        box = (0.3 * w, 0.2 * h, 0.7 * w, 0.8 * h)
    x0, y0, x1, y1 = box
    if width is None:
        width = 0.1 * (y1 - y0)
    fill = (0, 0, 0, 0) if background is None else background
    image = Image.new("RGBA", size, fill)
    pen = ImageDraw.Draw(image)
    for stroke in DIGIT_STROKES[digit]:
        points = [(x0 + x * (x1 - x0), y0 + y * (y1 - y0)) for x, y in stroke]
        pen.line(points, fill=ink, width=max(1, round(width)), joint="curve")
        r = width / 2  # round caps, as a pen leaves
        for px, py in (points[0], points[-1]):
            pen.ellipse((px - r, py - r, px + r, py + r), fill=ink)
    return image if mode == "RGBA" else image.convert(mode)


def photograph(drawing: Image.Image, *, seed: int = 0, quality: int | None = None) -> Image.Image:
    """A phone photo of `drawing` (dark strokes on white) on paper, decoded from JPEG.

    Light falls off across the page in a random direction (to 45-75%), a shadow edge crosses
    it (20-45% darker, slightly soft), the paper is off-white with fibre texture, the ink
    reflects 8-25%, the light is warm, and there is sensor noise, blur and JPEG compression.
    """
    rng = np.random.default_rng(seed)
    ink = 1 - np.asarray(drawing.convert("L"), dtype=np.float32) / 255
    h, w = ink.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx / w + np.sin(angle) * yy / h
    light = 1 - rng.uniform(0.25, 0.55) * (ramp - ramp.min()) / (ramp.max() - ramp.min())
    edge = rng.uniform(0, 2 * np.pi)
    across = np.cos(edge) * (xx - w * rng.uniform(0.2, 0.8)) + np.sin(edge) * (yy - h * rng.uniform(0.2, 0.8))
    light *= 1 - rng.uniform(0.2, 0.45) / (1 + np.exp(-across / rng.uniform(2, 8)))
    coarse = rng.normal(0, 1, (max(1, h // 8), max(1, w // 8))).astype(np.float32)
    coarse = np.asarray(Image.fromarray(coarse, mode="F").resize((w, h), Image.Resampling.BICUBIC))
    paper = rng.uniform(0.82, 0.95) + 0.015 * rng.normal(0, 1, (h, w)) + 0.02 * coarse
    gray = light * (paper * (1 - ink) + rng.uniform(0.08, 0.25) * ink)
    rgb = gray[..., None] * np.array([1.0, rng.uniform(0.95, 1.0), rng.uniform(0.85, 0.97)])  # warm light
    rgb += rng.normal(0, rng.uniform(0.01, 0.03), rgb.shape)  # sensor noise
    photo = Image.fromarray(to_uint8(np.clip(rgb, 0, 1)), mode="RGB")
    photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))  # focus and motion
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=quality or int(rng.integers(60, 95)))
    return Image.open(io.BytesIO(buffer.getvalue()))


def save_examples(folder: str) -> None:
    """Write examples/digit_0.png … digit_9.png: 280×280, black strokes on white, jittered."""
    import random
    from pathlib import Path

    rng = random.Random(0)
    Path(folder).mkdir(parents=True, exist_ok=True)
    for d in range(10):
        x0, y0 = rng.uniform(60, 110), rng.uniform(30, 60)
        box = (x0, y0, x0 + rng.uniform(90, 120), y0 + rng.uniform(170, 200))
        draw_digit(d, size=(280, 280), box=box, width=rng.uniform(16, 24), mode="L").save(
            Path(folder) / f"digit_{d}.png", optimize=True
        )


if __name__ == "__main__":  # python -m tiedae.drawing examples
    import sys

    save_examples(sys.argv[1] if len(sys.argv) > 1 else "examples")
