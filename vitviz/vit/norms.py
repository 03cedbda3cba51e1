"""Normalisation layers named by the config (``layernorm`` / ``rmsnorm``)."""

from __future__ import annotations

import torch
from torch import nn


class RmsNorm(nn.Module):
    """Root-mean-square norm over the last dimension, with a learned per-channel gain.

    Written out (rather than ``torch.nn.RMSNorm``) in timm's operation order, so that the
    result agrees with timm's ``RmsNorm`` to the last bit we can hope for.

    Parameters
    ----------
    dim : int
        Channels of the last dimension.
    eps : float
        Added to the mean square before the reciprocal square root.
    """

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` (``[..., dim]``)."""
        mean_square = x.pow(2).mean(dim=-1, keepdim=True)
        return x * torch.rsqrt(mean_square + self.eps) * self.weight


def make_norm(kind: str, dim: int, eps: float) -> nn.Module:
    """Norm layer of the given kind.

    Parameters
    ----------
    kind : str
        ``layernorm`` or ``rmsnorm``.
    dim : int
        Channels of the last dimension.
    eps : float
        Numerical-stability epsilon.

    Returns
    -------
    torch.nn.Module
        ``nn.LayerNorm`` (weight and bias) or :class:`RmsNorm` (weight only).
    """
    if kind == "rmsnorm":
        return RmsNorm(dim, eps=eps)
    return nn.LayerNorm(dim, eps=eps)


def optional_norm(kind: str, dim: int, eps: float, enabled: bool) -> nn.Module:
    """:func:`make_norm` when ``enabled``, else ``nn.Identity`` (a disabled part, no branch)."""
    return make_norm(kind, dim, eps) if enabled else nn.Identity()
