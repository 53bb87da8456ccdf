"""What a visitor or a client hands the page, as 28×28 digits: the pad's drawing, an API Sketchpad value, an example.

sketch_to_mnist is remembered by content for recent images: moving a slider re-sends the same drawing.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

from space.errors import refused
from tiedae.preprocess import SketchError, image_from_data_uri, open_image, sketch_to_mnist

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


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


def sent_image(value: object) -> object:
    """One image of a drawing sent to the API: a file Gradio took into its upload cache (its file record, passed on
    unprocessed) is opened here, so a file that is not an image gets our message, not one naming a server path."""
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        return open_image(value["path"])
    return value


def drawing_image(drawing: object) -> object:
    """The one image a drawing stands for: the pad's data URL, or a Sketchpad value sent to the API (None if blank)."""
    if isinstance(drawing, str):
        return image_from_data_uri(drawing)  # the pad, as the page sends it
    if not isinstance(drawing, dict):
        return drawing  # None, or an image handed over by Python callers
    unknown = set(drawing) - {"background", "layers", "composite", "id"}
    if unknown:
        raise SketchError(
            f"A drawing is a dict with 'background', 'layers' and 'composite'; got keys {sorted(map(str, unknown))}."
        )
    if drawing.get("composite") is not None:
        return sent_image(drawing["composite"])  # the background with every layer on it
    layers = drawing.get("layers") or []
    if isinstance(layers, (list, tuple)):
        layers = [sent_image(layer) for layer in layers]
    if not isinstance(layers, (list, tuple)) or not all(layer is None or isinstance(layer, Image.Image) for layer in layers):
        raise SketchError("A drawing's 'layers' must be a list of images.")
    layers = [layer for layer in layers if layer is not None]
    if not layers:
        return sent_image(drawing.get("background"))
    composite = sent_image(drawing.get("background")) or Image.new("RGBA", layers[0].size, (0, 0, 0, 0))
    for layer in layers:
        composite = Image.alpha_composite(composite.convert("RGBA"), layer.convert("RGBA").resize(composite.size))
    return composite


def drawing_digit(drawing) -> np.ndarray | None:
    """The 28×28 digit a drawing (the pad's data URL, a Sketchpad value or an image) stands for, None if blank."""
    image = drawing_image(drawing)
    return None if image is None else prepared_digit(image)


EXAMPLE_FILES = {f"Example {p.stem.split('_')[-1]}": str(p) for p in sorted(EXAMPLES_DIR.glob("digit_*.png"))}


YOUR_DRAWING = "Your drawing"


def example_digit(choice: str, drawing) -> np.ndarray:
    """The 28×28 digit an interpolation end stands for: the current drawing or an example."""
    if choice != YOUR_DRAWING and choice not in EXAMPLE_FILES:
        raise refused(f"Unknown choice {choice!r}.")
    digit = drawing_digit(drawing) if choice == YOUR_DRAWING else prepared_digit(EXAMPLE_FILES[choice])
    if digit is None:
        raise refused("Draw a digit first, or choose an example to start from.")
    return digit


def api_digits(*drawings) -> list[np.ndarray]:
    """The 28×28 digits of an endpoint's drawings, or a clear error naming the blank or unusable one."""
    digits = []
    for which, drawing in zip(("first", "second", "third"), drawings):
        try:
            digit = drawing_digit(drawing)
        except SketchError as e:
            raise refused(f"The {which} drawing: {e}") from None
        if digit is None:
            raise refused(f"The {which} drawing is blank: draw a digit (0–9) in it.")
        digits.append(digit)
    return digits
