"""What the window remembers between runs: geometry, dock layout, colormap, opacity, inputs."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSize

from vitviz.qt.window.toolbar import COLORMAPS

DEFAULT_SIZE = QSize(1500, 950)


class WindowSettings:
    """Main-window mixin: restore and save through ``settings`` (a :class:`Settings`).

    The window provides ``state``, ``settings`` and ``model_picker``.
    """

    def _restore_settings(self) -> None:
        # The inputs (model, device, precision, mode) are the start-up's business
        # (vitviz.app), where command-line arguments override them.
        settings, view = self.settings, self.state.view
        colormap = settings.colormap(view.colormap)
        if colormap in COLORMAPS:
            view.colormap = colormap
        view.opacity = settings.opacity(view.opacity)
        geometry, layout = settings.window_geometry(), settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(DEFAULT_SIZE)
        if layout is not None:
            self.restoreState(layout)
        self.model_picker.remember(settings.last_model())

    def save_settings(self) -> None:
        """Remember layout, options and the model for the next run."""
        settings, inputs = self.settings, self.state.inputs
        settings.set_window_layout(
            self.saveGeometry() if not self.isFullScreen() else QByteArray(), self.saveState()
        )
        settings.set_colormap(self.state.view.colormap)
        settings.set_opacity(self.state.view.opacity)
        settings.set_device(inputs.device)
        settings.set_precision(inputs.precision)
        settings.set_preprocess_mode(inputs.preprocess_mode)
        if self.state.results.model is not None:
            settings.set_last_model(self.state.results.model.source)
        settings.sync()
