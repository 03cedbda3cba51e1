"""The whole of an error message: wrapped, selectable, and copied with one click.

The status bar has room for one line; a failed load can say much more (every key a
checkpoint lacks). This dialog shows all of it.
"""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)


class ErrorDetailsDialog(QDialog):
    """An error's first line as a heading, and the whole message in a read-only text box.

    Parameters
    ----------
    message : str
        The error message, lines separated by ``\\n``.
    parent : QWidget, optional
    """

    def __init__(self, message: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("What went wrong")
        self.message = message
        heading = QLabel(message.splitlines()[0] if message else "", self)
        heading.setWordWrap(True)
        heading.setObjectName("heading")
        self.text = QPlainTextEdit(message, self)
        self.text.setObjectName("details")
        self.text.setReadOnly(True)  # selectable and copyable, not editable
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.copy_button = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(640, 320)

    def copy(self) -> None:
        """Put the whole message on the clipboard."""
        QGuiApplication.clipboard().setText(self.message)
