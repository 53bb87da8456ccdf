"""Reconstruction metrics for images in [0, 1], shared by training, benchmarks and the app."""

from __future__ import annotations

import torch

PSNR_CAP_DB = 100.0  # PSNR of a perfect reconstruction (MSE 0) is reported as this, not inf


def mse(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error: (B, ...) x (B, ...) -> (B,)."""
    if reconstruction.shape != target.shape:
        raise ValueError(f"shape mismatch: {tuple(reconstruction.shape)} vs {tuple(target.shape)}")
    diff = (reconstruction.float() - target.float()).reshape(target.shape[0], -1)  # (B, pixels)
    return diff.pow(2).mean(dim=1)


def psnr(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image peak signal-to-noise ratio in dB for a peak value of 1: (B,)."""
    return psnr_from_mse(mse(reconstruction, target))


def psnr_from_mse(mse_value: torch.Tensor) -> torch.Tensor:
    """10 * log10(1 / MSE), capped at PSNR_CAP_DB."""
    return (10 * torch.log10(1 / mse_value.clamp_min(10 ** (-PSNR_CAP_DB / 10)))).clamp_max(PSNR_CAP_DB)
