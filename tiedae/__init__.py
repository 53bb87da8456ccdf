"""tiedae: tied and untied MLP autoencoders for MNIST, with the tools to compare them."""

from tiedae.metrics import mse, psnr, psnr_from_mse
from tiedae.model import (
    DEFAULT_SIZES,
    MNIST_PIXELS,
    Autoencoder,
    LayerPair,
    TiedAutoencoder,
    UntiedAutoencoder,
    count_parameters,
    is_tied,
)
from tiedae.noise import NOISE_KINDS, add_noise
from tiedae.preprocess import SketchError, sketch_to_mnist

__all__ = [
    "DEFAULT_SIZES",
    "MNIST_PIXELS",
    "NOISE_KINDS",
    "Autoencoder",
    "LayerPair",
    "SketchError",
    "TiedAutoencoder",
    "UntiedAutoencoder",
    "add_noise",
    "count_parameters",
    "is_tied",
    "mse",
    "psnr",
    "psnr_from_mse",
    "sketch_to_mnist",
]
__version__ = "0.1.0"
