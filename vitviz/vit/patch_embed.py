"""Image to patch tokens: a strided convolution, optionally followed by a norm."""

from __future__ import annotations

import torch
from torch import nn

from vitviz.vit.config import ViTConfig
from vitviz.vit.norms import optional_norm


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
        self.norm = optional_norm(
            config.embed_norm_layer or "layernorm",
            config.embed_dim,
            config.embed_norm_eps,
            enabled=config.embed_norm_layer is not None,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` image to ``[B, rows * cols, D]`` tokens, row-major."""
        patches = self.proj(x)  # [B, D, rows, cols]
        return self.norm(patches.flatten(2).transpose(1, 2))  # [B, rows * cols, D]
