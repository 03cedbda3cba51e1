"""Maps → colours: matplotlib colormap lookup tables, upsampling, overlays on the image.

One renderer serves the GUI panels and the exported figures. Colours come from
``matplotlib.colormaps[name](normalised, bytes=True)`` (equal to matplotlib's
``Normalize``; limits may be per map); upsampling is vectorised numpy.

Maps placed on an image go through the :class:`~vitviz.compute.geometry.PatchGrid`, so a
map always lands on the pixels of the original image the model actually saw, whatever the
resize, crop or aspect ratio.
"""

from __future__ import annotations

import enum
import functools
import warnings

import matplotlib
import numpy as np
from PIL import Image

from vitviz.compute.geometry import PatchGrid
from vitviz.errors import AnalysisError

UPSAMPLE_MODES = ("nearest", "bilinear")


class Normalization(enum.Enum):
    """Colour scale of a stack of maps."""

    PER_MAP = "per_map"
    """Each map spans the whole colormap (shape within a map is comparable)."""
    SHARED = "shared"
    """One scale for all maps (magnitudes across maps are comparable)."""


def _colormap(name: str) -> matplotlib.colors.Colormap:
    try:
        return matplotlib.colormaps[name]
    except KeyError:
        raise AnalysisError(
            f"unknown colormap {name!r}; use one of matplotlib's, e.g. viridis, magma, inferno, "
            "jet, gray"
        ) from None


@functools.lru_cache(maxsize=64)
def colormap_lut(name: str) -> np.ndarray:
    """RGBA lookup table of a matplotlib colormap.

    Parameters
    ----------
    name : str
        Any name in ``matplotlib.colormaps`` (``viridis``, ``magma_r``, ...).

    Returns
    -------
    ndarray
        Read-only ``uint8 [N, 4]`` (``N`` = the colormap's size, 256 for most); cached.
    """
    cmap = _colormap(name)
    lut = cmap(np.arange(cmap.N), bytes=True)  # [N, 4]: integers index the table
    lut.flags.writeable = False
    return lut


def _as_array(values) -> np.ndarray:
    """A numpy view of an array or a (possibly GPU, bf16) torch tensor, without importing torch."""
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values)


def color_limits(maps, normalization: Normalization | str = Normalization.PER_MAP):
    """Colour limits of a stack of maps ``[..., h, w]``.

    Parameters
    ----------
    maps : array_like
        Maps, the last two axes spatial.
    normalization : Normalization or str
        ``PER_MAP``: limits of each map; ``SHARED``: limits of the whole stack.

    Returns
    -------
    tuple of ndarray
        ``(vmin, vmax)``, shaped ``[..., 1, 1]`` (per map) or ``[]`` (shared), ready to
        broadcast in :func:`to_rgba`. NaNs are ignored.
    """
    values = _as_array(maps).astype(np.float64, copy=False)
    if values.ndim < 2:
        raise AnalysisError(f"expected maps with two spatial axes, got shape {values.shape}")
    axes = (-2, -1) if Normalization(normalization) is Normalization.PER_MAP else None
    keepdims = axes is not None
    if not np.isfinite(values).any():
        return np.zeros(()), np.zeros(())
    with warnings.catch_warnings():
        # An all-NaN map gets NaN limits and renders as the "bad" colour; no warning needed.
        warnings.simplefilter("ignore", RuntimeWarning)
        low = np.nanmin(values, axis=axes, keepdims=keepdims)
        high = np.nanmax(values, axis=axes, keepdims=keepdims)
    return low, high


def to_rgba(maps, cmap: str = "viridis", vmin=None, vmax=None) -> np.ndarray:
    """Colour maps through a matplotlib colormap.

    Parameters
    ----------
    maps : array_like
        Values ``[..., h, w]`` (any number of leading axes: a whole layer x head stack
        renders in one call). NaN renders as the colormap's "bad" colour (transparent).
    cmap : str
        matplotlib colormap name.
    vmin, vmax : float or array_like, optional
        Colour limits, scalars or broadcastable to ``maps`` (see :func:`color_limits`);
        default: the min and max of ``maps``. Values outside clip to the end colours.

    Returns
    -------
    ndarray
        ``uint8 [..., h, w, 4]``, equal to
        ``matplotlib.colormaps[cmap](Normalize(vmin, vmax)(maps), bytes=True)``.
    """
    values = _as_array(maps)
    values = values.astype(np.result_type(values.dtype, np.float32), copy=False)
    if vmin is None or vmax is None:
        low, high = color_limits(values, Normalization.SHARED)
        vmin = low if vmin is None else vmin
        vmax = high if vmax is None else vmax
    vmin = np.asarray(vmin, dtype=np.float64)
    span = np.asarray(vmax, dtype=np.float64) - vmin
    # Like matplotlib's Normalize, an empty range maps everything to the first colour.
    span = np.where(span > 0, span, np.inf)
    # Normalize's arithmetic (float64 limits, each step stored in the maps' float type, so
    # colours match at bin edges too), written out because the limits may be arrays (one
    # per map); the colormap does the rest.
    scaled = np.empty(np.broadcast_shapes(values.shape, vmin.shape), dtype=values.dtype)
    np.subtract(values, vmin, out=scaled, casting="same_kind")
    np.divide(scaled, span, out=scaled, casting="same_kind")
    return _colormap(cmap)(scaled, bytes=True)


def render_maps(
    maps, cmap: str = "viridis", normalization: Normalization | str = Normalization.PER_MAP
) -> np.ndarray:
    """Colour a stack of maps ``[..., h, w]`` with per-map or shared limits (thumbnails)."""
    vmin, vmax = color_limits(maps, normalization)
    return to_rgba(maps, cmap, vmin, vmax)


def _axis_samples(coords: np.ndarray, n: int, mode: str):
    """Where samples at ``coords`` fall on ``n`` cells, cell ``k`` covering ``[k, k + 1)``.

    Returns ``(i0, i1, weight, inside)``: the value is ``(1 - weight) * v[i0] + weight *
    v[i1]``; ``inside`` marks coordinates within the cells. Bilinear interpolates between
    cell centres and holds the edge value beyond the outer centres.
    """
    inside = (coords >= 0) & (coords < n)
    if mode == "nearest":
        i0 = np.clip(np.floor(coords), 0, n - 1).astype(np.intp)
        return i0, i0, np.zeros(coords.shape), inside
    if mode != "bilinear":
        raise AnalysisError(f"unknown upsampling mode {mode!r}; use one of {UPSAMPLE_MODES}")
    centred = np.clip(coords - 0.5, 0, n - 1)
    i0 = np.floor(centred).astype(np.intp)
    return i0, np.minimum(i0 + 1, n - 1), centred - i0, inside


def _sample(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, mode: str):
    """Sample ``values [..., h, w]`` at cell coordinates ``rows [H]`` x ``cols [W]``.

    Returns the samples ``[..., H, W]`` and the ``[H, W]`` mask of samples inside the cells.
    """
    r0, r1, wr, inside_r = _axis_samples(rows, values.shape[-2], mode)
    c0, c1, wc, inside_c = _axis_samples(cols, values.shape[-1], mode)
    wr, wc = wr.astype(values.dtype), wc.astype(values.dtype)  # keep float32 maps float32
    inside = inside_r[:, None] & inside_c[None, :]  # [H, W]
    if mode == "nearest":
        return values[..., r0[:, None], c0[None, :]], inside  # [..., H, W]
    across = values[..., c0] * (1 - wc) + values[..., c1] * wc  # [..., h, W]
    wr = wr[:, None]  # [H, 1]
    return across[..., r0, :] * (1 - wr) + across[..., r1, :] * wr, inside  # [..., H, W]


def upsample(maps, size: tuple[int, int], mode: str = "nearest") -> np.ndarray:
    """Resize maps ``[..., h, w]`` to ``size = (H, W)``.

    Parameters
    ----------
    maps : array_like
        Maps, the last two axes spatial.
    size : tuple of int
        Output ``(height, width)``.
    mode : {"nearest", "bilinear"}
        Nearest keeps patches as flat blocks; bilinear interpolates between patch centres
        (half-pixel centres, as ``torch.nn.functional.interpolate(align_corners=False)``).

    Returns
    -------
    ndarray
        ``[..., H, W]`` float.
    """
    values = _as_array(maps)
    values = values.astype(np.result_type(values.dtype, np.float32), copy=False)
    (h, w), (height, width) = values.shape[-2:], size
    rows = (np.arange(height) + 0.5) * (h / height)
    cols = (np.arange(width) + 0.5) * (w / width)
    return _sample(values, rows, cols, mode)[0]


def overlay(rgb, rgba, alpha: float = 0.5) -> np.ndarray:
    """Blend a coloured map over an image.

    Parameters
    ----------
    rgb : ndarray
        Image, ``uint8 [H, W, 3]``.
    rgba : ndarray
        Coloured map of the same size, ``uint8 [H, W, 4]``; its alpha channel scales the
        blend per pixel (0 = image only).
    alpha : float
        Opacity of the map, 0 to 1.

    Returns
    -------
    ndarray
        ``uint8 [H, W, 3]``.
    """
    rgb, rgba = np.asarray(rgb), np.asarray(rgba)
    if rgb.shape[:2] != rgba.shape[:2]:
        raise AnalysisError(f"image {rgb.shape[:2]} and map {rgba.shape[:2]} differ in size")
    # Integer blend in 1/255 steps, in place in one uint16 buffer: far cheaper than float
    # images. The shifts divide by 255 with rounding, exactly for every value reached here.
    steps = np.rint(float(np.clip(alpha, 0, 1)) * np.arange(256)).astype(np.uint16)  # [256]
    weight = steps[rgba[..., 3:]]  # [H, W, 1]
    blended = rgb[..., :3] * (255 - weight)  # [H, W, 3] uint16, at most 255 * 255
    blended += rgba[..., :3] * weight
    blended += 128
    blended += blended >> 8
    blended >>= 8
    return blended.astype(np.uint8)


def _image_array(image) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (3, 4):
        raise AnalysisError(
            f"expected an RGB uint8 image [H, W, 3], got {array.dtype} {array.shape}"
        )
    return array[..., :3]


def _input_coords(grid: PatchGrid, size: tuple[int, int]):
    """Input-pixel coordinates of the pixel centres of a ``size`` raster of the original image.

    The raster may be the original image or a scaled copy of it (a display thumbnail).
    """
    (height, width), (orig_h, orig_w) = size, grid.original_size
    # A scaled copy's aspect is off by at most a rounded pixel; anything more is a mix-up.
    if abs((width / height) / (orig_w / orig_h) - 1) > 0.01 + 1.0 / min(size):
        raise AnalysisError(
            f"the image is {width}x{height} but the patch grid was made for a "
            f"{orig_w}x{orig_h} image; pass the image the grid was prepared from"
        )
    x_orig = (np.arange(width) + 0.5) * (orig_w / width)
    y_orig = (np.arange(height) + 0.5) * (orig_h / height)
    return grid.to_input(x_orig, y_orig)


def _check_grid_map(map_grid, grid: PatchGrid) -> np.ndarray:
    values = _as_array(map_grid)
    if values.shape != grid.layout.grid:
        raise AnalysisError(
            f"map of shape {values.shape} does not match the {grid.rows}x{grid.cols} patch grid"
        )
    return values.astype(np.result_type(values.dtype, np.float32), copy=False)


def map_layer(
    map_grid,
    grid: PatchGrid,
    size: tuple[int, int] | None = None,
    *,
    cmap: str = "viridis",
    vmin=None,
    vmax=None,
    mode: str = "nearest",
) -> np.ndarray:
    """A patch-grid map coloured and placed on the original image's pixels.

    Parameters
    ----------
    map_grid : array_like
        ``[rows, cols]`` map, one value per patch.
    grid : PatchGrid
        The geometry of the input the map was computed on.
    size : tuple of int, optional
        ``(height, width)`` of the raster: the original image (default) or a scaled copy.
    cmap, vmin, vmax
        As in :func:`to_rgba`; limits default to the map's min and max.
    mode : {"nearest", "bilinear"}
        Patch blocks or interpolation between patch centres.

    Returns
    -------
    ndarray
        ``uint8 [height, width, 4]``; alpha is 0 where the model did not see the image
        (cropped away).
    """
    values = _check_grid_map(map_grid, grid)
    size = grid.original_size if size is None else size
    x_in, y_in = _input_coords(grid, size)
    ph, pw = grid.patch_size
    if vmin is None or vmax is None:
        low, high = color_limits(values, Normalization.SHARED)
        vmin = low if vmin is None else vmin
        vmax = high if vmax is None else vmax
    r0, _, _, inside_r = _axis_samples(y_in / ph, grid.rows, "nearest")
    c0, _, _, inside_c = _axis_samples(x_in / pw, grid.cols, "nearest")
    if mode == "nearest":
        # Colour the few patches once, then gather whole RGBA pixels (as uint32) instead
        # of values: columns first, then rows, each a cheap take along one axis.
        colours = to_rgba(values, cmap, vmin, vmax).view(np.uint32)[..., 0]  # [rows, cols]
        packed = colours.take(c0, axis=1).take(r0, axis=0)  # [height, width]
        rgba = packed[..., None].view(np.uint8)  # [height, width, 4]
    else:
        sampled, _ = _sample(values, y_in / ph, x_in / pw, mode)
        rgba = to_rgba(sampled, cmap, vmin, vmax)  # [height, width, 4]
    # The map is separable, so the cropped-away region is whole rows and columns.
    rgba[~inside_r] = 0
    rgba[:, ~inside_c] = 0
    return rgba


def map_on_image(
    map_grid,
    grid: PatchGrid,
    image,
    *,
    cmap: str = "viridis",
    vmin=None,
    vmax=None,
    alpha: float = 0.5,
    mode: str = "bilinear",
    dim_outside: float = 0.5,
) -> np.ndarray:
    """Overlay a patch-grid map on the original image (or a scaled copy of it).

    Parameters
    ----------
    map_grid : array_like
        ``[rows, cols]`` map.
    grid : PatchGrid
        Geometry of the prepared input (``Prepared.grid``).
    image : PIL.Image.Image or ndarray
        The original image, or a scaled copy of it (same aspect ratio).
    cmap, vmin, vmax, mode
        As in :func:`map_layer`.
    alpha : float
        Opacity of the map.
    dim_outside : float
        How much to darken pixels the model did not see (0 = not at all, 1 = black), so
        that cropped-away regions are not mistaken for low values.

    Returns
    -------
    ndarray
        ``uint8 [H, W, 3]`` at the image's size.
    """
    rgb = _image_array(image)
    layer = map_layer(map_grid, grid, rgb.shape[:2], cmap=cmap, vmin=vmin, vmax=vmax, mode=mode)
    if dim_outside:
        rgb = _dim_unseen(rgb, grid, 1.0 - float(dim_outside))
    return overlay(rgb, layer, alpha)


def _dim_unseen(rgb: np.ndarray, grid: PatchGrid, keep: float) -> np.ndarray:
    """Scale by ``keep`` the pixels outside the model's input (whole rows and columns)."""
    x_in, y_in = _input_coords(grid, rgb.shape[:2])
    height, width = grid.input_size
    rows_out = (y_in < 0) | (y_in >= height)  # [H]
    cols_out = (x_in < 0) | (x_in >= width)  # [W]
    if not (rows_out.any() or cols_out.any()):
        return rgb
    rgb = rgb.copy()
    rgb[rows_out] = rgb[rows_out] * keep
    rgb[np.ix_(~rows_out, cols_out)] = rgb[np.ix_(~rows_out, cols_out)] * keep
    return rgb


def _gaussian_matrix(n: int, sigma: float) -> np.ndarray:
    """``[n, n]`` Gaussian blur as a matrix; rows renormalised so edges do not darken."""
    offsets = np.arange(n)[:, None] - np.arange(n)[None, :]  # [n, n]
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum(axis=1, keepdims=True)


def vit_paper_mask(map_grid, grid: PatchGrid, image, *, blur: bool = True) -> np.ndarray:
    """The ViT paper's display: the image shown through the map as an alpha mask over black.

    The authors' recipe (Dosovitskiy et al., google-research/vision_transformer #18, #27):
    max-normalise the map, resize it to the input with Lanczos, Gaussian-blur it with a
    radius (standard deviation) of one patch, and multiply the image by it.

    Parameters
    ----------
    map_grid : array_like
        ``[rows, cols]`` non-negative map (e.g. rollout).
    grid : PatchGrid
        Geometry of the prepared input.
    image : PIL.Image.Image or ndarray
        The original image, or a scaled copy of it.
    blur : bool
        Apply the Gaussian blur (the paper's figures do).

    Returns
    -------
    ndarray
        ``uint8 [H, W, 3]``; black where the map is 0 and outside the model's view.
    """
    values = np.clip(np.nan_to_num(_check_grid_map(map_grid, grid)), 0, None)
    peak = values.max()
    values = values / peak if peak > 0 else values
    height, width = grid.input_size
    mask = Image.fromarray(values.astype(np.float32)).resize((width, height), Image.LANCZOS)
    mask = np.clip(np.asarray(mask, dtype=np.float64), 0, 1)  # [H_in, W_in]
    if blur:
        ph, pw = grid.patch_size
        mask = _gaussian_matrix(height, ph) @ mask @ _gaussian_matrix(width, pw).T
    mask = mask.astype(np.float32)  # float32 from here on: the image-sized arrays are large
    rgb = _image_array(image)
    x_in, y_in = _input_coords(grid, rgb.shape[:2])
    placed, inside = _sample(mask, y_in, x_in, "bilinear")  # [H, W]
    placed[~inside] = 0
    return np.clip(np.rint(rgb * placed[..., None]), 0, 255).astype(np.uint8)
