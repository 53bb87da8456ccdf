"""The study section: what tying costs across data, code size and depth, as one interactive chart per axis."""

from __future__ import annotations

import functools
from pathlib import Path

import tiedae  # torch-free until first use
from space.errors import refused
from space.models import shipped_models
from tiedae.constants import CHECKPOINTS, MODEL_NAMES
from tiedae.families import FAMILIES, FIRST_FAMILY
from tiedae.recipe import Recipe
from tiedae.study import (
    AXES,
    CHART_METRICS,
    METRICS,
    NOISY,
    STUDY_FILE,
    STUDY_TRAIN_SIZE,
    StudyError,
    load_study,
    study_finding,
    summarize,
)

CHART_ROWS = (("train_size", "latent", "depth"), ("tie", "classic"), ("k", "k_random"))  # how the page groups them


def chart_rows(axes) -> list[tuple[str, ...]]:
    """The study's axes in the page's rows: the sizes, then the tied layers and the classic autoencoder, then a
    sparse pair's k; any other axis in rows of three after them."""
    rows = [tuple(a for a in row if a in axes) for row in CHART_ROWS]
    rest = [a for a in axes if not any(a in row for row in CHART_ROWS)]
    rows += [tuple(rest[i : i + 3]) for i in range(0, len(rest), 3)]
    return [row for row in rows if row]


def shipped_point(metrics: dict[str, dict | None], metric: str) -> dict | None:
    """The loaded checkpoints' own test MSE for a study metric, with a label saying how they were trained."""
    kind, level = ("gaussian", 0.0) if metric == "test_mse_clean" else NOISY
    point = {}
    try:
        for name, m in metrics.items():
            point[name] = next(r["mse"] for r in m["test"][kind] if abs(r["level"] - level) < 1e-9)
        epochs = next(iter(metrics.values()))["recipe"]["epochs"]
    except (KeyError, TypeError, StopIteration):
        return None
    point["label"] = f"shipped checkpoint, {epochs} epochs"
    return point


BAR_HIDDEN = 0.02  # a ± std bar under 2% of its mean is shorter than its mark: 320-px charts span about 0.4-0.8 decades


def study_view(path: Path, metrics: dict[str, dict | None], metric: str = "test_mse_clean") -> tuple[str, list]:
    """The study as the app shows it: a caption made from study.json, and one chart per axis (StudyError if unusable)."""
    if metric not in CHART_METRICS:
        raise ValueError(f"metric must be one of {', '.join(CHART_METRICS)}, got {metric!r}")
    study = load_study(path)
    summaries = {arch: summarize(study["rows"], arch) for arch in FAMILIES}
    # only the cells that measured it (dead atoms: the sparse pairs')
    summaries = {
        arch: {axis: kept for axis, cells in summary.items() if (kept := [c for c in cells if metric in c])}
        for arch, summary in summaries.items()
    }
    shipped = shipped_point(metrics, metric) if metric in METRICS else None
    caption = study_finding(study["rows"], metric if metric in METRICS else next(iter(METRICS)))
    if "steps" in study:
        epochs = study["steps"] / Recipe().batches_per_epoch(STUDY_TRAIN_SIZE)
        caption += (
            f" Every pair trains {study['steps']:,} optimizer steps per model ({epochs:.0f} epochs at "
            f"{STUDY_TRAIN_SIZE:,} images), except the classic deep autoencoder's (longer: see the README)."
        )
    points = [cell[metric][name] for s in summaries.values() for cells in s.values() for cell in cells for name in MODEL_NAMES]
    hidden = sum(std < BAR_HIDDEN * mean for mean, std in points)
    caption += f" Lines are means over seeds ({CHART_METRICS[metric]}), bars ± one standard deviation"
    caption += f"; {hidden} of {len(points)} bars are shorter than their marks, hidden behind them." if hidden else "."
    dashed = [FAMILIES[arch].label for arch, summary in summaries.items() if summary and FAMILIES[arch].dash != (1, 0)]
    if dashed:
        caption += f" Dashed: the {' and '.join(dashed)} pairs."
    if shipped is not None:
        caption += f" Diamonds mark the {FAMILIES[FIRST_FAMILY].label} models above ({shipped['label']})."
    charts = [  # None for an axis with no cells yet: nothing to draw
        tiedae.plots.study_chart(summaries, axis, metric=metric, shipped=shipped)
        if any(axis in summary for summary in summaries.values())
        else None
        for axis in AXES
    ]
    return caption, charts


@functools.cache
def study_charts(metric: str) -> tuple:
    """The study's caption and one interactive chart per axis, from checkpoints/study.json (drawn on first view)."""
    if metric not in CHART_METRICS:
        raise refused(f"Unknown study metric {metric!r}; choose one of {', '.join(CHART_METRICS)}.")
    try:
        caption, charts = study_view(CHECKPOINTS / STUDY_FILE, shipped_models().metrics, metric)
    except StudyError as e:
        raise refused(str(e)) from None
    return caption, *charts  # None (an axis with no cells yet) leaves its plot empty
