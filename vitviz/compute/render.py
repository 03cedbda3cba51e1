"""Maps → colours: matplotlib colormap lookup tables, upsampling, overlays on the image.

One renderer serves the GUI panels and the exported figures. Colours come from
``matplotlib.colormaps[name](normalised, bytes=True)`` (equal to matplotlib's
``Normalize``; limits may be per map); upsampling is vectorised numpy.

Exported figures place maps on the original image with matplotlib's ``imshow(extent=...)``
at ``PatchGrid.crop_box``; :func:`vit_paper_mask` gives them the ViT paper's mask.
"""

from __future__ import annotations

import enum
import functools
import warnings
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
from PIL import Image

from vitviz.errors import AnalysisError

if TYPE_CHECKING:  # preprocess imports torch, which the colour mapping does without
    from vitviz.compute.preprocess import PatchGrid

UPSAMPLE_MODES = ("nearest", "bilinear")


class Normalization(enum.Enum):
    """Colour scale of a stack of maps."""

    PER_MAP = "per_map"  # each map spans the whole colormap (shapes compare within a map)
    SHARED = "shared"  # one scale for all maps (magnitudes compare across maps)


def colormap(name: str) -> matplotlib.colors.Colormap:
    """``matplotlib.colormaps[name]``, or an :class:`AnalysisError` that lists some names."""
    try:
        return matplotlib.colormaps[name]
    except KeyError:
        raise AnalysisError(
            f"unknown colormap {name!r}; use one of matplotlib's, e.g. viridis, magma, inferno, "
            "jet, gray"
        ) from None


@functools.lru_cache(maxsize=64)
def colormap_lut(name: str) -> np.ndarray:
    """Read-only, cached ``uint8 [N, 4]`` RGBA table of the colormap ``name`` (``N`` its
    size, 256 for most)."""
    cmap = colormap(name)
    lut = cmap(np.arange(cmap.N), bytes=True)  # [N, 4]: integers index the table
    lut.flags.writeable = False
    return lut


def _as_array(values) -> np.ndarray:
    """A numpy view of an array or a (possibly GPU, bf16) torch tensor, without importing torch."""
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values)


def color_limits(maps, normalization: Normalization | str = Normalization.PER_MAP):
    """Colour limits ``(vmin, vmax)`` of a stack of maps ``[..., h, w]``, NaNs ignored.

    ``PER_MAP`` gives each map's, shaped ``[..., 1, 1]``; ``SHARED`` the whole stack's,
    shaped ``[]``: ready to broadcast in :func:`to_rgba`.
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
    """``uint8 [..., h, w, 4]`` colours of maps ``[..., h, w]`` through the colormap ``cmap``.

    Equal to ``matplotlib.colormaps[cmap](Normalize(vmin, vmax)(maps), bytes=True)``, with
    limits that may be arrays broadcastable to ``maps`` (one per map, see
    :func:`color_limits`); default the min and max of ``maps``. Any leading axes (a whole
    layer x head stack renders in one call); NaN is the colormap's "bad" colour.
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
    return colormap(cmap)(scaled, bytes=True)


def render_maps(
    maps, cmap: str = "viridis", normalization: Normalization | str = Normalization.PER_MAP
) -> np.ndarray:
    """Colour a stack of maps ``[..., h, w]`` with per-map or shared limits (thumbnails)."""
    vmin, vmax = color_limits(maps, normalization)
    return to_rgba(maps, cmap, vmin, vmax)


def upsample(maps, size: tuple[int, int], mode: str = "nearest") -> np.ndarray:
    """Maps ``[..., h, w]`` resized to ``size = (H, W)``: ``[..., H, W]`` float.

    ``nearest`` keeps patches as flat blocks; ``bilinear`` interpolates between patch
    centres (half-pixel centres, as ``interpolate(align_corners=False)``).
    """
    if mode not in UPSAMPLE_MODES:
        raise AnalysisError(f"unknown upsampling mode {mode!r}; use one of {UPSAMPLE_MODES}")
    import torch  # only here: the colour mapping above is used without torch

    values = _as_array(maps)
    # A copy: the maps shared with the UI thread are read-only, torch wants them writable.
    values = values.astype(np.result_type(values.dtype, np.float32), copy=True)
    flat = torch.from_numpy(values.reshape(-1, 1, *values.shape[-2:]))  # [B, 1, h, w]
    torch_mode = "nearest-exact" if mode == "nearest" else mode  # half-pixel centres both
    resized = torch.nn.functional.interpolate(flat, size=tuple(size), mode=torch_mode)
    return resized.numpy().reshape(*values.shape[:-2], *size)  # [..., H, W]


def _gaussian_matrix(n: int, sigma: float) -> np.ndarray:
    """``[n, n]`` Gaussian blur as a matrix; rows renormalised so edges do not darken."""
    offsets = np.arange(n)[:, None] - np.arange(n)[None, :]  # [n, n]
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum(axis=1, keepdims=True)


def vit_paper_mask(map_grid, grid: PatchGrid, *, blur: bool = True) -> np.ndarray:
    """The ViT paper's display mask over the model's input: ``float32 [H_in, W_in]`` in 0..1.

    The authors' recipe (Dosovitskiy et al., google-research/vision_transformer #18, #27):
    max-normalise the ``[rows, cols]`` map, resize it to the input (``grid.crop_box`` of
    the original image) with Lanczos, Gaussian-blur it with a standard deviation of one
    patch (``blur``; the paper's figures do); the image is shown through it over black.
    """
    values = np.nan_to_num(_as_array(map_grid).astype(np.float32))
    if values.shape != grid.layout.grid:
        raise AnalysisError(
            f"map of shape {values.shape} does not match the {grid.rows}x{grid.cols} patch grid"
        )
    values = np.clip(values, 0, None)
    peak = values.max()
    values = values / peak if peak > 0 else values
    height, width = grid.input_size
    mask = Image.fromarray(values).resize((width, height), Image.Resampling.LANCZOS)
    mask = np.clip(np.asarray(mask, dtype=np.float64), 0, 1)  # [H_in, W_in]
    if blur:
        ph, pw = grid.patch_size
        mask = _gaussian_matrix(height, ph) @ mask @ _gaussian_matrix(width, pw).T
    return mask.astype(np.float32)
