"""Ranked labels with horizontal probability bars; a click picks a row."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

BAR_COLOR = QColor(70, 130, 200)
SELECTED_COLOR = QColor(0, 230, 255, 70)
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class ProbabilityBars(QWidget):
    """One row per item: its label, a bar as long as its probability, and the percentage.

    Signals
    -------
    row_clicked(int)
        The row (0 = first item) that was clicked.
    """

    row_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.items: list[tuple[str, float]] = []  # the (label, probability) rows shown
        self.selected: int | None = None  # the highlighted row
        self._placeholder = "No result yet"
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def row_height(self) -> int:
        """Height of one row in pixels (follows the font, so presentation mode scales it)."""
        return self.fontMetrics().height() + 10

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(260, max(len(self.items), 1) * self.row_height() + 4)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(160, self.sizeHint().height())

    def set_items(self, items: Sequence[tuple[str, float]], placeholder: str = "") -> None:
        """Show ``(label, probability)`` rows (probability in 0..1), or the placeholder text."""
        self.items = [(str(label), float(p)) for label, p in items]
        self._placeholder = placeholder or "No result yet"
        self.updateGeometry()
        self.update()

    def set_selected(self, row: int | None) -> None:
        if row != self.selected:
            self.selected = row
            self.update()

    def row_rect(self, row: int) -> QRect:
        """Widget rectangle of ``row``."""
        height = self.row_height()
        return QRect(0, 2 + row * height, self.width(), height)

    def row_at(self, y: float) -> int | None:
        """The row at height ``y``, or None below the last row."""
        row = int((y - 2) // self.row_height())
        return row if 0 <= row < len(self.items) and y >= 2 else None

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        text_color = self.palette().text().color()
        if not self.items:
            painter.setPen(text_color)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            return
        metrics = self.fontMetrics()
        percent_w = metrics.horizontalAdvance("100.0%") + 8
        label_w = min(
            max(metrics.horizontalAdvance(label) for label, _ in self.items) + 12,
            self.width() // 2,
        )
        bar_w = max(self.width() - label_w - percent_w, 10)
        for row, (label, probability) in enumerate(self.items):
            rect = self.row_rect(row)
            if row == self.selected:
                painter.fillRect(rect, SELECTED_COLOR)
            painter.setPen(text_color)
            shown = metrics.elidedText(label, Qt.TextElideMode.ElideRight, label_w - 8)
            painter.drawText(rect.adjusted(4, 0, 0, 0), LEFT, shown)
            bar = QRect(label_w, rect.top() + 4, round(bar_w * probability), rect.height() - 8)
            painter.fillRect(bar, BAR_COLOR)
            painter.drawText(rect.adjusted(0, 0, -4, 0), RIGHT, f"{100 * probability:.1f}%")

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        row = self.row_at(event.position().y())
        if row is not None and event.button() == Qt.MouseButton.LeftButton:
            self.row_clicked.emit(row)
        super().mousePressEvent(event)
