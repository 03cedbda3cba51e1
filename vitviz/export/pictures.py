"""A map drawn on its image in matplotlib axes: the GUI's view options, the ViT-paper style.

The original image (or a slide-sized copy) is shown in its own pixels; the patch-grid map
goes on top with ``imshow(extent=crop box)``, so matplotlib places it on the part of the
image the model saw, whatever the resize, crop or aspect ratio, and samples it
(``nearest``: patch blocks, ``bilinear``: between patch centres). What the model did not
see is dimmed, or black in the ViT paper's style.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.image import AxesImage
from matplotlib.patches import PathPatch
from matplotlib.path import Path
from PIL import Image

from vitviz.compute import render
from vitviz.compute.geometry import PatchGrid
from vitviz.errors import AnalysisError
from vitviz.export.styles import MapStyle

MAX_PICTURE_SIDE = 768


@dataclass(frozen=True)
class PictureOptions:
    """How maps are drawn on the image (the GUI's view options, same defaults).

    Attributes
    ----------
    style : MapStyle
        Colour overlay or the ViT paper's mask.
    cmap : str
        matplotlib colormap of the overlay.
    alpha : float
        Opacity of the overlay, 0..1.
    upsampling : str
        ``nearest`` (patch blocks) or ``bilinear``.
    """

    style: MapStyle = MapStyle.OVERLAY
    cmap: str = "inferno"
    alpha: float = 0.6
    upsampling: str = "nearest"


DEFAULT_OPTIONS = PictureOptions()


def as_numpy(values) -> np.ndarray:
    """A float64 numpy copy of an array or a (possibly GPU, half-precision) torch tensor."""
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def display_image(image: Image.Image, max_side: int = MAX_PICTURE_SIDE) -> np.ndarray:
    """The image as a uint8 RGB array, scaled down (aspect kept) to at most ``max_side``.

    Parameters
    ----------
    image : PIL.Image.Image
        The original RGB image the map's patch grid was prepared from.
    max_side : int
        Longest side of the result in pixels.

    Returns
    -------
    np.ndarray
        ``[h, w, 3]`` uint8.
    """
    width, height = image.size
    factor = max_side / max(width, height)
    if factor < 1:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(image.convert("RGB"))


def crop_extent(grid: PatchGrid, shape: tuple[int, ...]) -> tuple[float, float, float, float]:
    """``imshow`` extent (left, right, bottom, top) of the model's input on a picture.

    Parameters
    ----------
    grid : PatchGrid
        Geometry of the prepared input.
    shape : tuple of int
        ``(height, width, ...)`` of the original image or of a scaled copy of it.

    Returns
    -------
    tuple of float
        The crop box in the picture's pixels (rows grow downwards).
    """
    (orig_h, orig_w), (height, width) = grid.original_size, shape[:2]
    left, top, right, bottom = grid.crop_box
    sx, sy = width / orig_w, height / orig_h
    return left * sx, right * sx, bottom * sy, top * sy


def paper_mask(map_grid, grid: PatchGrid) -> np.ndarray:
    """Black, transparent where the ViT paper's mask shows the image: ``[H_in, W_in, 4]``."""
    mask = render.vit_paper_mask(map_grid, grid)  # [H_in, W_in]
    black = np.zeros((*mask.shape, 4), np.float32)  # [H_in, W_in, RGBA]
    black[..., 3] = 1 - mask
    return black


def _shade_outside(axes, extent, width: int, height: int, alpha: float) -> None:
    """Black at ``alpha`` over the picture outside ``extent`` (a rectangle with a hole)."""
    left, right, bottom, top = extent
    outer = [(0, 0), (width, 0), (width, height), (0, height), (0, 0)]
    inner = [(left, top), (left, bottom), (right, bottom), (right, top), (left, top)]  # reversed
    codes = [Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY] * 2
    shade = PathPatch(Path(outer + inner, codes), facecolor="black", alpha=alpha, linewidth=0)
    axes.add_patch(shade)


def draw_map(
    axes,
    map_grid,
    grid: PatchGrid,
    image: np.ndarray,
    options: PictureOptions = DEFAULT_OPTIONS,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
) -> AxesImage | None:
    """Draw one ``[rows, cols]`` map on the image in ``axes``.

    Parameters
    ----------
    axes : matplotlib.axes.Axes
        Empty axes; they get the picture's pixel coordinates and no frame.
    map_grid : array_like
        ``[rows, cols]`` map (numpy or torch).
    grid : PatchGrid
        Geometry of the input the map was computed on.
    image : np.ndarray
        The original image or a scaled copy (see :func:`display_image`), ``[h, w, 3]``.
    options : PictureOptions
        Style, colormap, opacity, upsampling.
    vmin, vmax : float, optional
        Colour limits; default the map's own minimum and maximum.

    Returns
    -------
    matplotlib.image.AxesImage or None
        The coloured map (for a colour bar); None in the ViT paper's style (no colours).
    """
    values = as_numpy(map_grid)
    if values.shape != grid.layout.grid:
        raise AnalysisError(
            f"map of shape {values.shape} does not match the {grid.rows}x{grid.cols} patch grid"
        )
    height, width = image.shape[:2]
    extent = crop_extent(grid, image.shape)
    axes.imshow(image, extent=(0, width, height, 0), interpolation="nearest")
    if options.style is MapStyle.VIT_PAPER:
        axes.imshow(paper_mask(values, grid), extent=extent, interpolation="bilinear")
        _shade_outside(axes, extent, width, height, 1.0)
        shown = None
    else:
        _shade_outside(axes, extent, width, height, 0.5)
        shown = axes.imshow(
            values,
            cmap=render.colormap(options.cmap),
            vmin=float(np.nanmin(values)) if vmin is None else vmin,
            vmax=float(np.nanmax(values)) if vmax is None else vmax,
            alpha=options.alpha,
            extent=extent,
            interpolation=options.upsampling,
        )
    axes.set(xlim=(0, width), ylim=(height, 0))
    axes.set_axis_off()
    return shown
