"""Names and numbers shared by the package, the app and the scripts, in one place.

Nothing here imports torch: the app builds and serves its page from these while torch and
the models load in the background, so the page is up about two seconds sooner.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MNIST_PIXELS = 28 * 28  # every model's input and output width
MNIST_TRAIN_IMAGES = 60_000  # all of MNIST's training set
REFERENCE_PCA = (20, 30)  # the PCA codes every card and the README quote beside the models (PCA-30: Hinton & Salakhutdinov's)
# Hinton & Salakhutdinov 2006 (Science 313:504), MNIST test set, squared error per image: their 784-1000-500-250-30
# deep autoencoder, and the two linear codes in the same table. Divide by 784 for our per-pixel MSE.
HINTON_2006_PER_IMAGE = {"deep autoencoder 784-1000-500-250-30": 3.00, "logistic PCA-30": 8.01, "PCA-30": 13.87}
DEFAULT_SIZES = (MNIST_PIXELS, 400, 20)  # the shipped models: 784 -> 400 -> 20
CONV_CHANNELS = (64, 128)  # the shipped conv pair: 1 -> 64 -> 128 channels (28 -> 14 -> 7); why: its card_note
CONV_LATENT = 20  # the conv pair's code size, the same as the MLP pair's
# The shipped sparse pair: 1,024 atoms (the first power of two above 784: overcomplete, a 32×32 grid on the page,
# and the pair trains in under 30 min on 2 CPU cores), each image coded by its top 32
SPARSE_HIDDEN, SPARSE_K = 1024, 32
DECODER_INITS = ("transpose", "random")  # how an untied sparse decoder starts: as the encoder's W.t(), or its own init
MODEL_NAMES = ("tied", "untied")  # checkpoint folders and Hub repo suffixes, in display order
CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
MAX_SEED = 2**31 - 1
# Live training (tiedae.live): each setting's range and default, and how long one run may train
LIVE_LIMITS = {"train_size": (100, 60_000), "latent": (2, 64), "depth": (1, 3), "epochs": (1, 50), "seed": (0, MAX_SEED)}
LIVE_DEFAULTS = {"train_size": 2_000, "latent": 20, "depth": 1, "epochs": 10, "noise_level": 0.5, "seed": 0, "tie": "all"}
LIVE_SETTING_NAMES = {  # the page's labels, and the names bad-setting messages use
    "train_size": "Training images",
    "latent": "Code size",
    "depth": "Hidden layers",
    "epochs": "Epochs",
    "seed": "Seed",
    "noise_level": "Training noise",
    "tie": "Tied layers",
}
LIVE_TIME_CAP = (
    300.0  # seconds: a Space's 2 vCPUs are shared; about the largest conv run the limits allow (benchmarks/RESULTS.md)
)
CANVAS_SIZE = 280  # the drawing pad's pixels per side, 10 per MNIST pixel; a stroke sends them as a PNG data URL of a few KB
# matplotlib's tab10, one colour per digit 0–9 (the latent maps and their legend)
DIGIT_COLORS = np.array(
    [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ],
    dtype=np.uint8,
)
