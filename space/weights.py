"""The weights section: every family's first layer as tiles, the tied model's one set beside the untied twin's two."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import tiedae  # torch-free until first use
from space.models import shipped_pairs
from space.pictures import png_file
from space.side_by_side import COUNTS
from tiedae.families import FAMILIES

MODEL_SOURCE = Path(importlib.util.find_spec("tiedae.model").origin)  # read, not imported: it imports torch
TIE_LINES = [line.strip() for line in MODEL_SOURCE.read_text().splitlines() if "THE TIE" in line]  # one per family


@functools.cache
def weight_images() -> tuple[str | None, ...]:
    """Every family's first-layer weights as tiles, drawn on first view: the tied weight, the untied encoder's and
    decoder's (None for a family whose pair is missing)."""
    pairs = shipped_pairs()
    files = []
    for arch, family in FAMILIES.items():
        if arch not in pairs:
            files += [None] * len(family.tile_labels)
            continue
        tied, untied = (pairs[arch].models[name] for name in ("tied", "untied"))
        weights = {
            "tied": family.first_layer(tied)[0],
            **dict(zip(("untied-encoder", "untied-decoder"), family.first_layer(untied))),
        }
        for name, weight in weights.items():
            files.append(png_file(tiedae.plots.weight_tiles(weight, **family.tile_options), f"weights-{arch}-{name}"))
    return tuple(files)


def how_tying_works() -> str:
    """The "How tying works" section: each family's tie in words, the lines of tiedae/model.py that do it, and the
    common mistakes."""
    return (
        "\n\n".join(family.how_it_ties for family in FAMILIES.values())
        + f"\n\nThe {COUNTS.get(len(TIE_LINES), len(TIE_LINES)).lower()} lines in `tiedae/model.py` that do it:\n\n```python\n"
        + "\n".join(TIE_LINES)
        + "\n```\n\n"
        "Tying is chosen per layer pair: a model may tie only some of them (in live training, *Tied layers*; in code, "
        '`TiedAutoencoder(sizes=[784, 400, 20], tie="inner")` ties 400 ↔ 20 and gives 784 ↔ 400 a decoder weight of its '
        "own). The shipped pairs tie every layer pair or none.\n\n"
        "Common mistakes: assigning `decoder.weight = encoder.weight` (wrong shape), wrapping "
        "`nn.Parameter(encoder.weight.t())` (a second, independent parameter), or copying the transpose "
        "after each step (two parameters, the decoder's gradient thrown away); for conv layers, a copied, "
        "detached or re-wrapped kernel (the encoder's kernel then misses the decoder's gradient)."
    )
