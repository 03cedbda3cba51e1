"""The map laid over the image (``state.view.overlay``): read from the results, and named.

Qt-free: the map is a ``[rows, cols]`` array read from the worker's results and the
selection (no computation beyond a row read), and its description is the text exported
figures carry as their title. The image panel draws it; the window exports it.
"""

from __future__ import annotations

import numpy as np

from vitviz.qt.widgets.labels import token_label
from vitviz.state import AppState
from vitviz.state.view import CLASS_METHOD_LABELS

NEAR_UNIFORM = 0.05
"""A map whose max - min is under this fraction of its mean is shown as near-uniform."""


def rollout_stack(state: AppState) -> np.ndarray | None:
    """``[n_selected, rows, cols]`` rollout up to each selected layer, or None."""
    rollout = state.results.rollout
    if rollout is None or state.results.inference is None or not rollout.layers:
        return None
    query = state.selection.query if state.rollout.follow_query else None
    return rollout.maps(
        query, renormalize=state.view.drop_prefix, threshold=state.view.mass_threshold
    )


def shown_layer(state: AppState) -> int:
    """The last block of the rollout shown: the layer slider's, within the selected ones."""
    layers, shown = state.results.rollout.layers, state.rollout.shown_layer
    return layers[-1] if shown is None else min(max(shown, layers[0]), layers[-1])


def rollout_shown(state: AppState) -> np.ndarray | None:
    """``[rows, cols]`` rollout up to the layer slider's layer, or None."""
    maps = rollout_stack(state)
    return None if maps is None else maps[shown_layer(state) - state.results.rollout.layers[0]]


def layer_maps(state: AppState) -> np.ndarray | None:
    """``[H + 1, rows, cols]``: the query's map in every head of the selected layer, fused."""
    analysis, sel, view = state.results.analysis, state.selection, state.view
    if analysis is None:
        return None
    return analysis.cells(
        sel.query,
        fusion=view.fusion,
        renormalize=view.drop_prefix,
        threshold=view.mass_threshold,
        layer=min(sel.layer, analysis.depth - 1),
    )


def overlay_maps(state: AppState) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The ``[rows, cols]`` map laid over the image and the maps its shared scale spans.

    The map is the selected head's attention for the query, the selected layer's heads
    fused (or the strongest head, the hover value of "heads in colour"), the rollout, or
    the class's map; the span is the layer's maps, the selected rollout layers, or the
    map itself. ``(None, None)`` when there is no map.
    """
    results, sel, view = state.results, state.selection, state.view
    source = view.overlay
    if results.analysis is None or source == "none":
        return None, None
    if source == "class":
        cached = results.class_maps.get((sel.class_index, view.class_method))
        grid_map = None if cached is None else np.asarray(cached, dtype=np.float32)
        return grid_map, grid_map
    if source == "rollout":
        return rollout_shown(state), rollout_stack(state)
    cells = layer_maps(state)  # [H + 1, rows, cols]
    if source == "heads":  # drawn in colour by vitviz.qt.head_overlay; this is its hover value
        return cells[:-1].max(0), cells
    return cells[min(sel.head, len(cells) - 2) if source == "head" else -1], cells


def overlay_map(state: AppState) -> np.ndarray | None:
    """The ``[rows, cols]`` map laid over the image, or None (see :func:`overlay_maps`)."""
    return overlay_maps(state)[0]


def map_limits(values: np.ndarray, span: np.ndarray | None = None) -> tuple[float, float, str]:
    """Colour limits of a map and the note it needs, as ``(low, high, note)``.

    Per map (``span`` None) the limits are the map's min and max; with the shared scale
    they are 0 and the maximum over ``span``. A near-uniform map (range under
    :data:`NEAR_UNIFORM` of its mean) is drawn from 0 to its max, so that it looks flat
    rather than its rounding noise at full contrast, and its note says so.
    """
    low, high = float(values.min()), float(values.max())
    note = ""
    if high - low <= NEAR_UNIFORM * abs(float(values.mean())):
        note = f"near-uniform: {low:.3g}-{high:.3g}"
    if span is not None:
        return 0.0, float(np.max(span)), note
    return (min(low, 0.0), high, note) if note else (low, high, note)


def query_name(state: AppState) -> str:
    """The rollout's query: the selected token, the class token, or the model's pooling."""
    layout = state.layout
    if state.rollout.follow_query:
        return token_label(layout, state.selection.query)
    if layout.class_index is not None:
        return layout.label(layout.class_index)
    # Without a class token the head reads the pooling latent's output (MAP) or the mean
    # of the patch tokens (avg pool), so the rollout of that row is what reaches it.
    return "attention-pool latent" if layout.pool_query else "mean of patches (avg pool)"


def describe_rollout(state: AppState) -> str:
    """``rollout L0-L11 · mean of heads · query CLS``, or "" without a rollout."""
    if rollout_stack(state) is None:
        return ""
    first, fusion = state.results.rollout.layers[0], state.rollout.fusion
    return f"rollout L{first}-L{shown_layer(state)} · {fusion} of heads · query {query_name(state)}"


def describe_overlay(state: AppState, source: str | None = None) -> str:
    """What the overlaid map (or the map of ``source``) shows, for titles and captions:
    ``layer 3, head 1 · query CLS``, ``ring · relevance (Chefer et al.)``."""
    sel, layout, source = state.selection, state.layout, source or state.view.overlay
    query = token_label(layout, sel.query) if layout is not None else "?"
    if source == "head":
        return f"layer {sel.layer}, head {sel.head} · query {query}"
    if source == "fusion":
        return f"layer {sel.layer}, {state.view.fusion} of heads · query {query}"
    if source == "heads":
        return f"layer {sel.layer}, strongest head · query {query}"
    if source == "rollout":
        return describe_rollout(state) or "rollout"
    if source == "class":
        return f"{class_name(state)} · {CLASS_METHOD_LABELS[state.view.class_method]}"
    return "image"


def class_name(state: AppState, index: int | None = None) -> str:
    """The label of class ``index`` (default: the selected class), or ``class 7``."""
    index = state.selection.class_index if index is None else index
    labels = state.results.model.spec.labels if state.results.model else None
    if index is not None and labels and 0 <= index < len(labels):
        return labels[index]
    return f"class {index}"
