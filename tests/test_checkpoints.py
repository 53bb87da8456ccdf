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
