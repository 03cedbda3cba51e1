"""numpy RGBA arrays to Qt images without per-pixel Python."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def rgba_to_qimage(rgba: np.ndarray) -> QImage:
    """An ``[h, w, 4]`` uint8 RGBA array (or ``[h, w, 3]``, opaque) as a QImage that owns a
    copy of the pixels."""
    if rgba.ndim != 3 or rgba.shape[2] not in (3, 4) or rgba.dtype != np.uint8:
        raise ValueError(f"expected an [h, w, 3|4] uint8 array, got {rgba.shape} {rgba.dtype}")
    rgba = np.ascontiguousarray(rgba)
    height, width, channels = rgba.shape
    kind = QImage.Format.Format_RGBA8888 if channels == 4 else QImage.Format.Format_RGB888
    # QImage borrows the buffer; copy() detaches it so the array may be freed.
    return QImage(rgba.data, width, height, channels * width, kind).copy()
