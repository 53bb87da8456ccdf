"""Pictures in [0, 1] as the 0–255 bytes a PNG holds: the one conversion everything shown goes through."""

from __future__ import annotations

import numpy as np


def to_uint8(pictures: object) -> np.ndarray:
    """Floats in [0, 1] (a torch tensor or an array, any shape) as uint8, each value times 255 rounded half to even.

    Torch-free (a tensor is read through its .numpy()), so the page can use it before torch is loaded.
    """
    if hasattr(pictures, "detach"):  # a torch tensor: float32 stays float32, so the rounding is the one torch would do
        pictures = pictures.detach().cpu().numpy()
    return np.round(np.asarray(pictures) * 255).astype(np.uint8)
