"""Turn a drawing or an uploaded image into the 28×28 input an MNIST model expects.

MNIST's own recipe: find the strokes, crop to their bounding box, scale the longer side
to 20 px keeping the aspect ratio (anti-aliased), and paste into a 28×28 field so that the
centre of mass sits in the centre. Strokes are white (1.0) on black (0.0).

One addition: pens that are thin for the size of the digit are thickened first, since no
MNIST digit has hairline strokes and a model trained on MNIST cannot know what to do with
them.

`sketch_to_mnist` returns None for a blank drawing (nothing drawn), and raises
`SketchError` (a ValueError) with a message meant for people for input it cannot use.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MNIST_SIZE = 28
DIGIT_BOX = 20  # MNIST scales the longer side of the bounding box to 20 px
WORK_SIZE = 512  # larger inputs are box-downscaled to about this before any other work
MAX_PIXELS = 50_000_000  # refuse to decode images larger than this (decompression bombs)
MIN_SIDE = 8  # smaller images hold no usable digit
BLANK_INK = 0.15  # peak ink below this (after removing the background) counts as blank
MIN_EXTENT = 0.04  # strokes spanning less of the image's longer side are a dot, not a digit
STROKE_WIDTH = 0.1  # thinnest stroke kept, as a fraction of the digit's longer side (2 px of 20)


class SketchError(ValueError):
    """An input that cannot be turned into a digit; the message says why, for people."""


def sketch_to_mnist(sketch: object) -> np.ndarray | None:
    """(28, 28) float32 in [0, 1], white digit on black; None when nothing is drawn."""
    ink = find_ink(sketch)
    if ink is None:
        return None
    return ink_to_mnist(ink)


def find_ink(sketch: object) -> np.ndarray | None:
    """(H, W) float32 stroke map in [0, 1] (1 = ink) of any supported input; None if blank."""
    image = _pick_image(sketch)
    if image is None:
        return None
    gray, alpha = _gray_and_alpha(image)
    if gray.shape[0] < MIN_SIDE or gray.shape[1] < MIN_SIDE:
        raise SketchError(f"The image is too small ({gray.shape[1]}×{gray.shape[0]} px); use at least {MIN_SIDE}×{MIN_SIDE}.")
    if alpha is not None and alpha.min() < 0.98:
        ink = alpha  # transparent canvas: whatever is painted is ink, whatever its colour
    else:
        # The background is what most of the border shows; ink is what differs from it.
        border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
        background = float(np.median(border))
        ink = background - gray if background > 0.5 else gray - background
    ink = np.clip(ink, 0, 1, dtype=np.float32)
    peak = float(ink.max())
    if peak < BLANK_INK:
        return None
    return ink / peak


def ink_to_mnist(ink: np.ndarray) -> np.ndarray:
    """MNIST's recipe on a stroke map: crop, thicken thin pens, scale to 20 px, centre by mass."""
    rows = np.flatnonzero((ink > 0.1).any(axis=1))
    cols = np.flatnonzero((ink > 0.1).any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    longer = max(crop.shape)
    if longer < MIN_EXTENT * max(ink.shape):
        raise SketchError("That is just a dot. Draw a digit, larger.")
    crop = thicken(crop, min_width=STROKE_WIDTH * longer)

    scale = DIGIT_BOX / max(crop.shape)
    h = max(1, round(crop.shape[0] * scale))
    w = max(1, round(crop.shape[1] * scale))
    digit = np.asarray(Image.fromarray(crop, mode="F").resize((w, h), Image.Resampling.LANCZOS))
    digit = np.clip(digit, 0, 1)

    # Shift so the centre of mass lands on the field's centre (13.5 in pixel-centre
    # coordinates), keeping the whole box inside the 28×28 field. The shift is sub-pixel
    # (bilinear), so the result does not jump by a pixel as the drawing moves.
    mass = digit.sum()
    cy = (digit.sum(axis=1) @ np.arange(h)) / mass
    cx = (digit.sum(axis=0) @ np.arange(w)) / mass
    top = min(max((MNIST_SIZE - 1) / 2 - cy, 0), MNIST_SIZE - h)
    left = min(max((MNIST_SIZE - 1) / 2 - cx, 0), MNIST_SIZE - w)
    out = shift_into_field(digit, top, left)
    return out / out.max()


def shift_into_field(digit: np.ndarray, top: float, left: float) -> np.ndarray:
    """Place digit at a sub-pixel offset in a 28×28 field, splitting each pixel bilinearly."""
    h, w = digit.shape
    iy, ix = math.floor(top), math.floor(left)
    fy, fx = top - iy, left - ix
    field = np.zeros((MNIST_SIZE + 1, MNIST_SIZE + 1), dtype=np.float32)  # +1: room for the spill
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            field[iy + dy : iy + dy + h, ix + dx : ix + dx + w] += wy * wx * digit
    return field[:MNIST_SIZE, :MNIST_SIZE]


def stroke_width(ink: np.ndarray) -> float:
    """Typical stroke width in pixels: twice the inked area over its outline length."""
    solid = ink > 0.5
    area = solid.sum()
    if area == 0:
        return 0.0
    padded = np.pad(solid, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    outline = (solid & ~inner).sum()
    return float(2 * area / max(outline, 1))


def thicken(ink: np.ndarray, *, min_width: float) -> np.ndarray:
    """Grow strokes (3×3 max filter, repeated) until they are about min_width wide."""
    steps = math.ceil((min_width - stroke_width(ink)) / 2)
    if steps <= 0:
        return ink
    ink = np.pad(ink, steps)  # room to grow at the edges
    for _ in range(steps):
        padded = np.pad(ink, 1)
        grown = padded[1:-1, 1:-1].copy()
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                np.maximum(grown, padded[dy : dy + ink.shape[0], dx : dx + ink.shape[1]], out=grown)
        ink = grown
    return ink


def _pick_image(sketch: object) -> object | None:
    """The one image to read from a Sketchpad/ImageEditor dict, or the input itself."""
    if not isinstance(sketch, dict):
        return sketch
    unknown = set(sketch) - {"background", "layers", "composite", "id"}
    if unknown:
        raise SketchError(
            f"A drawing is a dict with 'background', 'layers' and 'composite'; got keys {sorted(map(str, unknown))}."
        )
    # The composite is what the person sees; layers alone miss any background image.
    if sketch.get("composite") is not None:
        return sketch["composite"]
    layers = sketch.get("layers") or []
    if not isinstance(layers, (list, tuple)):
        raise SketchError("A drawing's 'layers' must be a list of images.")
    inks = [ink for ink in (find_ink(layer) for layer in layers if layer is not None) if ink is not None]
    if inks:
        shape = inks[0].shape
        if any(ink.shape != shape for ink in inks):
            raise SketchError("A drawing's layers must all have the same size.")
        return np.max(inks, axis=0)
    return sketch.get("background")


def _gray_and_alpha(image: object) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W) gray in [0, 1] and alpha in [0, 1] (None if opaque), at most ~WORK_SIZE px."""
    if isinstance(image, (str, os.PathLike, bytes, bytearray)):
        image = _open_image(image)
    if isinstance(image, Image.Image):
        return _gray_and_alpha_pil(image)
    if isinstance(image, np.ndarray):
        return _gray_and_alpha_array(image)
    raise SketchError(f"Cannot read a drawing from a {type(image).__name__}; send an image.")


def _open_image(source: str | os.PathLike | bytes | bytearray) -> Image.Image:
    try:
        if isinstance(source, (bytes, bytearray)):
            image = Image.open(io.BytesIO(source))
        else:
            if not Path(source).is_file():
                raise SketchError(f"No image file at {os.fspath(source)!r}.")
            image = Image.open(source)
        if image.width * image.height > MAX_PIXELS:
            raise SketchError(f"The image is too large ({image.width}×{image.height} px).")
        image.draft("L", (WORK_SIZE, WORK_SIZE))  # JPEG: decode at reduced size, much faster
        image.load()
        return image
    except SketchError:
        raise
    except Image.DecompressionBombError as e:
        raise SketchError("The image is too large to open safely.") from e
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise SketchError("That file is not an image that can be read (PNG, JPEG, WebP, …).") from e


def _gray_and_alpha_pil(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    if image.width * image.height > MAX_PIXELS:
        raise SketchError(f"The image is too large ({image.width}×{image.height} px).")
    if image.mode.startswith("I;16"):
        image = image.convert("I")  # 16-bit variants: one 32-bit mode PIL can resize
    factor = math.ceil(max(image.size) / WORK_SIZE)
    if factor > 4:  # huge: shrink first, so the conversions below stay cheap
        if image.mode not in ("L", "LA", "RGB", "RGBA", "F", "I"):
            image = image.convert("RGBA" if _has_alpha(image) else "RGB")
        image, factor = image.reduce(factor), 1
    if image.mode in ("I", "F"):
        return _gray_and_alpha_array(np.asarray(image.reduce(factor) if factor > 1 else image))
    # Conversions stay in PIL (C), to one channel before the box downscale: this runs on every stroke.
    alpha = None
    if _has_alpha(image):
        image = image if image.mode == "RGBA" else image.convert("RGBA")
        channel = image.getchannel("A")
        if channel.getextrema()[0] < 250:  # not opaque: the alpha channel holds the strokes
            alpha = np.asarray(channel.reduce(factor) if factor > 1 else channel, dtype=np.float32) / 255
    gray = image if image.mode == "L" else image.convert("L")
    if factor > 1:
        gray = gray.reduce(factor)  # box filter: cheap, keeps thin strokes' mass
    return np.asarray(gray, dtype=np.float32) / 255, alpha


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _gray_and_alpha_array(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    if array.ndim == 3 and array.shape[2] in (1, 2, 3, 4):
        channels = array.shape[2]
    elif array.ndim == 2:
        array, channels = array[..., None], 1
    else:
        raise SketchError(f"An image array must be (H, W), (H, W, 3) or (H, W, 4); got shape {array.shape}.")
    if array.size == 0:
        raise SketchError("The image is empty.")
    a = _to_unit_range(array)
    factor = math.ceil(max(a.shape[:2]) / WORK_SIZE)
    if factor > 1:
        h, w = (a.shape[0] // factor) * factor, (a.shape[1] // factor) * factor
        a = a[:h, :w].reshape(h // factor, factor, w // factor, factor, channels).mean(axis=(1, 3))  # box downscale
    if channels in (2, 4):
        color, alpha = a[..., :-1], a[..., -1]
    else:
        color, alpha = a, None
    gray = color[..., 0] if color.shape[2] == 1 else _luminance(color)
    return gray, alpha


def _to_unit_range(array: np.ndarray) -> np.ndarray:
    """Any numeric image array as float32 in [0, 1]."""
    if array.dtype == bool:
        return array.astype(np.float32)
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise SketchError(f"An image array must hold numbers, not {array.dtype}.")
    a = array.astype(np.float32)
    if not np.isfinite(a).all():
        raise SketchError("The image holds NaN or infinite values.")
    lo, hi = float(a.min()), float(a.max())
    if np.issubdtype(array.dtype, np.integer):
        full = 255.0 if hi <= 255 else 65535.0 if hi <= 65535 else hi
    else:
        full = 1.0 if hi <= 1 else 255.0 if hi <= 255 else hi
    if lo < 0:
        raise SketchError("The image holds negative values.")
    return np.clip(a / full, 0, 1)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, as PIL's convert('L'): (H, W, 3) -> (H, W)."""
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
