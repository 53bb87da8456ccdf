"""A sparse autoencoder's dictionary, measured on test images: which atoms fire, how often, how strongly, for which digits.

`atom_statistics(model, images)` runs the images through the model's TopK code and keeps, per atom, how often it
fires, the test images that activate it most and a histogram of its activations. An atom that never fires on the
test set is dead. The shipped sparse checkpoints keep these in `atoms.npz` beside the weights (the page orders and
marks the dictionary with them), and their headline in metrics.json (`AtomStatistics.summary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ATOMS_FILE = "atoms.npz"
TOP_IMAGES = 9  # per atom: the test images that activate it most (a 3×3 grid in its card)
HISTOGRAM_BINS = 20
BATCH = 2000


@dataclass
class AtomStatistics:
    """Per atom (H atoms) over N images; arrays, so they save to one npz."""

    k: int  # the atoms each code kept
    images: int  # N
    frequency: np.ndarray  # (H,) float: the share of images whose code uses the atom
    top_indices: np.ndarray  # (H, TOP_IMAGES) int: images by activation, highest first (-1: fewer images fired it)
    top_values: np.ndarray  # (H, TOP_IMAGES) float: their activations (0 where the index is -1)
    histogram: np.ndarray  # (H, HISTOGRAM_BINS) int: counts of its non-zero activations in [0, top_values[:, 0]]

    @property
    def dead(self) -> np.ndarray:
        """(H,) bool: atoms no image fired."""
        return self.frequency == 0

    def order(self) -> np.ndarray:
        """Atom indices from the most often firing to the least (dead last), ties by index."""
        return np.lexsort((np.arange(len(self.frequency)), -self.frequency))

    def summary(self) -> dict:
        """The headline numbers, as metrics.json, the cards and the study report them."""
        dead = self.dead
        alive = self.frequency[~dead]
        return {
            "k": self.k,
            "atoms": len(self.frequency),
            "dead_atoms": int(dead.sum()),
            "dead_fraction": float(dead.mean()),
            # how often a living atom fires: the median, and the busiest atom
            "firing_median": float(np.median(alive)) if len(alive) else 0.0,
            "firing_max": float(self.frequency.max()),
        }

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            k=self.k,
            images=self.images,
            frequency=self.frequency.astype(np.float32),
            top_indices=self.top_indices.astype(np.int32),
            top_values=self.top_values.astype(np.float32),
            histogram=self.histogram.astype(np.int32),
        )

    @classmethod
    def load(cls, path: Path) -> AtomStatistics:
        with np.load(path) as saved:
            return cls(
                k=int(saved["k"]),
                images=int(saved["images"]),
                frequency=saved["frequency"],
                top_indices=saved["top_indices"],
                top_values=saved["top_values"],
                histogram=saved["histogram"],
            )


@torch.inference_mode()
def sparse_codes(model, images: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """The model's codes (N, H) of images (N, 784) in [0, 1], in batches, at k (default: the trained k)."""
    model.eval()
    return torch.cat([model.encode(images[i : i + BATCH], k) for i in range(0, len(images), BATCH)])


def atom_statistics(model, images: torch.Tensor) -> AtomStatistics:
    """Every atom's firing frequency, top images and activation histogram over images (N, 784) in [0, 1]."""
    codes = sparse_codes(model, images).float()  # (N, H)
    n, hidden = codes.shape
    fired = codes > 0
    frequency = fired.float().mean(0)
    top = min(TOP_IMAGES, n)
    values, indices = codes.topk(top, dim=0)  # (top, H): each column an atom's strongest images
    values, indices = values.t().contiguous(), indices.t().contiguous()  # (H, top)
    indices[values <= 0] = -1  # fewer than `top` images fired this atom
    values = values.clamp_min(0)
    peak = values[:, 0].clamp_min(1e-12)  # (H,)
    # each non-zero activation's bin in [0, peak] of its own atom
    bins = (codes / peak).mul(HISTOGRAM_BINS).long().clamp_(max=HISTOGRAM_BINS - 1)  # (N, H)
    histogram = torch.zeros(hidden, HISTOGRAM_BINS, dtype=torch.long)
    atom = torch.arange(hidden).expand(n, hidden)
    histogram.index_put_((atom[fired], bins[fired]), torch.ones(int(fired.sum()), dtype=torch.long), accumulate=True)
    pad = TOP_IMAGES - top
    return AtomStatistics(
        k=model.k,
        images=n,
        frequency=frequency.numpy(),
        top_indices=np.pad(indices.numpy(), ((0, 0), (0, pad)), constant_values=-1),
        top_values=np.pad(values.numpy(), ((0, 0), (0, pad))),
        histogram=histogram.numpy(),
    )


GRID_COLUMNS = 32  # the dictionary's grid: 1,024 atoms as 32×32 tiles
TILE = 28  # an atom's tile: its 28×28 image
GAP = 1  # pixels between tiles
DEAD_TINT = np.array([214, 39, 40], dtype=np.float32)  # dead atoms are drawn tinted red


def atom_pictures(atoms: torch.Tensor) -> np.ndarray:
    """Atoms (n, 784) as 28×28 grey pictures (n, 28, 28) uint8, each scaled around zero: mid-grey 0, light +, dark −."""
    from tiedae.images import to_uint8

    atoms = atoms.detach().float().reshape(len(atoms), 28, 28)
    peak = atoms.abs().amax(dim=(1, 2), keepdim=True).clamp_min(1e-8)
    return to_uint8(0.5 + 0.5 * atoms / peak)


def dictionary_grid(atoms: torch.Tensor, stats: AtomStatistics, columns: int = GRID_COLUMNS) -> np.ndarray:
    """Every atom as a tile, the most often firing first (row by row), dead atoms tinted red: uint8 RGB."""
    grey = atom_pictures(atoms[torch.from_numpy(stats.order().copy())])
    pictures = np.repeat(grey[..., None], 3, axis=-1)  # (H, 28, 28) -> RGB, for the red of dead atoms
    dead = stats.dead[stats.order()]
    pictures[dead] = (0.45 * pictures[dead] + 0.55 * DEAD_TINT).astype(np.uint8)
    rows = -(-len(pictures) // columns)
    step = TILE + GAP
    grid = np.full((rows * step + GAP, columns * step + GAP, 3), 255, dtype=np.uint8)
    for i, picture in enumerate(pictures):
        r, c = divmod(i, columns)
        grid[GAP + r * step : GAP + r * step + TILE, GAP + c * step : GAP + c * step + TILE] = picture
    return grid


def atom_at(stats: AtomStatistics, x: float, y: float, columns: int = GRID_COLUMNS) -> int:
    """The atom whose tile holds pixel (x, y) of dictionary_grid's picture; a ValueError off the tiles."""
    step = TILE + GAP
    column, row = int(x) // step, int(y) // step
    position = row * columns + column
    if not (0 <= column < columns and 0 <= position < len(stats.frequency)) or x < 0 or y < 0:
        raise ValueError(f"({x:g}, {y:g}) is not on an atom of the grid")
    return int(stats.order()[position])


@torch.inference_mode()
def digit_parts(model, digit: torch.Tensor, k: int | None = None) -> dict:
    """One image (784,) in [0, 1] as the model codes it: its active atoms by activation, and the reconstruction as
    they are added one by one.

    {"atoms": [(index, activation), …] highest first, "pictures": their atoms (n, 28, 28) uint8,
     "steps": the reconstruction after 1, 2, … n atoms (n, 784) in [0, 1], "reconstruction": (784,)} (n ≤ k: fewer
    if fewer fire).
    """
    model.eval()
    code = model.encode(digit.reshape(1, -1).float(), k)[0]  # (H,)
    active = code.nonzero().flatten()
    order = active[code[active].argsort(descending=True, stable=True)]
    partial = torch.zeros(len(order), len(code))  # row j keeps the j + 1 strongest atoms
    for j in range(len(order)):
        partial[j:, order[j]] = code[order[j]]
    steps = model.decode(partial) if len(order) else torch.empty(0, 784)
    return {
        "atoms": [(int(i), float(code[i])) for i in order],
        "pictures": atom_pictures(model.atoms()[order]),
        "steps": steps,
        # the reconstruction from every active atom (from none, if none fires: the decoder bias alone)
        "reconstruction": steps[-1] if len(order) else model.decode(torch.zeros(1, len(code)))[0],
    }
