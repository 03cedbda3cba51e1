"""Feed-forward layers of a block: plain MLP, packed GLU and split SwiGLU.

Sub-module names are timm's state_dict keys (``fc1``, ``fc1_g``, ``fc1_x``, ``norm``,
``fc2``); a switched-off norm is ``nn.Identity``.
"""

from __future__ import annotations

import torch
from torch import nn

from vitviz.vit.activations import make_activation
from vitviz.vit.config import ViTConfig
from vitviz.vit.norms import optional_norm


class Mlp(nn.Module):
    """``fc2(norm(act(fc1(x))))``.

    Parameters
    ----------
    dim, hidden : int
        Token width and hidden width.
    act_layer : str
        Activation name (see :func:`~vitviz.vit.activations.make_activation`).
    bias : bool
        Bias of both linears.
    norm : torch.nn.Module or None
        Norm after the activation (``scale_mlp_norm``); None for ``nn.Identity``.
    """

    def __init__(
        self,
        dim: int,
        hidden: int,
        act_layer: str,
        bias: bool = True,
        norm: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=bias)
        self.act = make_activation(act_layer)
        self.norm = norm if norm is not None else nn.Identity()
        self.fc2 = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``[B, N, D]`` tokens to ``[B, N, D]``."""
        return self.fc2(self.norm(self.act(self.fc1(x))))


class GluMlp(nn.Module):
    """Gated MLP with one packed ``fc1``: half of its outputs gate the other half.

    With ``glu_gate_last`` the activation applies to the second half (timm's ``GluMlp``);
    otherwise to the first (timm's ``SwiGLUPacked``, DINOv2-giant).
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        dim, hidden = config.embed_dim, config.mlp_hidden_dim
        self.gate_last = config.glu_gate_last
        self.fc1 = nn.Linear(dim, hidden, bias=config.proj_bias)
        self.act = make_activation(config.act_layer)
        self.norm = _scale_norm(config, hidden // 2)
        self.fc2 = nn.Linear(hidden // 2, dim, bias=config.proj_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``[B, N, D]`` tokens to ``[B, N, D]``."""
        first, second = self.fc1(x).chunk(2, dim=-1)  # 2 x [B, N, hidden / 2]
        gated = first * self.act(second) if self.gate_last else self.act(first) * second
        return self.fc2(self.norm(gated))


class SwiGLU(nn.Module):
    """Gated MLP with separate gate (``fc1_g``) and value (``fc1_x``) projections."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        dim, hidden = config.embed_dim, config.mlp_hidden_dim
        self.fc1_g = nn.Linear(dim, hidden, bias=config.proj_bias)
        self.fc1_x = nn.Linear(dim, hidden, bias=config.proj_bias)
        self.act = make_activation(config.act_layer)
        self.norm = _scale_norm(config, hidden)
        self.fc2 = nn.Linear(hidden, dim, bias=config.proj_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``[B, N, D]`` tokens to ``[B, N, D]``."""
        return self.fc2(self.norm(self.act(self.fc1_g(x)) * self.fc1_x(x)))


def make_mlp(config: ViTConfig) -> nn.Module:
    """The feed-forward layer that ``config.mlp_layer`` names."""
    if config.mlp_layer == "swiglu":
        return SwiGLU(config)
    if config.mlp_layer == "glu":
        return GluMlp(config)
    return Mlp(
        config.embed_dim,
        config.mlp_hidden_dim,
        config.act_layer,
        bias=config.proj_bias,
        norm=_scale_norm(config, config.mlp_hidden_dim),
    )


def _scale_norm(config: ViTConfig, width: int) -> nn.Module:
    return optional_norm(config.norm_layer, width, config.norm_eps, config.scale_mlp_norm)
