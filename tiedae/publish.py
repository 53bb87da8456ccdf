"""Checkpoint folders and their Hub repos: weights, metrics, figures and model cards.

A checkpoint folder holds `model.safetensors`, `config.json`, `metrics.json` (the recipe and
every test number), `reconstructions.png`, `noise_sweep.png` and a `README.md` model card
(rendered by the Hub mixin from `tiedae.card`). `write_checkpoints` builds both folders in a
temp dir and moves them into place only once complete; `push_to_hub` uploads each folder to
its own model repo.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from huggingface_hub import EvalResult, HfApi, ModelCardData

from tiedae.atoms import ATOMS_FILE, atom_statistics
from tiedae.constants import HINTON_2006_PER_IMAGE, MNIST_PIXELS, MNIST_TRAIN_IMAGES, MODEL_NAMES
from tiedae.families import FIRST_FAMILY
from tiedae.model import (
    LATENT_MAP_FILE,
    METRICS_FILE,
    REPO_PREFIX,
    HubAutoencoder,
    count_parameters,
    load_checkpoint,
    repo_ids,
)
from tiedae.noise import NOISE_KINDS
from tiedae.plots import GRID_NOISE, save_reconstruction_grid, save_sweep_plot
from tiedae.recipe import LOSS_NAMES, PRECISION_NAMES, Recipe
from tiedae.study import NOISY, NOISY_METRIC, SHIPPED_TRAIN_SIZE, StudyError, finding, load_study, shipped_cell, summarize

HUB_NAMESPACE = "tiedae"  # where the shipped checkpoints are published
SPACE_NAME = "tiedae"  # the Space (NAMESPACE/tiedae) that serves the app and holds the study
GRID_FILE = "reconstructions.png"
SWEEP_FILE = "noise_sweep.png"
CARD_RESULTS = (
    ("gaussian", 0.0),
    ("gaussian", 0.1),
    ("gaussian", 0.3),
    ("gaussian", 0.5),
    ("salt_pepper", 0.2),
    ("uniform", 0.5),
)


def write_checkpoints(
    out: Path,
    models: dict[str, HubAutoencoder],
    results: dict[str, dict],
    *,
    codes: dict[str, dict] | None = None,
    x_test: torch.Tensor | None = None,
    recipe: Recipe,
    summary: dict | None,
    device: str,
    namespace: str | None,
    prefix: str = REPO_PREFIX,
    train_size: int,
    test_size: int,
    seconds: float,
    references: dict[str, float] | None = None,
    study_path: Path | None = None,
    latent_map: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> None:
    """Write out/tied and out/untied completely in a temp dir, then move them into place.

    `summary` is train.py's mean ± std over seeds (or None); `references` the clean test MSE of PCA-20 and PCA-30
    (tiedae.training.pca_references), quoted with Hinton & Salakhutdinov's figures; `study_path` a study.json whose
    finding and shipped-setting cell the cards quote and link. `latent_map` (test images uint8
    (N, 784), labels (N,)) makes each model's 2-D codes of them, saved as LATENT_MAP_FILE. `codes` is each model's
    code_report (tiedae.training.code_reports); a model with a dictionary of atoms also gets ATOMS_FILE, measured on
    `x_test` (uint8 (N, 784)).
    """
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))  # same filesystem, so renames are atomic
    ids = repo_ids(namespace or HUB_NAMESPACE, prefix)
    try:
        for name, model in models.items():
            folder = staging / name
            twin = next(other for other in models if other != name)
            card = {
                "card_data": card_data(name, model, results, model_name=ids[name].split("/")[-1], denoise=recipe.denoise),
                "repo_id": ids[name],
                "twin_id": ids[twin],
                "twin_name": twin,
                "twin_parameters": count_parameters(models[twin]),
                "recipe": recipe,
                "loss_name": LOSS_NAMES[recipe.loss],
                "precision_name": PRECISION_NAMES.get(recipe.precision, recipe.precision),
                "device": device,
                "seconds": seconds,
                "seed_seconds": summary.get("seconds") if summary else None,
                "all_of_mnist": train_size == MNIST_TRAIN_IMAGES,
                "references": reference_rows(references),
                "command": recipe.command(),
                "train_size": train_size,
                "test_size": test_size,
                "table": results_table(results, name, twin),
                "sweep_file": SWEEP_FILE,
                "grid_file": GRID_FILE,
                "grid_sigma": GRID_NOISE[1],
                "seeds_table": seeds_table(summary),
                "seeds": summary["seeds"] if summary else None,
                "steps": recipe.epochs * recipe.batches_per_epoch(train_size),  # optimizer steps per model
                "study": study_for_card(study_path, namespace or HUB_NAMESPACE),
                "note": model.family.card_note,
                "code": (codes or {}).get(name) or None,
                "code_seeds": (summary or {}).get("codes", {}).get(name),
                "at_study_setting": recipe.arch == FIRST_FAMILY  # the study's cell quoted is the first family's
                and recipe.model_kwargs() == Recipe.for_arch(recipe.arch).model_kwargs()
                and train_size == SHIPPED_TRAIN_SIZE,
            }
            model.save_pretrained(folder, model_card_kwargs=card)  # weights, config.json and the one model card
            metrics = {
                "model": name,
                "class": type(model).__name__,
                "arch": model.arch,
                **model.hparams,
                "parameters": count_parameters(model),
                "train_size": train_size,
                "test_size": test_size,
                "recipe": dataclasses.asdict(recipe),
                "command": recipe.command(),
                "training": {
                    "seconds": round(seconds, 1),
                    "steps": recipe.epochs * recipe.batches_per_epoch(train_size),
                    "device": device,
                    "torch": torch.__version__,
                },
                "references": references,
                "eval_seed_note": "test-set noise is fixed (EVAL_SEED in tiedae/training.py), the same for every model",
                **({"code": codes[name]} if codes and codes.get(name) else {}),
                "test": results[name],
                "pca": results["pca"],
                "noisy_input": results["noisy_input"],
                "other_models": {other: results[other] for other in models if other != name},
            }
            if summary:
                metrics["seeds_summary"] = summary
            (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
            save_reconstruction_grid(model, folder / GRID_FILE)
            if latent_map is not None:
                save_latent_map(model, *latent_map, folder / LATENT_MAP_FILE)
            if hasattr(model, "atoms") and x_test is not None:  # a dictionary: its atoms' statistics, for the page
                atom_statistics(model, x_test.float().div(255)).save(folder / ATOMS_FILE)
            save_sweep_plot(results, folder / SWEEP_FILE, highlight=name)
        for path in (staging, *staging.rglob("*")):  # mkdtemp and safetensors make owner-only files
            path.chmod(0o755 if path.is_dir() else 0o644)
        # Everything is complete: swap each folder in with a rename (atomic on one filesystem).
        for name in models:
            target = out / name
            old = staging / f"{name}.old"
            if target.exists():
                os.replace(target, old)
            os.replace(staging / name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@torch.inference_mode()
def save_latent_map(model: HubAutoencoder, images: torch.Tensor, labels: torch.Tensor, path: Path) -> None:
    """The model's 2-D codes of `images` (uint8 (N, 784)) with their labels, for the app's latent map."""
    assert model.latent_size == 2, f"a latent map needs a 2-D code, this model's is {model.latent_size}-D"
    codes = model.eval().encode(images.float().div(255))  # (N, 2)
    np.savez_compressed(path, codes=codes.numpy().astype(np.float32), labels=labels.numpy().astype(np.uint8))


def reference_rows(references: dict[str, float] | None) -> list[dict] | None:
    """The card's references: PCA computed here, and Hinton & Salakhutdinov 2006's figures per pixel."""
    if not references:
        return None
    rows = [{"label": f"{name}, computed here on the same test set", "mse": mse} for name, mse in references.items()]
    for name, per_image in HINTON_2006_PER_IMAGE.items():
        rows.append(
            {"label": f"Hinton & Salakhutdinov 2006: {name} ({per_image:.2f} per image)", "mse": per_image / MNIST_PIXELS}
        )
    return rows


def seeds_table(summary: dict | None) -> list[dict] | None:
    """The card's mean ± std rows over seeds: both models at every Gaussian noise level."""
    if not summary:
        return None
    rows = []
    for i, mean in enumerate(summary["mean"]["tied"]["gaussian"]):
        row = {"level": mean["level"]}
        for name in MODEL_NAMES:
            row[name] = (summary["mean"][name]["gaussian"][i]["mse"], summary["std"][name]["gaussian"][i]["mse"])
        rows.append(row)
    return rows


def study_for_card(path: Path | None, namespace: str) -> dict | None:
    """What a card says about the study: its finding, its cell at the shipped setting, and where to see it all."""
    if path is None:
        return None
    try:
        study = load_study(path)
        summary = summarize(study["rows"])
    except StudyError:
        return None
    cell = shipped_cell(summary)
    space = f"https://huggingface.co/spaces/{namespace}/{SPACE_NAME}"
    return {
        "finding": finding(summary),
        "cell": None if cell is None else {"clean": cell["test_mse_clean"], f"σ = {NOISY[1]}": cell[NOISY_METRIC]},
        "steps": study.get("steps"),
        "seeds": None if cell is None else cell["seeds"],
        "url": space,
        "figure_url": f"{space}/resolve/main/checkpoints/{path.with_suffix('.png').name}",
    }


def _row(results: dict, name: str, kind: str, level: float) -> dict:
    return next(r for r in results[name][kind] if abs(r["level"] - level) < 1e-9)


def results_table(results: dict[str, dict], name: str, twin: str) -> list[dict]:
    """The card's table rows: every noise kind and level (clean once), this model beside its twin and the references."""
    rows = []
    for kind in NOISE_KINDS:
        for r in results[name][kind]:
            if kind != NOISE_KINDS[0] and r["level"] == 0:
                continue  # the clean input is the same for every kind
            level = r["level"]
            rows.append(
                {
                    "kind": kind,
                    "level": level,
                    "mse": r["mse"],
                    "twin": _row(results, twin, kind, level)["mse"],
                    "pca": _row(results, "pca", kind, level)["mse"],
                    "noisy_input": _row(results, "noisy_input", kind, level)["mse"],
                }
            )
    return rows


def card_data(name: str, model: HubAutoencoder, results: dict[str, dict], *, model_name: str, denoise: bool) -> ModelCardData:
    """The card's metadata: license, tags, and the test results as model-index eval results.

    `denoise`: whether the pair learned to denoise (a sparse or variational pair learns clean digits), which the
    tags and the task name say."""
    eval_results = []
    for kind, level in CARD_RESULTS:
        row = _row(results, name, kind, level)
        label = "clean input" if level == 0 else f"{kind} noise {level}"
        for metric in ("mse", "psnr"):
            eval_results.append(
                EvalResult(
                    task_type="image-to-image",
                    task_name="Image reconstruction / denoising" if denoise else "Image reconstruction",
                    dataset_type="mnist",
                    dataset_name="MNIST",
                    dataset_split="test",
                    metric_type=metric,
                    metric_name=f"Test {metric.upper()} ({label})",
                    metric_value=round(row[metric], 6 if metric == "mse" else 3),
                )
            )
    return ModelCardData(
        license="mit",
        library_name="tiedae",
        datasets=["mnist"],
        tags=[
            "autoencoder",
            *(["denoising-autoencoder"] if denoise else []),
            "mnist",
            *model.family.tags,
            "tied-weights" if model.tied else "untied-weights",
            "pytorch",
            "model_hub_mixin",
        ],
        pipeline_tag="image-to-image",
        model_name=model_name,
        eval_results=eval_results,
    )


def push_to_hub(root: Path, *, namespace: str, prefix: str, private: bool, token: str | None) -> list[str]:
    """Upload root/tied and root/untied to their repos; returns the commit URLs."""
    ids = repo_ids(namespace, prefix)
    for name in MODEL_NAMES:  # refuse to upload anything that does not load
        folder = root / name
        if not folder.is_dir():
            raise FileNotFoundError(f"no checkpoint folder {folder}")
        load_checkpoint(folder, name)
    api = HfApi(token=token)
    urls = []
    for name in MODEL_NAMES:
        api.create_repo(ids[name], repo_type="model", private=private, exist_ok=True)
        commit = api.upload_folder(
            repo_id=ids[name],
            folder_path=root / name,
            repo_type="model",
            commit_message=f"Upload {name} tiedae MNIST autoencoder",
        )
        urls.append(str(getattr(commit, "commit_url", commit)))
    return urls
