"""The map laid over the image (``state.view.overlay``): read from the results, and named.

Qt-free: the map is a ``[rows, cols]`` array read from the worker's results and the
selection (no computation beyond a row read), and its description is the text exported
figures carry as their title. The image panel draws it; the window exports it.
"""

from __future__ import annotations

import numpy as np

from vitviz.state import AppState


def rollout_shown(state: AppState) -> np.ndarray | None:
    """``[rows, cols]`` rollout up to the layer slider's layer, or None."""
    rollout, options = state.results.rollout, state.rollout
    if rollout is None or state.results.inference is None:
        return None
    query = state.selection.query if options.follow_query else None
    maps = rollout.maps(
        query, renormalize=state.view.drop_prefix, threshold=state.view.mass_threshold
    )  # [n_selected, rows, cols]
    if maps is None:
        return None
    layers = rollout.layers
    shown = layers[-1] if options.shown_layer is None else options.shown_layer
    return maps[min(max(shown, layers[0]), layers[-1]) - layers[0]]


def overlay_map(state: AppState) -> np.ndarray | None:
    """The ``[rows, cols]`` map laid over the image, or None: the selected head's attention
    for the query, the selected layer's heads fused, the rollout, or the class's map."""
    results, sel, view = state.results, state.selection, state.view
    source = view.overlay
    if results.analysis is None or source == "none":
        return None
    if source == "class":
        if sel.class_index is None:
            return None
        cached = results.class_maps.get((sel.class_index, view.class_method))
        return None if cached is None else np.asarray(cached, dtype=np.float32)
    if source == "rollout":
        return rollout_shown(state)
    analysis = results.analysis
    cells = analysis.cells(
        sel.query,
        fusion=view.fusion,
        renormalize=view.drop_prefix,
        threshold=view.mass_threshold,
        layer=min(sel.layer, analysis.depth - 1),
    )  # [H + 1, rows, cols]
    if source == "heads":  # drawn in colour by vitviz.qt.head_overlay; this is its hover value
        return cells[:-1].max(0)
    return cells[min(sel.head, len(cells) - 2) if source == "head" else -1]


def describe_overlay(state: AppState) -> str:
    """What the overlaid map shows, for titles: ``layer 3, head 1 · query CLS``."""
    sel, layout, source = state.selection, state.layout, state.view.overlay
    query = layout.label(sel.query) if layout is not None else "?"
    if source == "head":
        return f"layer {sel.layer}, head {sel.head} · query {query}"
    if source == "fusion":
        return f"layer {sel.layer}, {state.view.fusion} of heads · query {query}"
    if source == "heads":
        return f"layer {sel.layer}, strongest head · query {query}"
    if source == "rollout":
        rolled = query if state.rollout.follow_query else "default query"
        return f"rollout ({state.rollout.fusion}) · {rolled}"
    if source == "class":
        labels = state.results.model.spec.labels if state.results.model else None
        index = sel.class_index
        name = labels[index] if labels and index is not None else str(index)
        return f"class {name} · {state.view.class_method}"
    return "image"
