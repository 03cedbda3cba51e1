"""The quality metrics' geometry: grown object patches and map peaks."""

import numpy as np
import torch

from training.demo_model.quality import QualityReport, grown_patch_masks, peak_on


def test_an_object_in_one_patch_grows_to_its_three_by_three_block():
    mask = np.zeros((64, 64), dtype=bool)
    mask[20:24, 36:40] = True  # inside patch (1, 2) of a 4x4 grid of 16 px patches
    grown = grown_patch_masks(mask, (16, 16))
    expected = np.zeros((4, 4), dtype=bool)
    expected[0:3, 1:4] = True
    assert np.array_equal(grown, expected)


def test_growth_stops_at_the_border_and_handles_batches_and_non_square_grids():
    masks = np.zeros((2, 1, 32, 64), dtype=bool)
    masks[0, 0, 0, 0] = True
    masks[1, 0, 31, 63] = True
    grown = grown_patch_masks(masks, (16, 16))
    assert grown.shape == (2, 1, 2, 4)
    assert np.array_equal(grown[0, 0], [[1, 1, 0, 0], [1, 1, 0, 0]])
    assert np.array_equal(grown[1, 0], [[0, 0, 1, 1], [0, 0, 1, 1]])


def test_peak_on_checks_the_highest_patch_only():
    maps = torch.zeros(2, 2, 3)
    maps[0, 1, 2] = 1.0
    maps[1, 0, 0] = 1.0
    targets = np.zeros((2, 2, 3), dtype=bool)
    targets[0, 1, 2] = True
    targets[1, 1, 1] = True
    assert peak_on(maps, targets).tolist() == [True, False]


def test_report_lines_show_percentages():
    lines = QualityReport(100, 0.975, 0.9, 0.85, 0.9).lines()
    assert "97.50 %" in lines[0]
    assert "90.00 %" in lines[1]
    assert "85.00 %" in lines[2]
    assert len(lines) == 3


def test_report_lines_show_accuracy_by_object_size_when_measured():
    lines = QualityReport(100, 0.9, 0.9, 0.85, 0.9, (0.8, 0.9, 1.0)).lines()
    assert "80.0 % / 90.0 % / 100.0 %" in lines[3]
