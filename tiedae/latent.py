"""The code space: 2-D latent maps, decoding a point, the decoded grid, and interpolation between two digits.

A `LatentMap` is a 2-D model's codes of the MNIST test digits (shipped beside it as
latent_map.npz), drawn once as a scatter coloured by digit. It converts between map pixels
and codes, so a click on the picture decodes the point under it. Everything here is plain
numpy and torch: pictures are uint8 arrays, drawn without a plotting library so that
marking a drawing on a map costs a copy and a few pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tiedae.constants import DIGIT_COLORS
from tiedae.images import to_uint8
from tiedae.model import LATENT_MAP_FILE, Autoencoder

MAP_SIZE = 400  # map pixels per side
MAP_MARGIN = 0.08  # of the codes' range, on each side
FAR_OUT = 4.0  # points further than this many map half-widths from its centre are refused


@dataclass
class LatentMap:
    """A model's 2-D codes of the test digits, their labels, and the square region of code space drawn."""

    codes: np.ndarray  # (N, 2) float32
    labels: np.ndarray  # (N,) uint8, 0–9
    size: int = MAP_SIZE
    low: np.ndarray = field(init=False)  # (2,) code at the map's left / bottom edge
    span: float = field(init=False)  # code units across the map (the same on both axes: distances stay true)

    def __post_init__(self) -> None:
        assert self.codes.ndim == 2 and self.codes.shape[1] == 2, f"codes must be (N, 2), got {self.codes.shape}"
        assert len(self.labels) == len(self.codes), "one label per code"
        # 0.5–99.5th percentiles: a few far-flung codes would otherwise squeeze the rest into a corner
        lo, hi = np.percentile(self.codes, 0.5, axis=0), np.percentile(self.codes, 99.5, axis=0)
        centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-6) * (1 + 2 * MAP_MARGIN)
        self.low, self.span = (centre - half).astype(np.float64), 2 * half

    @classmethod
    def load(cls, path: Path, *, size: int = MAP_SIZE) -> LatentMap:
        """From a latent_map.npz (codes, labels); errors name the file."""
        try:
            with np.load(path) as saved:
                return cls(saved["codes"].astype(np.float32), saved["labels"].astype(np.uint8), size=size)
        except (OSError, KeyError, ValueError, AssertionError) as e:
            raise ValueError(f"{path}: not a usable {LATENT_MAP_FILE} ({type(e).__name__}: {e})") from None

    @property
    def centre(self) -> np.ndarray:
        return self.low + self.span / 2

    def to_pixel(self, codes: np.ndarray) -> np.ndarray:
        """Codes (..., 2) -> map pixels (..., 2) as (column, row); y grows upwards on the map."""
        unit = (np.asarray(codes, dtype=np.float64) - self.low) / self.span  # (..., 2) in [0, 1] inside the map
        return np.stack([unit[..., 0] * self.size, (1 - unit[..., 1]) * self.size], axis=-1)

    def to_code(self, column: float, row: float) -> tuple[float, float]:
        """The code under a map pixel (column, row from the top-left)."""
        return (
            float(self.low[0] + (column + 0.5) / self.size * self.span),
            float(self.low[1] + (1 - (row + 0.5) / self.size) * self.span),
        )

    def check_point(self, x: object, y: object) -> tuple[float, float]:
        """(x, y) as floats, or a ValueError saying why the point cannot be decoded here."""
        try:
            x, y = float(x), float(y)
        except (TypeError, ValueError):
            raise ValueError(f"x and y must be numbers; got {x!r} and {y!r}.") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"x and y must be finite numbers; got {x} and {y}.")
        cx, cy = self.centre
        reach = FAR_OUT * self.span / 2
        if abs(x - cx) > reach or abs(y - cy) > reach:
            lo_x, lo_y = self.low
            raise ValueError(
                f"({x:g}, {y:g}) is far outside the map (x {lo_x:.2f}…{lo_x + self.span:.2f}, "
                f"y {lo_y:.2f}…{lo_y + self.span:.2f}); the decoder has seen nothing like it. "
                f"Choose a point within {FAR_OUT:g}× the map's half-width of its centre."
            )
        return x, y

    def picture(self) -> np.ndarray:
        """The scatter: every test code as a dot coloured by its digit, on white, with the axes through 0 (uint8 (S, S, 3))."""
        image = np.full((self.size, self.size, 3), 255, dtype=np.uint8)
        zero = self.to_pixel(np.zeros(2))
        for axis, coordinate in ((1, zero[0]), (0, zero[1])):  # faint lines where x = 0 and y = 0
            index = round(float(coordinate))
            if 0 <= index < self.size:
                (image[:, index] if axis == 1 else image[index, :])[:] = 225
        order = np.random.default_rng(0).permutation(len(self.codes))  # no digit painted wholly over another
        pixels = np.round(self.to_pixel(self.codes[order])).astype(int)
        colors = DIGIT_COLORS[self.labels[order]]
        for dx in (0, 1):  # 2×2 dots
            for dy in (0, 1):
                cols, rows = pixels[:, 0] + dx, pixels[:, 1] + dy
                inside = (cols >= 0) & (cols < self.size) & (rows >= 0) & (rows < self.size)
                image[rows[inside], cols[inside]] = colors[inside]
        return self.with_ticks(image)

    def ticks(self, axis: int) -> list[float]:
        """Round code values for one axis's ticks (0: x, 1: y), across the map: steps of 1, 2 or 5 times a power of ten."""
        raw = self.span / 5
        power = 10.0 ** math.floor(math.log10(raw))
        step = min((m * power for m in (1, 2, 5, 10)), key=lambda v: abs(v - raw))
        low = float(self.low[axis])
        return [float(f"{v:.6g}") for v in np.arange(math.ceil(low / step) * step, low + self.span, step)]

    def with_ticks(self, image: np.ndarray) -> np.ndarray:
        """The picture with tick marks and their values along its bottom (x) and left (y) edges, inside the picture,
        so that map pixels stay code coordinates (a click decodes the point under it)."""
        from PIL import Image, ImageDraw, ImageFont

        picture = Image.fromarray(image)
        draw = ImageDraw.Draw(picture)
        font = ImageFont.load_default(size=11)
        grey = (90, 90, 90)
        for value in self.ticks(0):  # along the bottom
            column = self.to_pixel(np.array([value, 0.0]))[0]
            if 14 <= column <= self.size - 14:
                draw.line([(column, self.size - 6), (column, self.size - 1)], fill=grey)
                draw.text((column, self.size - 7), f"{value:g}", fill=grey, font=font, anchor="mb")
        for value in self.ticks(1):  # along the left
            row = self.to_pixel(np.array([0.0, value]))[1]
            if 14 <= row <= self.size - 20:
                draw.line([(0, row), (5, row)], fill=grey)
                draw.text((7, row), f"{value:g}", fill=grey, font=font, anchor="lm")
        return np.asarray(picture).copy()


def mark_point(picture: np.ndarray, latent_map: LatentMap, code: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    """A copy of a map picture with a cross (9 px arms, white-edged) at one code: the point last clicked."""
    image = picture.copy()
    column, row = (int(v) for v in np.clip(latent_map.to_pixel(np.asarray(code)), 0, latent_map.size - 1))  # the pixel it lies in
    for halo, width, value in ((True, 2, (255, 255, 255)), (False, 1, color)):
        arm = 10 if halo else 9
        rows = slice(max(0, row - width), row + width + 1)
        cols = slice(max(0, column - width), column + width + 1)
        image[rows, max(0, column - arm) : column + arm + 1] = value
        image[max(0, row - arm) : row + arm + 1, cols] = value
    return image


def mark(picture: np.ndarray, latent_map: LatentMap, points: list[tuple[np.ndarray, tuple[int, int, int]]]) -> np.ndarray:
    """A copy of a map picture with a ring (2 px wide, white-edged) at each (code, colour); points off the map are pinned to its edge.

    The first ring has radius 7 px and each later one 3 px less (down to 4), inside it: codes that
    land together (or are pinned to the same edge) still show every ring.
    """
    image = picture.copy()
    for i, (code, color) in enumerate(points):
        radius = max(7 - 3 * i, 4)
        column, row = np.clip(latent_map.to_pixel(np.asarray(code)), 0, latent_map.size - 1)
        # only the pixels around the ring: this runs on every stroke while the maps are open
        top, left = max(0, int(row) - 9), max(0, int(column) - 9)
        window = image[top : int(row) + 10, left : int(column) + 10]  # a view into image
        rows, cols = np.mgrid[top : top + window.shape[0], left : left + window.shape[1]]
        distance = np.hypot(cols - column, rows - row)
        window[(distance >= radius - 1.5) & (distance <= radius + 1.5)] = (255, 255, 255)  # a halo: shows on any colour
        window[(distance >= radius - 1) & (distance <= radius + 1)] = color
    return image


@torch.inference_mode()
def encode_digit(model: Autoencoder, digit: np.ndarray) -> np.ndarray:
    """The code of one 28×28 digit in [0, 1]: (latent,) float64."""
    x = torch.as_tensor(np.asarray(digit, dtype=np.float32)).reshape(1, -1)  # (28, 28) -> (1, 784)
    return model.eval().encode(x)[0].double().numpy()


@torch.inference_mode()
def decode_codes(model: Autoencoder, codes: np.ndarray) -> np.ndarray:
    """Decoder outputs for codes (N, latent): uint8 (N, 28, 28)."""
    z = torch.as_tensor(np.asarray(codes, dtype=np.float32))
    out = model.eval().decode(z).reshape(-1, 28, 28)  # (N, 784) -> (N, 28, 28)
    return to_uint8(out)


def decoded_grid(model: Autoencoder, latent_map: LatentMap, *, steps: int = 15) -> np.ndarray:
    """The classic manifold picture: the decoder's output on a steps×steps grid over the map (uint8 (28·steps, 28·steps))."""
    centres = (np.arange(steps) + 0.5) / steps * latent_map.span
    xs, ys = latent_map.low[0] + centres, latent_map.low[1] + centres[::-1]  # top row: the largest y, as on the map
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)  # (steps·steps, 2), row by row
    tiles = decode_codes(model, grid).reshape(steps, steps, 28, 28)
    return tiles.transpose(0, 2, 1, 3).reshape(steps * 28, steps * 28)  # (r, c, 28, 28) -> (r·28, c·28)


def arithmetic(model: Autoencoder, first: np.ndarray, second: np.ndarray, third: np.ndarray) -> np.ndarray:
    """decode(z1 + z2 - z3) for three 28×28 digits' codes: the classic latent arithmetic, uint8 (28, 28)."""
    code = encode_digit(model, first) + encode_digit(model, second) - encode_digit(model, third)
    return decode_codes(model, code[None])[0]  # (latent,) -> (1, latent) -> (28, 28)


def interpolation(model: Autoencoder, start: np.ndarray, end: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Decoded z = (1 − t)·z₁ + t·z₂ for each t in `ts`, z₁ and z₂ the two 28×28 digits' codes: uint8 (len(ts), 28, 28)."""
    z1, z2 = encode_digit(model, start), encode_digit(model, end)
    t = np.asarray(ts, dtype=np.float64)[:, None]  # (n,) -> (n, 1)
    return decode_codes(model, (1 - t) * z1 + t * z2)


def strip(frames: np.ndarray, *, highlight: int | None = None, gap: int = 2) -> np.ndarray:
    """Frames (n, 28, 28) side by side on grey, the highlighted one framed in white: uint8 RGB (32, n·30 + 2, 3)."""
    n = len(frames)
    image = np.full((28 + 2 * gap, n * (28 + gap) + gap, 3), 90, dtype=np.uint8)
    for i, frame in enumerate(frames):
        left = gap + i * (28 + gap)
        if i == highlight:
            image[:, left - gap : left + 28 + gap] = 255
        image[gap : gap + 28, left : left + 28] = frame[..., None]
    return image
