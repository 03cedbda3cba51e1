"""A map drawn on its image in matplotlib axes: the GUI's view options, the ViT-paper style.

The map goes on the image with ``imshow(extent=crop box)``, so matplotlib places it on
the part the model saw, whatever the resize, crop or aspect ratio; the rest is dimmed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.patches import PathPatch
from matplotlib.path import Path
from PIL import Image

from vitviz.compute import render
from vitviz.compute.preprocess import PatchGrid
from vitviz.errors import AnalysisError
from vitviz.export.styles import MapStyle

MAX_PICTURE_SIDE = 768


@dataclass(frozen=True)
class PictureOptions:
    """How maps are drawn on the image (the GUI's view options, same defaults): the style,
    the overlay's colormap and opacity, and its ``nearest`` (patch blocks) or ``bilinear``
    (between patch centres) upsampling."""

    style: MapStyle = MapStyle.OVERLAY
    cmap: str = "inferno"
    alpha: float = 0.6
    upsampling: str = "nearest"


def as_numpy(values) -> np.ndarray:
    """A float64 numpy copy of an array or a (possibly GPU, half-precision) torch tensor."""
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def display_image(image, max_side: int = MAX_PICTURE_SIDE) -> np.ndarray:
    """A PIL image as ``[h, w, 3]`` uint8 RGB, scaled down (aspect kept) to ``max_side``."""
    image = image.convert("RGB")  # a copy, which thumbnail scales in place
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=None)
    return np.asarray(image)


def paper_mask(map_grid, grid: PatchGrid) -> np.ndarray:
    """Black, transparent where the ViT paper's mask shows the image: ``[H_in, W_in, 4]``."""
    mask = render.vit_paper_mask(map_grid, grid)  # [H_in, W_in]
    return np.dstack([np.zeros((*mask.shape, 3), np.float32), 1 - mask])  # [H_in, W_in, RGBA]


def _shade_outside(axes, extent, width: int, height: int, alpha: float) -> None:
    """Black at ``alpha`` over the picture outside ``extent`` (a rectangle with a hole)."""
    left, right, bottom, top = extent
    outer = [(0, 0), (width, 0), (width, height), (0, height), (0, 0)]
    inner = [(left, top), (left, bottom), (right, bottom), (right, top), (left, top)]  # reversed
    codes = [Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY] * 2
    axes.add_patch(PathPatch(Path(outer + inner, codes), color="black", alpha=alpha, lw=0))


def draw_map(axes, map_grid, grid: PatchGrid, image, options=None, *, vmin=None, vmax=None):
    """Draw one ``[rows, cols]`` map (numpy or torch) on the image in empty ``axes``.

    ``grid`` is the patch geometry the map was computed on, ``image`` the original
    ``[h, w, 3]`` image or a scaled copy, ``vmin``/``vmax`` the colour limits (default the
    map's own). Returns the coloured map's ``AxesImage`` (for a colour bar), or None in
    the ViT paper's style, which shows the image through the map over black.
    """
    options, values = options or PictureOptions(), as_numpy(map_grid)
    if values.shape != grid.layout.grid:
        raise AnalysisError(
            f"map of shape {values.shape} does not match the {grid.rows}x{grid.cols} patch grid"
        )
    height, width = image.shape[:2]
    sx, sy = width / grid.original_size[1], height / grid.original_size[0]
    left, top, right, bottom = grid.crop_box  # in the original image's pixels
    extent = (left * sx, right * sx, bottom * sy, top * sy)  # in the picture's pixels
    # nearest, RGBA: 67 vs 70 (RGB) vs 88 ms ("antialiased") per map figure (224 px on 640)
    opaque = np.dstack([image, np.full((height, width), 255, np.uint8)])  # [h, w, RGBA]
    axes.imshow(opaque, extent=(0, width, height, 0), interpolation="nearest")
    shown = None
    if options.style is MapStyle.VIT_PAPER:
        axes.imshow(paper_mask(values, grid), extent=extent, interpolation="bilinear")
        _shade_outside(axes, extent, width, height, 1.0)
    else:
        _shade_outside(axes, extent, width, height, 0.5)
        low, high = np.nanmin(values), np.nanmax(values)
        shown = axes.imshow(
            values,
            cmap=render.colormap(options.cmap),
            alpha=options.alpha,
            extent=extent,
            vmin=float(low if vmin is None else vmin),
            vmax=float(high if vmax is None else vmax),
            interpolation=options.upsampling,
        )
    axes.set(xlim=(0, width), ylim=(height, 0))
    axes.set_axis_off()
    return shown
