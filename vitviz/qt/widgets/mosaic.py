"""Small multiples: a table of equally sized maps drawn from one atlas image.

All cells are packed into one RGBA atlas with a one-pixel gutter (numpy, no per-cell
Python beyond a reshape) and drawn by :class:`MapView` (one ``drawImage``, its cells the
atlas's) at an integer zoom, with row and column labels around it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from vitviz.qt.widgets.map_view import MapView

GUTTER_RGBA = (40, 40, 40, 255)
ROW_HIGHLIGHT = QColor(0, 230, 255, 90)
MIN_ZOOM, MAX_ZOOM = 1, 24
RIGHT_MIDDLE = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
CENTRE_UNCLIPPED = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextDontClip


def label_step(label_size: int, cell_size: int) -> int:
    """Label every k-th cell so that labels of ``label_size`` pixels do not overlap."""
    return max(1, -(-label_size // max(cell_size, 1)))


def pack_atlas(cells: np.ndarray) -> np.ndarray:
    """Pack ``[R, C, h, w, 4]`` RGBA cells into one ``[R*(h+1), C*(w+1), 4]`` image.

    Each cell is followed by a one-pixel gutter to its right and below it.
    """
    n_rows, n_cols, h, w, _ = cells.shape
    atlas = np.empty((n_rows, h + 1, n_cols, w + 1, 4), dtype=np.uint8)  # [R, h+1, C, w+1, 4]
    atlas[...] = GUTTER_RGBA
    atlas[:, :h, :, :w] = cells.transpose(0, 2, 1, 3, 4)  # [R, h, C, w, 4]
    return atlas.reshape(n_rows * (h + 1), n_cols * (w + 1), 4)


class MosaicView(MapView):
    """A grid of maps with row and column labels; click a cell to pick it.

    Signals
    -------
    zoom_changed(int)
        The new zoom (screen pixels per map pixel).
    """

    zoom_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cell = (1, 1)  # cell height, cell width (gutter included)
        self._row_labels: list[str] = []
        self._col_labels: list[str] = []
        self.zoom = 4  # screen pixels per map pixel
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setMinimumSize(160, 120)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of cells shown."""
        return self.grid if self.has_map else (0, 0)

    def set_cells(
        self,
        cells: np.ndarray | None,
        row_labels: Sequence[str] = (),
        col_labels: Sequence[str] = (),
        placeholder: str = "No result yet",
    ) -> None:
        """Show ``[R, C, h, w, 4]`` uint8 RGBA ``cells`` (or nothing) with their labels."""
        before = (self.shape, self._cell, self._col_labels[-1:])
        self._row_labels, self._col_labels = list(row_labels), list(col_labels)
        if cells is None:
            self.set_map(None, placeholder=placeholder)
        else:
            self._cell = (cells.shape[2] + 1, cells.shape[3] + 1)
            self.set_map(pack_atlas(cells), grid=cells.shape[:2], placeholder=placeholder)
        if (self.shape, self._cell, self._col_labels[-1:]) != before:
            self.updateGeometry()
            self.adjustSize()

    def set_zoom(self, zoom: int) -> None:
        """Set screen pixels per map pixel (clamped to a sensible range)."""
        zoom = min(max(int(zoom), MIN_ZOOM), MAX_ZOOM)
        if zoom != self.zoom:
            self.zoom = zoom
            self.updateGeometry()
            self.adjustSize()
            self.update()
            self.zoom_changed.emit(zoom)

    def fit_zoom(self, available: QSize) -> int:
        """The largest zoom at which all cells fit in ``available`` (at least 1)."""
        (n_rows, n_cols), (h, w) = self.shape, self._cell
        left, top = self._margins()
        zoom_w = (available.width() - left - self._right_margin()) // max(n_cols * w, 1)
        zoom_h = (available.height() - top) // max(n_rows * h, 1)
        return max(MIN_ZOOM, min(zoom_w, zoom_h, MAX_ZOOM))

    def _margins(self) -> tuple[int, int]:
        metrics = self.fontMetrics()
        return metrics.horizontalAdvance("L00") + 6, metrics.height() + 4

    def _right_margin(self) -> int:
        # Room for the last column's label where it is wider than its thumbnail.
        if not self._col_labels:
            return 0
        return self.fontMetrics().horizontalAdvance(self._col_labels[-1]) // 2 + 2

    def target_rect(self) -> QRectF:
        (n_rows, n_cols), (h, w) = self.shape, self._cell
        left, top = self._margins()
        return QRectF(left, top, n_cols * w * self.zoom, n_rows * h * self.zoom)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        rect = self.target_rect()
        return QSize(int(rect.right()) + self._right_margin(), int(rect.bottom()))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        super().paintEvent(event)
        if not self.has_map:
            return
        painter = QPainter(self)
        painter.setPen(self.palette().text().color())
        metrics, (h, w), z = self.fontMetrics(), self._cell, self.zoom
        left, top = self._margins()
        # Small thumbnails cannot hold every label: label every k-th row / column.
        row_step = label_step(metrics.height(), h * z)
        # The head labels set the step; the last (fused) label is always drawn, centred.
        widest = max((metrics.horizontalAdvance(t) for t in self._col_labels[:-1]), default=0)
        col_step = label_step(widest + 4, w * z)
        n_cols = self.shape[1]
        for row, text in enumerate(self._row_labels[: self.shape[0]]):
            if row % row_step == 0:
                painter.drawText(QRect(0, top + row * h * z, left - 4, h * z), RIGHT_MIDDLE, text)
        for col, text in enumerate(self._col_labels[:n_cols]):
            # The last column (the fused one) is always named.
            if col == n_cols - 1 or (col % col_step == 0 and n_cols - 1 - col >= col_step):
                painter.drawText(QRect(left + col * w * z, 0, w * z, top), CENTRE_UNCLIPPED, text)
        if self.marker is not None:
            painter.fillRect(QRect(0, top + self.marker[0] * h * z, left - 2, h * z), ROW_HIGHLIGHT)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.set_zoom(self.zoom + (1 if event.angleDelta().y() > 0 else -1))
            event.accept()
            return
        super().wheelEvent(event)

    def readout(self, pos: QPointF) -> str:
        """Hover text: the thumbnail's layer and head, and the patch and value under ``pos``."""
        cell = self.cell_at(pos)
        if cell is None:
            return ""
        text = self.describe(*cell)
        if self.values is not None:  # [R, C, rows, cols]
            rect, (rows, cols) = self.cell_rect(*cell), self.values.shape[-2:]
            row = int((pos.y() - rect.top()) / rect.height() * self._cell[0])
            col = int((pos.x() - rect.left()) / rect.width() * self._cell[1])
            if row < rows and col < cols:  # not on the gutter
                text += f" · patch ({row}, {col}) = {float(self.values[cell][row, col]):.4g}"
        return text

    def describe(self, row: int, col: int) -> str:
        """Row and column labels of cell ``(row, col)`` (empty for ``(-1, -1)``: no cell)."""
        if row < 0:
            return ""
        row_text = self._row_labels[row] if row < len(self._row_labels) else str(row)
        col_text = self._col_labels[col] if col < len(self._col_labels) else str(col)
        return f"layer {row_text}, {col_text}"
