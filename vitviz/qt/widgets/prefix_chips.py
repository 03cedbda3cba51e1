"""The prefix tokens (CLS, DIST, REG0…) as a row or column of chips; the query's is checked.

Prefix tokens have no place on the image, so they get buttons of their own beside it.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QBoxLayout, QButtonGroup, QToolButton, QWidget


class PrefixChips(QWidget):
    """One checkable chip per prefix token, in token order.

    Signals
    -------
    chosen(int)
        A chip was clicked: the index of its token.
    """

    chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None, direction=QBoxLayout.Direction.TopToBottom):
        super().__init__(parent)
        self.setObjectName("prefix_chips")
        self._layout = QBoxLayout(direction, self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.group = QButtonGroup(self)
        self.group.setExclusive(False)
        self.group.idClicked.connect(self.chosen)
        self._labels: tuple[str, ...] = ()

    def show_tokens(self, labels: tuple[str, ...], query: int) -> None:
        """One chip per label, chip ``i`` for token ``i`` (rebuilt only when the labels
        change); check the chip of token ``query``."""
        if labels != self._labels:
            self._labels = labels
            for button in self.group.buttons():
                self.group.removeButton(button)
                button.deleteLater()
            for index, label in enumerate(labels):
                chip = QToolButton(self)
                chip.setText(label)
                chip.setCheckable(True)
                chip.setObjectName(f"chip_{label}")
                chip.setToolTip(f"Query the {label} token")
                self.group.addButton(chip, index)
                self._layout.addWidget(chip)
        for button in self.group.buttons():
            button.setChecked(self.group.id(button) == query)

    @property
    def buttons(self) -> list[QToolButton]:
        """One chip per prefix token, in token order."""
        return sorted(self.group.buttons(), key=self.group.id)
