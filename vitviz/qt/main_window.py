"""The main window: dock panels, menus, toolbar, status bar, files in and pictures out.

The window owns no analysis: panels read the state and write selections back, the
controller turns input changes into results. The window only gets images and models into
``state.inputs`` (files, drag and drop, clipboard, samples, the model picker), offers the
view options and shortcuts, and exports what is on screen. Each of those is a module of
:mod:`vitviz.qt.window`; this class composes them.
"""

from __future__ import annotations

import itertools

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QWidget

from vitviz.qt.controller import Controller
from vitviz.qt.settings import Settings
from vitviz.qt.widgets.bindings import listen
from vitviz.qt.window.actions import build_actions, build_menus
from vitviz.qt.window.commands import SelectionCommands
from vitviz.qt.window.docks import PanelDocks
from vitviz.qt.window.image_input import ImageInput
from vitviz.qt.window.model_input import ModelInput
from vitviz.qt.window.persistence import WindowSettings
from vitviz.qt.window.pictures import PicturesOut
from vitviz.qt.window.presentation import PresentationMode
from vitviz.qt.window.status import StatusIndicators
from vitviz.qt.window.toolbar import MainToolbar
from vitviz.state import AppState


class MainWindow(
    PanelDocks,
    ImageInput,
    ModelInput,
    SelectionCommands,
    PicturesOut,
    WindowSettings,
    QMainWindow,
):
    """The vitviz window.

    Parameters
    ----------
    state : AppState
        The shared state.
    controller : Controller
        Runs the model; cancelled from the busy indicator.
    settings : Settings, optional
        Where recent files, the last model and the layout are kept.
    """

    def __init__(
        self,
        state: AppState,
        controller: Controller,
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.controller = controller
        self.settings = settings or Settings()
        self.panels: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        self.current_dock: QDockWidget | None = None
        self._sample_index = itertools.count(1)  # sample 0 is the start-up image
        self._presentation = PresentationMode(self)
        self.setObjectName("vitviz_main_window")
        self.setWindowTitle("vitviz")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.setDockOptions(
            QMainWindow.DockOption.AllowTabbedDocks
            | QMainWindow.DockOption.AllowNestedDocks
            | QMainWindow.DockOption.AnimatedDocks
        )
        placeholder = QWidget(self)
        placeholder.setMaximumSize(0, 0)
        self.setCentralWidget(placeholder)
        self._build_panels()
        self._default_layout = self.saveState()
        self.actions_by_name: dict[str, QAction] = build_actions(self)
        build_menus(self, self.actions_by_name)
        self.toolbar = MainToolbar(state, self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self.toolbar.model_picker.browse_requested.connect(self.choose_model_dialog)
        self.toolbar.model_picker.checkpoint_requested.connect(self.open_checkpoint_dialog)
        self.status_indicators = StatusIndicators(self, state, controller)
        self._expose_controls()
        listen(self, state.results.events.model, self._on_model_shown)
        listen(self, state.results.events.image, lambda *_: self._update_title())
        listen(self, state.view.events.presentation, self._presentation.apply)
        listen(self, state.view.events.colormap, self.settings.set_colormap)
        QApplication.instance().focusChanged.connect(self._on_focus_changed)
        self._restore_settings()
        self.status_indicators.show_busy(state.results.busy)
        self._update_title()

    def _expose_controls(self) -> None:
        # The app, scripts and tests reach the toolbar's and status bar's controls
        # through the window.
        toolbar, indicators = self.toolbar, self.status_indicators
        self.model_picker = toolbar.model_picker
        self.device_combo = toolbar.device_combo
        self.precision_combo = toolbar.precision_combo
        self.mode_combo = toolbar.mode_combo
        self.colormap_combo = toolbar.colormap_combo
        self.opacity_slider = toolbar.opacity_slider
        self.error_label = indicators.error_label
        self.status_label = indicators.status_label
        self.busy_bar = indicators.busy_bar
        self.cancel_button = indicators.cancel_button

    def _on_model_shown(self, model) -> None:
        if model is not None:
            self.settings.set_last_model(model.source)
        self._update_title()

    def _update_title(self) -> None:
        results = self.state.results
        parts = ["vitviz"]
        if results.model is not None:
            parts.append(results.model.spec.name)
        if results.image is not None:
            parts.append(results.image.name)
        self.setWindowTitle(" — ".join(parts))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        self.save_settings()
        QApplication.instance().focusChanged.disconnect(self._on_focus_changed)
        self.status_indicators.show_busy(False)
        self.controller.cancel()
        super().closeEvent(event)
