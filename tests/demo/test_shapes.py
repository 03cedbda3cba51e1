"""Geometry of the ten demo shapes."""

import numpy as np
import pytest

from vitviz.demo.shapes import CLASS_NAMES, outline, rasterize

SIDE = 128
CENTRE = (64.0, 64.0)


def _area(label: int, seed: int = 0, angle: float = 0.0) -> float:
    shape = outline(label, np.random.default_rng(seed))
    return float(rasterize(shape, (SIDE, SIDE), CENTRE, 40.0, angle).sum())


def test_the_ten_classes_in_order():
    assert CLASS_NAMES == (
        "circle",
        "square",
        "triangle",
        "star",
        "cross",
        "ring",
        "hexagon",
        "crescent",
        "heart",
        "arrow",
    )


@pytest.mark.parametrize("label", range(10))
def test_every_shape_fits_about_its_circle_and_covers_a_fair_part_of_it(label):
    coverage = rasterize(
        outline(label, np.random.default_rng(1)), (SIDE, SIDE), CENTRE, 40.0, angle=0.7
    )
    y, x = np.nonzero(coverage > 0)
    reach = 1.12 if label == 2 else 1.01  # the triangle's bounding box is centred
    assert np.hypot(x + 0.5 - 64, y + 0.5 - 64).max() <= 40.0 * reach + 1.5
    disc = np.pi * 40.0**2
    assert 0.15 * disc < coverage.sum() < 1.01 * disc


def test_coverage_is_anti_aliased_only_at_the_edges():
    coverage = rasterize(outline(0, np.random.default_rng(0)), (SIDE, SIDE), CENTRE, 40.0, 0.0)
    assert coverage.min() == 0.0
    assert coverage.max() == 1.0
    partial = (coverage > 0) & (coverage < 1)
    assert 0 < partial.sum() < 0.1 * (coverage == 1).sum()
    hard = rasterize(outline(0, np.random.default_rng(0)), (SIDE, SIDE), CENTRE, 40.0, 0.0, 1.0, 1)
    assert set(np.unique(hard)) == {0.0, 1.0}


def test_holes_are_cut_out():
    circle, ring, crescent = _area(0), _area(5), _area(7)
    assert ring < 0.8 * circle
    assert crescent < 0.8 * circle
    coverage = rasterize(outline(5, np.random.default_rng(0)), (SIDE, SIDE), CENTRE, 40.0, 0.0)
    assert coverage[64, 64] == 0.0  # the ring's centre is empty


def test_rotation_keeps_the_area_and_moves_the_pixels():
    shape = outline(2, np.random.default_rng(0))
    a = rasterize(shape, (SIDE, SIDE), CENTRE, 40.0, 0.0)
    b = rasterize(shape, (SIDE, SIDE), CENTRE, 40.0, np.pi / 3 + 0.1)
    assert abs(a.sum() - b.sum()) < 0.02 * a.sum()
    assert np.abs(a - b).sum() > 0.2 * a.sum()


def test_instances_vary_within_a_class():
    assert _area(3, seed=0) != _area(3, seed=1)  # star depth
    assert _area(5, seed=0) != _area(5, seed=1)  # ring thickness
