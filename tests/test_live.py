"""Live training (tiedae.live): settings checked, the run streamed and stoppable, and the same numbers as train.py."""

import json
import shlex
import zipfile

import pytest
import torch

import train
from tiedae import live, training
from tiedae.model import count_parameters, load_checkpoint
from tiedae.training import TrainError

SMALL = {"arch": "mlp", "train_size": 200, "latent": 8, "depth": 1, "epochs": 3, "noise_level": 0.4, "seed": 0}


def run_to_end(recipe, data, **kwargs) -> list[live.LiveUpdate]:
    return list(live.train_live(recipe, data, **kwargs))


@pytest.fixture(scope="module")
def data(mnist_root):
    return live.load_data(str(mnist_root))


@pytest.mark.parametrize("tie", ["all", "inner"])
def test_a_live_run_gives_the_numbers_of_the_train_py_command_it_prints(data, mnist_root, tmp_path, tie):
    recipe = live.live_recipe(**SMALL, tie=tie)
    updates = run_to_end(recipe, data, data_dir=str(mnist_root))
    final = updates[-1].final
    argv = shlex.split(final["command"])
    assert argv[:2] == ["python", "train.py"] and argv[argv.index("--out") + 1] == live.RUN_OUT
    assert ("--tie" in argv) == (tie != "all") and final["tied"]["tie"] == {"all": "11", "inner": "01"}[tie]
    argv[argv.index("--out") + 1] = str(tmp_path)  # the same command, written to a temp dir
    assert train.main(argv[2:]) == 0
    for name in ("tied", "untied"):
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        clean, *_, noisy = metrics["test"]["gaussian"]
        assert noisy["level"] == 0.5
        assert final[name]["test_mse_clean"] == pytest.approx(clean["mse"], abs=1e-6)
        assert final[name]["test_mse_noisy"] == pytest.approx(noisy["mse"], abs=1e-6)
        assert final[name]["parameters"] == count_parameters(load_checkpoint(tmp_path / name))
        assert load_checkpoint(tmp_path / name).tie == final[name]["tie"]


def test_a_run_reports_every_epoch_and_ends_with_the_documented_result(data):
    recipe = live.live_recipe(**{**SMALL, "epochs": 4})
    updates = run_to_end(recipe, data)
    assert [u.epoch for u in updates] == [1, 2, 3, 4]
    assert all(u.final is None for u in updates[:-1]) and updates[-1].final is not None
    final = json.loads(json.dumps(updates[-1].final))  # plain JSON
    assert set(final) == {"tied", "untied", "seconds", "command"}
    for name in ("tied", "untied"):
        assert set(final[name]) == {"curve", "test_mse_clean", "test_mse_noisy", "parameters", "tie"}
        assert len(final[name]["curve"]) == 4 and all(0 < v < 1 for v in final[name]["curve"])
        assert 0 < final[name]["test_mse_clean"] < 1 and 0 < final[name]["test_mse_noisy"] < 1
    assert final["tied"]["parameters"] < final["untied"]["parameters"]
    assert [u.eta for u in updates][-1] == 0 and updates[0].eta > 0
    first = updates[0].images
    assert set(first) == {"input", "tied", "untied"} and first["input"].shape == (10, 28, 28)


def test_the_drawing_is_reconstructed_beside_the_test_digits(data):
    drawing = torch.zeros(28, 28)
    drawing[6:22, 13:15] = 1.0  # a "1"
    update = next(live.train_live(live.live_recipe(**SMALL), data, drawing=drawing.numpy()))
    assert update.images["tied"].shape == (11, 28, 28)
    assert (update.images["input"][10] == (drawing * 255).to(torch.uint8).numpy()).all()


def test_the_row_holds_one_test_digit_of_each_class(mnist_root, data):
    from torchvision import datasets

    labels = datasets.MNIST(root=str(mnist_root), train=False).targets
    test = datasets.MNIST(root=str(mnist_root), train=False).data.reshape(-1, 784)
    for digit, image in enumerate(data.row):
        first = int((labels == digit).nonzero()[0])
        assert torch.equal(image, test[first])


def test_stop_ends_the_run_before_the_next_batch(data, monkeypatch):
    steps = []
    real_step = training.train_step

    def counting_step(*args):
        steps.append(1)
        return real_step(*args)

    monkeypatch.setattr(training, "train_step", counting_step)
    asked = {"stop": False}
    recipe = live.live_recipe(**{**SMALL, "epochs": 5})
    updates = []
    for update in live.train_live(recipe, data, should_stop=lambda: asked["stop"]):
        updates.append(update)
        if update.epoch == 1:
            asked["stop"] = True
            done = len(steps)
    assert len(steps) == done  # not one step after Stop
    assert [u.epoch for u in updates] == [1, 1] and updates[-1].stopped == "stopped" and updates[-1].final is None
    assert updates[-1].curve["tied"] == updates[0].curve["tied"]


def test_the_time_cap_stops_a_run_and_says_so(data):
    updates = run_to_end(live.live_recipe(**SMALL), data, time_cap=0.0)
    assert len(updates) == 1 and updates[0].epoch == 0
    assert "time cap" in updates[0].stopped and updates[0].final is None


def test_a_run_leaves_the_kernels_switch_as_it_found_it(data):
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        seen = []
        for _ in live.train_live(live.live_recipe(**SMALL), data):
            seen.append(torch.backends.mkldnn.enabled)
        assert all(seen) and torch.backends.mkldnn.enabled is False
    finally:
        torch.backends.mkldnn.enabled = before


def test_a_conv_run_trains_the_study_s_conv_pair(data):
    recipe = live.live_recipe(**{**SMALL, "arch": "conv", "epochs": 1, "latent": 10})
    assert recipe.channels == (32, 64) and recipe.sizes == (784, 10)
    (update,) = run_to_end(recipe, data)
    assert update.final["tied"]["parameters"] < update.final["untied"]["parameters"]
    assert "--arch conv" in update.final["command"] and "--channels 32 64" in update.final["command"]


def test_a_sparse_run_keeps_code_size_atoms_and_gives_the_numbers_of_its_command(data, mnist_root, tmp_path):
    recipe = live.live_recipe(**{**SMALL, "arch": "sparse", "epochs": 1, "latent": 12, "noise_level": 0})
    assert recipe.model_kwargs() == {"hidden": 1024, "k": 12} and not recipe.denoise
    (update,) = run_to_end(recipe, data, data_dir=str(mnist_root))
    assert update.models["tied"].k == 12 and update.models["untied"].decoder_init == "transpose"
    argv = shlex.split(update.final["command"])
    assert "--arch" in argv and argv[argv.index("--k") + 1] == "12"
    argv[argv.index("--out") + 1] = str(tmp_path)
    assert train.main(argv[2:]) == 0
    metrics = json.loads((tmp_path / "untied" / "metrics.json").read_text())
    assert update.final["untied"]["test_mse_clean"] == pytest.approx(metrics["test"]["gaussian"][0]["mse"], abs=1e-6)
    assert 0 <= metrics["code"]["dead_fraction"] <= 1 and metrics["code"]["k"] == 12


def test_hidden_layers_follow_the_study_s_depth_axis():
    shapes = [live.live_recipe(**{**SMALL, "depth": d, "latent": 20}).sizes for d in (1, 2, 3)]
    assert ["-".join(map(str, s)) for s in shapes] == ["784-400-20", "784-512-256-20", "784-1000-500-250-20"]
    assert not live.live_recipe(**{**SMALL, "noise_level": 0}).denoise


@pytest.mark.parametrize(
    "setting, value, words",
    [
        ("arch", "rnn", "Architecture must be one of mlp, conv"),
        ("train_size", 50, "Training images must be a whole number from 100 to 60,000"),
        ("train_size", 70_000, "Training images"),
        ("train_size", "lots", "Training images"),
        ("train_size", 150.5, "Training images"),
        ("latent", 1, "Code size must be a whole number from 2 to 64"),
        ("latent", 65, "Code size"),
        ("depth", 4, "Hidden layers must be a whole number from 1 to 3"),
        ("epochs", 0, "Epochs must be a whole number from 1 to 50"),
        ("epochs", True, "Epochs"),
        ("seed", -1, "Seed"),
        ("noise_level", 1.5, "Training noise must be a number from 0 to 1"),
        ("noise_level", "high", "Training noise"),
        ("noise_level", float("nan"), "Training noise"),
        ("tie", "011", "Tied layers: tie mask '011' has 3 digits, but this model has 2 layer pairs"),
        ("tie", "none", "Tied layers: tie='none' ties no layer pair"),
        ("tie", 5, "Tied layers must be all, inner, outer or a mask"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(setting, value, words):
    with pytest.raises(ValueError, match=words):
        live.live_recipe(**{**SMALL, setting: value})


def test_whole_floats_are_accepted_as_the_numbers_they_are():
    recipe = live.live_recipe(**{**SMALL, "train_size": 300.0, "epochs": 2.0})
    assert recipe.train_size == 300 and recipe.epochs == 2


def test_missing_mnist_is_a_clear_error_saying_how_to_fix_it(tmp_path):
    assert not live.data_ready(str(tmp_path))
    with pytest.raises(TrainError, match="--data-dir"):
        live.load_data(str(tmp_path / "nothing-here"))


def test_the_zipped_pair_loads_back_as_the_same_models(data, tmp_path):
    updates = run_to_end(live.live_recipe(**{**SMALL, "epochs": 1}), data)
    path = live.save_pair(updates[-1].models, updates[-1].final, tmp_path)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "out")
    root = tmp_path / "out" / "tiedae-live-pair"
    assert {"tiedae-live-pair/tied/config.json", "tiedae-live-pair/untied/model.safetensors"} <= names
    assert json.loads((root / "run.json").read_text()) == json.loads(json.dumps(updates[-1].final))
    x = data.x_test[:5].float().div(255)
    for name, model in updates[-1].models.items():
        loaded = load_checkpoint(root / name, name)
        with torch.no_grad():
            assert torch.equal(loaded(x), model.eval()(x))


def test_the_nearest_study_cell_is_on_the_axis_the_run_differs_along():
    def cell(**changes):
        return live.nearest_study_cell(live.live_recipe(**{**SMALL, "latent": 20, **changes}))

    assert cell(train_size=1_300) == ("train_size", 1_000) and cell(train_size=1_600) == ("train_size", 2_000)
    assert cell(latent=40) == ("latent", 50) and cell(latent=3) == ("latent", 2)
    assert cell(depth=3) == ("depth", "784-1000-500-250-20")
    assert cell(arch="conv", train_size=8_000, latent=5) == ("train_size", 10_000)
