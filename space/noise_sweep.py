"""The noise sweep: the shipped pair's test-set MSE against noise level, from the checkpoints' metrics.json."""

from __future__ import annotations

import functools

import numpy as np

import tiedae  # torch-free until first use
from space.errors import refused
from space.models import shipped_models
from space.pictures import png_file


def sweep_results(metrics: dict[str, dict | None]) -> dict[str, dict] | None:
    """Both models' test sweeps plus PCA and the noisy input, from the metrics.json files."""
    if not all(metrics.values()):
        return None
    try:
        first = next(iter(metrics.values()))
        results = {name: m["test"] for name, m in metrics.items()}
        results["pca"] = first["pca"]
        results["noisy_input"] = first["noisy_input"]
        return results
    except (KeyError, TypeError):
        return None


def noise_sweep_image(metrics: dict[str, dict | None]) -> np.ndarray | None:
    """The noise-sweep chart rendered to an RGB array, or None if metrics are missing."""
    results = sweep_results(metrics)
    return None if results is None else tiedae.plots.sweep_image(results)


@functools.cache
def sweep_chart() -> str:
    """Drawn on first view, not at start-up: matplotlib costs a second the first page does not need."""
    chart = noise_sweep_image(shipped_models().metrics)
    if chart is None:
        raise refused("No usable metrics.json beside the checkpoints, so there is no sweep to show.")
    return png_file(chart, "noise-sweep")
