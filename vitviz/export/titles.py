"""Figure titles: what the map is, then its settings and image (layers, heads from 0)."""

from __future__ import annotations


def _details(*parts: str) -> str:
    return " · ".join(part for part in parts if part)


def rollout_title(
    model, query, *, start_layer, end_layer, fusion, discard_ratio=0.0, residual=0.5, image=""
) -> str:
    """Title of a rollout map up to ``end_layer``."""
    settings = [f"{fusion} fusion"]
    if discard_ratio:
        settings.append(f"discard {discard_ratio:g}")
    if residual != 0.5:
        settings.append(f"residual {residual:g}")
    return f"Attention rollout of {query}\n" + _details(
        model, f"layers {start_layer}–{end_layer}", ", ".join(settings), image
    )


def head_title(
    model: str, query: str, *, layer: int, head: int | None, fusion: str = "mean", image: str = ""
) -> str:
    """Title of one head's (or the fused heads') attention map in one layer."""
    heads = f"head {head}" if head is not None else f"heads fused ({fusion})"
    return f"Attention of {query}\n" + _details(model, f"layer {layer}", heads, image)


def grid_title(model: str, query: str, *, image: str = "") -> str:
    """Title of the heads × layers grid."""
    return f"Attention of {query}, every head of every layer\n" + _details(model, image)


def class_title(
    model: str, label: str, *, index: int, method: str, probability: float | None, image: str = ""
) -> str:
    """Title of a class-specific map."""
    names = {"relevance": "Relevance (Chefer et al. 2021)", "grad_rollout": "Gradient rollout"}
    chance = f"p = {probability:.1%}" if probability is not None else ""
    return f"{names.get(method, method)} for class “{label}”\n" + _details(
        model, f"class {index}", chance, image
    )


def distance_title(model: str, *, image: str = "") -> str:
    """Title of the mean-attention-distance plot."""
    return "Mean attention distance per head\n" + _details(model, image)
