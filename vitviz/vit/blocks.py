"""Transformer blocks (timm's layouts and state_dict names); each returns its output tokens
and its attention probabilities."""

from __future__ import annotations

import torch
from torch import nn

from vitviz.vit.attention import Attention, AttentionOutput, MultiHead
from vitviz.vit.config import ViTConfig
from vitviz.vit.layers import MLPS, config_norm, layer_scale, make_activation


class Block(nn.Module):
    """Pre-norm block ``x + ls1(attn(norm1(x)))``, then ``x + ls2(mlp(norm2(x)))``; for
    ``block_fn='res_post'`` the norm follows the branch: ``x + norm1(attn(x))`` ..."""

    def __init__(self, config: ViTConfig, depth_index: int) -> None:
        super().__init__()
        self.post_norm = config.block_fn == "res_post"
        self.norm1 = config_norm(config, config.embed_dim)
        self.attn = Attention(config, depth_index)
        # ResPostBlock's init_values set its norms' first weights: no LayerScale.
        self.ls1 = nn.Identity() if self.post_norm else layer_scale(config)
        self.norm2 = config_norm(config, config.embed_dim)
        self.mlp = MLPS[config.mlp_layer](config)
        self.ls2 = nn.Identity() if self.post_norm else layer_scale(config)

    def forward(self, x: torch.Tensor, need_weights: bool = True) -> AttentionOutput:
        """``[B, N, D]`` tokens to ``[B, N, D]`` and ``[B, H, N, N]`` attention (or None)."""
        if self.post_norm:
            out, attn = self.attn(x, need_weights)
            x = x + self.norm1(out)
            return x + self.norm2(self.mlp(x)), attn
        out, attn = self.attn(self.norm1(x), need_weights)
        x = x + self.ls1(out)
        return x + self.ls2(self.mlp(self.norm2(x))), attn


class ParallelScalingBlock(MultiHead):
    """ViT-22B style parallel block: one ``in_proj`` feeds both MLP and attention.

    ``in_proj`` outputs ``[mlp hidden | q | k | v]``; the MLP bias is a separate parameter
    (``mlp_bias``) only when the projection has no bias of its own. With differential
    attention (``diff_parallel``) one fused ``out_proj`` replaces the two projections.
    """

    def __init__(self, config: ViTConfig, depth_index: int) -> None:
        super().__init__()
        dim, hidden = config.embed_dim, config.mlp_hidden_dim
        self.in_split = [hidden, dim, dim, dim]
        self.in_norm = config_norm(config, dim)
        self.in_proj = nn.Linear(dim, hidden + 3 * dim, bias=config.qkv_bias)
        if not config.qkv_bias:
            self.mlp_bias = nn.Parameter(torch.zeros(hidden))
        self.init_heads(config, depth_index, config.block_fn == "diff_parallel")
        self.mlp_act = make_activation(config.act_layer)
        if self.diff:
            self.out_proj = nn.Linear(dim + hidden, dim, bias=config.proj_bias)
        else:
            self.attn_out_proj = nn.Linear(dim, dim, bias=config.proj_bias)
            self.mlp_out_proj = nn.Linear(hidden, dim, bias=config.proj_bias)
        self.ls = layer_scale(config)

    def forward(self, x: torch.Tensor, need_weights: bool = True) -> AttentionOutput:
        """``[B, N, D]`` tokens to ``[B, N, D]`` and ``[B, H, N, N]`` attention (or None)."""
        x_mlp, q, k, v = torch.split(self.in_proj(self.in_norm(x)), self.in_split, dim=-1)
        if hasattr(self, "mlp_bias"):
            x_mlp = x_mlp + self.mlp_bias
        x_attn, attn = self.attend_heads(q, k, v, need_weights)
        x_mlp = self.mlp_act(x_mlp)
        if self.diff:
            out = self.out_proj(torch.cat((x_attn, x_mlp), dim=-1))
        else:
            out = self.attn_out_proj(x_attn) + self.mlp_out_proj(x_mlp)
        return x + self.ls(out), attn


def make_block(config: ViTConfig, depth_index: int) -> nn.Module:
    """The block that ``config.block_fn`` names, for position ``depth_index``."""
    if config.block_fn in ("parallel", "diff_parallel"):
        return ParallelScalingBlock(config, depth_index)
    return Block(config, depth_index)
