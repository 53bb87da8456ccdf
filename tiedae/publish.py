"""Checkpoint folders and their Hub repos: weights, metrics, figures and model cards.

A checkpoint folder holds `model.safetensors`, `config.json`, `metrics.json`,
`reconstructions.png`, `noise_sweep.png` and a `README.md` model card. `write_checkpoints`
builds both folders in a temp dir and moves them into place only once complete;
`push_to_hub` uploads each folder to its own model repo.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData

from tiedae.drawing import draw_digit
from tiedae.model import MODEL_CLASSES, Autoencoder, count_parameters
from tiedae.noise import NOISE_KINDS, add_noise
from tiedae.preprocess import sketch_to_mnist

HUB_NAMESPACE = "tiedae"  # where the shipped checkpoints are published
METRICS_FILE = "metrics.json"
GRID_FILE = "reconstructions.png"
SWEEP_FILE = "noise_sweep.png"
GRID_NOISE = ("gaussian", 0.3)
LOSS_NAMES = {"bce": "binary cross-entropy", "mse": "mean squared error"}
PRECISION_NAMES = {"bf16": "bfloat16 autocast for matmuls (weights and optimizer in float32)", "fp32": "float32"}
KIND_LABELS = {"gaussian": "Gaussian σ", "salt_pepper": "salt & pepper fraction", "uniform": "uniform level"}


def repo_ids(namespace: str, prefix: str = "tiedae-mnist") -> dict[str, str]:
    """{'tied': 'NS/prefix-tied', 'untied': 'NS/prefix-untied'}."""
    return {name: f"{namespace}/{prefix}-{name}" for name in ("tied", "untied")}


def write_checkpoints(
    out: Path,
    models: dict[str, Autoencoder],
    results: dict[str, dict],
    *,
    summary: dict | None,
    args,
    seed: int,
    train_size: int,
    test_size: int,
    seconds: float,
) -> None:
    """Write out/tied and out/untied completely in a temp dir, then move them into place."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))  # same filesystem, so renames are atomic
    try:
        for name, model in models.items():
            folder = staging / name
            model.save_pretrained(folder)
            metrics = {
                "model": name,
                "class": type(model).__name__,
                "sizes": model.sizes,
                "parameters": count_parameters(model),
                "train_size": train_size,
                "test_size": test_size,
                "seed": seed,
                "training": {
                    "epochs": args.epochs,
                    "batch_size": args.batch_size,
                    "optimizer": "Adam",
                    "lr": args.lr,
                    "schedule": "one-cycle",
                    "loss": LOSS_NAMES[args.loss],
                    "precision": args.precision,
                    "denoise": args.denoise,
                    "noise_kind": args.noise_kind if args.denoise else None,
                    "noise_max": args.noise_max if args.denoise else None,
                    "seconds": round(seconds, 1),
                    "device": str(args.device),
                    "torch": torch.__version__,
                },
                "eval_seed_note": "test-set noise is fixed (EVAL_SEED in train.py), the same for every model",
                "test": results[name],
                "pca": results["pca"],
                "noisy_input": results["noisy_input"],
                "other_models": {other: results[other] for other in models if other != name},
            }
            if summary:
                metrics["seeds_summary"] = summary
            (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
            save_reconstruction_grid(model, folder / GRID_FILE)
            save_sweep_plot(results, folder / SWEEP_FILE, highlight=name)
        for name in models:
            card = model_card(name, models, results, args=args, train_size=train_size, test_size=test_size, seed=seed)
            card.save(staging / name / "README.md")
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


def drawn_digits() -> torch.Tensor:
    """The ten stroke-drawn example digits, preprocessed: (10, 1, 28, 28)."""
    return torch.stack([torch.from_numpy(sketch_to_mnist(draw_digit(d))) for d in range(10)]).unsqueeze(1)


@torch.inference_mode()
def save_reconstruction_grid(model: Autoencoder, path: Path) -> None:
    """Rows: clean drawn digits, noisy copies, reconstructions (upscaled ×4, nearest)."""
    from torchvision.utils import make_grid, save_image

    clean = drawn_digits()
    noisy = add_noise(clean, *GRID_NOISE, seed=0)
    rows = torch.cat([clean, noisy, model.eval()(noisy)])  # (30, 1, 28, 28)
    grid = make_grid(rows, nrow=10, padding=2, pad_value=0.5)
    grid = torch.nn.functional.interpolate(grid[None], scale_factor=4, mode="nearest")[0]
    save_image(grid, path)


def save_sweep_plot(results: dict[str, dict], path: Path, *, highlight: str | None = None) -> None:
    """Test MSE against noise level, one panel per noise kind."""
    fig = sweep_figure(results, highlight=highlight)
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)


def sweep_figure(results: dict[str, dict], *, highlight: str | None = None):
    """A matplotlib figure of test MSE vs noise level for every entry in results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {
        "tied": dict(color="#d62728", marker="o"),
        "untied": dict(color="#1f77b4", marker="s"),
        "pca": dict(color="#7f7f7f", marker="^", linestyle="--"),
        "noisy_input": dict(color="#bbbbbb", marker=".", linestyle=":"),
    }
    labels = {"tied": "tied AE", "untied": "untied AE", "pca": "PCA (same latent size)", "noisy_input": "noisy input"}
    kinds = [k for k in NOISE_KINDS if any(k in r for r in results.values())]
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.4), sharey=False, layout="constrained")
    for ax, kind in zip(list(axes) if len(kinds) > 1 else [axes], kinds):
        for name, result in results.items():
            rows = [r for r in result.get(kind, []) if r["mse"] > 0]  # log axis: the clean input's 0 has no place
            style = styles.get(name, {})
            ax.plot(
                [r["level"] for r in rows],
                [r["mse"] for r in rows],
                label=labels.get(name, name),
                linewidth=2.5 if name == highlight else 1.5,
                **style,
            )
        ax.set_xlabel(KIND_LABELS.get(kind, kind))
        ax.set_ylabel("test MSE")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes_list = list(axes) if len(kinds) > 1 else [axes]
    axes_list[0].legend(fontsize=8)
    fig.suptitle("MNIST test set: reconstruction error vs input noise")
    return fig


def _row(results: dict, name: str, kind: str, level: float) -> dict:
    return next(r for r in results[name][kind] if abs(r["level"] - level) < 1e-9)


def model_card(
    name: str, models: dict[str, Autoencoder], results: dict[str, dict], *, args, train_size: int, test_size: int, seed: int
) -> ModelCard:
    """The README.md model card of one checkpoint, with eval results in model-index."""
    model = models[name]
    other = next(o for o in models if o != name)
    ns = getattr(args, "push_to_hub", None) or HUB_NAMESPACE
    ids = repo_ids(ns, getattr(args, "repo_prefix", "tiedae-mnist"))
    eval_results = []
    for kind, level in (
        ("gaussian", 0.0),
        ("gaussian", 0.1),
        ("gaussian", 0.3),
        ("gaussian", 0.5),
        ("salt_pepper", 0.2),
        ("uniform", 0.5),
    ):
        row = _row(results, name, kind, level)
        label = "clean input" if level == 0 else f"{kind} noise {level}"
        for metric in ("mse", "psnr"):
            eval_results.append(
                EvalResult(
                    task_type="image-to-image",
                    task_name="Image reconstruction / denoising",
                    dataset_type="mnist",
                    dataset_name="MNIST",
                    dataset_split="test",
                    metric_type=metric,
                    metric_name=f"Test {metric.upper()} ({label})",
                    metric_value=round(row[metric], 6 if metric == "mse" else 3),
                )
            )
    card_data = ModelCardData(
        license="mit",
        library_name="tiedae",
        datasets=["mnist"],
        tags=[
            "autoencoder",
            "denoising-autoencoder",
            "mnist",
            "tied-weights" if model.tied else "untied-weights",
            "pytorch",
            "model_hub_mixin",
        ],
        pipeline_tag="image-to-image",
        model_name=f"tiedae-mnist-{name}",
        eval_results=eval_results,
    )
    table = ["| noise | level | this model | " + other + " | PCA | noisy input |", "|---|---|---|---|---|---|"]
    for kind in NOISE_KINDS:
        for r in results[name][kind]:
            if kind != "gaussian" and r["level"] == 0:
                continue
            lv = r["level"]
            table.append(
                f"| {kind} | {lv:.1f} | {r['mse']:.5f} | {_row(results, other, kind, lv)['mse']:.5f} | "
                f"{_row(results, 'pca', kind, lv)['mse']:.5f} | {_row(results, 'noisy_input', kind, lv)['mse']:.5f} |"
            )
    tie_text = (
        "Each decoder layer reuses the transpose of its encoder layer's weight: one `nn.Parameter` W per layer "
        "pair, applied as `F.linear(x, W, b_enc)` when encoding and `F.linear(h, W.t(), b_dec)` when decoding, "
        "so its gradient collects both uses. Decoder biases are separate."
        if model.tied
        else "Every decoder layer has its own weight (the same shapes as the tied twin's decoder, but independent "
        "parameters). It is the control for the tied model."
    )
    denoise = (
        f"denoising: input corrupted with {args.noise_kind} noise, level drawn per sample from U[0, {args.noise_max}], "
        "target the clean image"
        if args.denoise
        else "plain reconstruction (clean input, clean target)"
    )
    text = f"""---
{card_data.to_yaml()}
---

# tiedae-mnist-{name}: {"tied" if model.tied else "untied"}-weight MNIST autoencoder

A fully connected autoencoder `{" → ".join(map(str, model.sizes))} → {" → ".join(map(str, model.sizes[-2::-1]))}`
(ReLU hidden layers, linear {model.latent_size}-D latent code, sigmoid output), trained on MNIST
with tiedae's `train.py`. Its twin with {"independent" if model.tied else "tied"}
decoder weights is [{ids[other]}](https://huggingface.co/{ids[other]}); both were trained with the same data,
data order, seed, optimizer, schedule and epochs.

{tie_text}

**Parameters:** {count_parameters(model):,} ({other}: {count_parameters(models[other]):,}).

## Load it

```python
import torch
from tiedae import {type(model).__name__}

model = {type(model).__name__}.from_pretrained("{ids[name]}")  # strict load, eval mode
x = torch.rand(1, 1, 28, 28)        # MNIST-like images in [0, 1], white digit on black
reconstruction = model(x)           # same shape as x
code = model.encode(x)              # (1, {model.latent_size})
```

The `tiedae` package is the `tiedae/` folder of the project (the source of the tiedae Space); it needs
torch and huggingface_hub.

## Training

- Data: MNIST training images, **the first {train_size:,} of the 60,000** (`torchvision.datasets.MNIST`,
  `train=True`, indices 0–{train_size - 1}); no validation split was used for any choice.
- Objective: {denoise}; {LOSS_NAMES[args.loss]} loss.
- Optimizer: Adam, peak learning rate {args.lr}, one-cycle schedule, batch size {args.batch_size},
  {args.epochs} epochs, seed {seed}; {PRECISION_NAMES[args.precision]}, on {args.device}.
- Command: `python train.py --data-dir <MNIST root>{" --train-size " + str(args.train_size) if args.train_size else ""}`

## Evaluation

On the full MNIST **test** set ({test_size:,} images). Noise is added to the test images (then clamped
to [0, 1]) with a fixed seed, the same for every model; MSE is against the clean image, averaged over
pixels and images, PSNR is the mean of per-image PSNR (peak 1). PCA is the best linear code of the same
size ({model.latent_size}-D), fit on the same training images.

{chr(10).join(table)}

![noise sweep]({SWEEP_FILE})

Reconstructions of digits drawn with pen strokes (not MNIST images): clean, noisy (Gaussian σ =
{GRID_NOISE[1]}), reconstructed.

![reconstructions]({GRID_FILE})

`metrics.json` holds every number above and PSNR too.
"""
    return ModelCard(text)


def push_to_hub(root: Path, *, namespace: str, prefix: str, private: bool, token: str | None) -> list[str]:
    """Upload root/tied and root/untied to their repos; returns the commit URLs."""
    ids = repo_ids(namespace, prefix)
    for name, cls in MODEL_CLASSES.items():  # refuse to upload anything that does not load
        folder = root / name
        if not folder.is_dir():
            raise FileNotFoundError(f"no checkpoint folder {folder}")
        cls.from_pretrained(folder)
    api = HfApi(token=token)
    urls = []
    for name in MODEL_CLASSES:
        api.create_repo(ids[name], repo_type="model", private=private, exist_ok=True)
        commit = api.upload_folder(
            repo_id=ids[name],
            folder_path=root / name,
            repo_type="model",
            commit_message=f"Upload {name} tiedae MNIST autoencoder",
        )
        urls.append(str(getattr(commit, "commit_url", commit)))
    return urls
