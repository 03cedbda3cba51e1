"""Self-attention that returns its probabilities, and the latent-query attention pool.

The probabilities are computed in timm's order (``q * scale``, ``@ kᵀ``, softmax, ``@ v``),
so they are *returned* and agree with timm's unfused path; when not wanted, the fused
kernel (``scaled_dot_product_attention``) runs, as in timm.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from vitviz.vit.config import ViTConfig
from vitviz.vit.layers import Mlp, config_norm

AttentionOutput = tuple[torch.Tensor, torch.Tensor | None]


def attention_probabilities(q: torch.Tensor, k: torch.Tensor, scale: float) -> torch.Tensor:
    """Row-stochastic ``[..., Nq, Nk]`` attention ``softmax(scale · q kᵀ)`` of queries
    ``[..., Nq, d]`` and keys ``[..., Nk, d]`` (``scale``: ``d ** -0.5`` in a ViT)."""
    return ((q * scale) @ k.transpose(-2, -1)).softmax(dim=-1)


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, need_weights: bool
) -> AttentionOutput:
    """``[B, H, Nq, dv]`` output ``A v`` and, when ``need_weights``, ``[B, H, Nq, Nk]`` ``A``
    (else the fused kernel runs, whose own scale is ``d ** -0.5``)."""
    if not need_weights:
        return F.scaled_dot_product_attention(q, k, v), None
    attn = attention_probabilities(q, k, scale)
    return attn @ v, attn


def differential_attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    lambda_full: torch.Tensor,
    scale: float,
    need_weights: bool,
) -> AttentionOutput:
    """Output ``[B, H, N, 2 hd]`` and effective map ``softmax1 - λ softmax2`` of differential
    attention, from ``[B, 2H, N, hd]`` q and k (each head's two groups adjacent) and
    ``[B, H, N, 2 hd]`` v."""
    batch, double_heads, tokens, head_dim = q.shape
    heads = double_heads // 2
    if not need_weights:
        q1, q2 = q.reshape(batch, heads, 2, tokens, head_dim).unbind(2)  # 2 x [B, H, N, hd]
        k1, k2 = k.reshape(batch, heads, 2, tokens, head_dim).unbind(2)  # 2 x [B, H, N, hd]
        out1 = F.scaled_dot_product_attention(q1, k1, v)
        out2 = F.scaled_dot_product_attention(q2, k2, v)
        return out1 - lambda_full * out2, None
    pair = attention_probabilities(q, k, scale).view(batch, heads, 2, tokens, tokens)
    attn = pair[:, :, 0] - lambda_full * pair[:, :, 1]  # [B, H, N, N]
    return attn @ v, attn


def diff_lambda(module: nn.Module) -> torch.Tensor:
    """Scalar λ of a differential-attention module (timm's two parameterisations)."""
    if hasattr(module, "lambda_a"):
        lambda_1 = torch.exp(module.lambda_a)
        lambda_2 = torch.exp(module.lambda_b)
    else:
        lambda_1 = torch.exp(torch.sum(module.lambda_q1 * module.lambda_k1, dim=-1).float())
        lambda_2 = torch.exp(torch.sum(module.lambda_q2 * module.lambda_k2, dim=-1).float())
    return lambda_1 - lambda_2 + module.lambda_init


def diff_lambda_init(depth_index: int) -> float:
    """timm's depth-dependent ``lambda_init = 0.8 - 0.6 exp(-0.3 l)``."""
    return 0.8 - 0.6 * math.exp(-0.3 * depth_index)


class MultiHead(nn.Module):
    """Heads of plain or differential attention (Ye et al. 2024, timm's ``DiffAttention``),
    shared by :class:`Attention` and the parallel block."""

    def init_heads(self, config: ViTConfig, depth_index: int, diff: bool) -> None:
        """Per-head q/k norms and, for differential heads, λ, ``sub_norm``, ``lambda_init``."""
        self.diff = diff
        self.num_heads = config.num_heads
        # A differential head splits its queries and keys into two half-width groups.
        self.head_dim = config.embed_dim // config.num_heads // (2 if diff else 1)
        self.scale = self.head_dim**-0.5
        self.q_norm = config_norm(config, self.head_dim, config.qk_norm)
        self.k_norm = config_norm(config, self.head_dim, config.qk_norm)
        if not diff:
            return
        self.sub_norm = nn.RMSNorm(2 * self.head_dim, eps=1e-5)
        self.lambda_init = diff_lambda_init(depth_index)
        # Kept in float32 like timm, whatever the model's dtype.
        shape, names = ((), ("lambda_a", "lambda_b"))
        if not config.diff_dual_lambda:
            shape, names = (self.head_dim,), ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2")
        for name in names:
            setattr(self, name, nn.Parameter(torch.zeros(shape, dtype=torch.float32)))

    def attend_heads(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, need_weights: bool
    ) -> AttentionOutput:
        """``[B, Nq, D]`` q and ``[B, N, D]`` k, v to the heads' ``[B, Nq, D]`` output and
        ``[B, H, Nq, N]`` map."""
        batch, _, dim = q.shape
        groups = 2 if self.diff else 1
        q = q.reshape(batch, -1, groups * self.num_heads, self.head_dim).transpose(1, 2)
        k = k.reshape(batch, -1, groups * self.num_heads, self.head_dim).transpose(1, 2)
        # q, k: [B, groups * H, Nq or N, hd]; v: [B, H, N, groups * hd]
        v = v.reshape(batch, -1, self.num_heads, groups * self.head_dim).transpose(1, 2)
        q, k = self.q_norm(q), self.k_norm(k)
        if self.diff:
            lambda_full = diff_lambda(self).type_as(q)
            out, attn = differential_attend(q, k, v, lambda_full, self.scale, need_weights)
            out = self.sub_norm(out) * (1 - self.lambda_init)
        else:
            out, attn = attend(q, k, v, self.scale, need_weights)
        return out.transpose(1, 2).reshape(batch, -1, dim), attn  # [B, Nq, D]


class Attention(MultiHead):
    """Multi-head self-attention with a packed ``qkv`` projection: timm's ``Attention``, or
    its ``DiffAttention`` when ``config.attn_layer`` is ``diff`` (whose effective map
    ``softmax1 - λ softmax2`` is the attention returned)."""

    def __init__(self, config: ViTConfig, depth_index: int = 0) -> None:
        super().__init__()
        dim = config.embed_dim
        self.qkv = nn.Linear(dim, dim * 3, bias=config.qkv_bias)
        self.init_heads(config, depth_index, config.attn_layer == "diff")
        self.norm = config_norm(config, dim, config.scale_attn_norm)
        self.proj = nn.Linear(dim, dim, bias=config.proj_bias)

    def forward(self, x: torch.Tensor, need_weights: bool = True) -> AttentionOutput:
        """Attend ``[B, N, D]`` tokens; returns ``[B, N, D]`` and ``[B, H, N, N]`` (or None)."""
        out, attn = self.attend_heads(*self.qkv(x).chunk(3, dim=-1), need_weights)
        return self.proj(self.norm(out)), attn


class AttentionPoolLatent(MultiHead):
    """Multi-head attention pooling with one learned latent query (SigLIP's ``map`` head),
    with timm's sub-module names (``latent``, ``q``, ``kv``, ``proj``, ``norm``, ``mlp``)."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        dim = config.embed_dim
        self.init_heads(dataclasses.replace(config, qk_norm=False), 0, diff=False)
        self.latent = nn.Parameter(torch.zeros(1, 1, dim))
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)
        self.norm = config_norm(config, dim)
        self.mlp = Mlp(dataclasses.replace(config, proj_bias=True, scale_mlp_norm=False))

    def forward(self, x: torch.Tensor, need_weights: bool = True) -> AttentionOutput:
        """Pool ``[B, N, D]`` to ``[B, D]``; also the query's ``[B, H, 1, N]`` attention."""
        latent = self.latent.expand(x.shape[0], -1, -1)  # [B, 1, D]
        out, attn = self.attend_heads(self.q(latent), *self.kv(x).chunk(2, dim=-1), need_weights)
        out = self.proj(out)  # [B, 1, D]
        out = out + self.mlp(self.norm(out))
        return out[:, 0], attn
