"""What does tying cost? Tied/untied pairs across training-set size, latent size, depth and tied layers, over seeds.

    python study.py --data-dir ../shared/data       # the whole study: checkpoints/study.json and study.png
    python study.py --data-dir ../shared/data --axis latent   # one axis
    python study.py --data-dir ../shared/data --arch conv     # only the conv pairs (along training-set size)
    python study.py --quick                         # a tiny grid, one seed, in seconds (what CI runs)
    python study.py --list                          # one line per cell: its id, done or not
    python study.py --data-dir ../shared/data --cell mlp-latent-2-seed0   # one cell, into cells/<id>.json
    python study.py --merge-only                    # take the finished cells in, rewrite study.png and the README

MLP pairs are studied along every axis, conv pairs (tiedae's TiedConvAutoencoder and its untied
twin) along training-set size. The tied-layers axis ties one layer pair at a time, then all, for 784-400-20 and
784-1000-500-250-20 on all 60,000 images ('784-400-20:01' ties the inner pair: the untied twin beside it is
'none'); the classic axis is Hinton & Salakhutdinov's 784-1000-500-250-30, plain reconstruction, 60,000 images. Every pair is trained by tiedae.training.run, the loop train.py runs, from one Recipe: both models see the same data,
order, noise, optimizer, schedule and number of optimizer steps (STEPS in every cell, so small
training sets get more epochs). Both are evaluated on the full test set, clean and with
Gaussian noise σ = 0.5 (train.py's fixed test noise). Rows go to study.json as each pair
finishes, so an interrupted run resumes where it stopped; each row carries the train.py
command that reproduces its model and numbers on its own. The summary (mean ± std per model
and the paired difference untied − tied, per seed), the figure and the README section are
made from study.json.

A cell is one pair (family, axis, value, seed). `--cell ID` trains only that cell and writes its rows to
cells/ID.json beside study.json, then merges every cell file into study.json (under a lock, so cells
can run at once: on one machine with GNU parallel or xargs -P, on a cluster as a job array). A cell
already in study.json or in its file is not trained again; a cell killed halfway leaves nothing, and
its rerun trains it from the start (same seed, same numbers). A plain run (no --cell) takes in every
cell file, trains what is left, and rewrites study.png and the README section.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from tqdm import tqdm

import train
from tiedae import training
from tiedae.constants import MNIST_TRAIN_IMAGES, MODEL_NAMES
from tiedae.families import FAMILIES, FIRST_FAMILY
from tiedae.model import count_parameters
from tiedae.recipe import Recipe
from tiedae.study import (
    AXES,
    CODE_METRICS,
    K_AXES,
    NOISY,
    NOISY_METRIC,
    SHIPPED,
    STUDY_FILE,
    STUDY_TRAIN_SIZE,
    StudyError,
    classic_comparison,
    load_study,
    row_arch,
    setting_of,
    study_archs,
    study_finding,
    summarize,
    value_label,
)

FIGURE_FILE = "study.png"
UNORDERED_AXES = ("tie", "classic")  # axes whose values are separate settings, drawn as points without lines
SEEDS = (0, 1, 2)
BASES = {  # each family's base recipe: its shipped pair's shape (with the study's own changes) on the study's data
    arch: Recipe.for_arch(arch, train_size=STUDY_TRAIN_SIZE, **family.study_shape) for arch, family in FAMILIES.items()
}
BASE = BASES[FIRST_FAMILY]  # the setting the first three axes share: 784-400-20 on 10,000 images
STEPS = 4_740  # optimizer steps per model in every cell: 60 epochs of 10,000 images at batch size 128
ALL_IMAGES = MNIST_TRAIN_IMAGES  # the tied-layers and classic axes' training images: all of MNIST
CLASSIC_EPOCHS = 20  # the classic deep autoencoder: 20 epochs of all 60,000 images (9,380 steps), plain reconstruction
QUICK_AXES = {
    "train_size": [200, 400],
    "latent": [2, 20],
    "depth": ["784-400-20", "784-64-32-20"],
    "tie": ["784-64-32-20:010", "784-64-32-20:111"],
    "classic": ["784-64-32-8"],
    "k": [4, 16],
    "k_random": [4],
}
QUICK_STEPS = 8
QUICK_ALL_IMAGES = 1_000  # the 60,000-image axes in a quick run: seconds, not minutes
README_START, README_END = "<!-- study:start -->", "<!-- study:end -->"


def cell_recipe(axis: str, value, seed: int, *, steps: int = STEPS, base: Recipe = BASE, all_images: int = ALL_IMAGES) -> Recipe:
    """The recipe of one cell: the base with this axis set to `value`, as many epochs as `steps` takes.

    The tied-layers axis ('784-400-20:01': the shape, then the tie mask) and the classic autoencoder train on
    `all_images`; the classic one reconstructs clean digits (no noise), for CLASSIC_EPOCHS epochs."""
    sizes, train_size, changes = base.sizes, base.train_size, {}
    if axis == "train_size":
        train_size = int(value)
    elif axis == "latent":
        sizes = (*base.sizes[:-1], int(value))
    elif axis == "depth":
        sizes = tuple(int(s) for s in str(value).split("-"))
    elif axis == "tie":
        shape, mask = str(value).split(":")
        sizes, train_size = tuple(int(s) for s in shape.split("-")), all_images
        changes["tie"] = "all" if set(mask) == {"1"} else mask  # fully tied: the same command as every other axis's
    elif axis == "classic":
        sizes, train_size = tuple(int(s) for s in str(value).split("-")), all_images
        changes = {"denoise": False, "epochs": CLASSIC_EPOCHS if steps == STEPS else 1}
    elif axis in K_AXES:  # a sparse pair reconstructs clean digits, as sparse autoencoders are trained
        train_size = all_images
        changes = {"k": int(value), "decoder_init": K_AXES[axis], "denoise": False}
    else:
        raise ValueError(f"unknown axis {axis!r}; choose one of {', '.join(AXES)}")
    epochs = changes.pop("epochs", max(1, round(steps / base.batches_per_epoch(train_size))))
    return dataclasses.replace(base, sizes=sizes, train_size=train_size, epochs=epochs, seed=seed, **changes)


CELLS_DIR = "cells"  # beside study.json: one file per cell run with --cell


def cell_id(arch: str, axis: str, value, seed: int) -> str:
    """A cell's name on the command line and in cells/: 'mlp-latent-2-seed0'."""
    return f"{arch}-{axis}-{value}-seed{seed}"


def study_cells(grid: dict, archs: list[str], axes: list[str], seeds: list[int]) -> list[tuple]:
    """Every (family, axis, value, seed) of the study, in the order a plain run trains them."""
    return [
        (arch, axis, value, seed)
        for arch in archs
        for axis in axes
        if axis in FAMILIES[arch].study_axes
        for value in grid[axis]
        for seed in seeds
    ]


def finished_cells(rows: list[dict]) -> set[tuple]:
    """The cells with both models' rows."""
    keys = {name: {(row_arch(r), r["axis"], r["value"], r["seed"]) for r in rows if r["model"] == name} for name in MODEL_NAMES}
    return set.intersection(*keys.values())


@contextlib.contextmanager
def study_lock(path: Path):
    """Held while study.json is read, merged and written: cells finishing at once each add their rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def merge_cells(path: Path, meta: dict) -> list[dict]:
    """study.json's rows with every cells/*.json file's added (once), written back; the merged rows."""
    with study_lock(path):
        previous = load_previous(path)
        rows = previous["rows"]
        have = {(row_arch(r), r["axis"], r["value"], r["seed"], r["model"]) for r in rows}
        added = False
        for cell_file in sorted((path.parent / CELLS_DIR).glob("*.json")):
            for row in json.loads(cell_file.read_text())["rows"]:
                key = (row_arch(row), row["axis"], row["value"], row["seed"], row["model"])
                if key not in have:
                    rows.append(row)
                    have.add(key)
                    added = True
        if added or not path.exists():
            save_rows(path, rows, {**meta, "wall_seconds": previous.get("wall_seconds", meta.get("wall_seconds"))})
    return rows


def load_previous(path: Path) -> dict:
    """The study.json written so far ({"rows": []} if there is none); a damaged file is an error, not a restart."""
    if not path.exists():
        return {"rows": []}
    try:
        return load_study(path)
    except StudyError as e:
        raise SystemExit(f"error: {e}; move it away to start afresh") from None


def save_rows(path: Path, rows: list[dict], meta: dict) -> None:
    """Write study.json atomically (a temp file, then a rename), so an interruption never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({**meta, "rows": rows}, indent=1))
    tmp.replace(path)


def run_cell(recipe: Recipe, x_train: torch.Tensor, x_test: torch.Tensor, test_sets: dict, device, command: str) -> list[dict]:
    """Train one pair with `recipe`; one row per model (without axis and value); `command` reproduces it."""
    x = x_train[: recipe.train_size].reshape(-1, x_train[0].numel()).to(device)  # (N, 28, 28) -> (N, 784)
    models, seconds = training.run(recipe, x, x_test.reshape(len(x_test), -1).to(device), device, quiet=True)
    rows = []
    for name, model in models.items():
        model = model.cpu()
        errors = training.test_mse(model, test_sets["clean"], test_sets["noisy"])
        code = {key: value for key, value in model.code_report(test_sets["clean"]).items() if key in CODE_METRICS}
        rows.append(
            {
                "arch": recipe.arch,
                **({"channels": list(recipe.channels)} if "channels" in recipe.model_kwargs() else {}),
                "sizes": list(recipe.sizes),
                "train_size": recipe.train_size,
                **({"tie": model.tie} if model.tie else {}),
                "model": name,
                "seed": recipe.seed,
                "parameters": count_parameters(model),
                "test_mse_clean": errors["clean"],
                NOISY_METRIC: errors["noisy"],
                **code,  # a sparse model's dead atoms
                **({"k": model.k} if "k" in recipe.model_kwargs() else {}),
                "seconds": round(seconds, 1),
                "epochs": recipe.epochs,
                "command": command,
            }
        )
    return rows


def readme_section(rows: list[dict]) -> str:
    """The README's study section (between its markers): the finding, and a table per architecture and axis."""
    lines = [README_START, "", study_finding(rows), ""]
    for arch in study_archs(rows):
        for axis, cells in summarize(rows, arch).items():
            shared = sum(axis in family.study_axes for family in FAMILIES.values()) > 1  # then name the family
            what = f"{AXES[axis][0]} ({FAMILIES[arch].label})" if shared and arch != FIRST_FAMILY else AXES[axis][0]
            dead = all("dead_fraction" in cell for cell in cells)
            lines += [
                f"| {what} | tied, clean | untied, clean | untied − tied | tied, σ = 0.5 | untied, σ = 0.5 | untied − tied |"
                + (" tied, dead atoms | untied, dead atoms |" if dead else ""),
                "|---|---|---|---|---|---|---|" + ("---|---|" if dead else ""),
            ]
            for cell in cells:
                row = [value_label(cell["value"])]
                for metric in ("test_mse_clean", NOISY_METRIC):
                    row += [f"{cell[metric][k][0]:.5f} ± {cell[metric][k][1]:.5f}" for k in ("tied", "untied")]
                    row.append(f"{cell[metric]['diff'][0]:+.5f} ± {cell[metric]['diff'][1]:.5f}")
                if dead:
                    row += [
                        f"{100 * cell['dead_fraction'][k][0]:.1f}% ± {100 * cell['dead_fraction'][k][1]:.1f}%"
                        for k in ("tied", "untied")
                    ]
                lines.append("| " + " | ".join(row) + " |")
            lines.append("")
            if axis == "classic":
                lines += [classic_comparison(cells[0]), ""]
    lines.append(README_END)
    return "\n".join(lines)


def update_readme(readme: Path, rows: list[dict]) -> bool:
    """Replace the README's study section with one made from the study's rows; False if the markers are missing."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return False
    before, rest = text.split(README_START, 1)
    after = rest.split(README_END, 1)[1]
    readme.write_text(before + readme_section(rows) + after)
    return True


def study_figure(rows: list[dict], *, shipped: dict | None = None):
    """One panel per axis: each pair's clean test MSE, mean ± std over seeds (conv dashed); the shipped setting marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tiedae.plots import STYLES, log_panel

    summaries = {arch: summarize(rows, arch) for arch in study_archs(rows)}
    axes_shown = [axis for axis in AXES if any(axis in summary for summary in summaries.values())]
    columns = min(3, len(axes_shown))  # rows of three panels: the tied-layers axis's labels need the width
    rows_of_panels = -(-len(axes_shown) // columns)
    fig, axes = plt.subplots(
        rows_of_panels, columns, figsize=(5.2 * columns, 4.0 * rows_of_panels), squeeze=False, layout="constrained"
    )
    for ax in axes.flat[len(axes_shown) :]:
        ax.set_visible(False)
    for ax, axis in zip(axes.flat, axes_shown):
        settings = []  # every value on this axis, in study order
        for summary in summaries.values():
            settings += [c["value"] for c in summary.get(axis, []) if c["value"] not in settings]
        for arch, summary in summaries.items():
            cells = summary.get(axis, [])
            positions = [settings.index(c["value"]) for c in cells]
            for name in MODEL_NAMES:
                means = [c["test_mse_clean"][name][0] for c in cells]
                stds = [c["test_mse_clean"][name][1] for c in cells]
                style = {**STYLES[name], **FAMILIES[arch].plot_style}
                if axis in UNORDERED_AXES:  # separate settings, not a scale: no line from one to the next
                    style["linestyle"] = "none"
                label = FAMILIES[arch].chart_labels()[name]
                ax.errorbar(positions, means, yerr=stds, capsize=3, label=label, **style)
        if shipped is not None and shipped.get(axis) in settings:
            ax.axvline(settings.index(shipped[axis]), color="#888", linestyle=":", linewidth=1)
        ax.set_xticks(range(len(settings)), [value_label(v) for v in settings], rotation=30, ha="right")
        log_panel(ax, AXES[axis][0], "clean test MSE (mean ± std)")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("What does tying cost? (dotted: the shipped setting)")
    return fig


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=train.HelpFormatter)
    p.add_argument("--data-dir", default="./data", help="MNIST root (torchvision layout MNIST/raw/)")
    p.add_argument(
        "--out", default=None, help="folder for study.json and study.png (default: checkpoints, or a temp dir with --quick)"
    )
    p.add_argument("--axis", choices=tuple(AXES), action="append", help="run only this axis (repeatable; default: all)")
    p.add_argument(
        "--arch",
        choices=tuple(FAMILIES),
        action="append",
        help="run only this family's pairs (repeatable; default: all; each along its own axes: "
        + "; ".join(f"{name}: {', '.join(family.study_axes)}" for name, family in FAMILIES.items())
        + ")",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="seeds per cell")
    p.add_argument("--device", default="auto", help="cpu, cuda, mps, … or auto")
    p.add_argument("--quick", action="store_true", help="a tiny grid, one seed, 1,000 test images, in seconds (CI)")
    p.add_argument("--readme", default="README.md", help="README whose study section is rewritten from the results ('' to skip)")
    p.add_argument("--list", action="store_true", help="print one line per cell (its id, done or to do) and stop")
    p.add_argument("--cell", metavar="ID", default=None, help="train only this cell (an id from --list) into cells/ID.json")
    p.add_argument(
        "--merge-only",
        action="store_true",
        help="take every finished cell in (cells/*.json), rewrite study.png and the README section; train nothing",
    )
    args = p.parse_args(argv)

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="tiedae-study-") if args.quick else "checkpoints")
    grid = {axis: QUICK_AXES.get(axis, []) if args.quick else values for axis, (_, values) in AXES.items()}
    axes = args.axis or list(AXES)
    archs = args.arch or list(FAMILIES)
    seeds = args.seeds[:1] if args.quick else args.seeds
    steps = QUICK_STEPS if args.quick else STEPS
    path = out / STUDY_FILE
    cells = study_cells(grid, archs, axes, seeds)
    ids = {cell_id(*cell): cell for cell in cells}
    if args.list:
        rows = load_previous(path)["rows"]
        cell_files = {f.stem for f in (out / CELLS_DIR).glob("*.json")}
        done = finished_cells(rows)
        for name, cell in ids.items():
            print(f"{name}\t{'done' if cell in done or name in cell_files else 'to do'}")
        return 0
    if args.cell is not None and args.cell not in ids:
        p.error(f"--cell {args.cell!r} is not a cell of this study; `study.py --list` names them")
    if args.merge_only:  # the study so far, cells from any machine included: no data, no training
        previous = load_previous(path)
        rows = merge_cells(path, {key: value for key, value in previous.items() if key != "rows"})
        if not rows:
            print(f"error: no rows in {path} and no cell files in {out / CELLS_DIR}", file=sys.stderr)
            return 1
        write_report(out, rows, readme="" if args.quick else args.readme)
        return 0
    try:
        x_train, x_test = training.load_mnist(args.data_dir)
    except training.TrainError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.quick:
        x_test = x_test[:1000]
    device = training.pick_device(args.device)
    training.configure_threads()
    precision = training.pick_precision(BASE.precision, device)
    bases = {  # each architecture's base recipe, on this device and the training images here
        arch: dataclasses.replace(base, precision=precision, train_size=min(base.train_size, len(x_train)))
        for arch, base in BASES.items()
    }
    clean = x_test.reshape(len(x_test), -1).float().div(255)  # (N, 28, 28) -> (N, 784)
    test_sets = {"clean": clean, "noisy": training.noisy_test_set(clean, *NOISY)}

    previous = load_previous(path)
    previous_seconds = previous.get("wall_seconds") if previous["rows"] else 0.0  # None: a file from before it was kept
    meta = {
        "about": "tied vs untied autoencoders across training-set size, latent size, depth and which layers are tied, and the "
        "classic deep autoencoder; one row per (axis, value, model, seed)",
        "steps": steps,
        "test_size": len(x_test),
        "data": f"MNIST training images from {args.data_dir} ({len(x_train):,} available), full test set"
        if not args.quick
        else "quick run",
        "wall_seconds": previous_seconds,  # training and evaluating every pair so far, over all resumed runs
    }
    rows = merge_cells(path, meta)  # cells run on their own (--cell), here or elsewhere, count as done
    done = finished_cells(rows)
    todo = [cell for cell in ([ids[args.cell]] if args.cell else cells) if cell not in done]
    print(f"{len(done)} pairs already in {path}; {len(todo)} to train ({steps} steps each, {precision}, {device})")
    all_images = min(QUICK_ALL_IMAGES, len(x_train)) if args.quick else ALL_IMAGES
    for arch, axis, value, seed in tqdm(todo, desc="study", unit="pair", disable=None):
        cell_start = time.perf_counter()
        recipe = cell_recipe(axis, value, seed, steps=steps, base=bases[arch], all_images=all_images)
        if recipe.train_size > len(x_train):
            print(f"skipping {arch} {axis}={value}: only {len(x_train):,} training images here", file=sys.stderr)
            continue
        tag = f"{FAMILIES[arch].result_prefix.replace('_', '-')}{axis}-{value.replace(':', '-tie') if isinstance(value, str) else value}-seed{seed}"
        command = f"{recipe.command(args.data_dir)} --out runs/{tag}"  # not over the shipped checkpoints
        same = {  # the same training on another axis (784-400-20 at 10,000 images is on three): one row per model
            r["model"]: r
            for r in rows
            if row_arch(r) == arch and r["seed"] == seed and setting_of(r["command"]) == setting_of(command)
        }
        if set(same) == set(MODEL_NAMES):
            new = [{**same[name], "axis": axis, "value": value} for name in MODEL_NAMES]
        else:
            new = [{"axis": axis, "value": value, **r} for r in run_cell(recipe, x_train, x_test, test_sets, device, command)]
            tqdm.write(
                f"{arch} {axis}={value} seed {seed}: tied {new[0]['test_mse_clean']:.5f}, untied {new[1]['test_mse_clean']:.5f} "
                f"({time.perf_counter() - cell_start:.0f}s)"
            )
        if args.cell:  # its own file first (the cell is done even if the merge is interrupted), then study.json
            save_rows(
                out / CELLS_DIR / f"{args.cell}.json",
                new,
                {"cell": args.cell, "seconds": round(time.perf_counter() - cell_start, 1)},
            )
            rows = merge_cells(path, meta)
            continue
        rows += new
        if meta["wall_seconds"] is not None:
            meta["wall_seconds"] = round(meta["wall_seconds"] + time.perf_counter() - cell_start, 1)
        save_rows(path, rows, meta)
    if args.cell:
        print(f"cell {args.cell}: {'trained' if todo else 'already done'}; rows in {path}")
        return 0
    save_rows(path, rows, meta)

    write_report(out, rows, readme="" if args.quick else args.readme)
    return 0


def write_report(out: Path, rows: list[dict], *, readme: str) -> None:
    """study.png, the finding, and the README's study section (unless readme is ''), from the rows."""
    fig = study_figure(rows, shipped=SHIPPED)
    fig.savefig(out / FIGURE_FILE, dpi=100)
    print(study_finding(rows))
    print(f"wrote {out / STUDY_FILE} and {out / FIGURE_FILE}")
    if readme and update_readme(Path(readme), rows):
        print(f"rewrote the study section of {readme}")


if __name__ == "__main__":
    sys.exit(main())
