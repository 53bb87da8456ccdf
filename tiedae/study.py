"""The study's results as data: read study.json, summarise it (mean ± std over seeds), say what it found.

`study.py` (top level) trains the pairs and writes study.json; the README section, study.png,
the app's curves and the model cards are all made from it through these functions, so
changing the file changes every one of them.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from tiedae.constants import DEFAULT_SIZES, HINTON_2006_PER_IMAGE, MNIST_PIXELS, MNIST_TRAIN_IMAGES, MODEL_NAMES
from tiedae.families import FAMILIES, FIRST_FAMILY
from tiedae.ties import describe_tie

STUDY_FILE = "study.json"
TIE_SHAPES = ("784-400-20", "784-1000-500-250-20")  # the tied-layers axis: a shallow and a deep MLP


def tie_values(shape: str) -> list[str]:
    """The tied-layers axis at one shape: each single layer pair tied (the last, inner-only, is the source's
    model), then all of them; 'none' is the untied twin beside every one. '784-400-20:01' ties the inner pair."""
    pairs = shape.count("-")
    singles = ["".join("1" if i == j else "0" for i in range(pairs)) for j in range(pairs)]
    return [f"{shape}:{mask}" for mask in [*singles, "1" * pairs]]


AXES = {  # axis -> (what it varies, its values)
    "train_size": ("training images", [500, 1_000, 2_000, 5_000, 10_000, 20_000, 60_000]),
    "latent": ("latent size", [2, 5, 10, 20, 50, 100]),
    "depth": ("layer sizes", ["784-400-20", "784-512-256-20", "784-1000-500-250-20"]),
    "tie": ("tied layers (60,000 images)", [value for shape in TIE_SHAPES for value in tie_values(shape)]),
    "classic": ("the classic deep autoencoder (plain, 60,000 images)", ["784-1000-500-250-30"]),
    # the sparse pairs, plain reconstruction on all 60,000 images: its untied twin started as W.t(), or at random
    "k": ("atoms kept, k (sparse; untied started as W.t())", [4, 8, 16, 32, 64]),
    "k_random": ("atoms kept, k (sparse; untied started at random)", [4, 8, 16, 32, 64]),
}
K_AXES = {"k": "transpose", "k_random": "random"}  # each k axis's decoder_init for the untied twin
STUDY_TRAIN_SIZE = 10_000  # the latent and depth axes' training images (the study began when only these were here)
SHIPPED_TRAIN_SIZE = MNIST_TRAIN_IMAGES  # the shipped checkpoints' training images
# the setting the first three axes share (784-400-20, a 20-D code, 10,000 images): each axis's cell there is one pair
BASE_SETTING = {"train_size": STUDY_TRAIN_SIZE, "latent": DEFAULT_SIZES[-1], "depth": "-".join(map(str, DEFAULT_SIZES))}
SHIPPED = {"train_size": SHIPPED_TRAIN_SIZE}  # where the shipped pair sits on the study's axes (the charts' diamonds)
NOISY = ("gaussian", 0.5)
NOISY_METRIC = f"test_mse_{NOISY[0]}_{NOISY[1]}"
METRICS = {"test_mse_clean": "clean test MSE", NOISY_METRIC: "test MSE at Gaussian σ = 0.5"}
CODE_METRICS = {"dead_fraction": "dead atoms (share never used on the test set)"}  # rows of models with a code_report
CHART_METRICS = {**METRICS, **CODE_METRICS}


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
        order = AXES[axis][1]  # the axis's own order, whatever order the cells finished in (values not in it last)
        values.sort(key=lambda v: order.index(v) if v in order else len(order))
        cells = []
        for value in values:
            by_seed: dict[int, dict[str, dict]] = {}
            for row in rows:
                if row["axis"] == axis and row["value"] == value:
                    by_seed.setdefault(row["seed"], {})[row["model"]] = row
            pairs = [seed for seed, pair in sorted(by_seed.items()) if set(pair) == set(MODEL_NAMES)]
            if not pairs:
                continue
            cell = {
                "value": value,
                "seeds": pairs,
                "setting": setting_of(by_seed[pairs[0]]["tied"].get("command", f"{axis}={value}")),
            }
            measured = [m for m in CHART_METRICS if all(m in by_seed[s][name] for s in pairs for name in MODEL_NAMES)]
            for metric in measured:
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
    """A setting's value as tables and charts show it: '10,000', '20', '784-400-20', '784-400-20 tie 01'."""
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace(":", " tie ")


def describe(axis: str, value) -> str:
    """A setting in words: '1,000 training images', 'a 2-D code', '784-400-20 layers'."""
    if axis == "train_size":
        return f"{value:,} training images"
    if axis == "tie":
        shape, mask = str(value).split(":")
        return f"{shape} tying {describe_tie(mask)}"
    if axis == "classic":
        return f"the classic {value} autoencoder"
    if axis in K_AXES:
        return f"k = {value} (the untied twin started {'as W.t()' if K_AXES[axis] == 'transpose' else 'at random'})"
    return f"a {value}-D code" if axis == "latent" else f"{value} layers"


def setting_of(command: str) -> str:
    """A row's training setting: its train.py command without the seed and the output folder (the same setting on
    two axes, such as 784-400-20 at 10,000 images, is one setting)."""
    words, kept = command.split(), []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in ("--seed", "--out"):
            skip = True
        else:
            kept.append(word)
    return " ".join(kept)


def study_finding(rows: list[dict], metric: str = "test_mse_clean") -> str:
    """The study's answer for every family it holds, in the table's order, each in a sentence or two."""
    archs = study_archs(rows)
    if len(archs) == 1:
        summary = summarize(rows, archs[0])
        return " ".join(filter(None, [finding(summary, metric), dead_atoms_finding(summary)]))
    parts = []
    for arch in archs:
        summary = summarize(rows, arch)
        parts.append(
            " ".join(filter(None, [f"{FAMILIES[arch].label} pairs: {finding(summary, metric)}", dead_atoms_finding(summary)]))
        )
    return " ".join(parts) or finding({}, metric)


def dead_atoms_finding(summary: dict[str, list[dict]]) -> str:
    """What a sparse study says about dead atoms: tied against untied, at the k where they differ most ("" if none)."""
    parts = []
    for axis, cells in summary.items():
        cells = [c for c in cells if "dead_fraction" in c]
        if not cells:
            continue
        cell = max(cells, key=lambda c: abs(c["dead_fraction"]["diff"][0]))
        tied, untied = (100 * cell["dead_fraction"][name][0] for name in MODEL_NAMES)
        parts.append(
            f"Dead atoms differ most at {describe(axis, cell['value'])}: {tied:.1f}% of the tied model's, {untied:.1f}% of the untied one's."
        )
    return " ".join(parts)


def finding(summary: dict[str, list[dict]], metric: str = "test_mse_clean") -> str:
    """One architecture's answer in a sentence or two, for `metric`, made from the numbers (nothing typed by hand)."""
    cells = [(axis, cell) for axis, axis_cells in summary.items() for cell in axis_cells]
    if not cells:
        return "No results yet."
    # A setting can sit on several axes (784-400-20 at 10,000 images on the first three); count each once.
    distinct = {}
    for axis, cell in cells:
        distinct.setdefault(cell["setting"], (axis, cell))
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


def classic_comparison(cell: dict) -> str:
    """The classic deep autoencoder's cell beside Hinton & Salakhutdinov 2006's figure for the same shape."""
    theirs = HINTON_2006_PER_IMAGE["deep autoencoder 784-1000-500-250-30"] / MNIST_PIXELS
    ours = {name: cell["test_mse_clean"][name][0] for name in MODEL_NAMES}
    return (
        f"Hinton & Salakhutdinov 2006 report {theirs:.4f} per pixel (3.00 per test image) for {cell['value']}, "
        f"pretrained as stacked RBMs, its decoder started as the encoder's transpose and fine-tuned untied. Here, with "
        f"Adam from a random start ({len(cell['seeds'])} seeds): tied {ours['tied']:.4f} ({ours['tied'] / theirs:.1f}× theirs), "
        f"untied {ours['untied']:.4f} ({ours['untied'] / theirs:.1f}×)."
    )


def shipped_cell(summary: dict[str, list[dict]]) -> dict | None:
    """The study's cell at the shipped pair's shape and data (784-400-20 on all 60,000 images), if it ran."""
    for axis, cells in summary.items():
        for cell in cells:
            if SHIPPED.get(axis) == cell["value"]:
                return cell
    return None
