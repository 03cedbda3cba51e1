"""Self-attention that returns its probabilities.

The probabilities are computed explicitly, in timm's order (``q * scale``, ``@ kᵀ``,
softmax, ``@ v``), so that they are *returned* and agree with timm's unfused path to
float precision. When the caller does not want them, the fused kernel
(``scaled_dot_product_attention``) runs instead, as in timm.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vitviz.vit.config import ViTConfig
from vitviz.vit.norms import RmsNorm, optional_norm


def attention_probabilities(q: torch.Tensor, k: torch.Tensor, scale: float) -> torch.Tensor:
    """Row-stochastic attention ``softmax(scale · q kᵀ)``.

    Parameters
    ----------
    q : torch.Tensor
        Queries ``[..., Nq, d]``.
    k : torch.Tensor
        Keys ``[..., Nk, d]``.
    scale : float
        Score scale; ``d ** -0.5`` in a ViT, 1 for unscaled dot-product attention.

    Returns
    -------
    torch.Tensor
        ``[..., Nq, Nk]`` probabilities; each row sums to 1.
    """
    return ((q * scale) @ k.transpose(-2, -1)).softmax(dim=-1)


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, need_weights: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Attention output ``A v`` and, when asked for, the probabilities ``A``.

    Parameters
    ----------
    q, k, v : torch.Tensor
        ``[B, H, Nq, d]``, ``[B, H, Nk, d]``, ``[B, H, Nk, dv]``.
    scale : float
        Score scale (must be ``d ** -0.5`` when ``need_weights`` is False, the fused
        kernel's own scale).
    need_weights : bool
        Compute ``A`` explicitly and return it; otherwise use the fused kernel.

    Returns
    -------
    tuple of torch.Tensor
        ``[B, H, Nq, dv]`` output and ``[B, H, Nq, Nk]`` probabilities (or None).
    """
    if not need_weights:
        return F.scaled_dot_product_attention(q, k, v), None
    attn = attention_probabilities(q, k, scale)
    return attn @ v, attn


class Attention(nn.Module):
    """Multi-head self-attention with a packed ``qkv`` projection (timm's ``Attention``).

    Parameters
    ----------
    config : ViTConfig
        Width, heads, biases, qk-norm and scale-norm flags.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        dim = config.embed_dim
        self.num_heads = config.num_heads
        self.head_dim = dim // config.num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=config.qkv_bias)
        self.q_norm = qk_norm(config, self.head_dim)
        self.k_norm = qk_norm(config, self.head_dim)
        self.norm = optional_norm(config.norm_layer, dim, config.norm_eps, config.scale_attn_norm)
        self.proj = nn.Linear(dim, dim, bias=config.proj_bias)

    def forward(
        self, x: torch.Tensor, need_weights: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend ``[B, N, D]`` tokens; returns ``[B, N, D]`` and ``[B, H, N, N]`` (or None)."""
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x [B, H, N, hd]
        q, k = self.q_norm(q), self.k_norm(k)
        out, attn = attend(q, k, v, self.scale, need_weights)
        out = out.transpose(1, 2).reshape(batch, tokens, dim)  # [B, N, D]
        return self.proj(self.norm(out)), attn


class DiffAttention(nn.Module):
    """Differential attention (Ye et al. 2024) as in timm's ``DiffAttention``.

    Each head has two softmax maps over half-width queries/keys; the head's effective
    attention is ``softmax1 - λ · softmax2``, which is what this module returns.

    Parameters
    ----------
    config : ViTConfig
        Width, heads, biases, norm flags and the lambda parameterisation.
    depth_index : int
        Index of the block, which sets ``lambda_init``.
    """

    def __init__(self, config: ViTConfig, depth_index: int) -> None:
        super().__init__()
        dim = config.embed_dim
        self.num_heads = config.num_heads
        self.head_dim = dim // config.num_heads // 2
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=config.qkv_bias)
        self.q_norm = qk_norm(config, self.head_dim)
        self.k_norm = qk_norm(config, self.head_dim)
        self.norm = optional_norm(config.norm_layer, dim, config.norm_eps, config.scale_attn_norm)
        self.proj = nn.Linear(dim, dim, bias=config.proj_bias)
        register_diff_lambda(self, self.head_dim, config.diff_dual_lambda)
        self.sub_norm = RmsNorm(2 * self.head_dim, eps=1e-5)
        self.lambda_init = diff_lambda_init(depth_index)

    def forward(
        self, x: torch.Tensor, need_weights: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend ``[B, N, D]`` tokens; returns ``[B, N, D]`` and ``[B, H, N, N]`` (or None)."""
        batch, tokens, dim = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=2)
        q = q.reshape(batch, tokens, 2 * self.num_heads, self.head_dim).transpose(1, 2)
        k = k.reshape(batch, tokens, 2 * self.num_heads, self.head_dim).transpose(1, 2)
        # q, k: [B, 2H, N, hd]; v: [B, H, N, 2 hd]
        v = v.reshape(batch, tokens, self.num_heads, 2 * self.head_dim).transpose(1, 2)
        q, k = self.q_norm(q), self.k_norm(k)
        out, attn = differential_attend(
            q, k, v, diff_lambda(self).type_as(q), self.scale, need_weights
        )
        out = self.sub_norm(out) * (1 - self.lambda_init)
        out = out.transpose(1, 2).reshape(batch, tokens, dim)  # [B, N, D]
        return self.proj(self.norm(out)), attn


def differential_attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    lambda_full: torch.Tensor,
    scale: float,
    need_weights: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Output and effective map ``softmax1 - λ softmax2`` of differential attention.

    Parameters
    ----------
    q, k : torch.Tensor
        ``[B, 2H, N, hd]``: each head's two query/key groups are adjacent.
    v : torch.Tensor
        ``[B, H, N, 2 hd]``.
    lambda_full : torch.Tensor
        Scalar λ.
    scale : float
        ``hd ** -0.5``.
    need_weights : bool
        Return the ``[B, H, N, N]`` effective map (else None, via the fused kernel).

    Returns
    -------
    tuple of torch.Tensor
        ``[B, H, N, 2 hd]`` output and the effective map (or None).
    """
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


def register_diff_lambda(module: nn.Module, head_dim: int, dual: bool) -> None:
    """Give ``module`` timm's lambda parameters (two scalars, or four ``[hd]`` vectors).

    Kept in float32 like timm, whatever the model's dtype.
    """
    if dual:
        module.lambda_a = nn.Parameter(torch.zeros((), dtype=torch.float32))
        module.lambda_b = nn.Parameter(torch.zeros((), dtype=torch.float32))
        return
    for name in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
        setattr(module, name, nn.Parameter(torch.zeros(head_dim, dtype=torch.float32)))


def diff_lambda(module: nn.Module) -> torch.Tensor:
    """Scalar λ of a module set up by :func:`register_diff_lambda`."""
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


def qk_norm(config: ViTConfig, head_dim: int) -> nn.Module:
    """Per-head norm of queries or keys (``nn.Identity`` unless ``config.qk_norm``)."""
    return optional_norm(config.norm_layer, head_dim, config.norm_eps, config.qk_norm)
