"""Maps as finished figures: one map on its image, every head of every layer."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image

from vitviz.compute import render
from vitviz.compute.attention_maps import fuse_heads
from vitviz.export.figures import slide_figure
from vitviz.export.pictures import PictureOptions, as_numpy, display_image, draw_map
from vitviz.export.styles import MapStyle, slide_style

PICTURE_INCHES = 6.4
"""Longest side of a map on its image (640 pixels at 100 dpi)."""


def map_image_figure(
    map_grid, grid, image, *, title, options=None, label="attention", vmin=None, vmax=None
) -> Figure:
    """One ``[rows, cols]`` map on its image, titled, with a colour bar (overlay style).

    ``image`` is the original PIL image (scaled down when large) or an ``[h, w, 3]`` copy
    already scaled; the rest is as for :func:`~vitviz.export.pictures.draw_map`, ``label``
    names the colour bar (none in the ViT paper's style) and ``title`` may hold several
    lines. ``axes[0]`` shows the image and the map (its last image), ``axes[1]`` the bar.
    """
    options = options or PictureOptions()
    image = display_image(image) if isinstance(image, Image.Image) else np.asarray(image)
    height, width = image.shape[:2]
    inches = PICTURE_INCHES / max(height, width)
    pic_w, pic_h = round(width * inches, 2), round(height * inches, 2)
    bar = options.style is not MapStyle.VIT_PAPER
    # Fixed places in inches (margin, picture, bar, its labels; title band above): a
    # constrained layout computes the same and costs a third of the figure's time.
    fig_w, fig_h = max(0.3 + pic_w + (1.9 if bar else 0.3), 8.0), pic_h + 1.5
    left = 0.3 if bar else (fig_w - pic_w) / 2
    figure = slide_figure(fig_w, fig_h, layout="none")
    with slide_style():
        axes = figure.add_axes((left / fig_w, 0.3 / fig_h, pic_w / fig_w, pic_h / fig_h))
        shown = draw_map(axes, map_grid, grid, image, options, vmin=vmin, vmax=vmax)
        if shown is not None:
            place = ((0.55 + pic_w) / fig_w, 0.3 / fig_h, 0.3 / fig_w, pic_h / fig_h)
            figure.colorbar(shown, cax=figure.add_axes(place), label=label)
        figure.suptitle(title, y=1 - 0.1 / fig_h, va="top", wrap=True)
    return figure


def heads_grid_figure(
    maps, *, title: str, cmap: str = "inferno", fusion: str = "mean", shared_scale: bool = False
) -> Figure:
    """Every head of every layer as small multiples, with a fused column and a colour bar.

    ``maps`` are ``[layers, heads, rows, cols]``; the last column fuses the heads with
    ``fusion``. ``shared_scale`` puts all on one colour scale; otherwise each spans the
    colormap from its minimum to its maximum (the bar says so). ``axes[layer * (heads + 1)
    + column]`` shows that map, the last axes is the bar.
    """
    maps = torch.as_tensor(maps).float()
    fused = fuse_heads(maps, fusion, dim=-3)[:, None]  # [L, 1, rows, cols]
    values = as_numpy(torch.cat([maps, fused], dim=1))  # [L, H + 1, rows, cols]
    layers, cols = values.shape[:2]
    label = "attention"
    if not shared_scale:
        low, high = render.color_limits(values, render.Normalization.PER_MAP)
        values = (values - low) / np.where(high > low, high - low, np.inf)
        label += " (each map from its minimum to its maximum)"
    cell = min(1.6, 11.0 / max(layers, cols))
    figure = slide_figure(cols * cell + 3.0, layers * cell + 1.6, layout="compressed")
    with slide_style():
        cells = figure.subplots(layers, cols, squeeze=False)
        clim = (float(np.nanmin(values)), float(np.nanmax(values)))
        for (layer, col), axes in np.ndenumerate(cells):
            shown = axes.imshow(values[layer, col], cmap=render.colormap(cmap), clim=clim)
            axes.set(xticks=[], yticks=[])
        for col, axes in enumerate(cells[0]):
            axes.set_title(f"head {col}" if col < cols - 1 else fusion, fontsize="small")
        for layer, axes in enumerate(cells[:, 0]):
            axes.set_ylabel(f"layer {layer}", fontsize="small")
        figure.colorbar(shown, ax=cells, label=label, shrink=0.8)
        figure.suptitle(title, wrap=True)
    return figure
