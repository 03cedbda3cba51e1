"""The status bar's indicators: the error message, the status text, busy and download progress.

An error shows as a red label (on one line, cut by the window's edge) until clicked, with a Details
button that shows the whole message, selectable and copyable; while the model works, an
indeterminate bar (a download bar while weights download) and a Cancel button show, with
a busy cursor.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSizePolicy,
)

from vitviz.qt.controller import Controller
from vitviz.qt.widgets.bindings import listen
from vitviz.state import AppState


class StatusIndicators(QObject):
    """Fills ``window``'s status bar and keeps it showing ``state.results``.

    Parameters
    ----------
    window : QMainWindow
        Whose status bar gets the indicators.
    state : AppState
        Its error, status and busy fields are shown; a click on the error clears it.
    controller : Controller
        Cancelled by the Cancel button; its download progress fills the busy bar.
    """

    def __init__(self, window: QMainWindow, state: AppState, controller: Controller) -> None:
        super().__init__(window)
        self.state = state
        self.error_label = QLabel(window)
        self.error_label.setObjectName("error_label")
        self.error_label.setStyleSheet(
            "QLabel { background: #7a1f1f; color: white; padding: 2px 8px; border-radius: 3px; }"
        )
        self.error_label.setWordWrap(False)
        # A long message must not widen the window past the screen: the tooltip has it all.
        self.error_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.error_label.setCursor(Qt.CursorShape.PointingHandCursor)
        self.error_label.installEventFilter(self)
        self.error_label.hide()
        self.details_button = QPushButton("Details…", window)
        self.details_button.setObjectName("error_details_button")
        self.details_button.setToolTip("The whole message, to read or copy")
        self.details_button.clicked.connect(self.show_details)
        self.details_button.hide()
        self.status_label = QLabel(window)
        self.status_label.setObjectName("status_label")
        self.busy_bar = QProgressBar(window)
        self.busy_bar.setObjectName("busy_bar")
        self.busy_bar.setRange(0, 0)  # indeterminate: a forward pass has no progress
        self.busy_bar.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel", window)
        self.cancel_button.setObjectName("cancel_button")
        self.cancel_button.setToolTip("Stop waiting for the model and keep what is shown")
        self.cancel_button.clicked.connect(controller.cancel)
        controller.download_progress.connect(self.show_download)
        status = window.statusBar()
        status.addWidget(self.error_label)
        status.addWidget(self.details_button)
        status.addPermanentWidget(self.status_label)
        status.addPermanentWidget(self.busy_bar)
        status.addPermanentWidget(self.cancel_button)
        listen(window, state.results.events.error, self.show_error)
        listen(window, state.results.events.status, self.show_status)
        listen(window, state.results.events.busy, self.show_busy)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is self.error_label and event.type() == QEvent.Type.MouseButtonPress:
            self.state.results.error = None  # a click dismisses the message
            return True
        return super().eventFilter(watched, event)

    def show_error(self, message: str | None) -> None:
        """Show ``message`` on one line (whole in Details and the tooltip), or hide it."""
        self.details_button.setVisible(bool(message))
        if message:
            self.error_label.setText(" ".join(message.split()) + "   ✕")
            self.error_label.setToolTip(f"{message}\n\n(click to dismiss)")
            self.error_label.show()
        else:
            self.error_label.hide()

    def show_details(self) -> None:
        """The whole error message in a dialog, selectable and copyable."""
        from vitviz.qt.error_details import ErrorDetailsDialog

        if self.state.results.error:
            ErrorDetailsDialog(self.state.results.error, self.error_label.window()).exec()

    def show_status(self, text: str) -> None:
        """Show ``text`` at the status bar's right."""
        self.status_label.setText(text)

    def show_download(self, done: int, total: int) -> None:
        """Turn the busy indicator into a download bar (in MB: Qt's bar counts in int)."""
        if total <= 0:
            return
        self.busy_bar.setRange(0, max(1, total // 1_000_000))
        self.busy_bar.setValue(done // 1_000_000)
        self.busy_bar.setFormat("Downloading %v / %m MB")
        self.busy_bar.setTextVisible(True)

    def show_busy(self, busy: bool) -> None:
        """Show or hide the busy bar, the Cancel button and the busy cursor."""
        if not busy:
            self.busy_bar.setRange(0, 0)
            self.busy_bar.setTextVisible(False)
        self.busy_bar.setVisible(bool(busy))
        self.cancel_button.setVisible(bool(busy))
        if busy:
            QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        else:
            while QApplication.overrideCursor() is not None:
                QApplication.restoreOverrideCursor()
