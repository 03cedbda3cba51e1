"""Pooling of the final tokens into one embedding per image."""

from __future__ import annotations

import torch
from torch import nn

from vitviz.vit.attention import attend
from vitviz.vit.config import ViTConfig
from vitviz.vit.mlp import Mlp
from vitviz.vit.norms import make_norm


class AttentionPoolLatent(nn.Module):
    """Multi-head attention pooling with one learned latent query (SigLIP's ``map`` head).

    Sub-module names are those of timm's ``AttentionPoolLatent``: ``latent``, ``q``,
    ``kv``, ``proj``, ``norm``, ``mlp``.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        dim = config.embed_dim
        self.num_heads = config.num_heads
        self.head_dim = dim // config.num_heads
        self.scale = self.head_dim**-0.5
        self.latent = nn.Parameter(torch.zeros(1, 1, dim))
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)
        self.norm = make_norm(config.norm_layer, dim, config.norm_eps)
        self.mlp = Mlp(dim, config.mlp_hidden_dim, config.act_layer)

    def forward(
        self, x: torch.Tensor, need_weights: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Pool ``[B, N, D]`` to ``[B, D]``; also the query's ``[B, H, 1, N]`` attention."""
        batch, tokens, dim = x.shape
        latent = self.latent.expand(batch, -1, -1)  # [B, 1, D]
        q = self.q(latent).reshape(batch, 1, self.num_heads, self.head_dim).transpose(1, 2)
        kv = self.kv(x).reshape(batch, tokens, 2, self.num_heads, self.head_dim)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # 2 x [B, H, N, hd]
        out, attn = attend(q, k, v, self.scale, need_weights)  # [B, H, 1, hd]
        out = self.proj(out.transpose(1, 2).reshape(batch, 1, dim))  # [B, 1, D]
        out = out + self.mlp(self.norm(out))
        return out[:, 0], attn


def reduce_tokens(x: torch.Tensor, pool: str) -> torch.Tensor:
    """Pool ``[B, N, D]`` tokens over ``N`` by ``avg``, ``max`` or ``avgmax`` (timm's rule).

    Parameters
    ----------
    x : torch.Tensor
        Tokens to pool (already restricted to the ones that take part).
    pool : str
        ``avg``, ``max`` or ``avgmax`` (mean of the two).

    Returns
    -------
    torch.Tensor
        ``[B, D]``.
    """
    if pool == "max":
        return x.amax(dim=1)
    if pool == "avgmax":
        return 0.5 * (x.amax(dim=1) + x.mean(dim=1))
    return x.mean(dim=1)
