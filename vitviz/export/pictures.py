"""Maps → pictures for figures, through the renderer the GUI uses.

A picture is a uint8 RGB array: a patch-grid map placed on the original image by
:mod:`vitviz.compute.render` (the same colormap tables, upsampling and overlay as the GUI's
panels), either as a colour overlay or in the ViT paper's blurred-alpha-mask style.
Large images are first scaled down to a slide-sized copy, which the renderer accepts in
place of the original.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from vitviz.compute import render
from vitviz.compute.geometry import PatchGrid
from vitviz.export.figures import ColourScale
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


def map_picture(
    map_grid,
    grid: PatchGrid,
    image: np.ndarray,
    options: PictureOptions = PictureOptions(),
    *,
    label: str = "attention",
    vmin: float | None = None,
    vmax: float | None = None,
) -> tuple[np.ndarray, ColourScale | None]:
    """Render one ``[rows, cols]`` map on the image.

    Parameters
    ----------
    map_grid : array_like
        ``[rows, cols]`` map (numpy or torch).
    grid : PatchGrid
        Geometry of the input the map was computed on.
    image : np.ndarray
        The original image or a scaled copy (see :func:`display_image`).
    options : PictureOptions
        Style, colormap, opacity, upsampling.
    label : str
        What the map's values are, for the colour bar.
    vmin, vmax : float, optional
        Colour limits; default the map's own minimum and maximum.

    Returns
    -------
    picture : np.ndarray
        ``[h, w, 3]`` uint8.
    scale : ColourScale or None
        The colour scale of the overlay; None for the mask style (it has no colours).
    """
    values = as_numpy(map_grid)
    if options.style is MapStyle.VIT_PAPER:
        return render.vit_paper_mask(values, grid, image), None
    low = float(np.nanmin(values)) if vmin is None else vmin
    high = float(np.nanmax(values)) if vmax is None else vmax
    picture = render.map_on_image(
        values,
        grid,
        image,
        cmap=options.cmap,
        vmin=low,
        vmax=high,
        alpha=options.alpha,
        mode=options.upsampling,
    )
    return picture, ColourScale(options.cmap, low, high, label)


def thumbnails(maps, cmap: str, *, shared_scale: bool = False) -> np.ndarray:
    """Colour a stack of grid maps for small multiples (as the GUI's heads × layers panel).

    Parameters
    ----------
    maps : array_like
        ``[..., rows, cols]`` maps.
    cmap : str
        matplotlib colormap.
    shared_scale : bool
        One colour scale for all maps instead of one per map.

    Returns
    -------
    np.ndarray
        ``[..., rows, cols, 4]`` uint8.
    """
    normalization = render.Normalization.SHARED if shared_scale else render.Normalization.PER_MAP
    return render.render_maps(maps, cmap, normalization)
