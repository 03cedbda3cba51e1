"""Figure builders: one map on its image, small multiples, the mean-attention-distance plot.

Plain matplotlib: a :class:`~matplotlib.figure.Figure` (never pyplot, so no backend or
global figure registry is involved) with constrained layout, maps placed by
:func:`vitviz.export.pictures.draw_map`, a colour bar from the map's own image. Build and
save inside :func:`~vitviz.export.styles.slide_style`'s look (the builders do);
save with :func:`vitviz.export.saving.save_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from vitviz.compute import render
from vitviz.compute.geometry import PatchGrid
from vitviz.export.pictures import DEFAULT_OPTIONS, PictureOptions, as_numpy, draw_map
from vitviz.export.styles import DPI, MapStyle, slide_style

PICTURE_INCHES = 6.4
"""Longest side of a map on its image (640 pixels at :data:`DPI`)."""


def slide_figure(width: float, height: float, layout: str = "constrained") -> Figure:
    """An empty ``width`` x ``height`` inch figure in the slide style, in whole pixels."""
    with slide_style():
        return Figure(figsize=(round(width, 2), round(height, 2)), dpi=DPI, layout=layout)


def map_figure(
    map_grid,
    grid: PatchGrid,
    image: np.ndarray,
    *,
    title: str,
    options: PictureOptions = DEFAULT_OPTIONS,
    label: str = "attention",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """One ``[rows, cols]`` map on its image, titled, with a colour bar (overlay style).

    Parameters
    ----------
    map_grid : array_like
        The map (numpy or torch), one value per patch of ``grid``.
    grid : PatchGrid
        Geometry of the input the map was computed on.
    image : np.ndarray
        ``[h, w, 3]`` uint8 original image or a scaled copy of it.
    title : str
        Title (may hold several lines; long lines wrap): model, map, layer, head, class.
    options : PictureOptions
        Style, colormap, opacity, upsampling; the ViT paper's style has no colour bar.
    label : str
        What the values are, for the colour bar.
    vmin, vmax : float, optional
        Colour limits; default the map's minimum and maximum.

    Returns
    -------
    matplotlib.figure.Figure
        ``figure.axes[0]`` shows the image and the map (its last image), ``axes[1]`` is the
        colour bar.
    """
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
            bar_axes = figure.add_axes(
                ((0.55 + pic_w) / fig_w, 0.3 / fig_h, 0.3 / fig_w, pic_h / fig_h)
            )
            figure.colorbar(shown, cax=bar_axes, label=label)
        figure.suptitle(title, y=1 - 0.1 / fig_h, va="top", wrap=True)
    return figure


def grid_figure(
    maps,
    *,
    title: str,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    cmap: str = "inferno",
    shared_scale: bool = False,
    label: str = "attention",
) -> Figure:
    """Small multiples: one map per (row, column), e.g. layers x heads, with a colour bar.

    Parameters
    ----------
    maps : array_like
        ``[rows, columns, h, w]`` maps.
    title : str
        Figure title.
    row_labels, column_labels : sequence of str
        Labels at the left of each row and above each column.
    cmap : str
        matplotlib colormap.
    shared_scale : bool
        One colour scale for all maps (the bar shows it); otherwise each map spans the
        colormap from its minimum to its maximum (the bar says so).
    label : str
        What the values are, for the colour bar.

    Returns
    -------
    matplotlib.figure.Figure
        ``figure.axes[r * columns + c]`` shows ``maps[r][c]``; the last axes is the bar.
    """
    values = as_numpy(maps)  # [R, C, h, w]
    rows, cols = values.shape[:2]
    if len(row_labels) != rows or len(column_labels) != cols:
        raise ValueError("one label per row and per column is needed")
    if not shared_scale:
        low, high = render.color_limits(values, render.Normalization.PER_MAP)
        values = (values - low) / np.where(high > low, high - low, np.inf)
        label = f"{label} (each map from its minimum to its maximum)"
    cell = min(1.6, 11.0 / max(rows, cols))
    figure = slide_figure(cols * cell + 3.0, rows * cell + 1.6, layout="compressed")
    with slide_style():
        grid = figure.subplots(rows, cols, squeeze=False)
        limits = (float(np.nanmin(values)), float(np.nanmax(values)))
        for r, c in np.ndindex(rows, cols):
            axes = grid[r, c]
            shown = axes.imshow(values[r, c], cmap=render.colormap(cmap), clim=limits)
            axes.set(xticks=[], yticks=[])
            if r == 0:
                axes.set_title(column_labels[c], fontsize="small")
            if c == 0:
                axes.set_ylabel(row_labels[r], fontsize="small")
        figure.colorbar(shown, ax=grid, label=label, shrink=0.8)
        figure.suptitle(title, wrap=True)
    return figure


def attention_distance_figure(
    distance: np.ndarray,
    *,
    title: str,
    colour: np.ndarray | None = None,
    colour_label: str = "",
    cmap: str = "viridis",
) -> Figure:
    """Mean attention distance per head against depth (the ViT paper's Fig. 7, right).

    Parameters
    ----------
    distance : np.ndarray
        ``[layers, heads]`` mean attention distance in pixels.
    title : str
        Figure title.
    colour : np.ndarray, optional
        ``[layers, heads]`` values colouring the points (entropy, prefix mass ...);
        by default points are coloured by head index, as in the paper.
    colour_label : str
        Label of the colour bar when ``colour`` is given.
    cmap : str
        Colormap for ``colour``.

    Returns
    -------
    matplotlib.figure.Figure
        A 12 x 7.5 inch figure (a 16:10 slide at 100 dpi).
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
            points = axes.scatter(
                depth.ravel(), distance.ravel(), c=np.asarray(colour).ravel(), cmap=cmap, s=80
            )
            figure.colorbar(points, ax=axes, label=colour_label)
        axes.set(xlabel="network depth (layer)", ylabel="mean attention distance (pixels)")
        axes.set_xticks(np.arange(layers))
        # Room above the highest point, so no marker is cut by the frame.
        axes.set_ylim(0, max(float(np.nanmax(distance)) * 1.08, 1.0))
        axes.grid(alpha=0.3)
        axes.set_title(title, wrap=True)
    return figure
