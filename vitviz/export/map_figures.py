"""Maps → finished figures in one call: what the GUI's figure export and the batch use."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image

from vitviz.compute.attention_maps import fuse_heads
from vitviz.compute.geometry import PatchGrid
from vitviz.export.figures import grid_figure, map_figure
from vitviz.export.pictures import PictureOptions, display_image


def map_image_figure(
    map_grid,
    grid: PatchGrid,
    image: Image.Image | np.ndarray,
    *,
    title: str,
    options: PictureOptions | None = None,
    label: str = "attention",
) -> Figure:
    """One ``[rows, cols]`` map on its image, titled, with a colour bar (overlay style).

    Parameters
    ----------
    map_grid : array_like
        The map (numpy or torch), one value per patch of ``grid``.
    grid : PatchGrid
        Geometry of the input the map was computed on (``Prepared.grid``).
    image : PIL.Image.Image or np.ndarray
        The original image (scaled down for the figure when large), or an RGB array of
        it already scaled.
    title : str
        Title: model, what the map is, layer, head, class.
    options : PictureOptions, optional
        Style, colormap, opacity, upsampling; the GUI passes its view options.
    label : str
        What the values are, for the colour bar.

    Returns
    -------
    matplotlib.figure.Figure
    """
    base = display_image(image) if isinstance(image, Image.Image) else np.asarray(image)
    return map_figure(
        map_grid, grid, base, title=title, options=options or PictureOptions(), label=label
    )


def heads_grid_figure(
    maps,
    *,
    title: str,
    cmap: str = "inferno",
    fusion: str = "mean",
    shared_scale: bool = False,
) -> Figure:
    """Every head of every layer as small multiples, with a fused column and a colour bar.

    Parameters
    ----------
    maps : array_like
        ``[layers, heads, rows, cols]`` maps (e.g. :func:`vitviz.compute.attention_maps.
        query_maps` of one image).
    title : str
        Figure title.
    cmap : str
        matplotlib colormap.
    fusion : {"mean", "max", "min"}
        Head fusion of the last column.
    shared_scale : bool
        One colour scale for all thumbnails instead of one per thumbnail.

    Returns
    -------
    matplotlib.figure.Figure
    """
    maps = torch.as_tensor(maps).float()
    fused = fuse_heads(maps, fusion, dim=-3)  # [L, rows, cols]
    every = torch.cat([maps, fused[:, None]], dim=1)  # [L, H + 1, rows, cols]
    layers, heads = maps.shape[:2]
    return grid_figure(
        every,
        title=title,
        row_labels=[f"layer {layer}" for layer in range(layers)],
        column_labels=[f"head {head}" for head in range(heads)] + [fusion],
        cmap=cmap,
        shared_scale=shared_scale,
    )
