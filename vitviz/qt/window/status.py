"""The status bar's indicators: the error message, the status text, busy and download progress.

An error shows on one line (cut at the window's edge) until clicked, beside a Details button
that shows the whole message in a message box's details pane, selectable and copyable;
while the model works, an indeterminate bar (a download bar while weights download) and a
Cancel button show, with a busy cursor.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
)

from vitviz.qt.controller import Controller
from vitviz.qt.widgets.bindings import listen
from vitviz.state import AppState

ERROR_STYLE = "background: #7a1f1f; color: white; padding: 2px 8px; text-align: left; border: 0"


class StatusIndicators(QObject):
    """Fills ``window``'s status bar and keeps it showing ``state.results``'s error, status
    and busy fields; its Cancel button cancels ``controller``, whose download progress fills
    the busy bar."""

    def __init__(self, window: QMainWindow, state: AppState, controller: Controller) -> None:
        super().__init__(window)
        self.state = state
        # A button, so that a click dismisses the message; Ignored: a long message must not
        # widen the window past the screen (the tooltip and Details have it all).
        self.error_label = QPushButton(window, objectName="error_label", styleSheet=ERROR_STYLE)
        self.error_label.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the panels
        self.error_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.error_label.setCursor(Qt.CursorShape.PointingHandCursor)
        self.error_label.clicked.connect(lambda: setattr(state.results, "error", None))
        self.details_button = QPushButton("Details…", window, objectName="error_details_button")
        self.details_button.setToolTip("The whole message, to read or copy")
        self.details_button.clicked.connect(self.show_details)
        self.status_label = QLabel(window, objectName="status_label")
        self.busy_bar = QProgressBar(window, objectName="busy_bar", maximumWidth=220)
        self.cancel_button = QPushButton("Cancel", window, objectName="cancel_button")
        self.cancel_button.setToolTip("Stop waiting for the model and keep what is shown")
        self.cancel_button.clicked.connect(controller.cancel)
        controller.download_progress.connect(self.show_download)
        status = window.statusBar()
        status.addWidget(self.error_label, 1)
        status.addWidget(self.details_button)
        for widget in (self.status_label, self.busy_bar, self.cancel_button):
            status.addPermanentWidget(widget)
        listen(window, state.results.events.error, self.show_error)
        listen(window, state.results.events.status, lambda text: self.status_label.setText(text))
        listen(window, state.results.events.busy, self.show_busy)
        self.show_error(state.results.error)

    def show_error(self, message: str | None) -> None:
        """Show ``message`` on one line (whole in Details and the tooltip), or hide it."""
        self.details_button.setVisible(bool(message))
        self.error_label.setVisible(bool(message))
        self.error_label.setText(" ".join((message or "").split()) + "   ✕")
        self.error_label.setToolTip(f"{message}\n\n(click to dismiss)")

    def show_details(self) -> None:
        """The whole error message in a message box's details pane (read-only text:
        selectable and copyable)."""
        message = self.state.results.error
        if message:
            box = QMessageBox(self.error_label.window(), windowTitle="What went wrong")
            box.setIcon(QMessageBox.Icon.Warning)
            box.setText(message.splitlines()[0])
            box.setDetailedText(message)
            box.exec()

    def show_download(self, done: int, total: int) -> None:
        """Turn the busy indicator into a download bar (in MB: Qt's bar counts in int)."""
        if total > 0:
            self.busy_bar.setRange(0, max(1, total // 1_000_000))
            self.busy_bar.setValue(done // 1_000_000)
            self.busy_bar.setFormat("Downloading %v / %m MB")
            self.busy_bar.setTextVisible(True)

    def show_busy(self, busy: bool) -> None:
        """Show or hide the busy bar, the Cancel button and the busy cursor."""
        if not busy:
            self.busy_bar.setRange(0, 0)  # indeterminate: a forward pass has no progress
            self.busy_bar.setTextVisible(False)
        self.busy_bar.setVisible(bool(busy))
        self.cancel_button.setVisible(bool(busy))
        if busy:
            QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        else:
            while QApplication.overrideCursor() is not None:
                QApplication.restoreOverrideCursor()
