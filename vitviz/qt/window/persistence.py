"""What the window remembers between runs: geometry, dock layout, colormap, opacity, inputs."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSize
from PySide6.QtWidgets import QMainWindow

from vitviz.qt.settings import CHOICES, Settings
from vitviz.qt.window.toolbar import COLORMAPS
from vitviz.state import AppState

DEFAULT_SIZE = QSize(1500, 950)


def fit_to_screen(window: QMainWindow) -> None:
    """Shrink and move ``window`` so that its frame lies within its screen's available area."""
    available = window.screen().availableGeometry()
    frame = window.frameGeometry()
    # The frame (title bar, borders) around the client area counts against the screen.
    extra = frame.size() - window.size()
    size = window.size().boundedTo(available.size() - extra)
    window.resize(size)
    frame.setSize(size + extra)
    frame.moveLeft(min(max(frame.left(), available.left()), available.right() - frame.width() + 1))
    frame.moveTop(min(max(frame.top(), available.top()), available.bottom() - frame.height() + 1))
    window.move(frame.topLeft())


class WindowSettings:
    """Restores ``window``'s geometry and dock layout and ``state``'s view options from
    ``settings``, and saves them with the inputs and the model."""

    def __init__(self, state: AppState, settings: Settings, window: QMainWindow) -> None:
        self.state, self.settings, self.window = state, settings, window

    def restore(self) -> None:
        """Restore the view options, geometry (at most the screen's) and layout."""
        # The inputs (model, device, precision, mode) are the start-up's business
        # (vitviz.app), where command-line arguments override them.
        settings, view, window = self.settings, self.state.view, self.window
        colormap = settings.colormap(view.colormap)
        if colormap in COLORMAPS:
            view.colormap = colormap
        view.opacity = settings.opacity(view.opacity)
        geometry = settings.window_geometry()
        if geometry is None or not window.restoreGeometry(geometry):
            window.resize(DEFAULT_SIZE)
        fit_to_screen(window)
        window.presets.restore(settings.preset())

    def save(self) -> None:
        """Remember layout, opacity and inputs for the next run (the window remembers the
        colormap and the model as they change)."""
        settings, inputs, window = self.settings, self.state.inputs, self.window
        settings.remember(
            "window/geometry", window.saveGeometry() if not window.isFullScreen() else QByteArray()
        )
        window.presets.save()
        settings.remember("opacity", float(self.state.view.opacity))
        for key in CHOICES:
            settings.remember(key, getattr(inputs, key))
        settings.sync()
