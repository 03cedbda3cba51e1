"""PatchGrid: tokens ↔ pixel boxes of the original image, rows first, through crop and pad."""

from __future__ import annotations

import numpy as np
import pytest

from vitviz.compute.preprocess import PatchGrid
from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout


def layout(rows: int, cols: int, *, num_reg: int = 0) -> TokenLayout:
    return TokenLayout(num_class=1, num_dist=0, num_reg=num_reg, grid=(rows, cols))


def identity(layout, patch_size, input_size):
    """A grid whose "original" image is the model input itself."""
    return PatchGrid(layout, patch_size, input_size, input_size)


def test_identity_grid_boxes_are_patches():
    grid = identity(layout(14, 14), (16, 16), (224, 224))
    assert grid.patch_box(0, 0) == (0, 0, 16, 16)
    assert grid.patch_box(13, 2) == (32, 208, 48, 224)
    assert grid.crop_box == (0, 0, 224, 224)
    assert grid.patch_at(47.9, 208.0) == (13, 2)


def test_non_square_grid_keeps_rows_and_columns_apart():
    # 10 rows x 16 cols over a 320 high x 512 wide original, downscaled by 2.
    grid = PatchGrid(layout(10, 16), (16, 16), (160, 256), (320, 512), scale=(0.5, 0.5))
    assert (grid.rows, grid.cols) == (10, 16)
    assert grid.patch_box(0, 15) == (480, 0, 512, 32)  # top-right corner
    assert grid.patch_box(9, 0) == (0, 288, 32, 320)  # bottom-left corner
    assert grid.patch_at(500, 10) == (0, 15)
    assert grid.patch_at(10, 300) == (9, 0)


def test_centre_crop_offsets_map_back_and_cut_the_sides():
    # 300 high x 400 wide resized to 224 x 298 (scale 224/300), then 37 columns cut left.
    scale = 224 / 300
    grid = PatchGrid(layout(14, 14), (16, 16), (224, 224), (300, 400), (scale, scale), (-37, 0))
    left, top, right, bottom = grid.crop_box
    assert left == pytest.approx(37 / scale)
    assert right == pytest.approx((37 + 224) / scale)
    assert (top, bottom) == (pytest.approx(0), pytest.approx(300))
    assert grid.patch_at(10, 150) is None  # cut away on the left
    assert grid.patch_at(399, 150) is None  # cut away on the right
    assert grid.patch_at(left + 0.01, 0) == (0, 0)
    x0, y0, x1, y1 = grid.patch_box(7, 13)
    assert grid.patch_at((x0 + x1) / 2, (y0 + y1) / 2) == (7, 13)


def test_padded_border_extends_the_crop_box_past_the_image():
    # A 100 x 200 image letterboxed into 224 x 224: scale 224/200, 56 rows of padding on top.
    scale = 224 / 200
    grid = PatchGrid(layout(14, 14), (16, 16), (224, 224), (100, 200), (scale, scale), (0, 56))
    left, top, right, bottom = grid.crop_box
    assert top == pytest.approx(-50)
    assert bottom == pytest.approx(150)
    assert (left, right) == (pytest.approx(0), pytest.approx(200))
    assert grid.patch_at(0, 0) == (3, 0)  # row 3 starts at input y = 48 ≤ 56
    assert grid.patch_at(0, -1) is None  # outside the original image


def test_points_outside_the_original_image():
    grid = PatchGrid(layout(2, 3), (16, 16), (32, 48), (64, 96), scale=(0.5, 0.5))
    assert grid.patch_at(-0.5, 3) is None
    assert grid.patch_at(96, 3) is None
    assert grid.patch_at(3, 64) is None
    assert grid.patch_at(95.99, 63.99) == (1, 2)


def test_patch_boxes_array_matches_patch_box():
    grid = PatchGrid(layout(3, 5), (14, 14), (42, 70), (97, 160), (70 / 160, 42 / 97), (0.0, 0.0))
    boxes = grid.patch_boxes()
    assert boxes.shape == (3, 5, 4)
    for row in range(3):
        for col in range(5):
            np.testing.assert_allclose(boxes[row, col], grid.patch_box(row, col))


def test_to_input_and_to_original_are_inverse_on_arrays():
    grid = PatchGrid(layout(14, 14), (16, 16), (224, 224), (300, 400), (0.56, 0.75), (-3.5, 7))
    xs, ys = np.linspace(0, 400, 11), np.linspace(0, 300, 11)
    back_x, back_y = grid.to_original(*grid.to_input(xs, ys))
    np.testing.assert_allclose(back_x, xs)
    np.testing.assert_allclose(back_y, ys)


def test_patch_box_outside_the_grid():
    grid = identity(layout(2, 3), (16, 16), (32, 48))
    with pytest.raises(IndexError):
        grid.patch_box(2, 0)
    with pytest.raises(IndexError):
        grid.patch_box(0, 3)


def test_layout_must_match_the_input_size():
    with pytest.raises(AnalysisError, match="does not match"):
        identity(layout(16, 10), (16, 16), (160, 256))
    with pytest.raises(AnalysisError, match="not a multiple"):
        identity(layout(10, 16), (16, 16), (161, 256))
