"""The reconstruction losses a model returns from `model(x, target, loss=...)`."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class BinaryCrossEntropy(torch.autograd.Function):
    """F.binary_cross_entropy (mean) in whole-tensor ops: torch's CPU kernel goes one element at a time.

    That kernel was a quarter of a train step (benchmarks/RESULTS.md); these ops take under half its time.
    The formulas are the kernel's (logs clamped at -100; gradient (x - y) / max((1 - x) x, 1e-12) / N),
    so the gradient is the same bit for bit and a run trains to the same weights, to float rounding (tests/test_train.py).
    """

    @staticmethod
    def forward(ctx, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(output, target)
        log_miss = torch.log1p(-output).clamp_min_(-100).mul_(target - 1)
        return log_miss.sub_(torch.log(output).clamp_min_(-100).mul_(target)).mean()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        output, target = ctx.saved_tensors
        slope = ((1 - output) * output).clamp_min_(1e-12)
        return (grad * (output - target)).div_(slope).div_(output.numel()), None


def binary_cross_entropy(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of output in [0, 1] against target in [0, 1]; see BinaryCrossEntropy."""
    return BinaryCrossEntropy.apply(output, target)


LOSSES = {"bce": binary_cross_entropy, "mse": F.mse_loss}


def reconstruction_loss(output: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    """The named loss of a reconstruction against its target, in float32 whatever autocast the forward pass ran under."""
    with torch.autocast(output.device.type, enabled=False):
        return LOSSES[loss](output.float(), target.reshape(output.shape))
