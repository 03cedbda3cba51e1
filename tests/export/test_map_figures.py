"""One-call figures for the GUI: the same pixels as the pieces they are made of."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from vitviz.compute.geometry import PatchGrid
from vitviz.export.figures import map_figure
from vitviz.export.map_figures import heads_grid_figure, map_image_figure
from vitviz.export.pictures import PictureOptions, display_image, map_picture
from vitviz.export.raster import figure_rgba
from vitviz.vit.layout import TokenLayout


def test_map_image_figure_is_map_picture_in_map_figure():
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(10, 16))
    grid = PatchGrid(layout, (16, 16), (160, 256), (1000, 1600), scale=(0.16, 0.16))
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (1000, 1600, 3), np.uint8))
    values = torch.rand(10, 16)
    options = PictureOptions(cmap="magma", alpha=0.5)
    figure = map_image_figure(values, grid, image, title="t\nu", options=options, label="x")
    picture, scale = map_picture(values, grid, display_image(image), options, label="x")
    expected = map_figure(picture, title="t\nu", scale=scale)
    np.testing.assert_array_equal(figure_rgba(figure), figure_rgba(expected))


def test_heads_grid_figure_adds_the_fused_column():
    maps = torch.rand(3, 2, 4, 5)
    figure = heads_grid_figure(maps, title="grid", fusion="max")
    assert len(figure.axes) == 3 * 3
    assert [figure.axes[c].title.get_text() for c in range(3)] == ["head 0", "head 1", "max"]
    fused = figure.axes[2].images[0].get_array()
    per_map = figure.axes[0].images[0].get_array()
    assert fused.shape[:2] == per_map.shape[:2] == (4, 5)
