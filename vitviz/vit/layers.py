"""The parts a block is built of, named by the config: activations, norms, MLPs, LayerScale,
patch embedding. Sub-module names are timm's state_dict keys; a part switched off is
``nn.Identity``."""

from __future__ import annotations

import torch
from torch import nn

from vitviz.vit.config import ViTConfig


class QuickGELU(nn.Module):
    """CLIP's sigmoid approximation of GELU: ``x * sigmoid(1.702 x)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


def make_activation(kind: str) -> nn.Module:
    """Activation module for ``gelu``, ``gelu_tanh``, ``quick_gelu`` or ``silu``."""
    if kind == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    if kind == "quick_gelu":
        return QuickGELU()
    return nn.SiLU() if kind == "silu" else nn.GELU()


def make_norm(kind: str, dim: int, eps: float, enabled: bool = True) -> nn.Module:
    """``nn.LayerNorm`` or ``nn.RMSNorm`` (``kind``: ``layernorm`` / ``rmsnorm``) over the
    last ``dim`` channels; ``nn.Identity`` when not ``enabled``."""
    if not enabled:
        return nn.Identity()
    return nn.RMSNorm(dim, eps=eps) if kind == "rmsnorm" else nn.LayerNorm(dim, eps=eps)


def config_norm(config: ViTConfig, dim: int, enabled: bool = True) -> nn.Module:
    """The model's norm kind and epsilon over ``dim`` channels (see :func:`make_norm`)."""
    return make_norm(config.norm_layer, dim, config.norm_eps, enabled)


class Mlp(nn.Module):
    """``fc2(norm(act(fc1(x))))``; the norm is ``scale_mlp_norm``."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        dim, hidden = config.embed_dim, config.mlp_hidden_dim
        self.fc1 = nn.Linear(dim, hidden, bias=config.proj_bias)
        self.act = make_activation(config.act_layer)
        self.norm = config_norm(config, hidden, config.scale_mlp_norm)
        self.fc2 = nn.Linear(hidden, dim, bias=config.proj_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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
        self.norm = config_norm(config, hidden // 2, config.scale_mlp_norm)
        self.fc2 = nn.Linear(hidden // 2, dim, bias=config.proj_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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
        self.norm = config_norm(config, hidden, config.scale_mlp_norm)
        self.fc2 = nn.Linear(hidden, dim, bias=config.proj_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.norm(self.act(self.fc1_g(x)) * self.fc1_x(x)))


MLPS: dict[str, type[nn.Module]] = {"mlp": Mlp, "glu": GluMlp, "swiglu": SwiGLU}


class LayerScale(nn.Module):
    """Per-channel learned gain ``x * gamma`` (CaiT / DeiT-3 / DINOv2)."""

    def __init__(self, dim: int, init_values: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_values)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


def layer_scale(config: ViTConfig) -> nn.Module:
    """LayerScale when ``config.init_values`` is set, else ``nn.Identity``."""
    if config.init_values is None:
        return nn.Identity()
    return LayerScale(config.embed_dim, config.init_values)


class PatchEmbed(nn.Module):
    """Non-overlapping patches to tokens, as timm's ``PatchEmbed`` (``proj``, ``norm``).

    The convolution has no bias in pre-norm (CLIP-style) models, as in timm.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.proj = nn.Conv2d(
            config.in_chans,
            config.embed_dim,
            kernel_size=config.patch_size,
            stride=config.patch_size,
            bias=not config.pre_norm,
        )
        kind = config.embed_norm_layer
        self.norm = make_norm(kind or "", config.embed_dim, config.embed_norm_eps, kind is not None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` image to ``[B, rows * cols, D]`` tokens, row-major."""
        patches = self.proj(x)  # [B, D, rows, cols]
        return self.norm(patches.flatten(2).transpose(1, 2))  # [B, rows * cols, D]
