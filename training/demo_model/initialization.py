"""Structured starting weights that let a small ViT learn from little data quickly.

A ViT trained from scratch spends its first thousands of images discovering locality and
edges. Three known starts give it those for free, without changing the architecture:

- 2-D sin-cos position embedding (MAE; Beyer et al. 2022, "Better plain ViT baselines"),
  still learnt afterwards;
- patch embedding filters from the 2-D DCT basis, on luminance and two colour-opponent
  channels, lowest frequencies first: an orthonormal bank of edge and blob detectors;
- mimetic attention (Trockman & Kolter 2023, "Mimetic initialization of self-attention
  layers"): ``W_q W_kᵀ ≈ α₁Z + β₁I`` so that tokens first attend to similar tokens (same
  object colour, nearby positions), and ``W_v W_projᵀ ≈ α₂Z − β₂I``.
"""

from __future__ import annotations

import math

import torch
from timm.layers import build_sincos2d_pos_embed
from torch import nn

# Luminance and two opponent colour axes (orthonormal).
_COLOUR_AXES = (
    (1 / math.sqrt(3), 1 / math.sqrt(3), 1 / math.sqrt(3)),
    (1 / math.sqrt(2), -1 / math.sqrt(2), 0.0),
    (1 / math.sqrt(6), 1 / math.sqrt(6), -2 / math.sqrt(6)),
)


def dct_patch_filters(dim: int, patch: int) -> torch.Tensor:
    """An orthonormal bank of ``dim`` colour DCT filters for ``patch x patch`` RGB patches.

    Half the filters are luminance, a quarter each of the two opponent axes; within a
    channel the spatial frequencies ``(u, v)`` go from low to high.

    Parameters
    ----------
    dim : int
        Number of filters (the embedding width); at most ``3 * patch**2``.
    patch : int
        Patch side in pixels.

    Returns
    -------
    torch.Tensor
        ``[dim, 3, patch, patch]`` with orthonormal flattened rows.
    """
    n = torch.arange(patch, dtype=torch.float64)
    frequencies = sorted(((u, v) for u in range(patch) for v in range(patch)), key=sum)
    counts = (dim // 2, dim // 4, dim - dim // 2 - dim // 4)
    filters = []
    for axis, count in zip(_COLOUR_AXES, counts, strict=True):
        colour = torch.tensor(axis, dtype=torch.float64)[:, None, None]  # [3, 1, 1]
        for u, v in frequencies[:count]:
            rows = torch.cos(math.pi * (n + 0.5) * u / patch)
            cols = torch.cos(math.pi * (n + 0.5) * v / patch)
            spatial = rows[:, None] * cols[None, :]  # [patch, patch]
            filters.append(colour * (spatial / spatial.norm()))
    return torch.stack(filters).float()  # [dim, 3, patch, patch]


def _factor(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, B)`` with ``A @ B.T == matrix`` and both halves of the singular values."""
    u, s, vh = torch.linalg.svd(matrix)
    return u * s.sqrt(), vh.T * s.sqrt()


def mimetic_attention_(
    blocks: nn.Module,
    generator: torch.Generator,
    *,
    alpha: tuple[float, float] = (0.7, 0.4),
    beta: tuple[float, float] = (0.7, 0.4),
) -> None:
    """Set each timm block's ``qkv`` and ``proj`` weights to the mimetic start, in place.

    Parameters
    ----------
    blocks : torch.nn.Module
        timm ViT blocks (``blocks[i].attn.qkv``, ``blocks[i].attn.proj``).
    generator : torch.Generator
        Source of the random parts ``Z``.
    alpha, beta : tuple of float
        ``(α₁, α₂)`` and ``(β₁, β₂)`` of the module docstring (the paper's values).
    """
    for block in blocks:
        qkv = block.attn.qkv.weight  # [3D, D]; q = x W_q^T with W_q = qkv[:D]
        dim = qkv.shape[1]

        def noise(dim: int = dim) -> torch.Tensor:
            return torch.randn(dim, dim, generator=generator) / math.sqrt(dim)

        eye = torch.eye(dim)
        a, b = _factor(alpha[0] * noise() + beta[0] * eye)  # scores: x A Bᵀ xᵀ
        c, p = _factor(alpha[1] * noise() - beta[1] * eye)  # values then output: x C Pᵀ
        with torch.no_grad():
            qkv[:dim] = a.T
            qkv[dim : 2 * dim] = b.T
            qkv[2 * dim :] = c.T
            block.attn.proj.weight.copy_(p)


def structured_init_(model: nn.Module, grid: tuple[int, int], seed: int) -> None:
    """Give a fresh timm ViT (class token, learnt position embedding) the structured start.

    Parameters
    ----------
    model : torch.nn.Module
        timm ``VisionTransformer``; modified in place.
    grid : tuple of int
        ``(rows, cols)`` of its patch grid.
    seed : int
        Seeds the random parts of the mimetic attention.
    """
    dim = model.embed_dim
    proj = model.patch_embed.proj
    patch = proj.kernel_size[0]
    with torch.no_grad():
        model.pos_embed[0, model.num_prefix_tokens :] = build_sincos2d_pos_embed(grid, dim)
        # Scaled so the embeddings start as large as with PyTorch's default init.
        proj.weight.copy_(dct_patch_filters(dim, patch) * 0.3)
    mimetic_attention_(model.blocks, torch.Generator().manual_seed(seed))
