"""Shared fixtures: a tiny MNIST in torchvision's layout, made from stroke-drawn digits."""

import socket
import struct

import numpy as np
import pytest

from tiedae.drawing import draw_digit
from tiedae.preprocess import sketch_to_mnist


def write_idx_images(path, images: np.ndarray) -> None:
    """IDX3 file: magic 0x00000803, then N, 28, 28 (big-endian), then uint8 pixels."""
    path.write_bytes(struct.pack(">IIII", 0x803, len(images), 28, 28) + images.astype(np.uint8).tobytes())


def write_idx_labels(path, labels: np.ndarray) -> None:
    """IDX1 file: magic 0x00000801, then N, then uint8 labels."""
    path.write_bytes(struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes())


def tiny_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n MNIST-like uint8 images (drawn digits, jittered) and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = []
    for label in labels:
        x0, y0 = rng.uniform(150, 300, size=2)
        w, h = rng.uniform(200, 320), rng.uniform(380, 480)
        image = draw_digit(int(label), size=(800, 800), box=(x0, y0, x0 + w, y0 + h), width=rng.uniform(30, 60))
        images.append(np.round(255 * sketch_to_mnist(image)))
    return np.stack(images), labels


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory):
    """A data dir holding MNIST/raw/ with 200 training and 60 test images."""
    root = tmp_path_factory.mktemp("data")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n, seed in (("train", 200, 0), ("t10k", 60, 1)):
        images, labels = tiny_digits(n, seed)
        write_idx_images(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx_labels(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


@pytest.fixture(autouse=True)
def no_mnist_download(monkeypatch):
    """Tests never download MNIST: any download attempt fails at once on a closed local port."""
    from torchvision import datasets

    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])


@pytest.fixture(scope="session")
def app_url():
    """The Space served once on a free local port for the whole session (closing it clears its file cache)."""
    import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app.LAUNCH_KWARGS)
    yield f"http://127.0.0.1:{port}/"
    app.demo.close()
