"""MLP activations named by the config."""

from __future__ import annotations

import torch
from torch import nn


class QuickGELU(nn.Module):
    """CLIP's sigmoid approximation of GELU: ``x * sigmoid(1.702 x)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the activation elementwise."""
        return x * torch.sigmoid(1.702 * x)


def make_activation(kind: str) -> nn.Module:
    """Activation module for ``gelu``, ``gelu_tanh``, ``quick_gelu`` or ``silu``."""
    if kind == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    if kind == "quick_gelu":
        return QuickGELU()
    if kind == "silu":
        return nn.SiLU()
    return nn.GELU()
