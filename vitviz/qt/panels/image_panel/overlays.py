"""Which map the image panel lays over the image: computing it from the state, and naming it.

Qt-free: the map is a ``[rows, cols]`` array read from the stored result and the
selection (no new forward pass), and its description is the text exported figures carry
as their title.
"""

from __future__ import annotations

import numpy as np

from vitviz.state import AppState

OVERLAYS = ("head", "fusion", "rollout", "class", "none")
OVERLAY_LABELS = ("Selected head", "Fused layer", "Rollout", "Class map", "No map")


def overlay_map(state: AppState, source: str) -> np.ndarray | None:
    """The ``[rows, cols]`` map the image panel lays over the image, or None.

    Parameters
    ----------
    state : AppState
        Current result and selection.
    source : str
        One of :data:`OVERLAYS`: the selected head's attention for the query, the
        selected layer's heads fused, the rollout of the query, or the selected class's
        map (when it has been computed).
    """
    import torch

    from vitviz.compute import attention_maps, rollout

    inference = state.results.inference
    if inference is None or source == "none":
        return None
    layout, sel, view = inference.layout, state.selection, state.view
    if source == "class":
        if sel.class_index is None:
            return None
        cached = state.results.class_maps.get((sel.class_index, view.class_method))
        return None if cached is None else np.asarray(cached, dtype=np.float32)
    layers = attention_maps.attention_layers(inference.attentions)
    if source == "rollout":
        options = state.rollout
        end = options.end_layer if options.shown_layer is None else options.shown_layer
        grid = rollout.rollout(
            layers,
            layout,
            query=sel.query if options.follow_query else None,
            head_fusion=options.fusion,
            discard_ratio=options.discard_ratio,
            residual_weight=options.residual,
            start_layer=min(options.start_layer, len(layers) - 1),
            end_layer=None if end is None else max(min(end, len(layers) - 1), options.start_layer),
            renormalize=view.drop_prefix,
        )
    else:
        layer = layers[min(sel.layer, len(layers) - 1)]  # [H, N, N] (or [1, H, N, N])
        maps = attention_maps.query_maps([layer], layout, sel.query, renormalize=view.drop_prefix)[
            ..., 0, :, :, :
        ]  # [H, rows, cols]
        if source == "head":
            grid = maps[..., min(sel.head, maps.shape[-3] - 1), :, :]  # [rows, cols]
        else:
            grid = attention_maps.fuse_heads(maps, view.fusion, dim=-3)  # [rows, cols]
    grid = grid.reshape(layout.grid)  # [rows, cols] (drops a batch of one)
    if view.mass_threshold is not None:
        grid = torch.where(attention_maps.mass_threshold(grid, view.mass_threshold), grid, 0)
    return grid.float().cpu().numpy()


def describe_overlay(state: AppState, source: str) -> str:
    """What the map ``source`` shows, for titles: ``layer 3, head 1 · query CLS``.

    Parameters
    ----------
    state : AppState
        Current selection and view options.
    source : str
        One of :data:`OVERLAYS`.
    """
    sel, layout = state.selection, state.layout
    query = layout.label(sel.query) if layout is not None else "?"
    if source == "head":
        return f"layer {sel.layer}, head {sel.head} · query {query}"
    if source == "fusion":
        return f"layer {sel.layer}, {state.view.fusion} of heads · query {query}"
    if source == "rollout":
        rolled = query if state.rollout.follow_query else "default query"
        return f"rollout ({state.rollout.fusion}) · {rolled}"
    if source == "class":
        labels = state.results.model.spec.labels if state.results.model else None
        index = sel.class_index
        name = labels[index] if labels and index is not None else str(index)
        return f"class {name} · {state.view.class_method}"
    return "image"
