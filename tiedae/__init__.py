"""tiedae: tied and untied autoencoders (MLP, convolutional and sparse) for MNIST, with the tools to compare them.

Names and submodules are imported on first use (PEP 562), so `import tiedae.constants` or
`tiedae.study` does not import torch: the app serves its page first and loads torch behind it.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

_EXPORTS = {  # name -> the module that defines it
    "Autoencoder": "tiedae.model",
    "ConvAutoencoder": "tiedae.model",
    "ConvLayerPair": "tiedae.model",
    "DEFAULT_SIZES": "tiedae.constants",
    "FAMILIES": "tiedae.families",
    "LayerPair": "tiedae.model",
    "MNIST_PIXELS": "tiedae.constants",
    "NOISE_KINDS": "tiedae.noise",
    "SketchError": "tiedae.preprocess",
    "SparseAutoencoder": "tiedae.model",
    "TiedAutoencoder": "tiedae.model",
    "TiedConvAutoencoder": "tiedae.model",
    "TiedSparseAutoencoder": "tiedae.model",
    "TopK": "tiedae.model",
    "UntiedAutoencoder": "tiedae.model",
    "UntiedConvAutoencoder": "tiedae.model",
    "UntiedSparseAutoencoder": "tiedae.model",
    "add_noise": "tiedae.noise",
    "count_parameters": "tiedae.model",
    "is_conv_tied": "tiedae.model",
    "is_tied": "tiedae.model",
    "mse": "tiedae.metrics",
    "psnr": "tiedae.metrics",
    "psnr_from_mse": "tiedae.metrics",
    "sketch_to_mnist": "tiedae.preprocess",
}
_SUBMODULES = {module.name for module in pkgutil.iter_modules(__path__)}  # tiedae/*.py, reachable as tiedae.<name>
__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"

if TYPE_CHECKING:  # what the names are, for type checkers and editors
    from tiedae.constants import DEFAULT_SIZES, MNIST_PIXELS  # noqa: F401
    from tiedae.families import FAMILIES  # noqa: F401
    from tiedae.metrics import mse, psnr, psnr_from_mse  # noqa: F401
    from tiedae.model import (  # noqa: F401
        Autoencoder,
        ConvAutoencoder,
        ConvLayerPair,
        LayerPair,
        SparseAutoencoder,
        TiedAutoencoder,
        TiedConvAutoencoder,
        TiedSparseAutoencoder,
        TopK,
        UntiedAutoencoder,
        UntiedConvAutoencoder,
        UntiedSparseAutoencoder,
        count_parameters,
        is_conv_tied,
        is_tied,
    )
    from tiedae.noise import NOISE_KINDS, add_noise  # noqa: F401
    from tiedae.preprocess import SketchError, sketch_to_mnist  # noqa: F401


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        return importlib.import_module(f"tiedae.{name}")  # binds tiedae.<name> for next time
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tiedae' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})
