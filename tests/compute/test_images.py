"""Opening images: every awkward kind of file is converted correctly or refused clearly."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from vitviz.compute.images import NEUTRAL_BACKGROUND, open_image
from vitviz.errors import ImageLoadError


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def noise(height: int, width: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def png_rgb16(pixels: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG, which PIL can read but not write."""
    height, width, _ = pixels.shape

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = pixels.astype(">u2").reshape(height, width * 3)  # [H, W*3] big-endian
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 per row
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def pixels(image: Image.Image) -> np.ndarray:
    assert image.mode == "RGB"
    return np.asarray(image)


# --- sources ---------------------------------------------------------------------------


def test_rgb_path_round_trips(tmp_path):
    original = noise(12, 20)
    path = tmp_path / "noise.png"
    original.save(path)
    loaded = open_image(path)
    assert loaded.size == (20, 12)
    np.testing.assert_array_equal(pixels(loaded), np.asarray(original))


def test_str_path_and_bytes_give_the_same_image(tmp_path):
    data = encode(noise(8, 8), "PNG")
    path = tmp_path / "a.png"
    path.write_bytes(data)
    np.testing.assert_array_equal(pixels(open_image(str(path))), pixels(open_image(data)))


def test_pil_image_is_copied_not_shared():
    original = noise(5, 6)
    loaded = open_image(original)
    assert loaded is not original
    np.testing.assert_array_equal(pixels(loaded), np.asarray(original))


def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="no such file"):
        open_image(tmp_path / "missing.jpg")


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(ImageLoadError, match="not a file"):
        open_image(tmp_path)


def test_unsupported_source_type():
    with pytest.raises(ImageLoadError, match="file path, bytes or a PIL image"):
        open_image(42)


# --- refused ---------------------------------------------------------------------------


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageLoadError, match=r"empty \(0 bytes\)"):
        open_image(path)


def test_zero_bytes_of_data():
    with pytest.raises(ImageLoadError, match="empty"):
        open_image(b"")


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels\n" * 20)
    with pytest.raises(ImageLoadError, match="not an image file"):
        open_image(path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file(tmp_path, fmt):
    data = encode(noise(64, 64), fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match="truncated or corrupt") as caught:
        open_image(path)
    assert str(path) in str(caught.value)


def test_decompression_bomb_over_twice_the_limit(monkeypatch):
    data = encode(Image.new("RGB", (100, 100)), "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageLoadError, match="too large"):
        open_image(data)


def test_decompression_bomb_between_limit_and_twice_is_refused_too(monkeypatch):
    # PIL only warns in this range; a warning would let a huge image through.
    data = encode(Image.new("RGB", (40, 40)), "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageLoadError, match="too large"):
        open_image(data)


def test_in_memory_image_over_the_limit(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageLoadError, match="more than the limit of 1000"):
        open_image(Image.new("RGB", (40, 40)))


# --- converted -------------------------------------------------------------------------


def test_16bit_greyscale_is_scaled_not_clipped():
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    data = encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    loaded = pixels(open_image(data))
    np.testing.assert_array_equal(loaded[0, :, 0], [0, 1, 128, 255])
    np.testing.assert_array_equal(loaded[..., 0], loaded[..., 2])


def test_32bit_integer_greyscale_holding_16bit_data():
    values = np.array([[0, 65535, 13107]], dtype=np.int32)
    loaded = pixels(open_image(Image.fromarray(values)))
    np.testing.assert_array_equal(loaded[0, :, 1], [0, 255, 51])


def test_16bit_rgb_png():
    colours = np.array([[[65535, 0, 32896], [257 * 10, 257 * 200, 65535]]], dtype=np.uint16)
    loaded = pixels(open_image(png_rgb16(colours)))
    np.testing.assert_array_equal(loaded, [[[255, 0, 128], [10, 200, 255]]])


def test_float_greyscale_in_unit_range():
    values = np.array([[0.0, 0.5, 1.0, 2.0]], dtype=np.float32)
    loaded = pixels(open_image(Image.fromarray(values)))
    np.testing.assert_array_equal(loaded[0, :, 0], [0, 128, 255, 255])


def test_palette_image():
    image = Image.new("P", (2, 1))
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putpixel((1, 0), 1)
    loaded = pixels(open_image(encode(image, "PNG")))
    np.testing.assert_array_equal(loaded[0], [[255, 0, 0], [0, 0, 255]])


def test_palette_transparency_is_composited_over_grey():
    image = Image.new("P", (2, 1))
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putpixel((1, 0), 1)
    loaded = pixels(open_image(encode(image, "PNG", transparency=0)))
    np.testing.assert_array_equal(loaded[0], [NEUTRAL_BACKGROUND, [0, 0, 255]])


def test_cmyk_jpeg():
    image = Image.new("CMYK", (16, 16), (255, 0, 0, 0))  # pure cyan ink
    loaded = pixels(open_image(encode(image, "JPEG", quality=100)))
    assert loaded.shape == (16, 16, 3)
    np.testing.assert_allclose(loaded[8, 8], [0, 255, 255], atol=3)


def test_rgba_alpha_is_composited_over_neutral_grey():
    rgba = np.array(
        [[[255, 0, 0, 255], [255, 0, 0, 0], [0, 0, 255, 128]]],
        dtype=np.uint8,
    )
    loaded = pixels(open_image(encode(Image.fromarray(rgba), "PNG")))
    np.testing.assert_array_equal(loaded[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(loaded[0, 1], NEUTRAL_BACKGROUND)
    np.testing.assert_allclose(loaded[0, 2], [64, 64, 191], atol=1)


def test_greyscale_with_alpha():
    image = Image.fromarray(np.array([[[200, 255], [200, 0]]], dtype=np.uint8), mode="LA")
    loaded = pixels(open_image(encode(image, "PNG")))
    np.testing.assert_array_equal(loaded[0], [[200, 200, 200], NEUTRAL_BACKGROUND])


def test_greyscale():
    image = Image.fromarray(np.array([[0, 90, 255]], dtype=np.uint8))
    loaded = pixels(open_image(encode(image, "PNG")))
    np.testing.assert_array_equal(loaded[0], [[0, 0, 0], [90, 90, 90], [255, 255, 255]])


def test_one_bit_image():
    image = Image.new("1", (2, 1))
    image.putpixel((1, 0), 1)
    loaded = pixels(open_image(encode(image, "PNG")))
    np.testing.assert_array_equal(loaded[0], [[0, 0, 0], [255, 255, 255]])


def test_exif_orientation_is_applied():
    # Stored 20 wide x 10 high with a red top-left corner; orientation 6 means the
    # camera was turned: display rotated 90° clockwise, 10 wide x 20 high, red top-right.
    stored = np.zeros((10, 20, 3), dtype=np.uint8)
    stored[:3, :3] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    loaded = pixels(open_image(encode(Image.fromarray(stored), "PNG", exif=exif)))
    assert loaded.shape == (20, 10, 3)
    np.testing.assert_array_equal(loaded[0, -1], [255, 0, 0])
    np.testing.assert_array_equal(loaded[0, 0], [0, 0, 0])


def test_animated_gif_gives_the_first_frame():
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    loaded = pixels(open_image(data))
    np.testing.assert_array_equal(loaded[4, 4], [255, 0, 0])


def test_animated_image_left_on_a_later_frame_still_gives_the_first():
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((0, 255, 0), (0, 0, 255))]
    animated = Image.open(
        io.BytesIO(encode(frames[0], "GIF", save_all=True, append_images=frames[1:]))
    )
    animated.seek(1)
    np.testing.assert_array_equal(pixels(open_image(animated))[0, 0], [0, 255, 0])
