"""PNG encoding of figure pixels: one fixed row filter and fast zlib, deterministic bytes.

Pillow's encoder tries every PNG row filter on every row and keeps the best, which costs
about three times the compression itself at zlib level 1. Exported figures are mostly
flat margins and pictures magnified by whole factors: every pixel repeated along its row,
every row repeated. So a row equal to the one above gets the "Up" filter (all zeros) and
any other row the "Sub" filter (zeros where a pixel repeats its left neighbour), chosen
and applied with numpy, and zlib compresses the result: faster than Pillow, and smaller.
The same pixels always give the same bytes.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RGBA = 6  # PNG colour type
_SUB, _UP = 1, 2  # PNG filter types: difference with the pixel on the left, the row above
_METRES_PER_INCH = 0.0254


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _filtered(pixels: np.ndarray) -> bytes:
    """Rows prefixed by their filter byte: Up for a row equal to the one above, else Sub."""
    rows = pixels.reshape(pixels.shape[0], -1)  # [H, W * 4]
    filtered = np.empty((rows.shape[0], 1 + rows.shape[1]), np.uint8)  # [H, 1 + W * 4]
    repeated = np.zeros(rows.shape[0], bool)
    repeated[1:] = (rows[1:] == rows[:-1]).all(axis=1)
    filtered[:, 0] = np.where(repeated, _UP, _SUB)
    # Sub: each byte minus the same byte of the pixel on the left (wrapping modulo 256).
    filtered[:, 1:5] = rows[:, :4]
    np.subtract(rows[:, 4:], rows[:, :-4], out=filtered[:, 5:])
    filtered[repeated, 1:] = 0  # Up of a repeated row
    return filtered.tobytes()


def encode_png(rgba: np.ndarray, *, dpi: float, text: dict[str, str] | None = None) -> bytes:
    """PNG bytes of an ``[H, W, 4]`` uint8 picture.

    Parameters
    ----------
    rgba : np.ndarray
        Pixels, top row first.
    dpi : float
        Resolution recorded in the file (its ``pHYs`` chunk).
    text : dict of str to str, optional
        Latin-1 ``tEXt`` entries (e.g. ``{"Software": "vitviz"}``).

    Returns
    -------
    bytes
        The PNG file (8-bit RGBA).
    """
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected [H, W, 4] uint8 pixels, got {rgba.dtype} {rgba.shape}")
    height, width = rgba.shape[:2]
    header = struct.pack(">IIBBBBB", width, height, 8, _RGBA, 0, 0, 0)
    per_metre = round(dpi / _METRES_PER_INCH)
    parts = [
        _SIGNATURE,
        _chunk(b"IHDR", header),
        _chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
    ]
    for key, value in (text or {}).items():
        parts.append(_chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1")))
    parts.append(_chunk(b"IDAT", zlib.compress(_filtered(np.ascontiguousarray(rgba)), 1)))
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def write_png(rgba: np.ndarray, path: str | Path, *, dpi: float, text=None) -> Path:
    """Write :func:`encode_png`'s bytes to ``path``; returns the path."""
    path = Path(path)
    path.write_bytes(encode_png(rgba, dpi=dpi, text=text))
    return path
