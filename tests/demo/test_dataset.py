"""Seeded sample generation: determinism, labels, masks, two-object samples."""

import numpy as np
import pytest

from vitviz.demo.backgrounds import PATTERNS, background
from vitviz.demo.dataset import IMAGE_SIZE, generate, generate_batch


def test_a_sample_is_a_pure_function_of_seed_and_index():
    a, b = generate(7, 3), generate(7, 3)
    assert np.array_equal(a.image, b.image)
    assert a.labels == b.labels
    assert np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.image, generate(7, 4).image)
    assert not np.array_equal(a.image, generate(8, 3).image)


def test_one_object_sample():
    sample = generate(0, 0)
    assert sample.image.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
    assert sample.image.dtype == np.uint8
    assert sample.masks.shape == (1, IMAGE_SIZE, IMAGE_SIZE)
    assert sample.mask.dtype == bool
    assert 0 <= sample.label < 10


def test_objects_are_within_the_scale_range_and_differ_from_the_background():
    images, labels, masks = generate_batch(1, 0, 40)
    assert set(labels[:, 0]) == set(range(10))
    for image, mask in zip(images, masks[:, 0], strict=True):
        rows, cols = np.nonzero(mask)
        extent = max(rows.max() - rows.min(), cols.max() - cols.min()) + 1
        assert 0.1 * IMAGE_SIZE <= extent <= 0.47 * IMAGE_SIZE
        inside = image[mask].astype(float).mean(0)
        outside = image[~mask].astype(float).mean(0)
        assert np.abs(inside - outside).sum() > 0 or mask.all()


def test_the_labels_are_roughly_balanced():
    _, labels, _ = generate_batch(2, 0, 300, size=32)
    counts = np.bincount(labels[:, 0], minlength=10)
    assert counts.min() >= 15


def test_two_object_samples_have_two_classes_and_disjoint_masks():
    _, labels, masks = generate_batch(3, 0, 20, num_objects=2)
    assert labels.shape == (20, 2)
    assert (labels[:, 0] != labels[:, 1]).all()
    assert masks.shape == (20, 2, IMAGE_SIZE, IMAGE_SIZE)
    assert masks.any(axis=(2, 3)).all()
    assert not (masks[:, 0] & masks[:, 1]).any()


def test_smaller_images_scale_the_objects():
    small = generate(0, 5, size=112)
    assert small.image.shape == (112, 112, 3)
    assert 0.01 * 112**2 < small.mask.sum() < 0.2 * 112**2


def test_bad_object_count_is_refused():
    with pytest.raises(ValueError, match="num_objects"):
        generate(0, 0, num_objects=3)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_background_patterns_are_images(pattern):
    image = pattern((48, 64), np.random.default_rng(0))
    assert image.shape == (48, 64, 3)
    assert image.min() >= 0
    assert image.max() <= 1


def test_backgrounds_are_cluttered():
    rng = np.random.default_rng(0)
    spreads = [background((64, 64), rng).std() for _ in range(20)]
    assert np.median(spreads) > 0.03


def test_clutter_zero_gives_plain_backgrounds():
    def roughness(clutter: float) -> float:
        rng = np.random.default_rng(1)
        images = [background((64, 64), rng, clutter) for _ in range(30)]
        return float(np.mean([np.abs(np.diff(image, axis=1)).mean() for image in images]))

    assert roughness(0.0) < 0.01
    assert roughness(1.0) > 3 * roughness(0.0)


def test_zoom_draws_objects_as_in_a_crop_of_a_bigger_image():
    areas = [generate(4, i, size=112, zoom=2.0).mask.mean() for i in range(20)]
    full = [generate(4, i).mask.mean() for i in range(20)]
    assert np.mean(areas) > 2.5 * np.mean(full)
