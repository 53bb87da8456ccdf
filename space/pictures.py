"""Pictures on their way to the page: small ones inline as PNG data URIs, larger ones as PNG files Gradio serves."""

from __future__ import annotations

import atexit
import base64
import functools
import io
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image


def png_data_uri(image: np.ndarray) -> str:
    """A small uint8 image as an inline PNG (data: URI): no file to write, cache or fetch."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@functools.cache
def picture_dir() -> Path:
    """Where the pictures that every visitor sees are written, once per process."""
    path = Path(tempfile.mkdtemp(prefix="tiedae-pictures-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)  # Gradio serves its own copies
    return path


def png_file(picture: np.ndarray, name: str) -> str:
    """A picture shown to every visitor, as a PNG file for an image output.

    Why a file: Gradio saves an array output by rewriting, in place, a file named by its content, so the same
    picture sent again (to another visitor, or twice in one session) can cut the file short while a browser is
    reading it: a broken image. A file path is copied into Gradio's cache once, under a temporary name renamed
    into place.
    """
    path = picture_dir() / f"{name}.png"
    staging = path.with_suffix(f".{threading.get_ident()}.tmp")
    Image.fromarray(picture).save(staging, format="PNG")
    os.replace(staging, path)  # whole or not at all, even if two first views draw it at once
    return str(path)


MARKED_KEEP_SECONDS = 600  # Gradio copies an output file into its cache as the event ends; after that it is not read


_pruned = [0.0]  # when marked_file last removed old files (a list: set from any thread)


def marked_file(picture: np.ndarray, name: str) -> str:
    """A picture for one visitor (a map with their drawing ringed), as a PNG file of its own.

    Two visitors can be sent the same picture (the same example, noise and seed), so one name per picture would be
    rewritten while Gradio copies it (see png_file); each call writes a new file instead, and files older than
    MARKED_KEEP_SECONDS are removed, at most once a minute.
    """
    folder = picture_dir() / "marked"
    folder.mkdir(exist_ok=True)
    now = time.time()
    if now - _pruned[0] > 60:
        _pruned[0] = now
        for old in folder.iterdir():
            try:
                if now - old.stat().st_mtime > MARKED_KEEP_SECONDS:
                    old.unlink()
            except FileNotFoundError:
                pass  # another thread removed it first
    handle, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".png", dir=folder)
    with os.fdopen(handle, "wb") as file:
        Image.fromarray(picture).save(file, format="PNG")
    return path
