"""A horizontal colour bar: the colormap's gradient with its low and high values."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from vitviz.compute import render
from vitviz.qt.qimage import rgba_to_qimage


class ColorBar(QWidget):
    """Shows which colour means which value for the map beside it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cmap = ""
        self._gradient = None
        self._low = self._high = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(200, self.fontMetrics().height() + 12)

    @property
    def labels(self) -> tuple[str, str]:
        """The texts at the low and high ends."""
        return self._low, self._high

    def set_range(self, cmap: str, vmin: float | None, vmax: float | None) -> None:
        """Show colormap ``cmap`` from ``vmin`` to ``vmax`` (None: no values known)."""
        if cmap != self._cmap:
            lut = render.colormap_lut(cmap)  # [n, 4]
            self._gradient = rgba_to_qimage(np.ascontiguousarray(lut[None]))
            self._cmap = cmap
        self._low = "" if vmin is None else f"{vmin:.3g}"
        self._high = "" if vmax is None else f"{vmax:.3g}"
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        if self._gradient is None:
            return
        painter = QPainter(self)
        metrics = self.fontMetrics()
        label_w = max(metrics.horizontalAdvance(t) for t in (self._low, self._high, "0.000")) + 6
        bar = QRect(label_w, 4, max(self.width() - 2 * label_w, 10), self.height() - 8)
        painter.drawImage(bar, self._gradient)
        painter.setPen(self.palette().text().color())
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(QRect(0, 0, label_w - 4, self.height()), right, self._low)
        painter.drawText(QRect(bar.right() + 4, 0, label_w, self.height()), left, self._high)
