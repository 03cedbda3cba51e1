"""Slide-sized figures and the mean-attention-distance plot (maps: :mod:`.map_figures`).

A plain :class:`~matplotlib.figure.Figure`: never pyplot, so no backend or global registry.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from vitviz.export.styles import DPI, slide_style


def slide_figure(width: float, height: float, layout: str = "constrained") -> Figure:
    """An empty ``width`` x ``height`` inch figure in the slide style, in whole pixels."""
    with slide_style():
        return Figure(figsize=(round(width, 2), round(height, 2)), dpi=DPI, layout=layout)


def attention_distance_figure(
    distance, *, title: str, colour=None, colour_label: str = "", cmap: str = "viridis"
) -> Figure:
    """Mean attention distance per head against depth (the ViT paper's Fig. 7, right).

    ``distance`` is ``[layers, heads]`` in pixels. Points are coloured by head, as in the
    paper, or by ``colour`` (``[layers, heads]``: entropy, prefix mass ...) on a colour bar
    labelled ``colour_label`` in ``cmap``. Returns a 12 x 7.5 inch (16:10) figure.
    """
    distance = np.asarray(distance, dtype=np.float64)
    layers, heads = distance.shape
    depth = np.broadcast_to(np.arange(layers)[:, None], distance.shape)
    figure = slide_figure(12, 7.5)
    with slide_style():
        axes = figure.add_subplot()
        if colour is None:
            for head in range(heads):
                axes.scatter(depth[:, head], distance[:, head], label=f"head {head}", s=80)
            if heads <= 16:
                axes.legend(loc="lower right", ncols=max(1, heads // 6 + 1))
        else:
            colour = np.asarray(colour).ravel()
            points = axes.scatter(depth.ravel(), distance.ravel(), c=colour, cmap=cmap, s=80)
            figure.colorbar(points, ax=axes, label=colour_label)
        axes.set(xlabel="network depth (layer)", ylabel="mean attention distance (pixels)")
        axes.set_xticks(np.arange(layers))
        # Room above the highest point, so no marker is cut by the frame.
        axes.set_ylim(0, max(float(np.nanmax(distance)) * 1.08, 1.0))
        axes.grid(alpha=0.3)
        axes.set_title(title, wrap=True)
    return figure
