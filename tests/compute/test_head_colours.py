import numpy as np
import pytest
import torch

from vitviz.compute.head_colours import head_composite, head_palette
from vitviz.errors import AnalysisError


@pytest.mark.parametrize("heads", [1, 2, 6, 10, 12, 16])
def test_palette_gives_every_head_its_own_colour(heads):
    palette = head_palette(heads)
    assert palette.shape == (heads, 3)
    assert ((palette >= 0) & (palette <= 1)).all()
    assert len({tuple(np.round(c, 3)) for c in palette}) == heads


def test_the_head_that_owns_a_patch_gives_it_its_colour_at_its_strength():
    maps = np.zeros((3, 2, 4), np.float32)  # [H, rows, cols]
    maps[0, 0, 0], maps[0, 1, 1] = 2.0, 1.0  # head 0: peak 2, half of it at (1, 1)
    maps[1, 0, 1] = 0.5
    maps[2, 1, 3], maps[2, 0, 0] = 4.0, 3.0  # head 2 holds 3/4 of its peak at (0, 0)
    palette = head_palette(3)
    rgb = head_composite(torch.from_numpy(maps))
    assert rgb.shape == (2, 4, 3)
    assert rgb.dtype == np.float32
    np.testing.assert_allclose(rgb[0, 0], palette[0])  # head 0's peak beats head 2's 3/4
    np.testing.assert_allclose(rgb[1, 1], palette[0] * 0.5)
    np.testing.assert_allclose(rgb[0, 1], palette[1])  # a weak head still shows, scaled alone
    np.testing.assert_allclose(rgb[1, 3], palette[2])
    np.testing.assert_array_equal(rgb[0, 2], 0)  # no head attends: black


def test_custom_palette_negative_values_and_bad_shapes():
    palette = np.array([[1, 0, 0], [0, 0, 1]], np.float32)
    maps = np.array([[[1.0, -1.0]], [[0.5, 0.0]]])  # [2, 1, 2]
    rgb = head_composite(maps, palette)
    np.testing.assert_allclose(rgb, [[[1, 0, 0], [0, 0, 0]]])
    with pytest.raises(AnalysisError, match="heads, rows, cols"):
        head_composite(np.zeros((4, 4)))
