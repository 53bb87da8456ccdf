"""The sparse family: TopK against a reference, the tie (one Parameter, both paths' gradient, the wrong ways),
the untied twin's two starts, save/load, and the atoms' statistics against a loop over images."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import nn

from tiedae import LayerPair, TiedAutoencoder, TiedSparseAutoencoder, UntiedSparseAutoencoder, count_parameters, is_tied
from tiedae.atoms import TOP_IMAGES, AtomStatistics, atom_statistics
from tiedae.model import TopK, load_checkpoint
from tiedae.recipe import Recipe

SMALL = dict(hidden=800, k=5)


def _randomized(model: nn.Module, seed: int) -> nn.Module:
    """The model in float64 with every parameter drawn afresh (biases nonzero)."""
    torch.manual_seed(seed)
    model = model.double()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.05)
    return model


def reference_topk(h: torch.Tensor, k: int) -> torch.Tensor:
    """Row by row, in plain Python: keep the k largest values (ReLU'd), zero the rest."""
    out = torch.zeros_like(h)
    for i, row in enumerate(h.tolist()):
        for j in sorted(range(len(row)), key=lambda j: -row[j])[:k]:
            out[i, j] = max(row[j], 0.0)
    return out


@pytest.mark.parametrize("k", [1, 3, 7])
def test_topk_keeps_the_k_largest_after_relu_and_zeroes_the_rest(k):
    torch.manual_seed(k)
    h = torch.randn(6, 20, dtype=torch.float64)
    h[0] = -h[0].abs()  # a row with no positive pre-activation: its code is all zero
    z = TopK(k)(h)
    assert torch.equal(z, reference_topk(h, k))
    assert ((z != 0).sum(1) <= k).all() and (z[0] == 0).all()


def test_the_code_has_at_most_k_non_zeros_and_k_can_be_lowered_not_raised():
    torch.manual_seed(0)
    model = TiedSparseAutoencoder(**SMALL)
    x = torch.rand(8, 784)
    z = model.encode(x)
    assert z.shape == (8, 800) and ((z != 0).sum(1) <= 5).all() and ((z != 0).sum(1) == 5).any()
    z2 = model.encode(x, k=2)
    assert ((z2 != 0).sum(1) <= 2).all()
    kept = z2 != 0
    assert torch.equal(z2[kept], z[kept])  # the top 2 are among the top 5, with the same activations
    assert model.decode(z2).shape == (8, 784)
    for bad, message in [
        (6, "k must be a whole number from 1 to 5; got 6"),
        (0, "k must be a whole number from 1 to 5; got 0"),
        (2.5, "whole number"),
        ("3", "whole number"),
    ]:
        with pytest.raises(ValueError, match=message):
            model.encode(x, k=bad)


def test_one_parameter_for_the_dictionary_when_tied_and_nothing_shared_when_untied():
    tied, untied = TiedSparseAutoencoder(**SMALL), UntiedSparseAutoencoder(**SMALL)
    base = {"dictionary.weight", "dictionary.encoder_bias", "dictionary.decoder_bias"}
    assert {name for name, _ in tied.named_parameters()} == base
    assert {name for name, _ in untied.named_parameters()} == base | {"dictionary.own_decoder_weight"}
    assert is_tied(tied.dictionary.weight, tied.dictionary.decoder_weight)
    assert not is_tied(untied.dictionary.weight, untied.dictionary.decoder_weight)
    storages = [p.untyped_storage().data_ptr() for p in untied.parameters()]
    assert len(storages) == len(set(storages))
    w = 784 * 800
    assert count_parameters(tied) == w + 800 + 784 and count_parameters(untied) == 2 * w + 800 + 784


def test_the_untied_decoder_starts_as_the_transpose_or_at_random_and_either_way_trains_alone():
    torch.manual_seed(1)
    tied = TiedSparseAutoencoder(**SMALL)
    torch.manual_seed(1)
    from_tied = UntiedSparseAutoencoder(**SMALL)
    torch.manual_seed(1)
    random = UntiedSparseAutoencoder(**SMALL, decoder_init="random")
    x = torch.rand(4, 784)
    assert torch.equal(from_tied.dictionary.weight, tied.dictionary.weight)  # same seed, same encoder
    assert torch.equal(from_tied.dictionary.own_decoder_weight, tied.dictionary.weight.t())
    assert torch.equal(from_tied(x), tied(x))  # the same function at the start...
    assert not torch.equal(random.dictionary.own_decoder_weight, tied.dictionary.weight.t())
    F.mse_loss(from_tied(x), x).backward()
    torch.optim.SGD(from_tied.parameters(), lr=1.0).step()
    # ...but two Parameters: one step moves them apart
    assert not torch.allclose(from_tied.dictionary.own_decoder_weight, from_tied.dictionary.weight.t())
    with pytest.raises(ValueError, match="decoder_init must be one of transpose, random"):
        UntiedSparseAutoencoder(**SMALL, decoder_init="zeros")


def _untied_copy(tied: TiedSparseAutoencoder) -> UntiedSparseAutoencoder:
    untied = UntiedSparseAutoencoder(hidden=tied.latent_size, k=tied.k).double()
    untied.load_state_dict({**tied.state_dict(), "dictionary.own_decoder_weight": tied.dictionary.weight.t()})
    return untied


def _path_gradient(tied: TiedSparseAutoencoder, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference, from an untied copy with equal values: (encoder path + decoder path, encoder path alone)."""
    untied = _untied_copy(tied)
    F.mse_loss(untied(x), target).backward()
    pair = untied.dictionary
    return pair.weight.grad + pair.own_decoder_weight.grad.t(), pair.weight.grad


def test_the_tied_dictionary_gets_the_gradient_of_both_paths():
    tied = _randomized(TiedSparseAutoencoder(**SMALL), seed=2)
    x, target = torch.rand(3, 784, dtype=torch.float64), torch.rand(3, 784, dtype=torch.float64)
    both, encoder_only = _path_gradient(tied, x, target)
    F.mse_loss(tied(x), target).backward()
    torch.testing.assert_close(tied.dictionary.weight.grad, both, rtol=1e-10, atol=1e-13)
    assert not torch.allclose(tied.dictionary.weight.grad, encoder_only)  # the decoder's share is really there


WRONG_TIES = {
    "copied weight": lambda w: w.t().clone().detach().requires_grad_(True),
    "detached weight": lambda w: w.t().detach(),
    "re-wrapped in a new Parameter": lambda w: nn.Parameter(w.data.t()),
}


@pytest.mark.parametrize("wrong", list(WRONG_TIES))
def test_a_copied_or_detached_weight_is_not_a_tie(wrong, monkeypatch):
    tied = _randomized(TiedSparseAutoencoder(**SMALL), seed=3)
    x, target = torch.rand(2, 784, dtype=torch.float64), torch.rand(2, 784, dtype=torch.float64)
    both, _ = _path_gradient(tied, x, target)
    monkeypatch.setattr(LayerPair, "decoder_weight", property(lambda self: WRONG_TIES[wrong](self.weight)))
    reconstruction = tied(x)
    torch.testing.assert_close(reconstruction, _untied_copy(tied)(x))  # the same function...
    F.mse_loss(reconstruction, target).backward()
    assert not is_tied(tied.dictionary.weight, tied.dictionary.decoder_weight)
    assert not torch.allclose(tied.dictionary.weight.grad, both)  # ...but not the tied gradient


@pytest.mark.parametrize("cls", [TiedSparseAutoencoder, UntiedSparseAutoencoder])
def test_save_load_round_trip_strict_in_eval_mode(cls, tmp_path):
    torch.manual_seed(4)
    model = cls(**SMALL)
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {"hidden": 800, "k": 5, "tied": cls is TiedSparseAutoencoder, "arch": "sparse"} | (
        {} if cls is TiedSparseAutoencoder else {"decoder_init": "transpose"}
    )
    card = (tmp_path / "README.md").read_text()
    assert "TopK sparse autoencoder" in card and "784 → 800 (top 5) → 784" in card
    loaded, generic = cls.from_pretrained(tmp_path), load_checkpoint(tmp_path)
    assert type(loaded) is cls and type(generic) is cls and not loaded.training and loaded.k == 5
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(loaded(x), model.eval()(x)) and loaded(x).shape == x.shape
    with safe_open(tmp_path / "model.safetensors", framework="pt") as f:
        assert ("dictionary.own_decoder_weight" in f.keys()) is (cls is UntiedSparseAutoencoder)


def test_wrong_class_family_and_shape_load_fail_clearly(tmp_path):
    TiedSparseAutoencoder(**SMALL).save_pretrained(tmp_path / "tied")
    UntiedSparseAutoencoder(**SMALL).save_pretrained(tmp_path / "untied")
    TiedAutoencoder(sizes=[784, 16, 4]).save_pretrained(tmp_path / "mlp")
    with pytest.raises(ValueError, match=r"tied checkpoint.*load it with TiedSparseAutoencoder"):
        UntiedSparseAutoencoder.from_pretrained(tmp_path / "tied")
    with pytest.raises(ValueError, match=r"untied checkpoint.*load it with UntiedSparseAutoencoder"):
        TiedSparseAutoencoder.from_pretrained(tmp_path / "untied")
    with pytest.raises(ValueError, match=r"checkpoint of the MLP family; load it with TiedAutoencoder"):
        TiedSparseAutoencoder.from_pretrained(tmp_path / "mlp")
    with pytest.raises(ValueError, match=r"checkpoint of the sparse family; load it with TiedSparseAutoencoder"):
        TiedAutoencoder.from_pretrained(tmp_path / "tied")
    with pytest.raises(ValueError, match=r"does not match TiedSparseAutoencoder\(hidden=900, k=5\): size mismatch"):
        TiedSparseAutoencoder.from_pretrained(tmp_path / "tied", hidden=900)
    for bad, message in [(dict(hidden=500), "at least 784"), (dict(k=0), "k must be from 1 to hidden=1024")]:
        with pytest.raises(ValueError, match=message):
            TiedSparseAutoencoder(**bad)


def reference_statistics(model, images: torch.Tensor) -> tuple[np.ndarray, list[list[int]], np.ndarray]:
    """Image by image: each atom's firing count, its images by activation (ties by index) and its largest activation."""
    codes = [model.encode(image[None])[0].tolist() for image in images]
    hidden = len(codes[0])
    fired = np.array([[code[a] > 0 for a in range(hidden)] for code in codes]).sum(0)
    order = [
        [i for i in sorted(range(len(codes)), key=lambda i: (-codes[i][a], i)) if codes[i][a] > 0][:TOP_IMAGES]
        for a in range(hidden)
    ]
    peak = np.array([max(code[a] for code in codes) for a in range(hidden)])
    return fired, order, peak


def test_atom_statistics_match_a_loop_over_images(tmp_path):
    torch.manual_seed(5)
    model = TiedSparseAutoencoder(hidden=784, k=3).eval()
    images = torch.rand(40, 784)
    stats = atom_statistics(model, images)
    fired, order, peak = reference_statistics(model, images)
    np.testing.assert_allclose(stats.frequency, fired / 40, rtol=1e-6)
    for atom in range(784):
        got = [i for i in stats.top_indices[atom].tolist() if i >= 0]
        assert set(got) == set(order[atom]) and len(got) == len(order[atom])  # ties may come in any order
    np.testing.assert_allclose(stats.top_values[:, 0], peak, rtol=1e-6)
    np.testing.assert_array_equal(stats.histogram.sum(1), fired)  # every firing counted once
    summary = stats.summary()
    assert summary["dead_atoms"] == int((fired == 0).sum()) and summary["dead_fraction"] == pytest.approx((fired == 0).mean())
    assert summary["firing_max"] == pytest.approx(fired.max() / 40)
    assert stats.dead[stats.order()[-1]] and stats.frequency[stats.order()[0]] == stats.frequency.max()
    assert model.code_report(images) == summary
    stats.save(tmp_path / "atoms.npz")
    again = AtomStatistics.load(tmp_path / "atoms.npz")
    np.testing.assert_array_equal(again.top_indices, stats.top_indices)
    assert again.summary() == pytest.approx(summary)


def test_the_recipe_builds_the_pair_and_refuses_settings_that_do_not_apply():
    recipe = Recipe.for_arch("sparse", k=8)
    assert recipe.model_kwargs() == {"hidden": 1024, "k": 8}
    assert recipe.untied_kwargs() == {"hidden": 1024, "k": 8, "decoder_init": "transpose"}
    assert recipe.command() == "python train.py --data-dir <MNIST root> --arch sparse --k 8"
    assert Recipe.for_arch("sparse", decoder_init="random").flags()[-2:] == ["--decoder-init", "random"]
    assert recipe.repo_prefix() == "tiedae-mnist-sparse-1024-k8"
    assert Recipe.for_arch("sparse").repo_prefix() == "tiedae-mnist-sparse"
    for bad, message in [
        (dict(arch="mlp", k=8), "k does not apply to the MLP family"),
        (dict(arch="sparse", hidden=100), "hidden must be at least 784"),
        (dict(arch="sparse", k=2000), "k must be from 1 to hidden=1024"),
        (dict(arch="sparse", decoder_init="zeros"), "decoder init must be one of transpose, random"),
        (dict(arch="sparse", tie="inner"), "ties every layer pair or none"),
    ]:
        with pytest.raises(ValueError, match=message):
            Recipe(**bad)
