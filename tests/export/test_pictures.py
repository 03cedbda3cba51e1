"""Pictures come from the shared renderer, in both map styles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vitviz.compute import render
from vitviz.compute.geometry import PatchGrid
from vitviz.export.pictures import PictureOptions, display_image, map_picture, thumbnails
from vitviz.export.styles import MapStyle
from vitviz.vit.layout import TokenLayout


@pytest.fixture
def grid():
    # A 10 x 16 patch grid of 16-pixel patches over a 320 x 200 image, 1:2 downscaled.
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(10, 16))
    return PatchGrid(layout, (16, 16), (160, 256), (320, 512), scale=(0.5, 0.5))


@pytest.fixture
def image():
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (320, 512, 3), dtype=np.uint8)


def test_overlay_is_the_renderers_map_on_image(grid, image):
    values = np.random.default_rng(2).random((10, 16))
    options = PictureOptions(cmap="magma", alpha=0.7, upsampling="bilinear")
    picture, scale = map_picture(values, grid, image, options, label="relevance")
    expected = render.map_on_image(
        values,
        grid,
        image,
        cmap="magma",
        vmin=values.min(),
        vmax=values.max(),
        alpha=0.7,
        mode="bilinear",
    )
    np.testing.assert_array_equal(picture, expected)
    assert (scale.cmap, scale.label) == ("magma", "relevance")
    assert (scale.vmin, scale.vmax) == (values.min(), values.max())


def test_torch_maps_and_fixed_limits(grid, image):
    values = torch.rand(10, 16, dtype=torch.float16)
    picture, scale = map_picture(values, grid, image, vmin=0.0, vmax=2.0)
    assert (scale.vmin, scale.vmax) == (0.0, 2.0)
    expected = render.map_on_image(
        values.float().numpy(),
        grid,
        image,
        cmap="inferno",
        vmin=0.0,
        vmax=2.0,
        alpha=0.6,
        mode="nearest",
    )
    np.testing.assert_array_equal(picture, expected)


def test_vit_paper_style_is_the_mask_without_a_colour_scale(grid, image):
    values = np.random.default_rng(3).random((10, 16))
    picture, scale = map_picture(values, grid, image, PictureOptions(style=MapStyle.VIT_PAPER))
    assert scale is None
    np.testing.assert_array_equal(picture, render.vit_paper_mask(values, grid, image))


def test_display_image_scales_large_images_down_keeping_aspect():
    large = Image.new("RGB", (2000, 1000), (10, 20, 30))
    small = Image.new("RGB", (224, 160), (10, 20, 30))
    assert display_image(large).shape == (384, 768, 3)
    assert display_image(small).shape == (160, 224, 3)


def test_thumbnails_per_map_or_shared_scale():
    maps = np.stack([np.linspace(0, 1, 12).reshape(3, 4), np.linspace(0, 2, 12).reshape(3, 4)])
    per_map = thumbnails(maps, "viridis")
    shared = thumbnails(maps, "viridis", shared_scale=True)
    assert per_map.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(per_map[0], per_map[1])
    assert not np.array_equal(shared[0], shared[1])
