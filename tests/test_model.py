"""The tie: parameter counts, gradients, optimizer steps, save/load and the three classic mistakes."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import nn

from tiedae import Autoencoder, TiedAutoencoder, UntiedAutoencoder, count_parameters, is_tied

SIZE_LISTS = [[784, 400, 20], [784, 20], [10, 7, 5, 3], [784, 256, 64, 8]]


@pytest.mark.parametrize("sizes", SIZE_LISTS)
def test_parameter_counts_match_closed_form(sizes):
    pairs = list(zip(sizes[:-1], sizes[1:]))
    # tied: one W per pair + encoder bias (n_out) + decoder bias (n_in)
    assert count_parameters(TiedAutoencoder(sizes=sizes)) == sum(i * o + o + i for i, o in pairs)
    # untied: a second weight per pair
    assert count_parameters(UntiedAutoencoder(sizes=sizes)) == sum(2 * i * o + o + i for i, o in pairs)


def test_tied_parameters_are_encoder_weights_and_both_bias_sets():
    model = TiedAutoencoder(sizes=[784, 400, 20])
    names = {name for name, _ in model.named_parameters()}
    expected = {f"layers.{i}.{p}" for i in range(2) for p in ("weight", "encoder_bias", "decoder_bias")}
    assert names == expected
    untied = {name for name, _ in UntiedAutoencoder(sizes=[784, 400, 20]).named_parameters()}
    assert untied == expected | {"layers.0.own_decoder_weight", "layers.1.own_decoder_weight"}


def test_each_tied_layer_is_truly_tied_and_untied_is_not():
    for layer in TiedAutoencoder().layers:
        assert is_tied(layer.weight, layer.decoder_weight)
    for layer in UntiedAutoencoder().layers:
        assert not is_tied(layer.weight, layer.decoder_weight)


def _untied_copy(tied: TiedAutoencoder) -> UntiedAutoencoder:
    """An untied model carrying exactly the tied model's values (decoder weight = W.t())."""
    untied = UntiedAutoencoder(sizes=tied.sizes).to(tied.layers[0].weight.dtype)
    with torch.no_grad():
        for t, u in zip(tied.layers, untied.layers):
            u.weight.copy_(t.weight)
            u.own_decoder_weight.copy_(t.weight.t())
            u.encoder_bias.copy_(t.encoder_bias)
            u.decoder_bias.copy_(t.decoder_bias)
    return untied


def test_tied_gradient_is_sum_of_encoder_and_transposed_decoder_gradients():
    torch.manual_seed(0)
    tied = TiedAutoencoder(sizes=[30, 12, 5]).double()
    with torch.no_grad():
        for p in tied.parameters():
            p.normal_(0, 0.5)
    untied = _untied_copy(tied)
    x = torch.rand(8, 30, dtype=torch.float64)
    target = torch.rand(8, 30, dtype=torch.float64)
    F.mse_loss(tied(x), target).backward()
    F.mse_loss(untied(x), target).backward()
    for t, u in zip(tied.layers, untied.layers):
        expected = u.weight.grad + u.own_decoder_weight.grad.t()  # grad(encoder use) + grad(decoder use)^T
        torch.testing.assert_close(t.weight.grad, expected, atol=1e-6, rtol=0)
        # and both uses really contribute: neither part alone is the tied gradient
        assert not torch.allclose(t.weight.grad, u.weight.grad, atol=1e-6)
        assert not torch.allclose(t.weight.grad, u.own_decoder_weight.grad.t(), atol=1e-6)
        torch.testing.assert_close(t.encoder_bias.grad, u.encoder_bias.grad, atol=1e-6, rtol=0)
        torch.testing.assert_close(t.decoder_bias.grad, u.decoder_bias.grad, atol=1e-6, rtol=0)


def test_gradcheck_float64():
    torch.manual_seed(1)
    model = TiedAutoencoder(sizes=[6, 5, 3]).double()
    names = [name for name, _ in model.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in model.parameters())
    x = torch.rand(4, 6, dtype=torch.float64, requires_grad=True)

    def forward(x, *values):
        return torch.func.functional_call(model, dict(zip(names, values)), (x,))

    assert torch.autograd.gradcheck(forward, (x, *params), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("optimizer", [torch.optim.SGD, torch.optim.Adam])
def test_one_step_moves_decoder_weight_exactly_as_encoder_weight(optimizer):
    torch.manual_seed(2)
    model = TiedAutoencoder(sizes=[20, 8, 4])
    before = [(layer.weight.detach().clone(), layer.decoder_weight.detach().clone()) for layer in model.layers]
    opt = optimizer(model.parameters(), lr=0.1)
    F.mse_loss(model(torch.rand(5, 20)), torch.rand(5, 20)).backward()
    opt.step()
    for layer, (w0, d0) in zip(model.layers, before):
        moved = layer.weight.detach() - w0
        assert moved.abs().max() > 0
        assert torch.equal(layer.decoder_weight.detach() - d0, moved.t())
        assert torch.equal(layer.decoder_weight.detach(), layer.weight.detach().t())


@pytest.mark.parametrize("cls", [TiedAutoencoder, UntiedAutoencoder])
def test_shapes_range_and_dtypes(cls):
    model = cls()
    flat, image = torch.rand(3, 784), torch.rand(3, 1, 28, 28)
    assert model(flat).shape == (3, 784)
    assert model(image).shape == (3, 1, 28, 28)
    assert model.encode(image).shape == (3, 20)
    assert model.decode(torch.randn(3, 20)).shape == (3, 784)
    out = model(image)
    assert out.min() >= 0 and out.max() <= 1
    model64 = cls().double()
    assert model64(image.double()).dtype == torch.float64
    with pytest.raises(ValueError, match="784 input features"):
        model(torch.rand(2, 100))


def test_bad_sizes_fail_clearly():
    with pytest.raises(ValueError, match="at least two"):
        TiedAutoencoder(sizes=[784])
    with pytest.raises(ValueError, match="positive"):
        UntiedAutoencoder(sizes=[784, 0, 20])


@pytest.mark.parametrize("cls", [TiedAutoencoder, UntiedAutoencoder])
def test_save_load_round_trip(cls, tmp_path):
    torch.manual_seed(3)
    model = cls(sizes=[784, 64, 10]).eval()
    model.save_pretrained(tmp_path)
    assert {"model.safetensors", "config.json", "README.md"} <= {p.name for p in tmp_path.iterdir()}
    loaded = cls.from_pretrained(tmp_path)
    assert type(loaded) is cls and not loaded.training and loaded.sizes == [784, 64, 10]
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(loaded(x), model(x))


def test_loaded_tie_is_live_and_file_holds_each_weight_once(tmp_path):
    model = TiedAutoencoder(sizes=[784, 64, 10])
    model.save_pretrained(tmp_path)
    with safe_open(tmp_path / "model.safetensors", framework="pt") as f:
        keys = set(f.keys())
    assert keys == {f"layers.{i}.{p}" for i in range(2) for p in ("weight", "encoder_bias", "decoder_bias")}
    stored = (tmp_path / "model.safetensors").stat().st_size
    assert stored < 4 * count_parameters(model) + 4096  # one copy of each weight, plus a small header

    loaded = TiedAutoencoder.from_pretrained(tmp_path)
    z = torch.randn(2, 10)
    before = loaded.decode(z)
    with torch.no_grad():
        loaded.layers[1].weight.mul_(2)  # editing W must change decoding
    assert not torch.allclose(loaded.decode(z), before)
    assert torch.equal(loaded.layers[1].decoder_weight, loaded.layers[1].weight.t())
    assert is_tied(loaded.layers[0].weight, loaded.layers[0].decoder_weight)


def test_wrong_class_and_size_loads_fail_clearly(tmp_path):
    tied_dir, untied_dir = tmp_path / "tied", tmp_path / "untied"
    TiedAutoencoder().save_pretrained(tied_dir)
    UntiedAutoencoder().save_pretrained(untied_dir)
    with pytest.raises(ValueError, match=r"config\.json.*tied checkpoint.*TiedAutoencoder"):
        UntiedAutoencoder.from_pretrained(tied_dir)
    with pytest.raises(ValueError, match=r"config\.json.*untied checkpoint.*UntiedAutoencoder"):
        TiedAutoencoder.from_pretrained(untied_dir)
    with pytest.raises(
        ValueError,
        match=r"model\.safetensors: checkpoint does not match TiedAutoencoder\(sizes=\[784, 300, 20\]\): size mismatch for layers\.0\.weight.*\[400, 784\].*\[300, 784\]",
    ):
        TiedAutoencoder.from_pretrained(tied_dir, sizes=[784, 300, 20])
    # weights saved without a usable config still cannot sneak into the wrong class
    (untied_dir / "config.json").unlink()
    with pytest.raises(
        ValueError, match=r"model\.safetensors: .*Unexpected key\(s\) in state_dict: \"layers\.0\.own_decoder_weight\""
    ):
        TiedAutoencoder.from_pretrained(untied_dir)


def test_truncated_weights_fail_clearly(tmp_path):
    TiedAutoencoder(sizes=[784, 16, 4]).save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"model\.safetensors: not a readable safetensors file"):
        TiedAutoencoder.from_pretrained(tmp_path)


def test_generic_autoencoder_loads_either_kind(tmp_path):
    UntiedAutoencoder(sizes=[784, 16, 4]).save_pretrained(tmp_path)
    model = Autoencoder.from_pretrained(tmp_path)
    assert not model.tied and model.sizes == [784, 16, 4]


# The three classic ways to get tying wrong, each shown to be wrong.


def test_mistake_1_assigning_encoder_weight_to_decoder_has_the_wrong_shape():
    enc, dec = nn.Linear(784, 400), nn.Linear(400, 784)
    dec.weight = enc.weight  # (400, 784) where the decoder needs (784, 400)
    with pytest.raises(RuntimeError):
        dec(enc(torch.rand(2, 784)))
    assert not is_tied(enc.weight, dec.weight)


def test_mistake_2_transposed_parameter_is_refused_or_silently_untied():
    torch.manual_seed(5)
    enc, dec = nn.Linear(30, 10), nn.Linear(10, 30)
    with pytest.raises(TypeError):
        dec.weight = enc.weight.T  # a non-leaf tensor: PyTorch refuses it
    dec.weight = nn.Parameter(enc.weight.t())  # the "fix": a second leaf Parameter
    assert not is_tied(enc.weight, dec.weight)

    tied = TiedAutoencoder(sizes=[30, 10])  # one layer pair: sigmoid(decode(encode(x)))
    with torch.no_grad():
        tied.layers[0].weight.copy_(enc.weight)
        tied.layers[0].encoder_bias.copy_(enc.bias)
        tied.layers[0].decoder_bias.copy_(dec.bias)
    x, target = torch.rand(4, 30), torch.rand(4, 30)
    F.mse_loss(torch.sigmoid(dec(enc(x))), target).backward()
    F.mse_loss(tied(x), target).backward()
    # Same values, same function, but the encoder weight's gradient misses the decoder's use.
    assert not torch.allclose(enc.weight.grad, tied.layers[0].weight.grad, atol=1e-6)
    torch.testing.assert_close(tied.layers[0].weight.grad, enc.weight.grad + dec.weight.grad.t())


def test_mistake_3_copying_after_each_step_is_not_a_tie():
    torch.manual_seed(4)
    x, target = torch.rand(6, 12), torch.rand(6, 12)
    tied = TiedAutoencoder(sizes=[12, 5])
    enc, dec = nn.Linear(12, 5), nn.Linear(5, 12)
    with torch.no_grad():
        enc.weight.copy_(tied.layers[0].weight)
        enc.bias.copy_(tied.layers[0].encoder_bias)
        dec.bias.copy_(tied.layers[0].decoder_bias)
        dec.weight.copy_(enc.weight.t())
    opt_tied = torch.optim.SGD(tied.parameters(), lr=0.5)
    opt_copy = torch.optim.SGD([*enc.parameters(), *dec.parameters()], lr=0.5)
    for _ in range(3):
        opt_tied.zero_grad()
        F.mse_loss(tied(x), target).backward()
        opt_tied.step()
        opt_copy.zero_grad()
        F.mse_loss(torch.sigmoid(dec(enc(x))), target).backward()
        opt_copy.step()
        with torch.no_grad():
            dec.weight.copy_(enc.weight.t())  # the "tie": overwrite after each step
    assert not is_tied(enc.weight, dec.weight)  # two Parameters, two gradients
    # and training follows a different path: the decoder's gradient is thrown away each step
    assert not torch.allclose(enc.weight, tied.layers[0].weight, atol=1e-4)


def test_package_names_and_submodules_load_on_first_use_and_the_light_ones_skip_torch():
    import tiedae

    files = {p.stem for p in Path(tiedae.__file__).parent.glob("*.py")} - {"__init__"}
    assert tiedae._SUBMODULES == files  # every submodule reachable as tiedae.<name>
    assert all(getattr(tiedae, name) is not None for name in tiedae.__all__)
    code = "import sys, tiedae.constants, tiedae.study, tiedae.recipe, tiedae.preprocess; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(tiedae.__file__).parent.parent, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "False", result.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tiedae.nope  # noqa: B018


def test_a_missing_local_folder_fails_fast_naming_it_and_the_unreachable_hub(tmp_path, monkeypatch):
    import time

    import huggingface_hub.constants as constants

    monkeypatch.chdir(tmp_path)  # "checkpoints/tied" from another directory: no such folder here
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # a closed port: the Hub cannot be reached
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    start = time.monotonic()
    with pytest.raises(FileNotFoundError) as error:
        TiedAutoencoder.from_pretrained("checkpoints/tied")
    assert time.monotonic() - start <= 5
    message = str(error.value)
    assert f"no local folder {tmp_path / 'checkpoints' / 'tied'}" in message
    assert "the Hub could not be reached" in message and "'checkpoints/tied'" in message
    with pytest.raises(FileNotFoundError, match=r"no local folder .*nope.*not a Hub repo id"):
        TiedAutoencoder.from_pretrained("./nope/x/y")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(FileNotFoundError, match=r"no local folder .*the Hub is offline"):
        TiedAutoencoder.from_pretrained("checkpoints/tied")
