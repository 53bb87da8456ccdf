"""Train the tied and the untied autoencoder on MNIST, evaluate both, publish to the Hub.

    python train.py --data-dir ../shared/data          # train both, write checkpoints/
    python train.py --arch conv --out checkpoints/conv # the convolutional pair
    python train.py --arch sparse --k 32 --out checkpoints/sparse  # the TopK sparse pair
    python train.py --dry-run                          # one tiny batch end to end
    python train.py --push-to-hub NAMESPACE            # ... and upload both models
    python train.py --push-only checkpoints --push-to-hub NAMESPACE   # upload only

Both models see the same batches in the same order with the same noise, optimizer,
schedule and epochs; they differ only in weight tying. The loop is the package's
(tiedae.training), the one the Space's live training runs too; this file is its command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from tiedae import NOISE_KINDS
from tiedae.constants import DECODER_INITS, DEFAULT_SIZES
from tiedae.families import FAMILIES
from tiedae.model import REPO_PREFIX, config_repo_prefix
from tiedae.recipe import LOSS_NAMES, Recipe
from tiedae.study import NOISY, STUDY_FILE
from tiedae.ties import TIE_HELP
from tiedae.training import (
    TrainError,
    code_reports,
    codes_mean_and_std,
    configure_threads,
    evaluate_all,
    load_mnist,
    load_test_labels,
    mean_and_std,
    pca_references,
    pick_device,
    pick_precision,
    run,
)

STUDY_PATH = Path(__file__).resolve().parent / "checkpoints" / STUDY_FILE  # quoted and linked by the model cards
SEEDS_DIR = "seeds"  # under --out: each finished seed's models and numbers, so an interrupted run of several seeds resumes


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each flag's default after its help, unless the help already names it or there is none (no "(default: None)")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or "default:" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def get_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = Recipe()  # the defaults live in one place
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    p.add_argument("--data-dir", default="./data", help="MNIST root (torchvision layout MNIST/raw/)")
    p.add_argument("--out", default=None, help="output directory (default: checkpoints, or a temp dir with --dry-run)")
    p.add_argument(
        "--arch",
        choices=tuple(FAMILIES),
        default=d.arch,
        help="the pair to train: " + ", ".join(f"{name} ({family.description})" for name, family in FAMILIES.items()),
    )
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=None,
        help="layer widths, input first (default: the --arch's shipped pair's: "
        + "; ".join(f"{name} {' '.join(map(str, family.default_sizes))}" for name, family in FAMILIES.items())
        + ")",
    )
    p.add_argument(
        "--channels", type=int, nargs=2, default=list(d.channels), help="the conv layers' channels, for families that have them"
    )
    p.add_argument("--hidden", type=int, default=d.hidden, help="a sparse dictionary's atoms (at least 784: overcomplete)")
    p.add_argument("--k", type=int, default=d.k, help="the atoms a sparse code keeps per image (TopK)")
    p.add_argument(
        "--decoder-init",
        choices=DECODER_INITS,
        default=d.decoder_init,
        help="how the untied sparse decoder starts: as the encoder's transpose (what SAE libraries do) or its own random init",
    )
    p.add_argument("--tie", default=d.tie, help=f"which layer pairs the tied model ties: {TIE_HELP} (its untied twin ties none)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="training epochs")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="training batch size")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (Adam, one-cycle schedule)")
    p.add_argument(
        "--denoise", action=argparse.BooleanOptionalAction, default=d.denoise, help="train on noisy inputs with clean targets"
    )
    p.add_argument(
        "--loss", choices=tuple(LOSS_NAMES), default=d.loss, help="training loss: binary cross-entropy or mean squared error"
    )
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default=d.precision,
        help="matmul precision while training; bf16 autocasts matmuls, weights stay fp32; auto: bf16 where the device has native bf16",
    )
    p.add_argument("--noise-kind", choices=NOISE_KINDS, default=d.noise_kind, help="training noise kind")
    p.add_argument("--noise-max", type=float, default=d.noise_max, help="training noise level drawn per sample from U[0, max]")
    p.add_argument("--clean-fraction", type=float, default=d.clean_fraction, help="share of training images shown without noise")
    p.add_argument(
        "--distort",
        type=float,
        default=d.distort,
        help=f"random affine map per training image, this strong (1: {Recipe(distort=1).distortion().replace('%', '%%')}; 0: off)",
    )
    p.add_argument("--train-size", type=int, default=d.train_size, help="use only the first N training images (default: all)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed for init, data order and training noise")
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="repeat the comparison for these seeds and report mean ± std (checkpoints from the first)",
    )
    p.add_argument("--device", default="auto", help="cpu, cuda, mps, … or auto (the machine's accelerator, else cpu)")
    p.add_argument("--dry-run", action="store_true", help="one tiny batch end to end, in seconds")
    p.add_argument(
        "--push-to-hub", metavar="NAMESPACE", default=None, help="upload both models to NAMESPACE/<prefix>-tied and -untied"
    )
    p.add_argument(
        "--repo-prefix",
        default=None,
        help=f"Hub repo name prefix (default: {REPO_PREFIX} for {'-'.join(map(str, DEFAULT_SIZES))}, "
        f"{REPO_PREFIX}-2d for a 2-D code, else the sizes appended)",
    )
    p.add_argument("--private", action="store_true", help="create the Hub repos as private")
    p.add_argument(
        "--push-only",
        metavar="DIR",
        default=None,
        help="upload existing checkpoints from DIR (holding tied/ and untied/) without training",
    )
    args = p.parse_args(argv)
    if args.push_only and not args.push_to_hub:
        p.error("--push-only needs --push-to-hub NAMESPACE")
    if args.sizes is None:
        args.sizes = list(FAMILIES[args.arch].default_sizes)
    try:  # Recipe's own checks, reported as argparse reports a bad flag
        recipe_from_args(args)
    except ValueError as e:
        p.error(str(e))
    return args


def checkpoint_prefix(root: Path) -> str:
    """The Hub repo prefix for the checkpoints in root/tied (from its config.json), or the default if unreadable."""
    try:
        return config_repo_prefix(json.loads((root / "tied" / "config.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return REPO_PREFIX  # push_to_hub then says what is missing


def recipe_from_args(args: argparse.Namespace, **changes) -> Recipe:
    """The Recipe the flags describe (with `changes` applied)."""
    values = {field.name: getattr(args, field.name) for field in dataclasses.fields(Recipe)}
    return Recipe(**{**values, **changes})


def finished_seed(folder: Path, recipe: Recipe, data: list[int]) -> dict | None:
    """What a seed saved when it finished, if it trained exactly this recipe on this data; else None (train it)."""
    try:
        saved = json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return None
    same = saved.get("recipe") == json.loads(json.dumps(dataclasses.asdict(recipe))) and saved.get("data") == data
    return saved if same and all((folder / name / "model.safetensors").exists() for name in saved["results"]["models"]) else None


def save_seed(folder: Path, recipe: Recipe, data: list[int], models: dict, results: dict, seconds: float) -> None:
    """A finished seed's models and numbers, written whole (a temp folder renamed into place) or not at all."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name, model in models.items():
        model.save_pretrained(partial / name)
    saved = {
        "recipe": dataclasses.asdict(recipe),
        "data": data,
        "seconds": seconds,
        "results": {"models": list(models), **results},
    }
    (partial / "results.json").write_text(json.dumps(saved, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)


def train_seed(recipe: Recipe, x_train, x_test, device, out: Path, *, dry_run: bool) -> tuple[dict, dict, float]:
    """One seed's models, evaluate_all results and training seconds: trained, or read back if this seed finished before."""
    from tiedae.model import load_checkpoint

    folder, data = out / SEEDS_DIR / f"seed{recipe.seed}", [len(x_train), len(x_test)]
    saved = None if dry_run else finished_seed(folder, recipe, data)
    if saved is not None:
        print(f"seed {recipe.seed}: finished before, read back from {folder}")
        names = saved["results"].pop("models")
        return {name: load_checkpoint(folder / name, name) for name in names}, saved["results"], saved["seconds"]
    models, seconds = run(recipe, x_train.to(device), x_test.to(device), device, dry_run=dry_run)
    models = {name: model.cpu() for name, model in models.items()}
    results = evaluate_all(models, x_train, x_test)
    if not dry_run:
        save_seed(folder, recipe, data, models, results, seconds)
    return models, results, seconds


def print_table(results: dict[str, dict], spread: dict[str, dict] | None = None) -> None:
    """MSE per noise kind and level for every model and reference (± std over seeds if given)."""
    names = list(results)
    print(f"\n{'noise':<12}{'level':>6}" + "".join(f"{n:>20}" for n in names) + "   (test MSE)")
    for kind in NOISE_KINDS:
        for i, row in enumerate(results[names[0]][kind]):
            cells = []
            for n in names:
                value = results[n][kind][i]["mse"]
                std = spread[n][kind][i]["mse"] if spread else None
                cells.append(f"{value:.5f} ± {std:.5f}" if std is not None else f"{value:.5f}")
            print(f"{kind:<12}{row['level']:>6.2f}" + "".join(f"{c:>20}" for c in cells))
    print()


def print_headline(results: dict[str, dict], names: list[str], codes: dict[str, dict] | None = None) -> None:
    """Each model's clean and σ = 0.5 test MSE, the two numbers the study and live training report for a pair
    (read from evaluate_all's results: the same image_mse path as tiedae.training.test_mse, not a second pass),
    and what its code_report says."""
    kind, level = NOISY
    for name in names:
        mse_at = {row["level"]: row["mse"] for row in results[name][kind]}
        more = "".join(f", {key} {value:g}" for key, value in (codes or {}).get(name, {}).items())
        print(f"{name}: clean test MSE {mse_at[0.0]:.5f}, at Gaussian σ = {level} {mse_at[level]:.5f}{more}")


def main(argv: list[str] | None = None) -> int:
    args = get_args(argv)
    try:
        if args.push_only:
            push_checkpoints(Path(args.push_only), args)
            return 0
        token = require_token() if args.push_to_hub else None
        out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="tiedae-dry-run-") if args.dry_run else "checkpoints")
        device = pick_device(args.device)
        configure_threads()
        x_train, x_test = load_mnist(args.data_dir)
        if args.train_size:
            x_train = x_train[: args.train_size]
        if args.dry_run:
            x_train, x_test = x_train[: args.batch_size], x_test[:256]
        recipe = recipe_from_args(
            args, precision=pick_precision(args.precision, device), **({"epochs": 1} if args.dry_run else {})
        )
        seeds = args.seeds or [recipe.seed]
        print(f"training on {len(x_train)} images, testing on {len(x_test)}, device {device} ({recipe.precision}), seeds {seeds}")
        flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)  # (N, 28, 28) -> (N, 784)
        per_seed, per_seed_codes, times, first = [], [], [], None
        for seed in seeds:
            seed_recipe = dataclasses.replace(recipe, seed=seed)
            models, results, seconds = train_seed(seed_recipe, flat_train, flat_test, device, out, dry_run=args.dry_run)
            codes = code_reports(models, flat_test)
            print_table(results)
            print_headline(results, list(models), codes)
            per_seed.append(results)
            per_seed_codes.append(codes)
            times.append(round(seconds, 1))
            first = first or (models, results, codes, seconds, seed_recipe)
        summary = None
        if len(seeds) > 1:
            mean, std = mean_and_std(per_seed)
            print(f"mean ± std over seeds {seeds}:")
            print_table(mean, std)
            summary = {"seeds": seeds, "mean": mean, "std": std, "seconds": times}
            if codes_summary := codes_mean_and_std(per_seed_codes):
                summary["codes"] = codes_summary
                for name, numbers in codes_summary.items():
                    print(f"{name}: " + ", ".join(f"{key} {m:g} ± {sd:g}" for key, (m, sd) in numbers.items()))
        models, results, codes, seconds, recipe = first
        from tiedae.publish import write_checkpoints

        test_labels = load_test_labels(args.data_dir)[: len(x_test)] if recipe.sizes[-1] == 2 else None
        references = pca_references(flat_train, flat_test)

        write_checkpoints(
            out,
            models,
            results,
            codes=codes,
            x_test=flat_test,
            recipe=recipe,
            summary=summary,
            device=str(device),
            namespace=args.push_to_hub,
            prefix=args.repo_prefix or recipe.repo_prefix(),
            train_size=len(x_train),
            test_size=len(x_test),
            seconds=seconds,
            references=references,
            study_path=STUDY_PATH if STUDY_PATH.exists() else None,
            latent_map=None if test_labels is None else (x_test.reshape(len(x_test), -1), test_labels),
        )
        print(f"checkpoints written to {out.resolve()}")
        if args.push_to_hub:
            push_checkpoints(out, args, token=token)
    except TrainError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def require_token() -> str:
    """The Hub token, checked before any training so a push cannot fail late for want of it."""
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise TrainError("--push-to-hub needs a Hugging Face token: run `hf auth login` or set HF_TOKEN, then try again.")
    return token


def push_checkpoints(root: Path, args: argparse.Namespace, token: str | None = None) -> None:
    """Upload root/tied and root/untied, each to its own model repo."""
    from tiedae.publish import push_to_hub

    token = token or require_token()
    prefix = args.repo_prefix or checkpoint_prefix(root)
    try:
        urls = push_to_hub(root, namespace=args.push_to_hub, prefix=prefix, private=args.private, token=token)
    except Exception as e:
        raise TrainError(
            f"upload failed ({type(e).__name__}: {e}).\nThe local checkpoints in {root.resolve()} are intact; "
            f"retry the upload alone with:\n  python train.py --push-only {root} --push-to-hub {args.push_to_hub}"
            + (f" --repo-prefix {args.repo_prefix}" if args.repo_prefix else "")
            + (" --private" if args.private else "")
        ) from None
    for url in urls:
        print(f"uploaded {url}")


if __name__ == "__main__":
    sys.exit(main())
