"""The family seam: a family is one block of model code and one row of the table, and nothing else changes."""

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tiedae import training
from tiedae.families import FAMILIES, FIRST_FAMILY, Family, family_of_config
from tiedae.model import HubAutoencoder, count_parameters, is_tied, load_checkpoint
from tiedae.recipe import Recipe


class LinearPair(HubAutoencoder):
    """A third family, defined here and nowhere in the package: 784 -> 64 -> 8, linear, tied or not."""

    arch = "tiny-linear"

    def __init__(self, *, width: int = 64, latent: int = 8, tied: bool = True) -> None:
        super().__init__()
        self.tied = bool(tied)
        self.encoder = nn.Linear(784, width)
        self.code = nn.Linear(width, latent)
        self.decoder_bias = nn.Parameter(torch.zeros(width))
        self.output_bias = nn.Parameter(torch.zeros(784))
        if not self.tied:
            self.code_out = nn.Parameter(torch.randn(width, latent) / latent**0.5)
            self.pixels_out = nn.Parameter(torch.randn(784, width) / width**0.5)

    @property
    def latent_size(self) -> int:
        return self.code.out_features

    @property
    def hparams(self) -> dict:
        return {"width": self.encoder.out_features, "latent": self.latent_size}

    @property
    def layout(self) -> str:
        return f"784 → {self.encoder.out_features} → {self.latent_size} → {self.encoder.out_features} → 784"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.code(self.encoder(x.reshape(len(x), -1)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        code_out = self.code.weight.t() if self.tied else self.code_out  # the tie
        pixels_out = self.encoder.weight.t() if self.tied else self.pixels_out
        return torch.sigmoid(F.linear(F.linear(z, code_out, self.decoder_bias), pixels_out, self.output_bias))


class TiedLinearPair(LinearPair):
    def __init__(self, *, width: int = 64, latent: int = 8, tied: bool = True) -> None:
        super().__init__(width=width, latent=latent, tied=True)


class UntiedLinearPair(LinearPair):
    def __init__(self, *, width: int = 64, latent: int = 8, tied: bool = False) -> None:
        super().__init__(width=width, latent=latent, tied=False)


ROW = Family(
    name="tiny-linear",
    label="linear",
    description="linear, one hidden layer",
    tied="TiedLinearPair",
    untied="UntiedLinearPair",
    module=__name__,
    hparams=("width", "latent"),
    default_sizes=(784, 8),
    model_kwargs=lambda recipe: {"width": 64, "latent": recipe.sizes[-1]},
    repo_prefix=lambda hparams: f"tiedae-mnist-linear-{hparams['latent']}d",
    title=lambda hparams: f"Linear {hparams['width']}",
    first_layer=lambda model: (model.encoder.weight, model.encoder.weight if model.tied else model.pixels_out.t()),
    result_prefix="linear_",
    study_axes=("train_size",),
)


@pytest.fixture
def third_family(monkeypatch):
    monkeypatch.setitem(FAMILIES, ROW.name, ROW)
    return ROW


def test_a_family_defined_outside_the_package_trains_saves_and_loads_through_the_package(third_family, tmp_path):
    generator = torch.Generator().manual_seed(0)
    x_train = torch.randint(0, 256, (256, 784), dtype=torch.uint8, generator=generator)
    x_test = torch.randint(0, 256, (64, 784), dtype=torch.uint8, generator=generator)
    recipe = Recipe.for_arch("tiny-linear", epochs=1, batch_size=64, precision="fp32")
    (report,) = training.train_pair(recipe, x_train, x_test, torch.device("cpu"), parallel=False)
    models = report.models
    assert {type(m) for m in models.values()} == {TiedLinearPair, UntiedLinearPair}
    assert count_parameters(models["tied"]) < count_parameters(models["untied"])
    assert is_tied(models["tied"].code.weight, models["tied"].code.weight.t())
    for name, model in models.items():
        model.save_pretrained(tmp_path / name)
        config = json.loads((tmp_path / name / "config.json").read_text())
        assert config == {"width": 64, "latent": 8, "tied": name == "tied", "arch": "tiny-linear"}
        assert family_of_config(config) is third_family
        loaded = type(model).from_pretrained(tmp_path / name)
        again = load_checkpoint(tmp_path / name)
        x = x_test[:4].float() / 255
        assert torch.equal(loaded(x), model.eval()(x)) and torch.equal(again(x), loaded(x))
    with pytest.raises(ValueError, match="checkpoint of the linear family; load it with UntiedLinearPair"):
        FAMILIES[FIRST_FAMILY].classes()["tied"].from_pretrained(tmp_path / "untied")
    assert recipe.family.repo_prefix(recipe.model_kwargs()) == "tiedae-mnist-linear-8d"


def test_the_model_returns_its_own_loss_and_the_loop_asks_for_it(third_family):
    model = TiedLinearPair()
    x = torch.rand(5, 784)
    output, loss = model(x, x, loss="mse")
    assert torch.equal(output, model(x)) and torch.allclose(loss, F.mse_loss(output, x))
    _, bce = model(x, x)
    assert torch.allclose(bce, F.binary_cross_entropy(output, x))


def test_checkpoints_without_arch_are_told_apart_by_their_shape_keys():
    assert family_of_config({"sizes": [784, 400, 20], "tied": True}).name == FIRST_FAMILY
    assert family_of_config({"channels": [64, 128], "latent": 20, "tied": False}) is FAMILIES["conv"]
    with pytest.raises(ValueError, match="does not describe a tiedae model"):
        family_of_config({"widths": [1]})
    with pytest.raises(ValueError, match="unknown model family arch='vae'"):
        family_of_config({"arch": "vae"})


def test_recipe_checks_raise_value_errors_that_survive_python_O():
    for bad, message in [
        ({"arch": "rnn"}, "arch must be one of"),
        ({"sizes": (100, 20)}, "sizes must start with 784"),
        ({"epochs": 0}, "epochs and batch size must be at least 1"),
        ({"loss": "l1"}, "loss must be one of"),
        ({"noise_max": 2.0}, "noise max must be between 0 and 1"),
        ({"arch": "conv", "sizes": (784, 400, 20)}, "a conv recipe's sizes are"),
    ]:
        with pytest.raises(ValueError, match=message):
            Recipe(**bad)
    assert dataclasses.replace(Recipe(), epochs=2).epochs == 2


ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
PROJECT = sorted([*ROOT.glob("tiedae/*.py"), *ROOT.glob("space/*.py"), ROOT / "app.py", ROOT / "train.py", ROOT / "study.py"])


def module_name(path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    return ".".join(relative.parts).removesuffix(".__init__")


def test_nothing_outside_the_models_and_the_table_names_a_family():
    import ast

    names = set(FAMILIES)
    found = []
    for path in PROJECT:
        if path.name in ("families.py", "model.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not found, found


def test_no_import_cycles_among_the_projects_modules():
    import ast

    modules = {module_name(path): path for path in PROJECT}
    graph = {}
    for name, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {other for other in imported if other in modules and other != name}

    def cycle_from(start, seen=()):
        for other in graph[start]:
            if other in seen:
                return [*seen, other]
            found = cycle_from(other, (*seen, other))
            if found:
                return found
        return None

    for name in graph:
        assert cycle_from(name, (name,)) is None, f"import cycle: {' -> '.join(cycle_from(name, (name,)))}"
