"""Input corruptions for denoising: Gaussian, salt & pepper and uniform noise, clamped to [0, 1]."""

from __future__ import annotations

import math

import torch

NOISE_KINDS = ("gaussian", "salt_pepper", "uniform")


def check_noise(kind: str, level: float | torch.Tensor) -> None:
    """Raise ValueError unless kind is known and every level is finite and in [0, 1]."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; choose one of {', '.join(NOISE_KINDS)}")
    if isinstance(level, torch.Tensor):
        if not torch.isfinite(level).all() or (level < 0).any() or (level > 1).any():
            raise ValueError("noise levels must be finite numbers between 0 and 1")
        return
    if isinstance(level, bool) or not isinstance(level, (int, float)):
        raise ValueError(f"noise level must be a number between 0 and 1, got {level!r}")
    if not math.isfinite(level) or not 0 <= level <= 1:
        raise ValueError(f"noise level must be a finite number between 0 and 1, got {level!r}")


def add_noise(
    x: torch.Tensor,
    kind: str = "gaussian",
    level: float | torch.Tensor = 0.1,
    seed: int | None = None,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Corrupt images x in [0, 1]; the same seed always gives the same noise.

    gaussian: x + level * N(0, 1)            (level is sigma)
    salt_pepper: a `level` fraction of pixels set to 0 or 1, half each
    uniform: x + level * U[0, 1)             (additive, brightens on average)

    `level` is a float, or a (B,) tensor of per-sample levels. Pass `seed` for a fresh
    generator or `generator` to continue one (training does that).
    """
    check_noise(kind, level)
    if seed is not None and generator is not None:
        raise ValueError("pass seed or generator, not both")
    if seed is not None:
        generator = torch.Generator(device=x.device).manual_seed(int(seed))
    if isinstance(level, torch.Tensor):
        level = level.to(x).reshape(-1, *([1] * (x.dim() - 1)))  # (B,) -> (B, 1, ...) to broadcast
    if kind == "gaussian":
        noisy = x + level * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    elif kind == "uniform":
        noisy = x + level * torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    else:
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        # u < level/2 -> pepper (0), u > 1 - level/2 -> salt (1): a `level` fraction in total
        noisy = torch.where(u < level / 2, torch.zeros_like(x), x)
        noisy = torch.where(u >= 1 - level / 2, torch.ones_like(x), noisy)
    return noisy.clamp(0, 1)
