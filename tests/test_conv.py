"""The conv tie: the adjoint identity, one Parameter per pair, gradients, save/load, and the wrong ways to tie."""

import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import nn

from tiedae import (
    ConvLayerPair,
    TiedAutoencoder,
    TiedConvAutoencoder,
    UntiedConvAutoencoder,
    count_parameters,
    is_conv_tied,
    is_tied,
)

SMALL = dict(channels=[3, 5], latent=4)


def _randomized(model: nn.Module, seed: int) -> nn.Module:
    """The model in float64 with every parameter drawn afresh (biases nonzero), so no gradient part is trivially 0."""
    torch.manual_seed(seed)
    model = model.double()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    return model


def _no_bias(layer: ConvLayerPair, x: torch.Tensor, direction: str) -> torch.Tensor:
    """The layer's own encode or decode with its bias taken off again: the linear map alone."""
    if direction == "encode":
        return layer.encode(x) - layer.encoder_bias.view(1, -1, 1, 1)
    return layer.decode(x) - layer.decoder_bias.view(1, -1, 1, 1)


def test_shapes_round_trip_28_14_7_exactly_without_output_padding():
    model = TiedConvAutoencoder(channels=[32, 64])
    x = torch.rand(3, 1, 28, 28)
    h1 = model.convs[0].encode(x)
    h2 = model.convs[1].encode(F.relu(h1))
    assert h1.shape == (3, 32, 14, 14) and h2.shape == (3, 64, 7, 7)
    assert model.convs[1].decode(h2).shape == h1.shape
    assert model.convs[0].decode(h1).shape == x.shape
    assert model.encode(x).shape == (3, 20) and model.encode(x.reshape(3, 784)).shape == (3, 20)
    assert model.decode(torch.randn(3, 20)).shape == (3, 1, 28, 28)
    assert model(x).shape == x.shape and model(x.reshape(3, 784)).shape == (3, 784)
    out = model(x)
    assert out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match="28×28 images"):
        model(torch.rand(2, 100))


@pytest.mark.parametrize("layer_index", [0, 1])
def test_adjoint_identity_for_each_tied_conv_layer(layer_index):
    """<conv(x, W), y> = <x, conv_transpose(y, W)>: the decoder is exactly the encoder's adjoint."""
    model = _randomized(TiedConvAutoencoder(channels=[4, 6], latent=3), seed=layer_index)
    layer = model.convs[layer_index]
    side = 28 >> layer_index
    torch.manual_seed(10)
    x = torch.randn(2, layer.weight.shape[1], side, side, dtype=torch.float64)
    y = torch.randn(2, layer.weight.shape[0], side // 2, side // 2, dtype=torch.float64)
    left = (_no_bias(layer, x, "encode") * y).sum()
    right = (x * _no_bias(layer, y, "decode")).sum()
    torch.testing.assert_close(left, right, rtol=1e-12, atol=1e-12)


def test_tied_decoder_is_the_encoders_transpose_matrix():
    """Against a reference: the conv as an explicit matrix A (one column per basis image); decode must apply A.T."""
    torch.manual_seed(11)
    layer = ConvLayerPair(2, 3, tied=True).double()
    side = 8
    n_in = 2 * side * side
    basis = torch.eye(n_in, dtype=torch.float64).reshape(n_in, 2, side, side)
    matrix = _no_bias(layer, basis, "encode").reshape(n_in, -1).T  # (n_out, n_in): column j is conv(e_j)
    y = torch.randn(1, 3, side // 2, side // 2, dtype=torch.float64)
    expected = (matrix.T @ y.reshape(-1)).reshape(1, 2, side, side)
    torch.testing.assert_close(_no_bias(layer, y, "decode"), expected, rtol=1e-12, atol=1e-12)
    # and the same through autograd: the adjoint is the vector-Jacobian product of the encoder
    x = torch.zeros(1, 2, side, side, dtype=torch.float64, requires_grad=True)
    (vjp,) = torch.autograd.grad(_no_bias(layer, x, "encode"), x, y)
    torch.testing.assert_close(_no_bias(layer, y, "decode"), vjp, rtol=1e-12, atol=1e-12)


def test_adjoint_identity_for_the_code_layer():
    model = _randomized(TiedConvAutoencoder(**SMALL), seed=3)
    code = model.code
    x, y = torch.randn(4, code.weight.shape[1], dtype=torch.float64), torch.randn(4, 4, dtype=torch.float64)
    left = ((code.encode(x) - code.encoder_bias) * y).sum()
    right = (x * (code.decode(y) - code.decoder_bias)).sum()
    torch.testing.assert_close(left, right, rtol=1e-12, atol=1e-12)
    assert is_tied(code.weight, code.decoder_weight)


def test_one_parameter_per_tied_layer_pair_and_untied_shares_nothing():
    tied, untied = TiedConvAutoencoder(), UntiedConvAutoencoder()
    per_pair = ("weight", "encoder_bias", "decoder_bias")
    expected = {f"{layer}.{p}" for layer in ("convs.0", "convs.1", "code") for p in per_pair}
    assert {name for name, _ in tied.named_parameters()} == expected
    assert {name for name, _ in untied.named_parameters()} == expected | {
        f"{layer}.own_decoder_weight" for layer in ("convs.0", "convs.1", "code")
    }
    for layer in tied.convs:
        assert layer.decoder_weight is layer.weight and is_conv_tied(layer.weight, layer.decoder_weight)
    for layer in untied.convs:
        assert not is_conv_tied(layer.weight, layer.decoder_weight)
        assert layer.decoder_weight.shape == layer.weight.shape
    assert not is_tied(untied.code.weight, untied.code.decoder_weight)
    storages = [p.untyped_storage().data_ptr() for p in untied.parameters()]
    assert len(storages) == len(set(storages))  # no two parameters share memory


def test_parameter_counts_match_closed_form():
    c1, c2, latent = 32, 64, 20
    conv1, conv2, code = 1 * c1 * 16, c1 * c2 * 16, c2 * 49 * latent
    biases = (c1 + 1) + (c2 + c1) + (latent + c2 * 49)  # encoder + decoder bias of each pair
    shape = dict(channels=[c1, c2], latent=latent)
    assert count_parameters(TiedConvAutoencoder(**shape)) == conv1 + conv2 + code + biases
    assert count_parameters(UntiedConvAutoencoder(**shape)) == 2 * (conv1 + conv2 + code) + biases


def _untied_copy(tied: TiedConvAutoencoder) -> UntiedConvAutoencoder:
    """An untied model carrying exactly the tied model's values (decoder kernels = W, code decoder = W.t())."""
    untied = UntiedConvAutoencoder(channels=tied.channels, latent=tied.latent_size).double()
    with torch.no_grad():
        for t, u in zip([*tied.convs, tied.code], [*untied.convs, untied.code]):
            u.weight.copy_(t.weight)
            u.own_decoder_weight.copy_(t.decoder_weight)
            u.encoder_bias.copy_(t.encoder_bias)
            u.decoder_bias.copy_(t.decoder_bias)
    return untied


def _path_gradients(tied: TiedConvAutoencoder, x: torch.Tensor, target: torch.Tensor) -> list[torch.Tensor]:
    """Reference: per layer pair, the encoder-path plus decoder-path gradient, from an untied copy with equal values."""
    untied = _untied_copy(tied)
    F.mse_loss(untied(x), target).backward()
    sums = [u.weight.grad + u.own_decoder_weight.grad for u in untied.convs]  # kernels: same layout both ways
    return [*sums, untied.code.weight.grad + untied.code.own_decoder_weight.grad.t()]


def test_tied_gradient_is_sum_of_encoder_path_and_decoder_path_gradients():
    tied = _randomized(TiedConvAutoencoder(**SMALL), seed=4)
    x, target = torch.rand(3, 1, 28, 28, dtype=torch.float64), torch.rand(3, 1, 28, 28, dtype=torch.float64)
    expected = _path_gradients(tied, x, target)
    F.mse_loss(tied(x), target).backward()
    untied = _untied_copy(tied)
    F.mse_loss(untied(x), target).backward()
    for t, u, want in zip([*tied.convs, tied.code], [*untied.convs, untied.code], expected):
        torch.testing.assert_close(t.weight.grad, want, rtol=1e-10, atol=1e-12)
        assert not torch.allclose(t.weight.grad, u.weight.grad)  # both paths really contribute
        torch.testing.assert_close(t.decoder_bias.grad, u.decoder_bias.grad, rtol=1e-10, atol=1e-12)


def test_gradcheck_float64():
    model = _randomized(TiedConvAutoencoder(channels=[2, 2], latent=2), seed=5)
    names = [name for name, _ in model.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in model.parameters())
    x = torch.rand(1, 1, 28, 28, dtype=torch.float64)

    def forward(*values):
        return torch.func.functional_call(model, dict(zip(names, values)), (x,))

    assert torch.autograd.gradcheck(forward, params, eps=1e-6, atol=1e-5)


def test_one_adam_step_moves_decoder_kernel_exactly_as_encoder_kernel():
    torch.manual_seed(6)
    model = TiedConvAutoencoder(**SMALL)
    before = [layer.weight.detach().clone() for layer in model.convs]
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    F.mse_loss(model(torch.rand(2, 784)), torch.rand(2, 784)).backward()
    opt.step()
    for layer, w0 in zip(model.convs, before):
        assert (layer.weight.detach() - w0).abs().max() > 0
        assert torch.equal(layer.decoder_weight.detach(), layer.weight.detach())


# The wrong ways to tie a conv decoder, each shown to be wrong: the encoder kernel misses the decoder's gradient.

WRONG_TIES = {
    "copied kernel": lambda w: w.clone().detach().requires_grad_(True),
    "detached kernel": lambda w: w.detach(),
    "re-wrapped in a new Parameter": lambda w: nn.Parameter(w.data),
}


@pytest.mark.parametrize("wrong", list(WRONG_TIES))
def test_wrong_ties_fail(wrong, monkeypatch):
    model = _randomized(TiedConvAutoencoder(**SMALL), seed=7)
    x, target = torch.rand(2, 1, 28, 28, dtype=torch.float64), torch.rand(2, 1, 28, 28, dtype=torch.float64)
    expected = _path_gradients(model, x, target)
    monkeypatch.setattr(ConvLayerPair, "decoder_weight", property(lambda self: WRONG_TIES[wrong](self.weight)))
    reconstruction = model(x)
    torch.testing.assert_close(reconstruction, _untied_copy(model)(x))  # same values, same function...
    F.mse_loss(reconstruction, target).backward()
    for layer, want in zip(model.convs, expected):
        assert not is_conv_tied(layer.weight, layer.decoder_weight)
        assert not torch.allclose(layer.weight.grad, want)  # ...but not the tied gradient


@pytest.mark.parametrize("cls", [TiedConvAutoencoder, UntiedConvAutoencoder])
def test_save_load_round_trip_strict_and_in_eval_mode(cls, tmp_path):
    torch.manual_seed(8)
    model = cls(channels=[8, 16], latent=6)
    model.save_pretrained(tmp_path)
    assert {"model.safetensors", "config.json", "README.md"} <= {p.name for p in tmp_path.iterdir()}
    assert "convolutional autoencoder" in (tmp_path / "README.md").read_text()
    loaded = cls.from_pretrained(tmp_path)
    assert type(loaded) is cls and not loaded.training
    assert loaded.channels == [8, 16] and loaded.latent_size == 6
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(loaded(x), model.eval()(x))


def test_tied_file_holds_each_kernel_once_and_the_loaded_tie_is_live(tmp_path):
    model = TiedConvAutoencoder(**SMALL)
    model.save_pretrained(tmp_path)
    with safe_open(tmp_path / "model.safetensors", framework="pt") as f:
        assert not any("own_decoder" in key for key in f.keys())
    loaded = TiedConvAutoencoder.from_pretrained(tmp_path)
    z = torch.randn(2, 4)
    before = loaded.decode(z)
    with torch.no_grad():
        loaded.convs[0].weight.mul_(2)  # editing the encoder's first kernels must change the decoder's last layer
    assert not torch.allclose(loaded.decode(z), before)
    assert is_conv_tied(loaded.convs[0].weight, loaded.convs[0].decoder_weight)


def test_wrong_class_and_shape_loads_fail_clearly(tmp_path):
    tied_dir, untied_dir, mlp_dir = tmp_path / "tied", tmp_path / "untied", tmp_path / "mlp"
    TiedConvAutoencoder(**SMALL).save_pretrained(tied_dir)
    UntiedConvAutoencoder(**SMALL).save_pretrained(untied_dir)
    TiedAutoencoder(sizes=[784, 16, 4]).save_pretrained(mlp_dir)
    with pytest.raises(ValueError, match=r"config\.json.*tied checkpoint.*TiedConvAutoencoder"):
        UntiedConvAutoencoder.from_pretrained(tied_dir)
    with pytest.raises(ValueError, match=r"config\.json.*untied checkpoint.*UntiedConvAutoencoder"):
        TiedConvAutoencoder.from_pretrained(untied_dir)
    with pytest.raises(
        ValueError,
        match=r"model\.safetensors: checkpoint does not match TiedConvAutoencoder\(channels=\[3, 7\], latent=4\): size mismatch for convs\.1\.weight",
    ):
        TiedConvAutoencoder.from_pretrained(tied_dir, channels=[3, 7])
    with pytest.raises(ValueError, match=r"config\.json: this is a checkpoint of the MLP family; load it with TiedAutoencoder"):
        TiedConvAutoencoder.from_pretrained(mlp_dir)
    with pytest.raises(
        ValueError, match=r"config\.json: this is a checkpoint of the conv family; load it with UntiedConvAutoencoder"
    ):
        TiedAutoencoder.from_pretrained(untied_dir)
    with pytest.raises(ValueError, match="channels must be two positive widths"):
        TiedConvAutoencoder(channels=[8])


def test_a_tied_conv_pair_trains_to_the_same_weights_in_threads_and_one_after_the_other(mnist_root):
    """bf16 autocast's weight cache shared one cast of the tied kernel between its two uses, and beside its twin in
    another thread the tied model then trained to different weights run to run (tiedae.training.train_step)."""
    from tiedae import training
    from tiedae.recipe import Recipe

    x_train, x_test = training.load_mnist(str(mnist_root))
    x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    recipe = Recipe.for_arch("conv", channels=(8, 16), epochs=6, batch_size=32, precision="bf16")
    weights = []
    for parallel in (True, True, True, False):
        *_, last = training.train_pair(recipe, x_train, x_test, torch.device("cpu"), parallel=parallel, progress=False)
        weights.append({name: [p.detach().clone() for p in model.parameters()] for name, model in last.models.items()})
    for other in weights[1:]:
        for name in weights[0]:
            assert all(torch.equal(a, b) for a, b in zip(weights[0][name], other[name])), name
