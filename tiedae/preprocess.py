"""Turn a drawing, an upload or a photo of a digit into the 28×28 input an MNIST model expects.

Two steps, each a plain function:

- `find_ink`: an image (PIL image, array or path) -> a stroke map in [0, 1]. Applies the
  EXIF orientation, tells dark-on-light from light-on-dark, reads a transparent canvas from
  its alpha, and for photos estimates the paper's brightness locally (uneven light and
  shadows are not ink) and keeps paper texture and sensor noise out of the ink.
- `ink_to_mnist`: a stroke map -> MNIST's own recipe, with the constants measured on MNIST
  itself (see below): the longer side of the bounding box scaled to 20 px, the shorter side
  centred in that box, strokes brought to MNIST's stroke width, and a whole-pixel shift that
  puts the centre of mass at (14, 14) (near x.5, a blend of the two nearest). White digit
  (1.0) on black (0.0).

`sketch_to_mnist` runs both. It returns None for a blank image (nothing drawn), and raises
`SketchError` (a ValueError) with a message meant for people for input it cannot use.
"""

from __future__ import annotations

import base64
import io
import math
import os
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

# --- MNIST as measured on the data, not from its description -------------------------
# benchmarks/roundtrip.py re-measures each of these on ../shared/data (10,000 test and
# 10,000 training images) and prints them beside these values.
MNIST_SIZE = 28
# Centre of mass (row, column; pixel (0, 0) has its centre at 0): every image has it in
# [13.5, 14.5] on both axes, spread evenly, so MNIST shifted each digit by whole pixels to
# bring it to 14.0. We do the same.
COM_TARGET = 14.0
# Our centre of mass is an estimate, and near x.5 it rounds the wrong way from MNIST's more
# often, so the two nearest whole-pixel shifts are blended by the chance that the other one is
# MNIST's: a logistic in the offset's fraction, centred on x.5 (see _rounded_shift). Its scale
# grows with the stroke width, ROUNDING_PER_WIDTH × width: a wide stroke leaves more doubt about
# where MNIST's centre was. Measured on 1,000 MNIST training digits (6,000-9,999, the first 1,000
# of a seeded draw) drawn as benchmarks/roundtrip.py draws them, at their own pen and a fat one:
# which shift brings each back nearest its original, against the fraction and the width. The
# maximum-likelihood factor is 0.0345 (log-likelihood -1506.6 against -1539.6 for the best single
# scale, 0.12, which blurred thin digits the models then reconstruct worse); roundtrip.py fits it
# again on its test digits. See benchmarks/RESULTS.md, "The centring blend, by stroke width".
ROUNDING_PER_WIDTH = 0.0345
# Bounding box of pixels > 0.1: its longer side is exactly 20 px in 100% of the images,
# and the shorter side has an even width far more often than an odd one (e.g. 14 px: 1,385
# images, 13 px: 344), so the shorter side was centred in the 20 px box.
BOX_SIZE = 20
# Stroke width, 2 × ink mass / outline length (`stroke_width`, in px on the 28×28 images):
# p0.5 1.80, p2 1.90, median 2.59, p98 4.35, p99.5 4.97 over both sets. Strokes outside
# [STROKE_MIN, STROKE_MAX] are brought to its edge. A fat pen and a naturally fat MNIST
# digit look alike: benchmarks/roundtrip.py measured that a limit of 3.6 (p92) thins real
# digits by up to MSE 0.07 and still leaves fat pens at 0.024, so the limit is MNIST's own
# p99.5 and real digits are left as they are. Above STROKE_WIDE (p98) the app says that the
# strokes are thicker than nearly all the digits both models learned from.
STROKE_MIN, STROKE_WIDE, STROKE_MAX = 1.9, 4.35, 5.0
WIDTH_TOLERANCE = 0.1  # px: closer than this to the target width is close enough
SUPERSAMPLE = 5  # the 28×28 digit is rendered at 5× and area-averaged down

# --- Reading images -----------------------------------------------------------------
BOX_THRESHOLD = 0.1  # ink above this fraction of its peak counts for the bounding box (as MNIST's > 0.1 box)
WORK_SIZE = 512  # larger inputs are box-downscaled to about this before any other work
BACKGROUND_SIZE = 128  # photos: the paper's brightness is estimated at about this size
MAX_PIXELS = 50_000_000  # refuse to decode images larger than this (decompression bombs)
MAX_DATA_URI = 4_000_000  # characters: the pad's PNG is a few KB; an upload-sized photo would be a few MB
MIN_SIDE = 8  # smaller images hold no usable digit
BLANK_INK = 0.15  # peak contrast below this (after removing the background) counts as blank
MIN_EXTENT = 0.04  # strokes spanning less of the image's longer side are a dot, not a digit
PHOTO_INK = 0.25  # pen on paper has 0.3-0.9 contrast to the paper around it; texture and shadow edges stay below
MIN_STROKE_AREA = 0.002  # of a photo's pixels: less clear ink than this is texture (a 10 px pen 96 px long, at 800×600)
FLAT_BORDER = 0.6  # a border this much of which is exactly one grey level is a plain canvas, not a photo
PAPER_WINDOW = 2.0  # photos: the paper is estimated with filters at least this many times the widest ink


class SketchError(ValueError):
    """An input that cannot be turned into a digit; the message says why, for people."""


def sketch_to_mnist(image: Image.Image | np.ndarray | str | os.PathLike) -> np.ndarray | None:
    """(28, 28) float32 in [0, 1], white digit on black; None when nothing is drawn."""
    ink = find_ink(image)
    if ink is None:
        return None
    return ink_to_mnist(ink)


# --- Step 1: image -> ink -----------------------------------------------------------


def find_ink(image: Image.Image | np.ndarray | str | os.PathLike) -> np.ndarray | None:
    """(H, W) float32 stroke map in [0, 1] (1 = ink) at most ~WORK_SIZE px; None if blank."""
    if isinstance(image, (str, os.PathLike)):
        image = open_image(image)
    if isinstance(image, Image.Image):
        gray, alpha = _gray_and_alpha_pil(image)
    elif isinstance(image, np.ndarray):
        gray, alpha = _gray_and_alpha_array(image)
    else:
        raise SketchError(f"Cannot read a digit from a {type(image).__name__}; send an image.")
    if gray.shape[0] < MIN_SIDE or gray.shape[1] < MIN_SIDE:
        raise SketchError(f"The image is too small ({gray.shape[1]}×{gray.shape[0]} px); use at least {MIN_SIDE}×{MIN_SIDE}.")
    if alpha is not None:
        ink = alpha  # transparent canvas: whatever is painted is ink, whatever its colour
    else:
        ink = ink_from_gray(gray)
    peak = float(ink.max())
    if peak < BLANK_INK:
        return None
    return np.clip(ink / peak, 0, 1)


def ink_from_gray(gray: np.ndarray) -> np.ndarray:
    """Ink contrast of a gray image in [0, 1] against its background (the paper or canvas)."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if np.mean(np.abs(border - background) <= 1.5 / 255) >= FLAT_BORDER:
        # A plain canvas (a photo's border always has noise): one background level; ink is what differs from it.
        ink = background - gray if background > 0.5 else gray - background
        return np.clip(ink / max(background, 1 - background, 1e-3), 0, 1, dtype=np.float32)
    return photo_ink(gray)


def photo_ink(gray: np.ndarray) -> np.ndarray:
    """Ink of a photo of strokes on paper, under uneven light and shadows, with texture and noise."""
    h, w = gray.shape
    # The paper's own brightness is estimated locally at low resolution, by filters wider than
    # any stroke (see _ink_against_paper): first an eighth of the image.
    factor = max(1, math.ceil(max(h, w) / BACKGROUND_SIZE))
    small = np.asarray(Image.fromarray(gray.astype(np.float32), mode="F").reduce(factor))
    size = 2 * (max(small.shape) // 16) + 1
    ink = _ink_against_paper(gray, small, size)
    # Strokes wider than that (a marker, a filled loop) lose their middle, which passes for paper:
    # then the paper is estimated again, with a window PAPER_WINDOW times the widest ink found, kept
    # if it finds more ink (not when the wider window only blurred the paper, raising the ink's floor).
    widest = 2 * float(ndimage.distance_transform_edt(ink[::factor, ::factor] > 0.5).max())  # px of `small`
    wider = min(math.ceil(PAPER_WINDOW * widest), max(small.shape) // 2) // 2 * 2 + 1
    if wider <= size:
        return ink
    again = _ink_against_paper(gray, small, wider)
    return again if again.sum() > ink.sum() else ink


def _ink_against_paper(gray: np.ndarray, small: np.ndarray, size: int) -> np.ndarray:
    """Photo ink against the paper estimated by `size`-px filters on `small` (the photo reduced)."""
    h, w = gray.shape
    # A closing (max, then min filter) wider than any stroke removes dark strokes and keeps broad
    # light changes and shadow edges; an opening does the same for light strokes on a dark board.
    readings = []
    for morph, sign in ((ndimage.grey_closing, 1), (ndimage.grey_opening, -1)):
        background = ndimage.uniform_filter(morph(small, size=size, mode="nearest"), 3)
        background = np.asarray(Image.fromarray(background, mode="F").resize((w, h), Image.Resampling.BILINEAR))
        if sign > 0:  # dark ink: contrast relative to the local paper brightness, the same in light and shade
            contrast = np.maximum(background - gray, 0) / np.maximum(background, 0.05)
        else:
            contrast = np.maximum(gray - background, 0) / np.maximum(1 - background, 0.05)
        contrast = ndimage.median_filter(contrast, size=3)  # sensor noise and paper fibres: isolated pixels
        # What most pixels (paper) show, and a few robust deviations more, is not ink.
        median = float(np.median(contrast))
        spread = 1.4826 * float(np.median(np.abs(contrast - median)))
        floor = median + 6 * spread + 0.02
        strokes = contrast[contrast > floor]
        full = float(np.percentile(strokes, 90)) if strokes.size else 0.0  # the strokes' core is full ink, as in MNIST
        readings.append((full - floor, contrast, floor, full))
    # The ink's polarity is the one whose strokes stand out more above the paper's own spread. (The
    # wrong one finds the paper between dark strokes, or beside a shadow edge: 4 wrong choices in 1,000
    # photos and their negatives, benchmarks/roundtrip.py's renderings, when judged by a high percentile.)
    _, contrast, floor, full = max(readings, key=lambda reading: reading[0])
    if full < PHOTO_INK:
        return np.zeros_like(contrast)  # paper texture and shadows only: no pen stroke
    ink = np.clip((contrast - floor) / max(full - floor, 1e-3), 0, 1, dtype=np.float32)
    return _without_border_blobs(ink)


def _without_border_blobs(ink: np.ndarray) -> np.ndarray:
    """Only the ink near clear strokes that stay off the photo's edge (not specks); all zero if none do.

    Shadow corners and the paper's edge reach the edge of a photo; a digit someone photographs does not.
    """
    reach = max(1, round(0.015 * max(ink.shape)))  # fragments this close are one thing (a noisy shadow wedge)
    labels, count = ndimage.label(ndimage.binary_dilation(ink > 0.25, iterations=reach))
    clear = ndimage.sum_labels(ink > 0.5, labels, np.arange(1, count + 1))  # px of clear ink in each group
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    inner = np.setdiff1d(np.arange(1, count + 1), edge)
    # Specks of texture: far less clear ink than the strokes beside them, or than any pen stroke.
    least = max(0.05 * clear[inner - 1].max(initial=0), MIN_STROKE_AREA * ink.size)
    inner = inner[clear[inner - 1] >= least]
    near = np.isin(labels, inner)  # the strokes, their faint anti-aliased edges, and a margin
    return np.where(near, ink, 0).astype(np.float32)


def image_from_data_uri(uri: str) -> Image.Image | None:
    """A drawing sent as a data URL ('data:image/png;base64,…', as the app's pad sends it) -> image; '' -> None."""
    if not uri:
        return None  # a clear pad
    if len(uri) > MAX_DATA_URI:
        raise SketchError(f"The drawing is too large ({len(uri):,} characters; at most {MAX_DATA_URI:,}).")
    head, comma, data = uri.partition(",")
    if not (comma and head.startswith("data:image/") and head.endswith(";base64")):
        raise SketchError("A drawing is sent as an image data URL ('data:image/png;base64,…').")
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError as e:  # binascii.Error is a ValueError
        raise SketchError("The drawing's data URL is not valid base64.") from e
    return open_image(io.BytesIO(raw))


def open_image(source: str | os.PathLike | IO[bytes]) -> Image.Image:
    """An image file, decoded at reduced size where the format allows (its EXIF orientation is applied when read)."""
    if isinstance(source, (str, os.PathLike)) and not Path(source).is_file():
        raise SketchError(f"No image file at {os.fspath(source)!r}.")
    try:
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
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise SketchError("That file is not an image that can be read (PNG, JPEG, WebP, …).") from e


def _gray_and_alpha_pil(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W) gray in [0, 1] and alpha in [0, 1] (None if opaque), at most ~WORK_SIZE px."""
    if image.width * image.height > MAX_PIXELS:
        raise SketchError(f"The image is too large ({image.width}×{image.height} px).")
    if image.getexif().get(0x0112, 1) != 1:  # EXIF orientation: phones store photos sideways
        image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I;16"):
        image = image.convert("I")  # 16-bit variants: one 32-bit mode PIL can resize
    factor = math.ceil(max(image.size) / WORK_SIZE)
    if factor > 4:  # huge: shrink first, so the conversions below stay cheap
        if image.mode not in ("L", "LA", "RGB", "RGBA", "F", "I"):
            image = image.convert("RGBA" if _has_alpha(image) else "RGB")
        image, factor = image.reduce(factor), 1
    if image.mode in ("I", "F"):
        return _gray_and_alpha_array(np.asarray(image.reduce(factor) if factor > 1 else image))
    # Conversions stay in PIL (C), to one channel before the box downscale.
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
        if alpha.min() >= 0.98:
            alpha = None  # opaque: read the colours
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


# --- Step 2: ink -> MNIST -----------------------------------------------------------


def check_not_a_dot(ink: np.ndarray) -> tuple[int, int, int, int]:
    """The ink's box, or a SketchError if the ink is too small a part of its image to be a digit (one rule for every path)."""
    box = ink_box(ink)
    if max(box[1] - box[0], box[3] - box[2]) < MIN_EXTENT * max(ink.shape):
        raise SketchError("That is just a dot. Draw a digit, larger.")
    return box


def ink_to_mnist(ink: np.ndarray) -> np.ndarray:
    """MNIST's recipe on a stroke map: box to 20 px, MNIST stroke width, centre of mass at (14, 14)."""
    return centre_by_mass(sized_digit(ink))


def sized_digit(ink: np.ndarray) -> np.ndarray:
    """(28, 28): the stroke map's box scaled to 20 px and its strokes to MNIST's width, not yet centred."""
    box = check_not_a_dot(ink)
    longer = max(box[1] - box[0], box[3] - box[2])
    digit = _render(ink, box)
    # Strokes outside MNIST's range of widths are brought to its edge. Measured on the 28×28
    # result, where every rendering of a digit looks alike, as the constants were measured.
    width = stroke_width(digit)
    target = min(max(width, STROKE_MIN), STROKE_MAX)
    if abs(target - width) > WIDTH_TOLERANCE:
        digit = _with_stroke_width(ink, digit, width, target, longer)
    if float(digit.sum()) <= 0:
        raise SketchError("No strokes left after scaling; draw the digit larger or with a thicker pen.")
    return digit


def centre_offset(digit: np.ndarray) -> tuple[float, float]:
    """(rows, cols): the move that brings the digit's centre of mass to (COM_TARGET, COM_TARGET)."""
    mass = float(digit.sum())
    rows, cols = np.arange(digit.shape[0]), np.arange(digit.shape[1])
    return COM_TARGET - (digit.sum(axis=1) @ rows) / mass, COM_TARGET - (digit.sum(axis=0) @ cols) / mass


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """The digit moved by whole pixels to bring its centre of mass nearest to (14, 14), as MNIST did, peak 1."""
    offset_y, offset_x = centre_offset(digit)
    scale = ROUNDING_PER_WIDTH * rounding_width(digit)
    out = np.zeros_like(digit)
    for dy, wy in _rounded_shift(offset_y, scale):
        for dx, wx in _rounded_shift(offset_x, scale):
            out += wy * wx * _shift(digit, dy, dx)
    return out / out.max()


def rounding_width(digit: np.ndarray) -> float:
    """The stroke width the centring blend's scale is proportional to (at least 1 px: that guards only a degenerate image)."""
    return max(stroke_width(digit), 1.0)


def _rounded_shift(offset: float, scale: float) -> list[tuple[int, float]]:
    """round(offset) as [(shift, weight)]: both neighbouring whole-pixel shifts, weighted by how likely each is MNIST's.

    Right at x.5 the estimate cannot tell which way MNIST's rounding went, and the blend is
    even; away from it the other shift's weight falls as a logistic of scale `scale` (px): for
    a median MNIST stroke (2.6 px, scale 0.09) a tenth of a pixel from x.5 it keeps 25% of
    the weight, a quarter of a pixel away 6%. Continuous in the offset, so the digit never
    jumps a pixel as the drawing moves.
    """
    base = math.floor(offset)
    weight = 1 / (1 + math.exp(-(offset - base - 0.5) / scale))  # of the shift up
    return [(base, 1 - weight), (base + 1, weight)]


def _with_stroke_width(ink: np.ndarray, digit: np.ndarray, width: float, target: float, longer: float) -> np.ndarray:
    """The digit re-rendered from `ink` with strokes grown or thinned until its width is about `target`."""
    # Growing strokes by r also grows the 20 px box by 2r, which is scaled back to 20 px:
    # solve (width + 2r) * 20 / (20 + 2r) = target for r (MNIST px), in image px. Filled
    # loops make that a guess, so a few secant steps follow, each from the original ink.
    grow = (target - width) / (2 - target / (BOX_SIZE / 2)) * longer / BOX_SIZE
    tried = [(0.0, width, digit)]
    for _ in range(3):
        changed = change_stroke_width(ink, grow)
        candidate = _render(changed, ink_box(changed))
        tried.append((grow, stroke_width(candidate), candidate))
        (g0, w0, _), (g1, w1, _) = tried[-2], tried[-1]
        if abs(w1 - target) <= WIDTH_TOLERANCE or abs(w1 - w0) < 1e-3:
            break
        grow = g1 + (target - w1) * (g1 - g0) / (w1 - w0)
    return min(tried, key=lambda t: abs(t[1] - target))[2]


def _render(ink: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """(28, 28): the box's longer side scaled to 20 px, the shorter centred on a pixel edge of the 20 px frame."""
    top, bottom, left, right = box
    side = MNIST_SIZE * max(bottom - top, right - left) / BOX_SIZE  # the 28 px field, in image px, around the box's centre
    digit = crop_square(ink, (top + bottom) / 2, (left + right) / 2, side, MNIST_SIZE * SUPERSAMPLE)
    return np.asarray(Image.fromarray(digit, mode="F").reduce(SUPERSAMPLE))  # (140, 140) -> (28, 28)


def crop_square(ink: np.ndarray, cy: float, cx: float, side: float, size: int) -> np.ndarray:
    """The side×side square of `ink` centred on (cy, cx) (sub-pixel), resampled to (size, size) in [0, 1]."""
    margin = math.ceil(side / 2) + 1  # PIL reads a box only inside the image: pad with empty canvas
    picture = Image.fromarray(np.pad(ink.astype(np.float32), margin), mode="F")
    source = (cx - side / 2 + margin, cy - side / 2 + margin, cx + side / 2 + margin, cy + side / 2 + margin)
    # Area average (BOX) when shrinking, as MNIST's anti-aliasing; bilinear when a small image is enlarged.
    resample = Image.Resampling.BILINEAR if size > side else Image.Resampling.BOX
    return np.clip(np.asarray(picture.resize((size, size), resample, box=source)), 0, 1)


def ink_box(ink: np.ndarray) -> tuple[float, float, float, float]:
    """Sub-pixel (top, bottom, left, right) edges of the strokes: where ink reaches half its edge value.

    Half of the outermost stroke's value is where a blurred or resampled edge really is (for
    nearest, bilinear and other symmetric filters alike), so the box does not grow with blur.
    """
    rows, cols = ink.max(axis=1), ink.max(axis=0)
    rough = (*_edges(rows, BOX_THRESHOLD), *_edges(cols, BOX_THRESHOLD))
    reach = max(2, round(0.05 * max(rough[1] - rough[0], rough[3] - rough[2])))  # about one MNIST pixel
    return (*_half_edges(rows, rough[:2], reach), *_half_edges(cols, rough[2:], reach))


def _half_edges(profile: np.ndarray, rough: tuple[float, float], reach: int) -> tuple[float, float]:
    """Each end's crossing of half the profile's peak within `reach` px inside the rough edge."""
    first, last = int(rough[0] + 0.5), int(rough[1] - 0.5)
    start = _edges(profile[: last + 1], 0.5 * float(profile[first : first + reach].max()))[0]
    end = first + _edges(profile[first:], 0.5 * float(profile[max(last - reach + 1, first) : last + 1].max()))[1]
    return start, end


def _edges(profile: np.ndarray, threshold: float) -> tuple[float, float]:
    """Where a 1-D profile first rises above threshold and last falls below it, interpolated between pixel centres."""
    above = np.flatnonzero(profile > threshold)
    if above.size == 0:
        return 0.0, float(len(profile))

    def crossing(i: int, outer: int) -> float:
        inside, outside = float(profile[i]), float(profile[outer]) if 0 <= outer < len(profile) else 0.0
        return (threshold - outside) / max(inside - outside, 1e-6)  # 0 at the outer centre, 1 at the inner one

    first, last = int(above[0]), int(above[-1])
    start = first - 0.5 + crossing(first, first - 1)  # pixel i covers [i, i + 1]: centre i + 0.5
    end = last + 1.5 - crossing(last, last + 1)
    return start, end


def stroke_width(image: np.ndarray) -> float:
    """Typical stroke width in pixels: twice the ink's mass over its outline length (total variation)."""
    gy, gx = np.gradient(image.astype(np.float32))
    outline = float(np.hypot(gy, gx).sum())  # an edge from 0 to 1 adds its length, however blurred
    return 2 * float(image.sum()) / outline if outline > 0 else 0.0


def change_stroke_width(ink: np.ndarray, grow: float) -> np.ndarray:
    """Grow (grow > 0) or thin (grow < 0) strokes by `grow` px on each side, round and anti-aliased."""
    if abs(grow) < 0.25:
        return ink
    solid = ink > 0.5
    if grow > 0:
        pad = math.ceil(grow) + 1  # room to grow at the edges
        solid, ink = np.pad(solid, pad), np.pad(ink, pad)
        distance = ndimage.distance_transform_edt(~solid)  # to the nearest stroke pixel's centre: the edge is 0.5 px nearer
        return np.maximum(ink, np.clip(grow + 1 - distance, 0, 1)).astype(np.float32)
    depth = ndimage.distance_transform_edt(solid)  # px from each stroke pixel to the nearest paper
    return (ink * np.clip(depth + grow, 0, 1)).astype(np.float32)


def _shift(digit: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move a (28, 28) image by whole pixels, filling with 0 (nothing falls off: the box is 20 px)."""
    out = np.zeros_like(digit)
    h, w = digit.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = digit[
        max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out
