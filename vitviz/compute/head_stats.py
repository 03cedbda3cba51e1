"""Per-(layer, head) statistics: mean attention distance, entropy, prefix mass; high-norm tokens.

Definitions (each one a choice the known tools make differently, so stated here):

- **Mean attention distance** (the ViT paper's Fig. 7): for each *patch* query, the
  attention over *patch* keys is renormalised to sum to 1 (prefix columns dropped), and
  the attention-weighted Euclidean distance between the query and key patch centres is
  taken, in input pixels (``row · patch_height``, ``col · patch_width``, so non-square
  patches and grids are respected); the head's value is the mean over patch queries.
- **Entropy**: ``-Σ_j A_ij ln A_ij`` in nats of each full attention row (all ``N`` keys,
  a proper distribution), averaged over query rows: all ``N`` rows by default, or the
  patch rows only. Ranges from 0 (one key) to ``ln N`` (uniform).
- **Prefix mass**: the attention the query puts on each prefix token (class,
  distillation, registers), e.g. class → registers. The query is the class token by
  default, or the mean over patch queries for models without one (see
  :data:`~vitviz.compute.attention_maps.Query`).
- **High-norm tokens** (Darcet et al. 2024, "Vision Transformers Need Registers"): in each
  block, a token is flagged when its output norm's modified z-score
  ``0.6745 · (norm - median) / MAD`` exceeds ``z`` (3.5, Iglewicz & Hoaglin's outlier
  rule), with median and MAD taken over the *patch* tokens of that block (the baseline of
  ordinary patches); prefix tokens are flagged by the same rule.

Attention may be stored in half precision; every function upcasts one head at a time, so
the peak extra memory is a few ``[N, N]`` matrices. The GUI runs them in its worker thread
(ViT-L/16: about 0.1 s), so a plain loop over the heads is fast enough.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from vitviz.compute.attention_maps import (
    Attentions,
    Query,
    as_float,
    attention_layers,
    check_tokens,
    select_query_rows,
)
from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout

EntropyRows = Literal["all", "patches"]

MODIFIED_Z = 0.6745
"""Scale of the modified z-score: the MAD of a normal distribution is 0.6745 σ."""


@dataclass(frozen=True)
class HeadStatistics:
    """All per-head statistics of one analysis.

    Attributes
    ----------
    mean_distance : torch.Tensor
        ``[..., L, H]`` mean attention distance in input pixels.
    entropy : torch.Tensor
        ``[..., L, H]`` mean row entropy in nats.
    prefix_mass : torch.Tensor
        ``[..., L, H, num_prefix]`` attention of the query on each prefix token.
    high_norm : torch.Tensor or None
        ``[..., L, N]`` boolean flags of high-norm tokens; None without token norms.
    """

    mean_distance: torch.Tensor
    entropy: torch.Tensor
    prefix_mass: torch.Tensor
    high_norm: torch.Tensor | None


def patch_distances(
    layout: TokenLayout,
    patch_size: tuple[int, int],
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Euclidean distances between patch centres, in input pixels.

    Parameters
    ----------
    layout : TokenLayout
        Gives the ``(rows, cols)`` grid.
    patch_size : tuple of int
        ``(height, width)`` of a patch in pixels.

    Returns
    -------
    torch.Tensor
        ``[P, P]`` with ``P = rows * cols`` in row-major patch order.
    """
    rows, cols = layout.grid
    ys = (torch.arange(rows, dtype=dtype, device=device) + 0.5) * patch_size[0]  # [rows]
    xs = (torch.arange(cols, dtype=dtype, device=device) + 0.5) * patch_size[1]  # [cols]
    centres = torch.cartesian_prod(ys, xs)  # [P, 2]
    return torch.cdist(centres, centres)  # [P, P]


def _entropy_sum(matrix: torch.Tensor) -> torch.Tensor:
    """``Σ -a ln a`` over the last two dims; negative entries count as 0."""
    values = as_float(matrix).clamp_min(0)  # a copy: the caller's tensor is left alone
    logs = values.clamp_min(torch.finfo(values.dtype).tiny).log_()  # 0 · ln(tiny) = 0
    # 1.2 ms per 1374 x 1374 head vs 5.9 ms for torch.special.entr (2-core CPU).
    return -(values.mul_(logs)).sum((-2, -1))


def head_mean_distance(
    attention: torch.Tensor, layout: TokenLayout, distances: torch.Tensor
) -> torch.Tensor:
    """Mean attention distance of one head (see the module docstring).

    Parameters
    ----------
    attention : torch.Tensor
        ``[..., N, N]`` attention of one head.
    layout : TokenLayout
        Token layout of the sequence.
    distances : torch.Tensor
        ``[P, P]`` from :func:`patch_distances`.

    Returns
    -------
    torch.Tensor
        ``[...]`` pixels.
    """
    start = layout.num_prefix
    patches = as_float(attention[..., start:, start:])  # [..., P, P]
    mass = patches.sum(-1)  # [..., P]
    weighted = torch.linalg.vecdot(patches, distances.to(patches.dtype))  # [..., P]
    return (weighted / mass.clamp_min(torch.finfo(mass.dtype).tiny)).mean(-1)


def head_entropy(
    attention: torch.Tensor, layout: TokenLayout, rows: EntropyRows = "all"
) -> torch.Tensor:
    """Mean row entropy (nats) of one head.

    Parameters
    ----------
    attention : torch.Tensor
        ``[..., N, N]`` attention of one head.
    layout : TokenLayout
        Token layout of the sequence.
    rows : {"all", "patches"}
        Average over all query rows or over the patch query rows only.

    Returns
    -------
    torch.Tensor
        ``[...]`` nats.
    """
    if rows == "all":
        chosen = attention
    elif rows == "patches":
        chosen = attention[..., layout.num_prefix :, :]
    else:
        raise AnalysisError(f"entropy rows must be 'all' or 'patches', got {rows!r}")
    return _entropy_sum(chosen) / chosen.shape[-2]


def layer_prefix_mass(
    attention: torch.Tensor, layout: TokenLayout, query: Query = None
) -> torch.Tensor:
    """Attention of ``query`` on each prefix token, for each head of one layer.

    Returns
    -------
    torch.Tensor
        ``[..., H, num_prefix]``.
    """
    return select_query_rows(attention, layout, query)[..., : layout.num_prefix]


def _over_heads(function, layers: Sequence[torch.Tensor]) -> torch.Tensor:
    """``function(head)`` for every head of every layer, stacked to ``[..., L, H]``.

    ``function`` maps ``[..., 1, N, N]`` to ``[..., 1]``; each head is upcast on its own.
    """
    per_layer = [
        torch.cat([function(head) for head in layer.split(1, dim=-3)], -1) for layer in layers
    ]  # L x [..., H]
    return torch.stack(per_layer, dim=-2)  # [..., L, H]


def mean_attention_distance(
    attentions: Attentions, layout: TokenLayout, patch_size: tuple[int, int]
) -> torch.Tensor:
    """Mean attention distance of every head of every layer (ViT paper, Fig. 7).

    Parameters
    ----------
    attentions : torch.Tensor or sequence of torch.Tensor
        ``[..., L, H, N, N]`` stack or per-layer ``[..., H, N, N]``.
    layout : TokenLayout
        Token layout of the sequence.
    patch_size : tuple of int
        ``(height, width)`` of a patch in input pixels.

    Returns
    -------
    torch.Tensor
        ``[..., L, H]`` pixels.
    """
    layers = attention_layers(attentions)
    check_tokens(layers[0], layout)
    distances = patch_distances(layout, patch_size, device=layers[0].device)
    return _over_heads(lambda head: head_mean_distance(head, layout, distances), layers)


def attention_entropy(
    attentions: Attentions, layout: TokenLayout, *, rows: EntropyRows = "all"
) -> torch.Tensor:
    """Mean attention-row entropy of every head of every layer, in nats.

    Parameters
    ----------
    attentions : torch.Tensor or sequence of torch.Tensor
        ``[..., L, H, N, N]`` stack or per-layer ``[..., H, N, N]``.
    layout : TokenLayout
        Token layout of the sequence.
    rows : {"all", "patches"}
        Which query rows are averaged.

    Returns
    -------
    torch.Tensor
        ``[..., L, H]``.
    """
    layers = attention_layers(attentions)
    check_tokens(layers[0], layout)
    return _over_heads(lambda head: head_entropy(head, layout, rows), layers)


def prefix_mass(
    attentions: Attentions, layout: TokenLayout, *, query: Query = None
) -> torch.Tensor:
    """Attention mass of a query on each prefix token, for every head of every layer.

    Parameters
    ----------
    attentions : torch.Tensor or sequence of torch.Tensor
        ``[..., L, H, N, N]`` stack or per-layer ``[..., H, N, N]``.
    layout : TokenLayout
        Token layout; its ``prefix_labels`` name the last dimension.
    query : Query
        The query token; default the class token, else the mean over patch queries.

    Returns
    -------
    torch.Tensor
        ``[..., L, H, num_prefix]`` (empty last dimension for models without prefix tokens).
    """
    layers = attention_layers(attentions)
    return torch.stack([layer_prefix_mass(a, layout, query) for a in layers], dim=-3)


def high_norm_tokens(
    token_norms: torch.Tensor | Sequence[torch.Tensor], layout: TokenLayout, *, z: float = 3.5
) -> torch.Tensor:
    """Flag the tokens whose norm is an outlier in their block (see the module docstring).

    Parameters
    ----------
    token_norms : torch.Tensor or sequence of torch.Tensor
        ``[..., L, N]`` stack or one ``[..., N]`` tensor per block.
    layout : TokenLayout
        Token layout of the sequence (median and MAD are taken over its patches).
    z : float
        Modified z-score above which a token is flagged.

    Returns
    -------
    torch.Tensor
        ``[..., L, N]`` booleans.
    """
    norms = (
        token_norms if isinstance(token_norms, torch.Tensor) else torch.stack(list(token_norms), -2)
    )
    if norms.shape[-1] != layout.num_tokens:
        raise AnalysisError(
            f"token norms over {norms.shape[-1]} tokens do not match the token layout "
            f"({layout.num_tokens} tokens)"
        )
    norms = as_float(norms)  # [..., L, N]
    patches = norms[..., layout.num_prefix :]  # [..., L, P]
    median = patches.median(-1, keepdim=True).values  # [..., L, 1]
    mad = (patches - median).abs().median(-1, keepdim=True).values  # [..., L, 1]
    score = MODIFIED_Z * (norms - median) / mad.clamp_min(torch.finfo(norms.dtype).tiny)
    return score > z


def head_statistics(
    attentions: Attentions,
    layout: TokenLayout,
    patch_size: tuple[int, int],
    *,
    token_norms: torch.Tensor | Sequence[torch.Tensor] | None = None,
    prefix_query: Query = None,
    entropy_rows: EntropyRows = "all",
    high_norm_z: float = 3.5,
) -> HeadStatistics:
    """Every per-head statistic of every layer.

    Parameters
    ----------
    attentions : torch.Tensor or sequence of torch.Tensor
        ``[..., L, H, N, N]`` stack or per-layer ``[..., H, N, N]``.
    layout : TokenLayout
        Token layout of the sequence.
    patch_size : tuple of int
        ``(height, width)`` of a patch in input pixels.
    token_norms : torch.Tensor or sequence of torch.Tensor, optional
        ``[..., L, N]`` per-block token norms, for the high-norm flags.
    prefix_query : Query
        Query of the prefix mass.
    entropy_rows : {"all", "patches"}
        Query rows averaged by the entropy.
    high_norm_z : float
        Modified z-score threshold of the high-norm flags.

    Returns
    -------
    HeadStatistics
    """
    high_norm = None
    if token_norms is not None:
        high_norm = high_norm_tokens(token_norms, layout, z=high_norm_z)
    return HeadStatistics(
        mean_distance=mean_attention_distance(attentions, layout, patch_size),
        entropy=attention_entropy(attentions, layout, rows=entropy_rows),
        prefix_mass=prefix_mass(attentions, layout, query=prefix_query),
        high_norm=high_norm,
    )
