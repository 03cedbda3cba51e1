"""Rendering: colours equal matplotlib's, upsampling equals torch's, the ViT paper's mask."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.colors import Normalize

from vitviz.compute.preprocess import PatchGrid
from vitviz.compute.render import (
    Normalization,
    color_limits,
    colormap_lut,
    render_maps,
    to_rgba,
    upsample,
    vit_paper_mask,
)
from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout


def matplotlib_rgba(values, cmap, vmin, vmax):
    return matplotlib.colormaps[cmap](Normalize(vmin, vmax)(values), bytes=True)


def grid_10x16(original=(320, 512), scale=(0.5, 0.5), offset=(0.0, 0.0)) -> PatchGrid:
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(10, 16))
    return PatchGrid(layout, (16, 16), (160, 256), original, scale, offset)


# --- colours ---------------------------------------------------------------------------


def test_lut_is_matplotlibs_table_cached_and_read_only():
    lut = colormap_lut("viridis")
    assert lut.shape == (256, 4)
    assert lut.dtype == np.uint8
    assert colormap_lut("viridis") is lut
    assert not lut.flags.writeable
    np.testing.assert_array_equal(lut[-1], matplotlib.colormaps["viridis"](1.0, bytes=True))


def test_unknown_colormap():
    with pytest.raises(AnalysisError, match="unknown colormap 'not-a-map'"):
        colormap_lut("not-a-map")


@pytest.mark.parametrize("cmap", ["viridis", "magma_r", "jet", "gray"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_to_rgba_equals_matplotlib(cmap, dtype):
    rng = np.random.default_rng(1)
    values = (rng.normal(size=(64, 80)) * 2).astype(dtype)
    vmin, vmax = -1.7312345, 2.1987654
    # Bin edges, the ends and beyond them, where off-by-one errors live.
    edges = vmin + (vmax - vmin) * np.arange(257) / 256
    values.flat[: edges.size] = edges.astype(dtype)
    values[-1, :4] = [vmin, vmax, vmin - 5, vmax + 5]
    np.testing.assert_array_equal(
        to_rgba(values, cmap, vmin, vmax), matplotlib_rgba(values, cmap, vmin, vmax)
    )


def test_to_rgba_default_limits_are_the_maps_range():
    values = np.linspace(0.2, 0.9, 30).reshape(5, 6)
    np.testing.assert_array_equal(to_rgba(values), matplotlib_rgba(values, "viridis", 0.2, 0.9))


def test_nan_is_the_bad_colour():
    rgba = to_rgba(np.array([[0.0, np.nan, 1.0]]), "viridis", 0, 1)
    np.testing.assert_array_equal(rgba[0, 1], [0, 0, 0, 0])
    assert rgba[0, 0, 3] == 255


def test_empty_range_is_the_first_colour():
    rgba = to_rgba(np.full((2, 3), 0.25), "magma", 0.25, 0.25)
    np.testing.assert_array_equal(rgba, np.broadcast_to(colormap_lut("magma")[0], (2, 3, 4)))


def test_per_map_limits_colour_each_map_like_matplotlib():
    rng = np.random.default_rng(2)
    stack = rng.random((3, 4, 7, 9)) * np.arange(1, 13).reshape(3, 4, 1, 1)  # [L, H, r, c]
    vmin, vmax = color_limits(stack, Normalization.PER_MAP)
    assert vmin.shape == vmax.shape == (3, 4, 1, 1)
    rgba = to_rgba(stack, "inferno", vmin, vmax)
    assert rgba.shape == (3, 4, 7, 9, 4)
    for layer in range(3):
        for head in range(4):
            one = stack[layer, head]
            expected = matplotlib_rgba(one, "inferno", one.min(), one.max())
            np.testing.assert_array_equal(rgba[layer, head], expected)


def test_shared_limits_span_the_whole_stack():
    stack = np.stack([np.zeros((2, 2)), np.full((2, 2), 0.5), np.array([[np.nan, 1], [0, 1]])])
    vmin, vmax = color_limits(stack, "shared")
    assert (float(vmin), float(vmax)) == (0.0, 1.0)
    rgba = render_maps(stack, "viridis", Normalization.SHARED)
    lut = colormap_lut("viridis")
    np.testing.assert_array_equal(rgba[0, 0, 0], lut[0])
    np.testing.assert_array_equal(rgba[1, 0, 0], lut[128])


def test_an_all_nan_map_in_a_stack_is_all_bad_colour(recwarn):
    stack = np.stack([np.full((2, 2), np.nan), np.eye(2)])
    rgba = render_maps(stack, "viridis", Normalization.PER_MAP)
    assert (rgba[0] == 0).all()
    np.testing.assert_array_equal(rgba[1, 0, 0], colormap_lut("viridis")[-1])
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_per_map_rendering_stretches_each_map():
    stack = np.stack([np.array([[0.0, 0.1]]), np.array([[5.0, 9.0]])])  # [2, 1, 2]
    rgba = render_maps(stack, "viridis", Normalization.PER_MAP)
    lut = colormap_lut("viridis")
    for index in range(2):
        np.testing.assert_array_equal(rgba[index, 0], [lut[0], lut[-1]])


def test_torch_tensors_are_accepted():
    values = torch.linspace(0, 1, 12, dtype=torch.bfloat16).reshape(3, 4)
    expected = to_rgba(values.float().numpy(), "viridis", 0, 1)
    np.testing.assert_array_equal(to_rgba(values, "viridis", 0, 1), expected)


# --- upsampling and overlay ------------------------------------------------------------


@pytest.mark.parametrize("size", [(224, 224), (37, 61), (5, 3)])
def test_bilinear_upsampling_equals_torch(size):
    maps = np.random.default_rng(3).random((2, 3, 14, 9))
    expected = F.interpolate(torch.from_numpy(maps), size=size, mode="bilinear")
    np.testing.assert_allclose(upsample(maps, size, "bilinear"), expected.numpy(), atol=1e-12)


@pytest.mark.parametrize("size", [(140, 90), (33, 20)])
def test_nearest_upsampling_equals_torch_nearest_exact(size):
    maps = np.random.default_rng(4).random((14, 9))
    expected = F.interpolate(torch.from_numpy(maps)[None, None], size=size, mode="nearest-exact")
    np.testing.assert_array_equal(upsample(maps, size, "nearest"), expected[0, 0].numpy())


def test_nearest_upsampling_makes_patch_blocks_rows_first():
    maps = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(upsample(maps, (4, 6)), np.kron(maps, np.ones((2, 2))))


def test_unknown_upsampling_mode():
    with pytest.raises(AnalysisError, match="upsampling mode"):
        upsample(np.zeros((2, 2)), (4, 4), "bicubic")


# --- ViT paper style -------------------------------------------------------------------


def test_vit_paper_mask_shows_the_image_only_where_the_map_is():
    grid = grid_10x16()
    values = np.zeros((10, 16))
    values[2, 12] = 3.0
    mask = vit_paper_mask(values, grid)  # [H_in, W_in] over the input
    assert mask.shape == (160, 256)
    y, x = np.unravel_index(np.argmax(mask), mask.shape)
    assert (y // 16, x // 16) == (2, 12)
    assert mask[-1, 0] < 1e-3  # far from the peak: black
    assert mask.max() <= 1.0


def test_vit_paper_mask_of_a_uniform_map_shows_the_whole_input():
    for blur in (False, True):
        mask = vit_paper_mask(np.full((10, 16), 0.3), grid_10x16(), blur=blur)
        np.testing.assert_allclose(mask, 1.0, atol=1e-3)


def test_vit_paper_mask_of_an_empty_map_is_black():
    assert (vit_paper_mask(np.zeros((10, 16)), grid_10x16()) == 0).all()


def test_a_map_of_the_wrong_shape_is_refused():
    with pytest.raises(AnalysisError, match="10x16 patch grid"):
        vit_paper_mask(np.zeros((16, 10)), grid_10x16())
