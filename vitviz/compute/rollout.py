"""Attention rollout (Abnar & Zuidema 2020), for any query token and up to any layer.

Per layer ``l`` the heads are fused into one ``[N, N]`` matrix ``F_l`` (mean, max or min),
the lowest entries are optionally discarded, the residual path is mixed in and the rows
are renormalised (keeping dims, so that *rows*, not columns, sum to 1)::

    Ã_l = rownorm((1 - w) · discard(F_l) + w · I)      w = residual_weight (0.5 standard)
    R   = Ã_end · … · Ã_start

The rollout of a query is the query's row of ``R``. It is computed as a row-vector chain
from the top layer down (``e_qᵀ Ã_end … Ã_start``), so one query costs ``L`` vector-matrix
products instead of ``L`` matrix products; :func:`rollout_matrix` gives every query's row
at once when a caller wants to cache them. :func:`rollout_rows` never forms ``Ã_l``: the
heads are fused into one buffer reused by every layer and the rows are multiplied by
``F_l`` and rescaled (:func:`multiply_factor`), so a layer costs one read of its stored
attention and one vector-matrix product per chain.

Discard, precisely: ``k = ⌊ratio · N(N-1)⌋`` of the *off-diagonal* entries of ``F_l`` are
zeroed, those at or below the ``k``-th smallest off-diagonal value (ties at the threshold
go together). The diagonal ``F_l[i, i]`` — each token's attention to itself, the path by
which a query keeps its own identity through the layer — is never discarded, for every
token, so that the rollout matrix does not depend on which query is looked at. (jacobgil's
vit-explain protects only the single flat index 0, CLS→CLS.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from vitviz.compute.attention_maps import (
    Attentions,
    HeadFusion,
    Query,
    as_float,
    attention_layers,
    check_tokens,
    fuse_heads,
    fuse_layer,
    patch_columns,
    resolve_query,
)
from vitviz.compute.selection import kth_smallest
from vitviz.compute.workers import SingleThreadWorkers
from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout


def discard_lowest(fused: torch.Tensor, ratio: float, *, in_place: bool = False) -> torch.Tensor:
    """Zero the lowest ``ratio`` of each matrix's off-diagonal entries (diagonal kept).

    Parameters
    ----------
    fused : torch.Tensor
        ``[..., N, N]`` head-fused attention.
    ratio : float
        Fraction in ``[0, 1]`` of the ``N(N-1)`` off-diagonal entries to zero.
    in_place : bool
        Zero them in ``fused`` itself (a buffer the caller owns) rather than in a copy.

    Returns
    -------
    torch.Tensor
        ``[..., N, N]``; ``fused`` itself when nothing is discarded or ``in_place``.
    """
    if not 0.0 <= ratio <= 1.0:
        raise AnalysisError(f"the discard ratio must be in [0, 1], got {ratio}")
    n = fused.shape[-1]
    count = math.floor(ratio * n * (n - 1) + 1e-9)
    if count == 0:
        return fused
    ranked = fused if in_place else fused.clone()
    diagonal = ranked.diagonal(dim1=-2, dim2=-1)  # [..., N]
    kept = diagonal.clone()  # [..., N]
    diagonal.fill_(math.inf)  # never among the lowest
    flat = ranked.reshape(-1, n * n)  # [B, N * N]
    threshold = torch.stack([kth_smallest(matrix, count) for matrix in flat])  # [B]
    threshold = threshold.view(*fused.shape[:-2], 1, 1)  # [..., 1, 1]
    ranked.masked_fill_(ranked <= threshold, 0.0)
    diagonal.copy_(kept)
    return ranked


def rollout_factor(
    fused: torch.Tensor, *, discard_ratio: float = 0.0, residual_weight: float = 0.5
) -> torch.Tensor:
    """One layer's rollout factor ``rownorm((1 - w) · discard(F) + w · I)``.

    Parameters
    ----------
    fused : torch.Tensor
        ``[..., N, N]`` head-fused, non-negative attention ``F``.
    discard_ratio : float
        See :func:`discard_lowest`.
    residual_weight : float
        Weight ``w`` in ``[0, 1]`` of the identity (the residual path); 0.5 is Abnar &
        Zuidema's ``(A + I) / 2``.

    Returns
    -------
    torch.Tensor
        ``[..., N, N]`` row-stochastic matrix (a row with no mass at all stays zero).
    """
    if not 0.0 <= residual_weight <= 1.0:
        raise AnalysisError(f"the residual weight must be in [0, 1], got {residual_weight}")
    mixed = discard_lowest(fused, discard_ratio) * (1.0 - residual_weight)  # [..., N, N]
    mixed.diagonal(dim1=-2, dim2=-1).add_(residual_weight)
    total = mixed.sum(-1, keepdim=True)  # [..., N, 1]
    return mixed.div_(total.clamp_min(torch.finfo(mixed.dtype).tiny))


def multiply_factor(
    rows: torch.Tensor,
    fused: torch.Tensor,
    *,
    discard_ratio: float = 0.0,
    residual_weight: float = 0.5,
    in_place: bool = False,
) -> torch.Tensor:
    """``rows @ rollout_factor(fused, …)`` without forming the factor.

    With ``F' = discard(F)`` and row sums ``t = (1 - w) F' 1 + w``, the factor is
    ``diag(1/t) ((1 - w) F' + w I)``, so ``rows @ factor = (1 - w) (u @ F') + w u`` with
    ``u = rows / t``: one product with the fused matrix and no ``[N, N]`` temporaries
    (none at all when nothing is discarded).

    Parameters
    ----------
    rows : torch.Tensor
        ``[..., k, N]`` row vectors.
    fused : torch.Tensor
        ``[..., N, N]`` head-fused, non-negative attention ``F``.
    discard_ratio, residual_weight : float
        As in :func:`rollout_factor`.
    in_place : bool
        Discard in ``fused`` itself (see :func:`discard_lowest`).

    Returns
    -------
    torch.Tensor
        ``[..., k, N]`` in the promoted dtype of ``rows`` and ``fused``.
    """
    if not 0.0 <= residual_weight <= 1.0:
        raise AnalysisError(f"the residual weight must be in [0, 1], got {residual_weight}")
    kept = discard_lowest(fused, discard_ratio, in_place=in_place)  # [..., N, N]
    total = kept.sum(-1).mul_(1.0 - residual_weight).add_(residual_weight)  # [..., N]
    tiny = torch.finfo(total.dtype).tiny
    scaled = rows / total.clamp_min(tiny).unsqueeze(-2)  # [..., k, N]
    product = scaled @ kept.to(scaled.dtype)  # [..., k, N]
    return product.mul_(1.0 - residual_weight).add_(scaled, alpha=residual_weight)


def selected_layers(num_layers: int, start_layer: int = 0, end_layer: int | None = None) -> range:
    """Blocks ``start_layer … end_layer`` (both inclusive; negatives count from the end).

    Parameters
    ----------
    num_layers : int
        Number of blocks of the model.
    start_layer : int
        First block multiplied in.
    end_layer : int or None
        Last block multiplied in; None for the last block.

    Returns
    -------
    range
        The selected block indices in increasing order.
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
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The row vector a chain of factors starts from, for a query.

    Parameters
    ----------
    layout : TokenLayout
        Token layout of the sequence.
    query : Query
        A token index gives the one-hot ``e_q``; ``"patches"`` the uniform mean over patch
        queries; ``"pool"`` the latent pooling query's attention over the final tokens
        (heads fused, latent queries averaged, renormalised). None: the class token, else
        the pooling query when ``pool_attention`` is given, else ``"patches"``.
    pool_attention : torch.Tensor or None
        ``[..., H, Q, N]`` attention of the pooling query (``global_pool='map'``).
    head_fusion : {"mean", "max", "min"}
        Head fusion of ``pool_attention``.
    dtype, device
        Of the returned vector (``pool_attention``'s device when it is used).

    Returns
    -------
    torch.Tensor
        ``[N]``, or ``[..., N]`` for the pooling query.
    """
    if query is None and layout.class_index is None and pool_attention is not None:
        query = "pool"
    resolved = resolve_query(layout, query)
    n = layout.num_tokens
    if resolved == "pool":
        if pool_attention is None:
            raise AnalysisError("rollout of the pooling query needs the model's pool attention")
        if pool_attention.shape[-1] != n:
            raise AnalysisError(
                f"pool attention over {pool_attention.shape[-1]} tokens does not match the "
                f"token layout ({n} tokens)"
            )
        fused = fuse_heads(as_float(pool_attention), head_fusion).mean(-2)  # [..., N]
        total = fused.sum(-1, keepdim=True)  # [..., 1]
        return (fused / total.clamp_min(torch.finfo(fused.dtype).tiny)).to(dtype)
    vector = torch.zeros(n, dtype=dtype, device=device)
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
    """Multiply a row vector through layer factors, top layer first: ``s Ã_e … Ã_s``.

    Parameters
    ----------
    start : torch.Tensor
        ``[..., N]`` row vector(s).
    factor : callable
        ``factor(l)`` gives layer ``l``'s ``[..., N, N]`` factor; called once per layer,
        from the top of ``layers`` down, so only one factor is alive at a time.
    layers : sequence of int
        The selected layers in increasing order.
    every_layer : bool
        Also return the chain ending at each selected layer (``s Ã_l … Ã_start`` for
        every ``l``), all in one pass: the rows of the chains that include layer ``l``
        are multiplied by its factor together.

    Returns
    -------
    torch.Tensor
        ``[..., N]``, or ``[..., len(layers), N]`` with ``every_layer``.
    """

    def multiply(rows: torch.Tensor, index: int) -> torch.Tensor:
        matrix = factor(index)  # [..., N, N]
        dtype = torch.promote_types(rows.dtype, matrix.dtype)
        return rows.to(dtype) @ matrix.to(dtype)  # [..., k, N]

    return _chain(start, multiply, layers, every_layer=every_layer)


def _chain(
    start: torch.Tensor,
    multiply: Callable[[torch.Tensor, int], torch.Tensor],
    layers: Sequence[int],
    *,
    every_layer: bool,
) -> torch.Tensor:
    """:func:`chain_rows` with ``multiply(rows, l)`` standing for ``rows @ Ã_l``."""
    layers = list(layers)
    if not layers:
        raise AnalysisError("no layers selected")
    if not every_layer:
        rows = start.unsqueeze(-2)  # [..., 1, N]
        for index in reversed(layers):
            rows = multiply(rows, index)  # [..., 1, N]
        return rows[..., 0, :]
    top = multiply(start.unsqueeze(-2), layers[-1])  # [..., 1, N]
    chains = top.new_zeros((*top.shape[:-2], len(layers), top.shape[-1]))  # [..., k, N]
    chains[..., -1:, :] = top
    for position in reversed(range(len(layers) - 1)):
        chains[..., position, :] = start
        chains[..., position:, :] = multiply(chains[..., position:, :], layers[position])
    return chains


def _factor_fn(
    layers: tuple[torch.Tensor, ...],
    head_fusion: HeadFusion,
    discard_ratio: float,
    residual_weight: float,
) -> Callable[[int], torch.Tensor]:
    def factor(index: int) -> torch.Tensor:
        fused = fuse_layer(layers[index], head_fusion)  # [..., N, N]
        return rollout_factor(fused, discard_ratio=discard_ratio, residual_weight=residual_weight)

    return factor


def _fused_multiply(
    layers: tuple[torch.Tensor, ...],
    head_fusion: HeadFusion,
    discard_ratio: float,
    residual_weight: float,
    workers: SingleThreadWorkers | None,
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """``multiply(rows, l) = rows @ Ã_l``, the heads fused into one buffer reused by every layer.

    With ``workers``, each fuses its own band of rows of the buffer.
    """
    buffer = torch.empty(0)

    def multiply(rows: torch.Tensor, index: int) -> torch.Tensor:
        nonlocal buffer
        layer = layers[index]  # [..., H, N, N]
        shape = (*layer.shape[:-3], *layer.shape[-2:])
        dtype = torch.promote_types(layer.dtype, torch.float32)
        if buffer.shape != shape or buffer.dtype != dtype or buffer.device != layer.device:
            buffer = torch.empty(shape, dtype=dtype, device=layer.device)  # [..., N, N]
        if workers is None:
            fuse_layer(layer, head_fusion, out=buffer)
        else:
            n, count = shape[-1], workers.count
            bands = [slice(n * part // count, n * (part + 1) // count) for part in range(count)]
            workers.map(
                lambda band: fuse_layer(layer[..., band, :], head_fusion, out=buffer[..., band, :]),
                bands,
            )
        return multiply_factor(
            rows,
            buffer,
            discard_ratio=discard_ratio,
            residual_weight=residual_weight,
            in_place=True,
        )

    return multiply


def rollout_rows(
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
) -> torch.Tensor:
    """The query's row of the rollout, over all tokens (prefix included).

    Parameters
    ----------
    attentions : torch.Tensor or sequence of torch.Tensor
        ``[..., L, H, N, N]`` stack or per-layer ``[..., H, N, N]`` (any float dtype;
        computed in at least single precision one layer at a time).
    layout : TokenLayout
        Token layout of the sequence.
    query : Query
        Which query (see :func:`start_vector`); default the class token.
    pool_attention : torch.Tensor or None
        ``[..., H, Q, N]`` pooling-query attention, for ``query="pool"`` (and the default
        of models with no class token).
    head_fusion : {"mean", "max", "min"}
        Per-layer head fusion.
    discard_ratio : float
        Fraction of off-diagonal entries zeroed per layer (see the module docstring).
    residual_weight : float
        Weight of the identity in each factor.
    start_layer, end_layer : int
        First and last block multiplied in (inclusive; None: the last block).
    every_layer : bool
        Return the rollout up to each selected layer ("how the picture forms").

    Returns
    -------
    torch.Tensor
        ``[..., N]``, or ``[..., n_selected, N]`` with ``every_layer``; rows sum to 1.
    """
    layers = attention_layers(attentions)
    check_tokens(layers[0], layout)
    chosen = selected_layers(len(layers), start_layer, end_layer)
    start = start_vector(
        layout,
        query,
        pool_attention=pool_attention,
        head_fusion=head_fusion,
        device=layers[0].device,
    )
    if layers[0].device.type != "cpu":
        multiply = _fused_multiply(layers, head_fusion, discard_ratio, residual_weight, None)
        return _chain(start, multiply, chosen, every_layer=every_layer)
    with SingleThreadWorkers() as workers:
        multiply = _fused_multiply(layers, head_fusion, discard_ratio, residual_weight, workers)
        return _chain(start, multiply, chosen, every_layer=every_layer)


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
    """Rollout of a query over the patches, as a grid.

    Parameters are those of :func:`rollout_rows`, plus ``renormalize``: drop the prefix
    columns and renormalise the patch part to sum to 1.

    Returns
    -------
    torch.Tensor
        ``[..., rows, cols]``, or ``[..., n_selected, rows, cols]`` with ``every_layer``.
    """
    rows = rollout_rows(
        attentions,
        layout,
        query=query,
        pool_attention=pool_attention,
        head_fusion=head_fusion,
        discard_ratio=discard_ratio,
        residual_weight=residual_weight,
        start_layer=start_layer,
        end_layer=end_layer,
        every_layer=every_layer,
    )
    return patch_columns(rows, layout, renormalize=renormalize)


def rollout_matrix(
    attentions: Attentions,
    *,
    head_fusion: HeadFusion = "mean",
    discard_ratio: float = 0.0,
    residual_weight: float = 0.5,
    start_layer: int = 0,
    end_layer: int | None = None,
) -> torch.Tensor:
    """The full rollout ``Ã_end … Ã_start``: every query's row at once.

    ``L`` matrix products of ``[N, N]`` (``O(L N³)``), against ``O(L N²)`` for one query
    with :func:`rollout_rows`; worth it only when many queries are looked at.

    Parameters
    ----------
    attentions : torch.Tensor or sequence of torch.Tensor
        ``[..., L, H, N, N]`` stack or per-layer ``[..., H, N, N]``.
    head_fusion, discard_ratio, residual_weight, start_layer, end_layer
        As in :func:`rollout_rows`.

    Returns
    -------
    torch.Tensor
        ``[..., N, N]`` row-stochastic matrix.
    """
    layers = attention_layers(attentions)
    chosen = selected_layers(len(layers), start_layer, end_layer)
    factor = _factor_fn(layers, head_fusion, discard_ratio, residual_weight)
    product = factor(chosen[0])  # [..., N, N]
    for index in chosen[1:]:
        product = factor(index) @ product  # [..., N, N]
    return product
