"""Everything the GUI derives from one forward pass, computed once, off the UI thread.

:func:`analyse` (head statistics, high-norm flags, prefix mass, predictions) and
:func:`rollout_maps` run in the GUI's worker thread and return frozen values, never
written again, for the UI thread; their methods are the cheap per-query reads the panels
make (a row of a stored tensor: within a frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vitviz.compute.attention_maps import (
    Query,
    fuse_heads,
    mass_threshold,
    patch_columns,
    select_query_rows,
)
from vitviz.compute.head_stats import head_statistics, prefix_mass
from vitviz.compute.predictions import Predictions, top_k
from vitviz.compute.rollout import (
    RolloutOptions,
    rollout_rows,
    rollout_stack,
    selected_layers,
    start_vector,
)
from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout

MAX_PREDICTIONS = 50
"""Classes ranked per result: the most the Predictions panel lists."""


def first_image(tensor: torch.Tensor, ndim: int) -> torch.Tensor:
    """Drop leading batch axes (keeping the first image) until ``tensor`` has ``ndim`` axes."""
    return tensor[(0,) * (tensor.dim() - ndim)]


def _threshold(maps: torch.Tensor, fraction: float | None) -> np.ndarray:
    """``maps`` with the patches outside DINO's top-``fraction`` mass set to 0, in numpy."""
    return (maps if fraction is None else maps * mass_threshold(maps, fraction)).numpy()


def _read_only(tensor: torch.Tensor) -> np.ndarray:
    """``tensor`` as a numpy array no one can write to (it is shared with the UI thread)."""
    array = tensor.numpy()
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Analysis:
    """The derived analyses of the first image of one :class:`InferenceResult`.

    ``attentions`` are its ``[L, H, N, N]`` stored attention (read only) in token
    ``layout``; ``mean_distance`` (pixels) and ``entropy`` (nats) ``[L, H]``;
    ``prefix_mass`` the ``[L, H, num_prefix]`` attention of the default query (class
    token, else the mean patch query) on each prefix token, ``patch_prefix_mass`` the
    patches' ``[L, num_prefix]``, heads averaged; ``token_norms`` and their ``high_norm``
    flags ``[L, N]`` (None without norms); ``predictions`` the top
    :data:`MAX_PREDICTIONS` classes, or the reason there are none.
    """

    attentions: torch.Tensor
    layout: TokenLayout
    mean_distance: np.ndarray
    entropy: np.ndarray
    prefix_mass: np.ndarray
    patch_prefix_mass: np.ndarray
    token_norms: np.ndarray | None
    high_norm: np.ndarray | None
    predictions: Predictions

    @property
    def depth(self) -> int:
        return self.attentions.shape[0]

    def query_row(self, layer: int, head: int, query: Query) -> np.ndarray:
        """``[N]`` attention row of ``query`` in one head."""
        return select_query_rows(self.attentions[layer, head], self.layout, query).numpy()

    def cells(
        self,
        query: Query,
        *,
        fusion: str = "mean",
        renormalize: bool = False,
        threshold: float | None = None,
        layer: int | None = None,
    ) -> np.ndarray:
        """The ``query``'s maps, every head then the heads fused (``fusion``), of every
        layer: ``[L, H + 1, rows, cols]``, or ``[H + 1, rows, cols]`` of one ``layer``.

        ``renormalize`` drops the prefix columns and renormalises each map over the
        patches; ``threshold`` applies DINO's mass threshold to every map.
        """
        stored = self.attentions if layer is None else self.attentions[layer : layer + 1]
        rows = select_query_rows(stored, self.layout, query)  # [l, H, N]
        maps = patch_columns(rows, self.layout, renormalize=renormalize)  # [l, H, rows, cols]
        fused = fuse_heads(maps, fusion, dim=1)  # [l, rows, cols]
        cells = _threshold(torch.cat([maps, fused[:, None]], dim=1), threshold)  # [l, H+1, r, c]
        return cells if layer is None else cells[0]


def analyse(inference: Any, patch_size: tuple[int, int], labels=None) -> Analysis:
    """The derived analyses of the first image of ``inference``.

    ``inference`` is an :class:`~vitviz.compute.inference.InferenceResult` (``attentions``,
    ``layout``, ``token_norms`` and ``logits`` are read), ``patch_size`` a patch's
    ``(height, width)`` in input pixels, ``labels`` the class names for the predictions.
    """
    layout = inference.layout
    attentions = first_image(inference.attentions, 4)  # [L, H, N, N]
    norms = inference.token_norms
    norms = first_image(norms, 2).float() if norms is not None and norms.numel() else None
    stats = head_statistics(attentions, layout, patch_size, token_norms=norms)
    patch_mass = prefix_mass(attentions, layout, query="patches")  # [L, H, P]
    try:
        predictions = top_k(inference.logits, labels, k=MAX_PREDICTIONS)
    except AnalysisError as error:
        predictions = Predictions(classes=(), num_classes=0, reason=str(error))
    return Analysis(
        attentions=attentions,
        layout=layout,
        mean_distance=_read_only(stats.mean_distance),
        entropy=_read_only(stats.entropy),
        prefix_mass=_read_only(stats.prefix_mass),
        patch_prefix_mass=_read_only(patch_mass.mean(-2)),  # [L, num_prefix]
        token_norms=None if norms is None else _read_only(norms),
        high_norm=None if stats.high_norm is None else _read_only(stats.high_norm),
        predictions=predictions,
    )


@dataclass(frozen=True, eq=False)
class RolloutMaps:
    """Rollout of every query up to every selected layer, for one set of options.

    ``options`` were computed over the selected blocks ``layers`` of an input with token
    ``layout``. ``stack`` is the ``[n_selected, N, N]``
    :func:`~vitviz.compute.rollout.rollout_stack` (None when only the default query was
    rolled out), ``default_rows`` the ``[n_selected, N]`` rollout of the default query
    (class token, pooling query or the mean of the patches); ``error`` says why there is no
    rollout (e.g. a start layer after the end layer).
    """

    options: RolloutOptions
    layers: range = range(0)
    stack: torch.Tensor | None = None
    default_rows: torch.Tensor | None = None
    layout: TokenLayout | None = None
    error: str | None = None

    def maps(
        self, query: int | None = None, *, renormalize: bool = False, threshold=None
    ) -> np.ndarray | None:
        """``[n_selected, rows, cols]`` rollout of ``query`` (None: the default query).

        None when there is no rollout, or when ``query`` is given and only the default
        query was rolled out. ``threshold`` is DINO's mass threshold, or None.
        """
        if query is None and self.default_rows is not None:
            rows = self.default_rows  # [n, N]
        elif query is not None and self.stack is not None:
            rows = select_query_rows(self.stack, self.layout, query)  # [n, N]
        else:
            return None
        grids = patch_columns(rows, self.layout, renormalize=renormalize)  # [n, rows, cols]
        return _threshold(grids, threshold)


def rollout_maps(inference: Any, options: RolloutOptions, every_query: bool = True) -> RolloutMaps:
    """Roll out the first image of ``inference`` with ``options`` (see :class:`RolloutMaps`).

    With ``every_query`` every query's rollout is kept (``L`` products of ``[N, N]``
    matrices); without, only the default query's (``L`` vector-matrix chains), which is
    what is shown unless the rollout follows the query: for DINOv2-L at 518 px that
    saves seconds. Invalid options give a :class:`RolloutMaps` whose ``error`` says why.
    """
    attentions = first_image(inference.attentions, 4)  # [L, H, N, N]
    layout, pool = inference.layout, inference.pool_attention
    pool = None if pool is None else first_image(pool, 3)  # [H, Q, N]
    try:
        layers = selected_layers(len(attentions), options.start_layer, options.end_layer)
        if not every_query:
            rows = rollout_rows(attentions, layout, options, pool_attention=pool, every_layer=True)
            return RolloutMaps(options, layers, None, rows, layout)
        stack = rollout_stack(attentions, options)  # [n, N, N]
    except AnalysisError as error:
        return RolloutMaps(options, error=str(error))
    start = start_vector(layout, None, pool_attention=pool, head_fusion=options.fusion)  # [N]
    return RolloutMaps(options, layers, stack, start @ stack, layout)
