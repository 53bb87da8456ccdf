"""add_noise: determinism, clamping, statistics and validation."""

import math

import pytest
import torch

from tiedae import NOISE_KINDS, add_noise


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_same_seed_same_noise_other_seed_other_noise(kind):
    x = torch.rand(4, 784)
    assert torch.equal(add_noise(x, kind, 0.3, seed=7), add_noise(x, kind, 0.3, seed=7))
    assert not torch.equal(add_noise(x, kind, 0.3, seed=7), add_noise(x, kind, 0.3, seed=8))


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_output_is_clamped_and_level_zero_is_identity(kind):
    x = torch.rand(8, 1, 28, 28)
    noisy = add_noise(x, kind, 1.0, seed=0)
    assert noisy.shape == x.shape and noisy.min() >= 0 and noisy.max() <= 1
    assert torch.equal(add_noise(x, kind, 0.0, seed=0), x)


def test_gaussian_residual_std_is_sigma_on_mid_grey():
    x = torch.full((200, 784), 0.5)
    for sigma in (0.05, 0.1, 0.15):  # 0.5 ± 3.3σ stays inside [0, 1]: clamping does not bite
        residual = add_noise(x, "gaussian", sigma, seed=1) - x
        assert residual.std().item() == pytest.approx(sigma, rel=0.01)
        assert residual.mean().item() == pytest.approx(0, abs=0.002)


def test_salt_pepper_replaces_the_level_fraction_half_each():
    x = torch.full((100, 784), 0.5)
    noisy = add_noise(x, "salt_pepper", 0.2, seed=2)
    salt, pepper = (noisy == 1).float().mean().item(), (noisy == 0).float().mean().item()
    assert salt + pepper == pytest.approx(0.2, abs=0.005)
    assert salt == pytest.approx(0.1, abs=0.005) and pepper == pytest.approx(0.1, abs=0.005)


def test_uniform_adds_level_times_unit_uniform():
    x = torch.full((100, 784), 0.2)
    residual = add_noise(x, "uniform", 0.6, seed=3) - x  # 0.2 + 0.6 * U < 1: no clamping
    assert residual.min() >= 0 and residual.max() < 0.6
    assert residual.mean().item() == pytest.approx(0.3, abs=0.003)
    assert residual.std().item() == pytest.approx(0.6 / math.sqrt(12), rel=0.02)


def test_per_sample_levels_and_generator():
    x = torch.full((3, 784), 0.5)
    levels = torch.tensor([0.0, 0.05, 0.1])
    noisy = add_noise(x, "gaussian", levels, generator=torch.Generator().manual_seed(0))
    stds = (noisy - x).std(dim=1)
    assert stds[0] == 0
    assert stds[1].item() == pytest.approx(0.05, rel=0.1) and stds[2].item() == pytest.approx(0.1, rel=0.1)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(add_noise(x, "uniform", 0.5, generator=g1), add_noise(x, "uniform", 0.5, generator=g2))


@pytest.mark.parametrize("level", [float("nan"), float("inf"), -float("inf"), -0.1, 1.01, "0.5", None, True])
def test_bad_levels_are_refused_clearly(level):
    with pytest.raises(ValueError, match="noise level"):
        add_noise(torch.rand(2, 784), "gaussian", level, seed=0)


def test_bad_kind_and_tensor_levels_are_refused():
    with pytest.raises(ValueError, match="unknown noise kind 'speckle'"):
        add_noise(torch.rand(2, 784), "speckle", 0.1)
    with pytest.raises(ValueError, match="noise levels"):
        add_noise(torch.rand(2, 784), "gaussian", torch.tensor([0.1, float("nan")]))
    with pytest.raises(ValueError, match="seed or generator"):
        add_noise(torch.rand(2, 784), "gaussian", 0.1, seed=1, generator=torch.Generator())
