"""Which layer pairs to tie: the choice, the mixed models' tie proofs, checkpoints and recipes."""

import json

import pytest
import torch
import torch.nn.functional as F

from tiedae import TiedAutoencoder, TiedConvAutoencoder, UntiedAutoencoder, UntiedConvAutoencoder, count_parameters, is_tied
from tiedae.model import config_repo_prefix, is_conv_tied, load_checkpoint
from tiedae.recipe import Recipe
from tiedae.ties import describe_tie, tie_mask


@pytest.mark.parametrize(
    "tie, pairs, mask",
    [("all", 2, "11"), ("none", 2, "00"), ("inner", 2, "01"), ("outer", 2, "10"), ("inner", 4, "0001"),
     ("outer", 4, "1000"), ("0110", 4, "0110"), (" Inner ", 1, "1"), ("all", 1, "1")],
)  # fmt: skip
def test_a_choice_is_one_bit_per_layer_pair_from_the_pixels_inwards(tie, pairs, mask):
    assert tie_mask(tie, pairs) == mask


@pytest.mark.parametrize(
    "tie, message",
    [("011", "has 3 digits, but this model has 2 layer pairs"), ("middle", "tie must be all, none, inner, outer"),
     ("", "tie must be"), ("0a", "tie must be")],
)  # fmt: skip
def test_a_bad_choice_says_what_it_could_be(tie, message):
    with pytest.raises(ValueError, match=message):
        tie_mask(tie, 2)


def test_masks_in_words():
    assert describe_tie("01") == "the inner layer pair only"
    assert describe_tie("10") == "the outer layer pair only"
    assert describe_tie("11") == "every layer pair" and describe_tie("00") == "no layer pair"
    assert describe_tie("0101") == "layer pairs 2, 4 of 4, counted from the pixels inwards"


@pytest.mark.parametrize("sizes, tie", [([784, 400, 20], "01"), ([784, 400, 20], "10"), ([30, 12, 8, 5], "010")])
def test_a_mixed_model_ties_exactly_the_chosen_pairs(sizes, tie):
    model = TiedAutoencoder(sizes=sizes, tie=tie)
    assert model.tie == tie and model.tied
    for bit, layer in zip(tie, model.layers):
        if bit == "1":  # one Parameter: the decoder weight is W.t() through autograd, and there is no decoder weight of its own
            assert is_tied(layer.weight, layer.decoder_weight) and layer.own_decoder_weight is None
        else:  # its own decoder Parameter, which nothing else shares
            assert not is_tied(layer.weight, layer.decoder_weight)
            assert isinstance(layer.own_decoder_weight, torch.nn.Parameter)
            assert layer.own_decoder_weight.data_ptr() != layer.weight.data_ptr()
    pairs = list(zip(sizes[:-1], sizes[1:]))
    expected = sum(i * o * (1 if bit == "1" else 2) + i + o for (i, o), bit in zip(pairs, tie))
    assert count_parameters(model) == expected
    full, untied = TiedAutoencoder(sizes=sizes), UntiedAutoencoder(sizes=sizes)
    assert count_parameters(full) < count_parameters(model) < count_parameters(untied)


def test_the_issues_parameter_counts_for_784_400_20():
    counts = {tie: count_parameters(TiedAutoencoder(sizes=[784, 400, 20], tie=tie)) for tie in ("inner", "outer", "all")}
    assert counts == {"inner": 636_804, "outer": 331_204, "all": 323_204}
    assert count_parameters(UntiedAutoencoder(sizes=[784, 400, 20])) == 644_804


def test_a_mixed_models_tied_pair_gets_gradient_from_both_paths_and_the_untied_pair_from_one_each():
    torch.manual_seed(0)
    mixed = TiedAutoencoder(sizes=[30, 12, 5], tie="01").double()
    with torch.no_grad():
        for p in mixed.parameters():
            p.normal_(0, 0.5)
    untied = UntiedAutoencoder(sizes=[30, 12, 5]).double()
    with torch.no_grad():  # the same function, every decoder weight its own copy
        for m, u in zip(mixed.layers, untied.layers):
            u.weight.copy_(m.weight)
            u.own_decoder_weight.copy_(m.decoder_weight)
            u.encoder_bias.copy_(m.encoder_bias)
            u.decoder_bias.copy_(m.decoder_bias)
    x, target = torch.rand(8, 30, dtype=torch.float64), torch.rand(8, 30, dtype=torch.float64)
    torch.testing.assert_close(mixed(x), untied(x))
    F.mse_loss(mixed(x), target).backward()
    F.mse_loss(untied(x), target).backward()
    outer_m, inner_m = mixed.layers
    outer_u, inner_u = untied.layers
    # the tied inner pair: the sum of the encoder's and the (transposed) decoder's gradient, and neither alone
    torch.testing.assert_close(inner_m.weight.grad, inner_u.weight.grad + inner_u.own_decoder_weight.grad.t(), atol=1e-9, rtol=0)
    assert not torch.allclose(inner_m.weight.grad, inner_u.weight.grad, atol=1e-6)
    assert not torch.allclose(inner_m.weight.grad, inner_u.own_decoder_weight.grad.t(), atol=1e-6)
    # the untied outer pair: each weight its own path's gradient
    torch.testing.assert_close(outer_m.weight.grad, outer_u.weight.grad, atol=1e-9, rtol=0)
    torch.testing.assert_close(outer_m.own_decoder_weight.grad, outer_u.own_decoder_weight.grad, atol=1e-9, rtol=0)


def test_a_mixed_conv_model_ties_the_chosen_kernels_and_code_layer():
    model = TiedConvAutoencoder(channels=[4, 8], latent=3, tie="101")
    first, second = model.convs
    assert is_conv_tied(first.weight, first.decoder_weight) and first.own_decoder_weight is None
    assert not is_conv_tied(second.weight, second.decoder_weight) and second.own_decoder_weight is not None
    assert is_tied(model.code.weight, model.code.decoder_weight)
    code_only = TiedConvAutoencoder(channels=[4, 8], latent=3, tie="inner")
    assert code_only.tie == "001" and code_only.convs[0].own_decoder_weight is not None
    assert UntiedConvAutoencoder(channels=[4, 8], latent=3).tie == "000"


def test_a_mixed_checkpoint_records_its_tie_and_loads_it_back(tmp_path):
    model = TiedAutoencoder(sizes=[784, 16, 4], tie="inner")
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {"sizes": [784, 16, 4], "tied": True, "tie": "01", "arch": "mlp"}
    for loaded in (TiedAutoencoder.from_pretrained(tmp_path), load_checkpoint(tmp_path)):
        assert loaded.tie == "01" and loaded.layers[0].own_decoder_weight is not None
        assert is_tied(loaded.layers[1].weight, loaded.layers[1].decoder_weight)
        x = torch.rand(2, 784)
        assert torch.equal(loaded(x), model.eval()(x))
    assert "ties the inner layer pair only (mask `01`" in (tmp_path / "README.md").read_text()
    assert config_repo_prefix(config) == "tiedae-mnist-16-4-tie01"
    with pytest.raises(ValueError, match=r"tied checkpoint.*load it with TiedAutoencoder"):
        UntiedAutoencoder.from_pretrained(tmp_path)


def test_checkpoints_saved_before_the_choice_load_as_fully_tied_or_untied(tmp_path):
    for cls, mask in ((TiedAutoencoder, "11"), (UntiedAutoencoder, "00")):
        folder = tmp_path / cls.__name__
        cls().save_pretrained(folder)
        config = json.loads((folder / "config.json").read_text())
        assert config.pop("tie") == mask
        (folder / "config.json").write_text(json.dumps(config))  # as the Hub's checkpoints have it
        assert load_checkpoint(folder).tie == mask


def test_tie_none_on_a_tied_class_and_a_mask_on_an_untied_one_are_refused():
    with pytest.raises(ValueError, match="ties no layer pair: that is the untied twin; load it with UntiedAutoencoder"):
        TiedAutoencoder(tie="none")
    with pytest.raises(ValueError, match="load it with TiedConvAutoencoder"):
        UntiedConvAutoencoder(tie="inner")


def test_a_recipe_carries_the_choice_to_the_tied_model_its_command_and_its_repo():
    recipe = Recipe(tie="inner", epochs=3)
    assert recipe.tied_kwargs() == {"sizes": (784, 400, 20), "tie": "01"}
    assert "--tie inner" in recipe.command() and "--tie" not in Recipe().command()
    assert recipe.repo_prefix() == "tiedae-mnist-tie01" and Recipe().repo_prefix() == "tiedae-mnist"
    assert Recipe.for_arch("conv", tie="outer").tied_kwargs()["tie"] == "100"
    with pytest.raises(ValueError, match="ties no layer pair: that is the untied twin"):
        Recipe(tie="none")
    with pytest.raises(ValueError, match="3 digits, but this model has 2"):
        Recipe(tie="011")
