"""A map on its image: placed on the crop box, coloured by matplotlib, both map styles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from vitviz.compute.preprocess import PatchGrid
from vitviz.errors import AnalysisError
from vitviz.export.pictures import PictureOptions, display_image, draw_map
from vitviz.export.styles import MapStyle
from vitviz.vit.layout import TokenLayout


@pytest.fixture
def grid():
    # A 10 x 16 grid of 16-pixel patches: the input is a 1:2 scaled, 20-pixel wide crop.
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(10, 16))
    return PatchGrid(layout, (16, 16), (160, 256), (320, 552), scale=(0.5, 0.5), offset=(-10, 0))


@pytest.fixture
def image():
    return np.random.default_rng(1).integers(0, 256, (320, 552, 3), dtype=np.uint8)


def _drawn(values, grid, image, options, **limits):
    axes = Figure().add_subplot()
    return axes, draw_map(axes, values, grid, image, options, **limits)


def test_the_map_covers_the_crop_box_in_the_pictures_pixels(grid, image):
    # A copy at half size gets the box at half size.
    _, half = _drawn(np.zeros((10, 16)), grid, image[::2, ::2], PictureOptions())
    assert half.get_extent() == [10.0, 266.0, 160.0, 0.0]
    values = np.random.default_rng(2).random((10, 16))
    options = PictureOptions(cmap="magma", alpha=0.7, upsampling="bilinear")
    axes, shown = _drawn(values, grid, image, options)
    np.testing.assert_array_equal(axes.images[0].get_array()[..., :3], image)  # opaque RGBA
    np.testing.assert_array_equal(shown.get_array(), values)
    assert shown.get_extent() == [20.0, 532.0, 320.0, 0.0]
    assert (shown.cmap.name, shown.get_alpha(), shown.get_interpolation()) == (
        "magma",
        0.7,
        "bilinear",
    )
    assert shown.get_clim() == (values.min(), values.max())
    assert (axes.get_xlim(), axes.get_ylim()) == ((0, 552), (320, 0))
    assert len(axes.patches) == 1  # the unseen strips, dimmed


def test_torch_maps_and_fixed_limits(grid, image):
    values = torch.rand(10, 16, dtype=torch.bfloat16)
    _, shown = _drawn(values, grid, image, PictureOptions(), vmin=0.0, vmax=2.0)
    assert shown.get_clim() == (0.0, 2.0)
    np.testing.assert_array_equal(shown.get_array(), values.float().numpy())


def test_vit_paper_style_shows_the_image_through_the_mask_without_colours(grid, image):
    values = np.zeros((10, 16))
    values[4:6, 7:9] = 1.0
    axes, shown = _drawn(values, grid, image, PictureOptions(style=MapStyle.VIT_PAPER))
    assert shown is None
    black = axes.images[1].get_array()  # [H_in, W_in, 4]: black, alpha = 1 - mask
    assert black.shape == (160, 256, 4)
    assert (black[..., :3] == 0).all()
    assert black[80, 128, 3] < 0.6  # the map peaks here (blurred over a patch)
    assert black[5, 5, 3] > 0.99  # and is zero far from it


def test_a_map_of_the_wrong_shape_is_refused(grid, image):
    with pytest.raises(AnalysisError, match="does not match the 10x16 patch grid"):
        _drawn(np.zeros((16, 10)), grid, image, PictureOptions())


def test_display_image_scales_large_images_down_keeping_aspect():
    image = Image.new("RGB", (2000, 1000))
    assert display_image(image).shape == (384, 768, 3)
    assert display_image(Image.new("RGB", (300, 200))).shape == (200, 300, 3)
