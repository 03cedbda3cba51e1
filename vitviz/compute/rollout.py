"""Attention rollout (Abnar & Zuidema 2020), for any query token and up to any layer.

Per layer ``l`` the heads are fused into one ``[N, N]`` matrix ``F_l`` (mean, max or min),
the lowest entries are optionally discarded, the residual path is mixed in and the rows
are renormalised (keeping dims, so that *rows*, not columns, sum to 1)::

    Ã_l = rownorm((1 - w) · discard(F_l) + w · I)      w = residual weight (0.5 standard)
    R   = Ã_end · … · Ã_start

The rollout of a query is the query's row of ``R``: :func:`rollout_rows` multiplies the
query's row vector through the factors; :func:`rollout_stack` forms ``R`` up to every
selected layer, so that any query's rollout is then a row read.

Discard, precisely: ``k = ⌊ratio · N(N-1)⌋`` of the *off-diagonal* entries of ``F_l`` are
zeroed, those at or below the ``k``-th smallest (ties at the threshold go together). The
diagonal, by which every token keeps its identity through the layer, is never discarded,
so that the rollout matrix does not depend on the query (jacobgil's vit-explain protects
only the single flat index 0, CLS→CLS).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from vitviz.compute.attention_maps import (
    Attentions,
    HeadFusion,
    Query,
    attention_layers,
    check_tokens,
    fuse_heads,
    patch_columns,
    resolve_query,
)
from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout


@dataclass(frozen=True)
class RolloutOptions:
    """How rollout is computed: one immutable value handed from the state to the worker.

    ``fusion`` fuses each layer's heads; ``discard_ratio`` is the fraction in ``[0, 1]`` of
    the off-diagonal entries zeroed per layer, ``residual`` the weight ``w`` in ``[0, 1]``
    of the identity (0.5 is Abnar & Zuidema's ``(A + I) / 2``); ``start_layer`` and
    ``end_layer`` the first and last block multiplied in (inclusive; negatives count from
    the end; None for the model's last block).
    """

    fusion: HeadFusion = "mean"
    discard_ratio: float = 0.0
    residual: float = 0.5
    start_layer: int = 0
    end_layer: int | None = None


def rollout_factor(fused: torch.Tensor, options: RolloutOptions) -> torch.Tensor:
    """One layer's factor ``rownorm((1 - w) · discard(F) + w · I)`` of ``[..., N, N]`` ``F``.

    ``F`` is left alone; a row with no mass at all stays zero.
    """
    ratio, weight = options.discard_ratio, options.residual
    if not 0.0 <= ratio <= 1.0:
        raise AnalysisError(f"the discard ratio must be in [0, 1], got {ratio}")
    if not 0.0 <= weight <= 1.0:
        raise AnalysisError(f"the residual weight must be in [0, 1], got {weight}")
    n = fused.shape[-1]
    count = math.floor(ratio * n * (n - 1) + 1e-9)
    if count:
        eye = torch.eye(n, dtype=torch.bool, device=fused.device)  # [N, N]
        ranked = fused.masked_fill(eye, math.inf)  # [..., N, N]: the diagonal is never lowest
        threshold = ranked.flatten(-2).kthvalue(count, dim=-1).values  # [...]
        fused = fused.masked_fill((ranked <= threshold[..., None, None]) & ~eye, 0.0)
    mixed = fused * (1.0 - weight)  # [..., N, N]
    mixed.diagonal(dim1=-2, dim2=-1).add_(weight)
    total = mixed.sum(-1, keepdim=True)  # [..., N, 1]
    return mixed.div_(total.clamp_min(torch.finfo(mixed.dtype).tiny))


def selected_layers(num_layers: int, start_layer: int = 0, end_layer: int | None = None) -> range:
    """Blocks ``start_layer … end_layer`` of ``num_layers``, as an increasing range.

    Both ends are inclusive, negatives count from the end, None is the last block.
    """
    start = start_layer + num_layers if start_layer < 0 else start_layer
    end = num_layers - 1 if end_layer is None else end_layer
    end = end + num_layers if end < 0 else end
    if not 0 <= start <= end < num_layers:
        raise AnalysisError(
            f"layers {start_layer}..{end_layer} are not a range within the model's "
            f"{num_layers} blocks (0..{num_layers - 1})"
        )
    return range(start, end + 1)


def start_vector(
    layout: TokenLayout,
    query: Query,
    *,
    pool_attention: torch.Tensor | None = None,
    head_fusion: HeadFusion = "mean",
) -> torch.Tensor:
    """The ``[N]`` row vector a chain of factors starts from, for a query.

    A token index gives the one-hot ``e_q``; ``"patches"`` the uniform mean over patch
    queries; ``"pool"`` the ``[..., N]`` attention of the pooling query (``[..., H, Q, N]``
    ``pool_attention``: heads fused, latent queries averaged, renormalised). None: the
    class token, else the pooling query when ``pool_attention`` is given, else "patches".
    """
    if query is None and layout.class_index is None and pool_attention is not None:
        query = "pool"
    resolved = resolve_query(layout, query)
    if resolved == "pool":
        if pool_attention is None:
            raise AnalysisError("rollout of the pooling query needs the model's pool attention")
        check_tokens(pool_attention, layout, "the pool attention")
        fused = fuse_heads(pool_attention, head_fusion).mean(-2)  # [..., N]
        return fused / fused.sum(-1, keepdim=True).clamp_min(torch.finfo(fused.dtype).tiny)
    vector = torch.zeros(layout.num_tokens)
    if resolved == "patches":
        vector[layout.num_prefix :] = 1.0 / layout.num_patches
    else:
        vector[resolved] = 1.0
    return vector


def chain_rows(
    start: torch.Tensor,
    factor: Callable[[int], torch.Tensor],
    layers: Sequence[int],
    *,
    every_layer: bool = False,
) -> torch.Tensor:
    """``[..., N]`` rows ``start`` times the factors of ``layers``, top first: ``s Ã_e … Ã_s``.

    ``factor(l)`` gives layer ``l``'s ``[..., N, N]`` factor, called once per layer, so only
    one is alive at a time. ``every_layer`` returns ``[..., len(layers), N]``: the chain
    ending at each selected layer (``s Ã_l … Ã_start``).
    """
    count = len(layers) if every_layer else 1
    rows = start.float().unsqueeze(-2).expand(*start.shape[:-1], count, -1)  # [..., k, N]
    for position in reversed(range(len(layers))):
        matrix = factor(layers[position])  # [..., N, N]
        rows = rows.to(matrix.device, torch.promote_types(rows.dtype, matrix.dtype))
        # Chain k ends at layer k: only the chains ending at or above this layer take it.
        first = position if every_layer else 0
        head = rows[..., first:, :] @ matrix.to(rows.dtype)  # [..., k - first, N]
        done = rows[..., :first, :].expand(*head.shape[:-2], first, -1)  # [..., first, N]
        rows = torch.cat([done, head], -2)  # [..., k, N]
    return rows if every_layer else rows[..., 0, :]


def rollout_rows(
    attentions: Attentions,
    layout: TokenLayout,
    options: RolloutOptions = RolloutOptions(),
    *,
    query: Query = None,
    pool_attention: torch.Tensor | None = None,
    every_layer: bool = False,
) -> torch.Tensor:
    """The query's ``[..., N]`` row of the rollout, over all tokens (prefix included).

    ``attentions`` is a ``[..., L, H, N, N]`` stack or per-layer ``[..., H, N, N]`` (any
    float dtype); ``query`` and ``pool_attention`` are read by :func:`start_vector`;
    ``every_layer`` gives ``[..., n_selected, N]``, the rollout up to each selected layer
    ("how the picture forms"). Rows sum to 1.
    """
    layers = attention_layers(attentions)
    check_tokens(layers[0], layout)
    chosen, factor = _factors(layers, options)
    start = start_vector(layout, query, pool_attention=pool_attention, head_fusion=options.fusion)
    return chain_rows(start, factor, chosen, every_layer=every_layer)


def _factors(layers: Sequence[torch.Tensor], options: RolloutOptions):
    """The selected layers and ``factor(l)``, layer ``l``'s rollout factor."""
    chosen = selected_layers(len(layers), options.start_layer, options.end_layer)
    return chosen, lambda index: rollout_factor(fuse_heads(layers[index], options.fusion), options)


def rollout_stack(attentions: Attentions, options: RolloutOptions = RolloutOptions()):
    """The full rollout up to every selected layer: ``[..., n_selected, N, N]``.

    Entry ``k`` is ``Ã_{start+k} … Ã_start``, row-stochastic: ``L`` matrix products, after
    which any query's rollout up to any layer is one row read.
    """
    chosen, factor = _factors(attention_layers(attentions), options)
    products = [factor(chosen[0])]  # n_selected x [..., N, N]
    for index in chosen[1:]:
        products.append(factor(index) @ products[-1])
    return torch.stack(products, -3)  # [..., n_selected, N, N]


def rollout(
    attentions: Attentions,
    layout: TokenLayout,
    *,
    query: Query = None,
    pool_attention: torch.Tensor | None = None,
    head_fusion: HeadFusion = "mean",
    discard_ratio: float = 0.0,
    residual_weight: float = 0.5,
    start_layer: int = 0,
    end_layer: int | None = None,
    every_layer: bool = False,
    renormalize: bool = False,
) -> torch.Tensor:
    """Rollout of a query over the patches: ``[..., rows, cols]`` grids, or
    ``[..., n_selected, rows, cols]`` with ``every_layer``.

    ``head_fusion`` … ``end_layer`` are the fields of one :class:`RolloutOptions` (the
    command line passes them one by one), the rest as in :func:`rollout_rows`;
    ``renormalize`` drops the prefix columns and renormalises the patches to sum to 1.
    """
    options = RolloutOptions(head_fusion, discard_ratio, residual_weight, start_layer, end_layer)
    steps = {"query": query, "pool_attention": pool_attention, "every_layer": every_layer}
    rows = rollout_rows(attentions, layout, options, **steps)
    return patch_columns(rows, layout, renormalize=renormalize)
