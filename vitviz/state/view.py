"""How maps are drawn and how rollout is computed: options the user tunes."""

from __future__ import annotations

from dataclasses import dataclass

from psygnal import evented

FUSIONS = ("mean", "max", "min")
CLASS_METHODS = ("relevance", "grad_rollout")
CLASS_METHOD_LABELS = {"relevance": "relevance (Chefer et al.)", "grad_rollout": "gradient rollout"}
SCALES = ("per_map", "shared")
SCALE_LABELS = ("per-map scale", "shared scale (0 to layer max)")
UPSAMPLING = ("nearest", "bilinear")
OVERLAYS = ("head", "fusion", "heads", "rollout", "class", "none")
OVERLAY_LABELS = (
    "Selected head",
    "Fused layer",
    "Heads in colour",
    "Rollout",
    "Class map",
    "No map",
)


@evented
@dataclass
class ViewOptions:
    """Display options common to every panel.

    Attributes
    ----------
    fusion : str
        Head fusion of the per-layer fused column: one of :data:`FUSIONS`.
    colormap : str
        A matplotlib colormap name.
    opacity : float
        Opacity of a map over the image, 0..1.
    scale : str
        Colour scale: each map its own min..max, or shared (thumbnails one scale for all;
        a big map 0..the maximum over its layer's maps, so weak heads look weak).
    upsampling : str
        How grid maps are enlarged onto the image.
    show_grid : bool
        Draw the patch grid over the image.
    drop_prefix : bool
        Drop the prefix-token columns of attention rows and renormalise over patches.
    mass_threshold : float or None
        DINO-style threshold: keep the smallest top set holding this fraction of the map.
    class_method : str
        Class-specific map method: one of :data:`CLASS_METHODS`.
    presentation : bool
        The Present layout is shown: full screen, large fonts, a thin grid in no colormap.
    overlay : str
        The map laid over the image: one of :data:`OVERLAYS` (the selected head, the
        selected layer's heads fused or each in its own colour, the rollout, the selected
        class's map, or none). The first view shows the rollout: the map of what reaches
        the classifier, where a head of layer 0 mostly shows the query attending to itself.
    """

    fusion: str = "mean"
    colormap: str = "inferno"
    opacity: float = 0.6
    scale: str = "per_map"
    upsampling: str = "nearest"
    show_grid: bool = True
    drop_prefix: bool = False
    mass_threshold: float | None = None
    class_method: str = "relevance"
    presentation: bool = False
    overlay: str = "rollout"


@evented
@dataclass
class RolloutOptions:
    """Parameters of attention rollout (Abnar & Zuidema 2020).

    Attributes
    ----------
    fusion : str
        Per-layer head fusion.
    discard_ratio : float
        Fraction of the lowest fused entries zeroed per layer (never the query's own path).
    residual : float
        Weight ``w`` of the residual (identity) path in ``(1 - w) * A + w * I``;
        0.5 is the standard ``(A + I) / 2``.
    start_layer : int
        First block multiplied in.
    end_layer : int or None
        Last block multiplied in; None for the last block of the model.
    shown_layer : int or None
        The layer slider: show the rollout accumulated up to this block; None for
        ``end_layer``.
    follow_query : bool
        Roll out the selected query token instead of the default query (the class
        token; without one, the pooling query or the mean over patches).
    """

    fusion: str = "mean"
    discard_ratio: float = 0.0
    residual: float = 0.5
    start_layer: int = 0
    end_layer: int | None = None
    shown_layer: int | None = None
    follow_query: bool = False
