"""The PNG encoder: Pillow reads back the same pixels, resolution and text; bytes are stable."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from vitviz.export.png import encode_png, write_png


def _pixels(height=37, width=53, seed=0):
    rgba = np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
    rgba[: height // 2, :, 3] = 255
    return rgba


def test_pillow_reads_back_the_pixels_resolution_and_text():
    rgba = _pixels()
    image = Image.open(io.BytesIO(encode_png(rgba, dpi=100, text={"Software": "vitviz"})))
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(image), rgba)
    assert round(image.info["dpi"][0]) == 100
    assert image.info["Software"] == "vitviz"


def test_repeated_rows_and_strided_input_round_trip(tmp_path):
    rows = np.repeat(_pixels(5, 7), 3, axis=0)  # [15, 7, 4], each row three times
    wide = np.zeros((15, 14, 4), np.uint8)
    wide[:, ::2] = rows
    strided = wide[:, ::2]  # not contiguous
    path = write_png(strided, tmp_path / "a.png", dpi=72)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), rows)


def test_same_pixels_give_the_same_bytes():
    assert encode_png(_pixels(), dpi=100) == encode_png(_pixels().copy(), dpi=100)
    assert encode_png(_pixels(), dpi=100) != encode_png(_pixels(seed=1), dpi=100)


def test_only_rgba_bytes_are_encoded():
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 3), np.uint8), dpi=100)
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 4), np.float32), dpi=100)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 1)])
def test_one_pixel_wide_or_high_pictures_round_trip(shape):
    rgba = _pixels(*shape)
    image = Image.open(io.BytesIO(encode_png(rgba, dpi=100)))
    np.testing.assert_array_equal(np.asarray(image), rgba)
