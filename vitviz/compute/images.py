"""Open an image from a path, bytes or PIL image and convert it to 8-bit RGB.

Every image the app shows or analyses passes through :func:`open_image`, which either
returns a plain RGB image or raises :class:`~vitviz.errors.ImageLoadError` saying what is
wrong. Conversions (:func:`to_rgb`): EXIF orientation applied, first frame of an animation,
transparency composited over :data:`NEUTRAL_BACKGROUND`, 16-bit and float greyscale scaled
to 8 bits, palette / CMYK / greyscale / YCbCr converted.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vitviz.errors import ImageLoadError

logger = logging.getLogger(__name__)

NEUTRAL_BACKGROUND = (128, 128, 128)
"""Colour under transparent pixels: mid grey, which biases no class towards light or dark."""

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


def open_image(source: str | os.PathLike | bytes | Image.Image) -> Image.Image:
    """Read a file path, the encoded bytes of an image file, or a PIL image as 8-bit RGB.

    Returns a new RGB image, fully loaded (no file handle kept open). Raises
    :class:`ImageLoadError` when the file is missing, empty, not an image, truncated or
    corrupt, too large (decompression-bomb limit), or in a colour mode that cannot be
    converted.
    """
    if isinstance(source, Image.Image):
        width, height = source.size
        if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
            raise ImageLoadError(
                f"the image: {width}x{height} pixels is more than the limit of "
                f"{Image.MAX_IMAGE_PIXELS}; downscale it first"
            )
        return _guarded(lambda: to_rgb(source), "the image")
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageLoadError("the image data is empty (0 bytes)")
        return _guarded(lambda: _decode(io.BytesIO(bytes(source))), "the image data")
    if not isinstance(source, (str, os.PathLike)):
        raise ImageLoadError(
            f"cannot read an image from a {type(source).__name__}; give a file path, bytes "
            "or a PIL image"
        )
    path = Path(source)
    if not path.exists():
        raise ImageLoadError(f"{path}: no such file")
    if not path.is_file():
        raise ImageLoadError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise ImageLoadError(f"{path}: the file is empty (0 bytes)")
    try:
        stream = path.open("rb")
    except PermissionError:
        raise ImageLoadError(f"{path}: permission denied") from None
    with stream:
        return _guarded(lambda: _decode(stream), str(path))


def _decode(stream) -> Image.Image:
    """Decode an encoded image fully and convert it."""
    with warnings.catch_warnings():
        # PIL only warns between the limit and twice the limit; refuse the whole range.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(stream) as image:
            image.load()
            return to_rgb(image)


def _guarded(read, name: str) -> Image.Image:
    """Run ``read()``, turning every PIL failure into an ImageLoadError about ``name``."""
    try:
        return read()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageLoadError(
            f"{name}: the image is too large to open safely ({error}); downscale it first"
        ) from None
    except UnidentifiedImageError:
        raise ImageLoadError(
            f"{name}: not an image file in a format PIL can read "
            "(PNG, JPEG, WebP, GIF, TIFF, BMP, ...)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        # PIL reports truncated or corrupt data as OSError ("image file is truncated"),
        # SyntaxError ("broken PNG file") or EOFError, depending on the format.
        raise ImageLoadError(f"{name}: the image is truncated or corrupt ({error})") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert a loaded PIL image to a new 8-bit RGB image (see the module docstring).

    16-bit greyscale is scaled by ``255/65535``, float greyscale read as ``[0, 1]``; raises
    :class:`ImageLoadError` when the colour mode cannot be converted.
    """
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    try:
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError) as error:
        # Broken EXIF must not make a readable image unusable; show it unrotated.
        logger.warning("ignoring unreadable EXIF orientation: %s", error)
    if image.mode in _SIXTEEN_BIT_MODES:
        image = _greyscale_to_8bit(np.asarray(image), 65535.0)
    elif image.mode == "F":
        image = _greyscale_to_8bit(np.asarray(image), 1.0)
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*NEUTRAL_BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError:
        raise ImageLoadError(
            f"images in colour mode {image.mode} cannot be converted to RGB; "
            "save it as an RGB PNG or JPEG"
        ) from None


def _greyscale_to_8bit(values: np.ndarray, full_scale: float) -> Image.Image:
    """Scale greyscale ``values`` with white at ``full_scale`` to an 8-bit ``L`` image."""
    scaled = np.nan_to_num(values.astype(np.float64) * (255.0 / full_scale))
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))
