"""Transformer blocks; each returns its output tokens and its attention probabilities.

Four block layouts occur in timm's pretrained ViTs: pre-norm (``Block``), norm after the
residual branch (``ResPostBlock``), and attention and MLP side by side sharing one input
projection (``ParallelScalingBlock``, ``DiffParallelScalingBlock``). Sub-module names
are timm's state_dict keys.
"""

from __future__ import annotations

import torch
from torch import nn

from vitviz.vit.activations import make_activation
from vitviz.vit.attention import (
    Attention,
    DiffAttention,
    attend,
    diff_lambda,
    diff_lambda_init,
    differential_attend,
    qk_norm,
    register_diff_lambda,
)
from vitviz.vit.config import ViTConfig
from vitviz.vit.mlp import make_mlp
from vitviz.vit.norms import RmsNorm, make_norm

BlockOutput = tuple[torch.Tensor, torch.Tensor | None]


class LayerScale(nn.Module):
    """Per-channel learned gain ``x * gamma`` (CaiT / DeiT-3 / DINOv2)."""

    def __init__(self, dim: int, init_values: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_values)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale ``[..., dim]`` channels."""
        return x * self.gamma


def layer_scale(config: ViTConfig) -> nn.Module:
    """LayerScale when ``config.init_values`` is set, else ``nn.Identity``."""
    if config.init_values is None:
        return nn.Identity()
    return LayerScale(config.embed_dim, config.init_values)


class Block(nn.Module):
    """Pre-norm block: ``x + ls1(attn(norm1(x)))``, then ``x + ls2(mlp(norm2(x)))``."""

    def __init__(self, config: ViTConfig, depth_index: int) -> None:
        super().__init__()
        dim = config.embed_dim
        self.norm1 = make_norm(config.norm_layer, dim, config.norm_eps)
        self.attn = _make_attention(config, depth_index)
        self.ls1 = layer_scale(config)
        self.norm2 = make_norm(config.norm_layer, dim, config.norm_eps)
        self.mlp = make_mlp(config)
        self.ls2 = layer_scale(config)

    def forward(self, x: torch.Tensor, need_weights: bool = True) -> BlockOutput:
        """``[B, N, D]`` tokens to ``[B, N, D]`` and ``[B, H, N, N]`` attention (or None)."""
        out, attn = self.attn(self.norm1(x), need_weights)
        x = x + self.ls1(out)
        x = x + self.ls2(self.mlp(self.norm2(x)))
        return x, attn


class ResPostBlock(nn.Module):
    """Post-norm residual block: ``x + norm1(attn(x))``, then ``x + norm2(mlp(x))``."""

    def __init__(self, config: ViTConfig, depth_index: int) -> None:
        super().__init__()
        dim = config.embed_dim
        self.attn = _make_attention(config, depth_index)
        self.norm1 = make_norm(config.norm_layer, dim, config.norm_eps)
        self.mlp = make_mlp(config)
        self.norm2 = make_norm(config.norm_layer, dim, config.norm_eps)

    def forward(self, x: torch.Tensor, need_weights: bool = True) -> BlockOutput:
        """``[B, N, D]`` tokens to ``[B, N, D]`` and ``[B, H, N, N]`` attention (or None)."""
        out, attn = self.attn(x, need_weights)
        x = x + self.norm1(out)
        x = x + self.norm2(self.mlp(x))
        return x, attn


class ParallelScalingBlock(nn.Module):
    """ViT-22B style parallel block: one ``in_proj`` feeds both MLP and attention.

    ``in_proj`` outputs ``[mlp hidden | q | k | v]``; the MLP bias is a separate
    parameter (``mlp_bias``) only when the projection has no bias of its own.
    """

    def __init__(self, config: ViTConfig, depth_index: int) -> None:
        super().__init__()
        dim, hidden = config.embed_dim, config.mlp_hidden_dim
        self.num_heads = config.num_heads
        self.head_dim = dim // config.num_heads
        self.scale = self.head_dim**-0.5
        self.in_split = [hidden, dim, dim, dim]
        self.in_norm = make_norm(config.norm_layer, dim, config.norm_eps)
        self.in_proj = nn.Linear(dim, hidden + 3 * dim, bias=config.qkv_bias)
        if not config.qkv_bias:
            self.mlp_bias = nn.Parameter(torch.zeros(hidden))
        self.q_norm = qk_norm(config, self.head_dim)
        self.k_norm = qk_norm(config, self.head_dim)
        self.mlp_act = make_activation(config.act_layer)
        self.attn_out_proj = nn.Linear(dim, dim, bias=config.proj_bias)
        self.mlp_out_proj = nn.Linear(hidden, dim, bias=config.proj_bias)
        self.ls = layer_scale(config)

    def forward(self, x: torch.Tensor, need_weights: bool = True) -> BlockOutput:
        """``[B, N, D]`` tokens to ``[B, N, D]`` and ``[B, H, N, N]`` attention (or None)."""
        batch, tokens, dim = x.shape
        x_mlp, q, k, v = torch.split(self.in_proj(self.in_norm(x)), self.in_split, dim=-1)
        if hasattr(self, "mlp_bias"):
            x_mlp = x_mlp + self.mlp_bias
        split_heads = (batch, tokens, self.num_heads, self.head_dim)
        q = self.q_norm(q.reshape(split_heads)).transpose(1, 2)  # [B, H, N, hd]
        k = self.k_norm(k.reshape(split_heads)).transpose(1, 2)  # [B, H, N, hd]
        v = v.reshape(split_heads).transpose(1, 2)  # [B, H, N, hd]
        x_attn, attn = attend(q, k, v, self.scale, need_weights)
        x_attn = x_attn.transpose(1, 2).reshape(batch, tokens, dim)  # [B, N, D]
        out = self.attn_out_proj(x_attn) + self.mlp_out_proj(self.mlp_act(x_mlp))
        return x + self.ls(out), attn


class DiffParallelScalingBlock(nn.Module):
    """Parallel block with differential attention and one fused ``out_proj``."""

    def __init__(self, config: ViTConfig, depth_index: int) -> None:
        super().__init__()
        dim, hidden = config.embed_dim, config.mlp_hidden_dim
        self.num_heads = config.num_heads
        self.head_dim = dim // config.num_heads // 2
        self.scale = self.head_dim**-0.5
        self.in_split = [hidden, dim, dim, dim]
        self.in_norm = make_norm(config.norm_layer, dim, config.norm_eps)
        self.in_proj = nn.Linear(dim, hidden + 3 * dim, bias=config.qkv_bias)
        if not config.qkv_bias:
            self.mlp_bias = nn.Parameter(torch.zeros(hidden))
        self.q_norm = qk_norm(config, self.head_dim)
        self.k_norm = qk_norm(config, self.head_dim)
        self.sub_norm = RmsNorm(2 * self.head_dim, eps=1e-5)
        register_diff_lambda(self, self.head_dim, config.diff_dual_lambda)
        self.lambda_init = diff_lambda_init(depth_index)
        self.mlp_act = make_activation(config.act_layer)
        self.out_proj = nn.Linear(dim + hidden, dim, bias=config.proj_bias)
        self.ls = layer_scale(config)

    def forward(self, x: torch.Tensor, need_weights: bool = True) -> BlockOutput:
        """``[B, N, D]`` tokens to ``[B, N, D]`` and ``[B, H, N, N]`` attention (or None)."""
        batch, tokens, dim = x.shape
        x_mlp, q, k, v = torch.split(self.in_proj(self.in_norm(x)), self.in_split, dim=-1)
        if hasattr(self, "mlp_bias"):
            x_mlp = x_mlp + self.mlp_bias
        q = q.reshape(batch, tokens, 2 * self.num_heads, self.head_dim).transpose(1, 2)
        k = k.reshape(batch, tokens, 2 * self.num_heads, self.head_dim).transpose(1, 2)
        # q, k: [B, 2H, N, hd]; v: [B, H, N, 2 hd]
        v = v.reshape(batch, tokens, self.num_heads, 2 * self.head_dim).transpose(1, 2)
        q, k = self.q_norm(q), self.k_norm(k)
        x_attn, attn = differential_attend(
            q, k, v, diff_lambda(self).type_as(q), self.scale, need_weights
        )
        x_attn = self.sub_norm(x_attn) * (1 - self.lambda_init)
        x_attn = x_attn.transpose(1, 2).reshape(batch, tokens, dim)  # [B, N, D]
        out = self.out_proj(torch.cat((x_attn, self.mlp_act(x_mlp)), dim=-1))
        return x + self.ls(out), attn


BLOCKS: dict[str, type[nn.Module]] = {
    "block": Block,
    "res_post": ResPostBlock,
    "parallel": ParallelScalingBlock,
    "diff_parallel": DiffParallelScalingBlock,
}


def make_block(config: ViTConfig, depth_index: int) -> nn.Module:
    """The block that ``config.block_fn`` names, for position ``depth_index``."""
    return BLOCKS[config.block_fn](config, depth_index)


def _make_attention(config: ViTConfig, depth_index: int) -> nn.Module:
    if config.attn_layer == "diff":
        return DiffAttention(config, depth_index)
    return Attention(config)
