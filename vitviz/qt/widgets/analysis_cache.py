"""Per-result analyses that several panels read, computed once per inference result.

Panels never talk to each other, but the selected-head panel, the statistics plot and
the tokens panel all need the same head statistics; this cache keeps the last result's
so that a new inference costs one computation, however many panels show it.
"""

from __future__ import annotations

import os
from typing import Any

from vitviz.compute import head_stats


def first_image(tensor, ndim: int):
    """Drop leading batch axes (keeping the first image) until ``tensor`` has ``ndim`` axes."""
    while tensor.dim() > ndim:
        tensor = tensor[0]
    return tensor


_last: tuple[Any, tuple[int, int], Any] | None = None


def head_statistics(inference: Any, patch_size: tuple[int, int]) -> head_stats.HeadStatistics:
    """Head statistics of ``inference`` (first image of a batch), cached for the last result.

    Parameters
    ----------
    inference : vitviz.compute.inference.InferenceResult
        Needs ``attentions``, ``layout`` and ``token_norms``.
    patch_size : tuple of int
        ``(height, width)`` of a patch in input pixels.

    Returns
    -------
    vitviz.compute.head_stats.HeadStatistics
    """
    global _last
    if _last is not None and _last[0] is inference and _last[1] == tuple(patch_size):
        return _last[2]
    norms = inference.token_norms
    if norms is not None and not len(norms):
        norms = None
    # The UI thread runs torch on one thread; the heads are shared among the cores instead.
    stats = head_stats.head_statistics(
        inference.attentions,
        inference.layout,
        tuple(patch_size),
        token_norms=norms,
        workers=os.cpu_count() or 1,
    )
    _last = (inference, tuple(patch_size), stats)
    return stats
