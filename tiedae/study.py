"""The study's results as data: read study.json, summarise it (mean ± std over seeds), say what it found.

`study.py` (top level) trains the pairs and writes study.json; the README section, study.png,
the app's curves and the model cards are all made from it through these functions, so
changing the file changes every one of them.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from tiedae.constants import DEFAULT_SIZES, MODEL_NAMES
from tiedae.families import FAMILIES, FIRST_FAMILY

STUDY_FILE = "study.json"
AXES = {  # axis -> (what it varies, its values)
    "train_size": ("training images", [500, 1_000, 2_000, 5_000, 10_000]),
    "latent": ("latent size", [2, 5, 10, 20, 50, 100]),
    "depth": ("layer sizes", ["784-400-20", "784-512-256-20", "784-1000-500-250-20"]),
}
SHIPPED_TRAIN_SIZE = 10_000  # the shipped checkpoints' training images (all that is available offline)
SHIPPED = {"train_size": SHIPPED_TRAIN_SIZE, "latent": DEFAULT_SIZES[-1], "depth": "-".join(map(str, DEFAULT_SIZES))}
NOISY = ("gaussian", 0.5)
NOISY_METRIC = f"test_mse_{NOISY[0]}_{NOISY[1]}"
METRICS = {"test_mse_clean": "clean test MSE", NOISY_METRIC: "test MSE at Gaussian σ = 0.5"}


class StudyError(ValueError):
    """study.json is missing or is not a study file."""


def load_study(path: Path) -> dict:
    """A study.json: {"steps", "rows", …}; a missing or damaged file is a StudyError naming it."""
    try:
        study = json.loads(Path(path).read_text())
        rows = study["rows"]
    except FileNotFoundError:
        raise StudyError(f"{path}: no study results (run study.py to make them)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise StudyError(f"{path} is not a study file ({type(e).__name__}: {e})") from None
    needed = {"axis", "value", "model", "seed", "parameters", *METRICS}
    if not isinstance(rows, list) or not all(isinstance(r, dict) and needed <= set(r) for r in rows):
        raise StudyError(f"{path}: 'rows' must be a list of objects with {', '.join(sorted(needed))}")
    return study


def row_arch(row: dict) -> str:
    """A row's model family (rows written before rows named theirs are the first family's)."""
    return row.get("arch", FIRST_FAMILY)


def study_archs(rows: list[dict]) -> list[str]:
    """The families with rows, in the family table's order."""
    present = {row_arch(row) for row in rows}
    return [arch for arch in FAMILIES if arch in present]


def summarize(rows: list[dict], arch: str = FIRST_FAMILY) -> dict[str, list[dict]]:
    """{axis: [{value, seeds, parameters, metric: {tied, untied, diff: (mean, std)}}, …]} of one architecture's rows;
    diff is untied − tied per seed."""
    summary: dict[str, list[dict]] = {}
    rows = [row for row in rows if row_arch(row) == arch]
    for axis in AXES:
        values = []
        for row in rows:
            if row["axis"] == axis and row["value"] not in values:
                values.append(row["value"])
        cells = []
        for value in values:
            by_seed: dict[int, dict[str, dict]] = {}
            for row in rows:
                if row["axis"] == axis and row["value"] == value:
                    by_seed.setdefault(row["seed"], {})[row["model"]] = row
            pairs = [seed for seed, pair in sorted(by_seed.items()) if set(pair) == set(MODEL_NAMES)]
            if not pairs:
                continue
            cell = {"value": value, "seeds": pairs}
            for metric in METRICS:
                stats = {name: mean_std([by_seed[s][name][metric] for s in pairs]) for name in MODEL_NAMES}
                stats["diff"] = mean_std([by_seed[s]["untied"][metric] - by_seed[s]["tied"][metric] for s in pairs])
                cell[metric] = stats
            cell["parameters"] = {name: by_seed[pairs[0]][name]["parameters"] for name in MODEL_NAMES}
            cells.append(cell)
        if cells:
            summary[axis] = cells
    return summary


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def value_label(value) -> str:
    """A setting's value as tables and charts show it: '10,000', '20', '784-400-20'."""
    return f"{value:,}" if isinstance(value, int) else str(value)


def describe(axis: str, value) -> str:
    """A setting in words: '1,000 training images', 'a 2-D code', '784-400-20 layers'."""
    if axis == "train_size":
        return f"{value:,} training images"
    return f"a {value}-D code" if axis == "latent" else f"{value} layers"


def study_finding(rows: list[dict], metric: str = "test_mse_clean") -> str:
    """The study's answer for every family it holds, in the table's order, each in a sentence or two."""
    archs = study_archs(rows)
    if len(archs) == 1:
        return finding(summarize(rows, archs[0]), metric)
    parts = [f"{FAMILIES[arch].label} pairs: {finding(summarize(rows, arch), metric)}" for arch in archs]
    return " ".join(parts) or finding({}, metric)


def finding(summary: dict[str, list[dict]], metric: str = "test_mse_clean") -> str:
    """One architecture's answer in a sentence or two, for `metric`, made from the numbers (nothing typed by hand)."""
    cells = [(axis, cell) for axis, axis_cells in summary.items() for cell in axis_cells]
    if not cells:
        return "No results yet."
    # The shipped setting sits on every axis; count each distinct setting once.
    distinct = {}
    for axis, cell in cells:
        key = "shipped" if cell["value"] == SHIPPED[axis] else (axis, cell["value"])
        distinct.setdefault(key, (axis, cell))
    cells = list(distinct.values())

    def relative(cell):  # untied − tied, relative to tied: negative when untying helps
        return cell[metric]["diff"][0] / cell[metric]["tied"][0]

    def clear(cell):  # the paired difference is at least twice its spread over seeds
        mean, std = cell[metric]["diff"]
        return len(cell["seeds"]) > 1 and abs(mean) > 2 * std

    untied_wins = [(a, c) for a, c in cells if relative(c) < 0 and clear(c)]
    tied_wins = [(a, c) for a, c in cells if relative(c) > 0 and clear(c)]
    seeds = max(len(c["seeds"]) for _, c in cells)
    if seeds < 2:
        return (
            f"{len(cells)} setting{'s' if len(cells) > 1 else ''} with one seed each: the untied model has the lower {METRICS[metric]} in "
            f"{sum(relative(c) < 0 for _, c in cells)}; with one seed there is no spread to tell a real gap from chance."
        )
    parts = [
        f"Over {len(cells)} distinct setting{'s' if len(cells) > 1 else ''} and {seeds} seeds each, the untied model "
        f"(twice the weights) has the lower {METRICS[metric]} in {len(untied_wins)}, the tied model in {len(tied_wins)}, "
        f"and in {len(cells) - len(untied_wins) - len(tied_wins)} the gap is within twice its spread over seeds."
    ]
    if untied_wins:
        axis, cell = min(untied_wins, key=lambda ac: relative(ac[1]))
        parts.append(f"Tying costs most at {describe(axis, cell['value'])}: untied {-100 * relative(cell):.1f}% lower.")
    if tied_wins:
        axis, cell = max(tied_wins, key=lambda ac: relative(ac[1]))
        parts.append(f"Tying helps most at {describe(axis, cell['value'])}: tied {100 * relative(cell):.1f}% lower.")
    return " ".join(parts)


def shipped_cell(summary: dict[str, list[dict]]) -> dict | None:
    """The study's cell at the shipped setting (784-400-20, 10,000 images), if it ran."""
    for axis, cells in summary.items():
        for cell in cells:
            if cell["value"] == SHIPPED[axis]:
                return cell
    return None
