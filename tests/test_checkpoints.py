"""The shipped checkpoints: they load strictly, have the expected configs, and their numbers meet the bars."""

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from tiedae import TiedAutoencoder, UntiedAutoencoder, count_parameters

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
BARS = {"tied": {0.0: 0.0081, 0.5: 0.0154}, "untied": {0.0: 0.0073, 0.5: 0.0143}}  # test MSE at Gaussian sigma 0 and 0.5
BARS_2D = {"tied": 0.044, "untied": 0.039}  # clean test MSE


@pytest.mark.parametrize("name, cls, tied", [("tied", TiedAutoencoder, True), ("untied", UntiedAutoencoder, False)])
def test_shipped_checkpoint_loads_and_meets_the_bars(name, cls, tied):
    folder = CHECKPOINTS / name
    model = cls.from_pretrained(folder)
    assert not model.training
    config = json.loads((folder / "config.json").read_text())
    assert config == {"sizes": [784, 400, 20], "tied": tied, "tie": "11" if tied else "00", "arch": "mlp"}
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["parameters"] == count_parameters(model) == (323_204 if tied else 644_804)
    assert metrics["test_size"] == 10_000 and metrics["train_size"] == 60_000
    gaussian = {row["level"]: row["mse"] for row in metrics["test"]["gaussian"]}
    for level, bar in BARS[name].items():
        assert gaussian[level] <= bar, f"{name}: test MSE {gaussian[level]} at sigma {level} is above {bar}"
    assert metrics["noisy_input"]["gaussian"][-1]["mse"] == pytest.approx(0.116, abs=0.002)  # sigma 0.5, clamped
    for file in ("README.md", "reconstructions.png", "noise_sweep.png"):
        assert (folder / file).stat().st_size > 0


def test_tied_file_holds_each_weight_once_and_both_fit_in_5_mb():
    with safe_open(CHECKPOINTS / "tied" / "model.safetensors", framework="pt") as f:
        assert not any("decoder_weight" in key for key in f.keys())
    total = sum(p.stat().st_size for name in ("tied", "untied") for p in (CHECKPOINTS / name).rglob("*") if p.is_file())
    assert total <= 5 * 1024 * 1024


@pytest.mark.parametrize("name, cls", [("tied", TiedAutoencoder), ("untied", UntiedAutoencoder)])
def test_the_2d_pair_loads_strictly_meets_its_bar_and_ships_its_map(name, cls):
    folder = CHECKPOINTS / "2d" / name
    model = cls.from_pretrained(folder, strict=True).eval()
    assert model.sizes == [784, 400, 2] and model.tied == (name == "tied")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["test"]["gaussian"][0]["mse"] <= BARS_2D[name], f"{name}: clean test MSE above the 2-D bar"
    assert metrics["train_size"] == 60_000
    with np.load(folder / "latent_map.npz") as saved:
        assert saved["codes"].shape == (10_000, 2) and saved["labels"].shape == (10_000,)
        assert set(np.unique(saved["labels"])) == set(range(10))
    assert "latent_map.npz" in (folder / "README.md").read_text()  # the card says what it is


SPARSE_BARS = {"tied": 0.0053, "untied": 0.0054}  # clean test MSE at k = 32 (issue 31)
SPARSE_DEAD_BAR = 0.05  # the tied model's dead atoms


@pytest.mark.parametrize("name", ["tied", "untied"])
def test_the_sparse_pair_loads_meets_its_bars_and_ships_its_atoms(name):
    from tiedae import TiedSparseAutoencoder, UntiedSparseAutoencoder
    from tiedae.atoms import AtomStatistics

    folder = CHECKPOINTS / "sparse" / name
    cls = TiedSparseAutoencoder if name == "tied" else UntiedSparseAutoencoder
    model = cls.from_pretrained(folder)
    assert (model.latent_size, model.k) == (1024, 32) and model.tied == (name == "tied")
    config = json.loads((folder / "config.json").read_text())
    assert config == {"hidden": 1024, "k": 32, "tied": name == "tied", "arch": "sparse"} | (
        {} if name == "tied" else {"decoder_init": "transpose"}  # the untied twin started as the tied init
    )
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["train_size"] == 60_000 and metrics["test_size"] == 10_000
    assert metrics["parameters"] == count_parameters(model) == (804_624 if name == "tied" else 1_607_440)
    clean = metrics["test"]["gaussian"][0]["mse"]
    assert clean <= SPARSE_BARS[name], f"{name}: clean test MSE {clean} above {SPARSE_BARS[name]}"
    code = metrics["code"]
    if name == "tied":
        assert code["dead_fraction"] <= SPARSE_DEAD_BAR, f"{100 * code['dead_fraction']:.1f}% of the tied atoms are dead"
    stats = AtomStatistics.load(folder / "atoms.npz")
    assert stats.images == 10_000 and stats.frequency.shape == (1024,) and stats.summary() == pytest.approx(code)
    assert len(metrics["seeds_summary"]["seeds"]) == 3 and "dead_fraction" in metrics["seeds_summary"]["codes"][name]
    card = (folder / "README.md").read_text()
    assert "atoms are dead" in card and "all 60,000 MNIST training images" in card


CONV_BARS = {"tied": {0.0: 0.0063, 0.5: 0.0123}, "untied": {0.0: 0.0059, 0.5: 0.0119}}  # issue 30, all 60,000 images


@pytest.mark.parametrize("name", ["tied", "untied"])
def test_the_conv_pair_learned_from_all_of_mnist_and_meets_its_bars(name):
    from tiedae import TiedConvAutoencoder, UntiedConvAutoencoder

    folder = CHECKPOINTS / "conv" / name
    model = (TiedConvAutoencoder if name == "tied" else UntiedConvAutoencoder).from_pretrained(folder, strict=True)
    assert (model.channels, model.latent_size, model.tied) == ([64, 128], 20, name == "tied")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["train_size"] == 60_000 and metrics["test_size"] == 10_000
    assert metrics["parameters"] == count_parameters(model)
    gaussian = {row["level"]: row["mse"] for row in metrics["test"]["gaussian"]}
    for level, bar in CONV_BARS[name].items():
        assert gaussian[level] <= bar, f"conv {name}: test MSE {gaussian[level]} at sigma {level} is above {bar}"
    assert len(metrics["seeds_summary"]["seeds"]) == 3
    assert "all 60,000 MNIST training images" in (folder / "README.md").read_text()


@pytest.mark.parametrize("folder", ["tied", "untied", "conv/tied", "conv/untied", "2d/tied", "sparse/tied", "sparse/untied"])
def test_a_card_calls_a_model_a_denoiser_only_if_it_learned_to_denoise(folder):
    card = (CHECKPOINTS / folder / "README.md").read_text()
    front = card.split("---\n")[1]  # the card's metadata, as the Hub reads it
    denoise = json.loads((CHECKPOINTS / folder / "metrics.json").read_text())["recipe"]["denoise"]
    assert ("- denoising-autoencoder\n" in front) == denoise
    assert ("Image reconstruction / denoising" in front) == denoise
