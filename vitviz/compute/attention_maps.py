"""Attention rows of one query token as patch grids, head fusion, and DINO's mass threshold.

Attention arrives either as one stacked tensor ``[..., L, H, N, N]`` (what
:func:`vitviz.compute.inference.run_inference` stores, possibly in half precision) or as a
sequence of per-layer ``[..., H, N, N]`` tensors (what the network returns). Leading
``...`` dimensions (a batch) are carried through every function. Everything indexes the
sequence through :class:`~vitviz.vit.layout.TokenLayout`: no single prefix token, no square
grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout

HeadFusion = Literal["mean", "max", "min"]
_FUSE = {"mean": torch.add, "max": torch.maximum, "min": torch.minimum}

Query = int | Literal["class", "patches", "pool"] | None
"""Which query token a map or rollout is for.

``int`` is a sequence index (any prefix token or patch); ``"class"`` the class token;
``"patches"`` the mean over all patch queries; ``"pool"`` the latent pooling query of
``global_pool='map'`` models; ``None`` the default: the class token when there is one,
otherwise the mean over patch queries (rollout prefers the pooling query when given one).
"""

Attentions = torch.Tensor | Sequence[torch.Tensor]


def as_float(x: torch.Tensor) -> torch.Tensor:
    """``x`` in at least single precision (half-precision storage is upcast, float64 kept)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def attention_layers(attentions: Attentions) -> tuple[torch.Tensor, ...]:
    """Per-layer ``[..., H, N, N]`` views of a ``[..., L, H, N, N]`` stack or a sequence."""
    if isinstance(attentions, torch.Tensor):
        if attentions.dim() < 4:
            shape = tuple(attentions.shape)
            raise AnalysisError(f"expected attention shaped [..., L, H, N, N], got {shape}")
        return attentions.unbind(-4)
    if not attentions:
        raise AnalysisError("no attention was captured; run the model with capture=True")
    return tuple(attentions)


def check_tokens(values: torch.Tensor, layout: TokenLayout, what: str = "attention") -> None:
    """Raise :class:`AnalysisError` unless the last dim of ``values`` (the last two of an
    ``"attention"``) spans ``layout``'s ``N`` tokens."""
    n = layout.num_tokens
    if values.shape[-1] != n or (what == "attention" and values.shape[-2] != n):
        raise AnalysisError(
            f"{what} over {values.shape[-1]} tokens does not match the token layout "
            f"({layout.num_prefix} prefix + {layout.grid[0]}x{layout.grid[1]} patches = {n}); "
            "was it computed for another image size?"
        )


def fuse_heads(x: torch.Tensor, fusion: HeadFusion = "mean", *, dim: int = -3) -> torch.Tensor:
    """``x`` without its head dimension ``dim``, fused by mean, max or min, in at least
    single precision: half precision is upcast one head at a time, so the peak extra memory
    is a few ``[N, N]`` matrices, not the whole layer in float32."""
    if fusion not in _FUSE:
        raise AnalysisError(f"unknown head fusion {fusion!r}; choose one of {', '.join(_FUSE)}")
    heads = x.unbind(dim)
    fused = as_float(heads[0])
    for head in heads[1:]:
        fused = _FUSE[fusion](fused, head)
    return fused / len(heads) if fusion == "mean" else fused


def resolve_query(layout: TokenLayout, query: Query) -> int | Literal["patches", "pool"]:
    """Turn a :data:`Query` into a token index, ``"patches"`` or ``"pool"``."""
    if query is None:
        return layout.class_index if layout.class_index is not None else "patches"
    if query == "class" and layout.class_index is None:
        raise AnalysisError("this model has no class token; pick a patch or another token")
    if query == "pool" and not layout.pool_query:
        raise AnalysisError("this model has no latent pooling query (global_pool='map')")
    if query in ("patches", "pool"):
        return query
    if query == "class":
        return layout.class_index
    if isinstance(query, int) and not isinstance(query, bool):
        if not 0 <= query < layout.num_tokens:
            raise AnalysisError(
                f"token {query} does not exist: the sequence has {layout.num_tokens} tokens"
            )
        return query
    raise AnalysisError(f"unknown query {query!r}: use a token index, 'class', 'patches' or 'pool'")


def select_query_rows(attention: torch.Tensor, layout: TokenLayout, query: Query) -> torch.Tensor:
    """``[..., N]`` row(s) of ``query`` in ``[..., N, N]`` matrices, in at least float32."""
    check_tokens(attention, layout)
    resolved = resolve_query(layout, query)
    if resolved == "pool":
        raise AnalysisError("the pooling query is not in the blocks' attention")
    if resolved == "patches":
        return as_float(attention[..., layout.num_prefix :, :]).mean(-2)
    return as_float(attention[..., resolved, :])


def patch_columns(
    rows: torch.Tensor, layout: TokenLayout, *, renormalize: bool = False
) -> torch.Tensor:
    """The patch part of ``[..., N]`` token rows, as ``[..., rows, cols]`` grids.

    ``renormalize`` divides each row's patch part by its sum (the prefix columns' mass is
    dropped); rows with no patch mass stay zero.
    """
    check_tokens(rows, layout, "a row")
    patches = rows[..., layout.num_prefix :]  # [..., P]
    if renormalize:
        total = patches.sum(-1, keepdim=True)  # [..., 1]
        patches = patches / total.clamp_min(torch.finfo(patches.dtype).tiny)
    return patches.reshape(*patches.shape[:-1], *layout.grid)  # [..., rows, cols]


def query_maps(
    attentions: Attentions,
    layout: TokenLayout,
    query: Query = None,
    *,
    renormalize: bool = False,
) -> torch.Tensor:
    """``[..., L, H, rows, cols]`` attention of ``query`` (default the class token, else
    the mean patch query) over the patches, for every head of every layer of ``[..., L, H,
    N, N]`` or per-layer ``[..., H, N, N]`` ``attentions``; ``renormalize`` as in
    :func:`patch_columns` (otherwise the prefix mass is missing from the maps).
    """
    layers = attention_layers(attentions)
    rows = torch.stack([select_query_rows(a, layout, query) for a in layers], -3)  # [..., L, H, N]
    return patch_columns(rows, layout, renormalize=renormalize)


def mass_threshold(maps: torch.Tensor, fraction: float = 0.6) -> torch.Tensor:
    """DINO's mask: the smallest set of top patches holding ``fraction`` of each map's mass.

    A patch is kept when it has positive mass and the mass of the patches ranked strictly
    above it is below ``fraction`` of the map's total; this is DINO's
    ``cumsum(ascending) > 1 - t`` rule. Ties are ranked in index order, so equal values at
    the boundary are not all kept. ``maps`` is ``[..., rows, cols]`` (negative values, as
    from DiffAttention, count as no mass); ``fraction`` is in ``(0, 1]`` (0.6 in DINO's
    figures). Returns a boolean mask of the same shape, all False for an all-zero map.
    """
    if not 0.0 < fraction <= 1.0:
        raise AnalysisError(f"the mass threshold must be in (0, 1], got {fraction}")
    flat = as_float(maps).flatten(-2).clamp_min(0)  # [..., P]
    values, order = flat.sort(dim=-1, descending=True, stable=True)  # [..., P]
    total = values.sum(-1, keepdim=True)  # [..., 1]
    mass_above = (values.cumsum(-1) - values) / total.clamp_min(torch.finfo(values.dtype).tiny)
    keep_sorted = (mass_above < fraction) & (values > 0)  # [..., P]
    keep = torch.empty_like(keep_sorted).scatter_(-1, order, keep_sorted)  # [..., P]
    return keep.reshape(maps.shape)  # [..., rows, cols]
