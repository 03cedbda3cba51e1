"""One-call figures for the GUI and the batch: a map on its image, the heads grid."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from vitviz.compute.preprocess import PatchGrid
from vitviz.export.map_figures import heads_grid_figure, map_image_figure
from vitviz.export.pictures import PictureOptions
from vitviz.vit.layout import TokenLayout


def test_map_image_figure_draws_the_map_on_the_scaled_image_with_a_colour_bar():
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(10, 16))
    grid = PatchGrid(layout, (16, 16), (160, 256), (1000, 1600), scale=(0.16, 0.16))
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (1000, 1600, 3), np.uint8))
    values = torch.rand(10, 16)
    options = PictureOptions(cmap="magma", alpha=0.5)
    figure = map_image_figure(values, grid, image, title="t\nu", options=options, label="x")
    shown = figure.axes[0].images[-1]
    assert figure.axes[0].images[0].get_array().shape == (480, 768, 4)  # opaque RGBA
    np.testing.assert_array_equal(shown.get_array(), values.numpy())
    assert figure.axes[1].get_ylabel() == "x"
    assert figure.get_suptitle() == "t\nu"


def test_heads_grid_figure_adds_the_fused_column_and_a_colour_bar():
    maps = torch.rand(3, 2, 4, 5)
    figure = heads_grid_figure(maps, title="grid", fusion="max", shared_scale=True)
    assert len(figure.axes) == 3 * 3 + 1
    assert [figure.axes[c].title.get_text() for c in range(3)] == ["head 0", "head 1", "max"]
    np.testing.assert_allclose(figure.axes[2].images[0].get_array(), maps[0].amax(0).numpy())
    np.testing.assert_allclose(figure.axes[4].images[0].get_array(), maps[1, 1].numpy())
    assert figure.axes[-1].get_ylabel() == "attention"
    assert figure.axes[4].images[0].get_clim() == (float(maps.min()), float(maps.max()))
