"""The weights section: every family's first layer as tiles, the tied model's one set beside the untied twin's two."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import tiedae  # torch-free until first use
from space.models import shipped_pairs
from space.pictures import png_file
from tiedae.families import FAMILIES, FIRST_FAMILY

TILE_LABELS = ("Tied: encoder filters = decoder basis", "Untied: encoder filters", "Untied: decoder basis")
MODEL_SOURCE = Path(importlib.util.find_spec("tiedae.model").origin)  # read, not imported: it imports torch
TIE_LINES = [line.strip() for line in MODEL_SOURCE.read_text().splitlines() if "THE TIE" in line]  # one per family


def tile_labels(arch: str) -> tuple[str, ...]:
    """The three tiles' captions of a family: 'Tied conv: encoder filters = decoder basis', …"""
    first = "" if arch == FIRST_FAMILY else f" {FAMILIES[arch].label}"
    return tuple(label.replace(":", f"{first}:", 1) for label in TILE_LABELS)


@functools.cache
def weight_images() -> tuple[str | None, ...]:
    """Every family's first-layer weights as tiles, drawn on first view: the tied weight, the untied encoder's and
    decoder's (None for a family whose pair is missing)."""
    pairs = shipped_pairs()
    files = []
    for arch, family in FAMILIES.items():
        if arch not in pairs:
            files += [None] * len(TILE_LABELS)
            continue
        tied, untied = (pairs[arch].models[name] for name in ("tied", "untied"))
        weights = {
            "tied": family.first_layer(tied)[0],
            **dict(zip(("untied-encoder", "untied-decoder"), family.first_layer(untied))),
        }
        for name, weight in weights.items():
            files.append(png_file(tiedae.plots.weight_tiles(weight, **family.tile_options), f"weights-{arch}-{name}"))
    return tuple(files)
