"""The main window: dock panels, menus, toolbar, status bar, files in and pictures out.

The window owns no analysis: panels read the state and write selections back, the
controller turns input changes into results. The window composes small helpers, each
taking the state in its constructor (:mod:`vitviz.qt.window`): the docked panels
(``panel_docks``), images in (``images``), models in (``models``), pictures out
(``pictures``), settings (``persistence``), the toolbar and the status bar; its actions and
menus are built from tables.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import QMainWindow, QWidget

from vitviz.qt.controller import Controller
from vitviz.qt.domain_note import DomainNote
from vitviz.qt.settings import Settings
from vitviz.qt.widgets.bindings import listen
from vitviz.qt.window.actions import build_actions, build_menus, command_slots
from vitviz.qt.window.docks import PanelDocks
from vitviz.qt.window.image_input import ImageInput
from vitviz.qt.window.model_input import ModelInput
from vitviz.qt.window.persistence import WindowSettings, fit_to_screen
from vitviz.qt.window.pictures import PicturesOut
from vitviz.qt.window.presets import Presets
from vitviz.qt.window.status import StatusIndicators
from vitviz.qt.window.toolbar import MainToolbar
from vitviz.state import AppState


class MainWindow(QMainWindow):
    """The vitviz window on ``state``; ``controller`` runs the model (cancelled from the busy
    indicator); ``settings`` keep recent files, the last model and the layout."""

    def __init__(
        self,
        state: AppState,
        controller: Controller,
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.state, self.controller = state, controller
        self.settings = settings or Settings()
        self.setObjectName("vitviz_main_window")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        options = QMainWindow.DockOption
        self.setDockOptions(
            options.AllowTabbedDocks | options.AllowNestedDocks | options.AnimatedDocks
        )
        self.setCentralWidget(QWidget(self, maximumSize=QSize(0, 0)))
        self.panel_docks = PanelDocks(state, self)
        self.panels, self.docks = self.panel_docks.panels, self.panel_docks.docks
        self.images = ImageInput(state, self.settings, self)
        self.models = ModelInput(state, self.settings, controller, self)
        self.pictures = PicturesOut(state, self.settings, self)
        self.toolbar = MainToolbar(state, self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self.menuBar().setCornerWidget(self.toolbar.view_bar)
        self.presets = Presets(self, self.settings)
        self.persistence = WindowSettings(state, self.settings, self)
        self.model_picker = self.toolbar.model_picker
        self.model_picker.browse_requested.connect(self.models.choose_model_dialog)
        self.model_picker.checkpoint_requested.connect(self.models.open_checkpoint_dialog)
        self.status = StatusIndicators(self, state, controller)
        self.actions_by_name = build_actions(self, command_slots(self))
        fillers = {
            "recent": self._recent_menu,
            "hopper": lambda menu: menu.addAction(
                "Grace Hopper (matplotlib)", self.images.open_grace_hopper
            ),
            "panels": lambda menu: [
                menu.addAction(d.toggleViewAction()) for d in self.docks.values()
            ],
        }
        build_menus(self, self.actions_by_name, fillers)
        listen(self, state.results.events.model, self._on_model_shown)
        listen(self, state.results.events.image, lambda *_: self._update_title())
        listen(self, state.view.events.colormap, partial(self.settings.remember, "colormap"))
        self._fitted = False
        self.persistence.restore()
        self.domain_note = DomainNote(state, self)  # after restore: its visibility is the state's
        self.model_picker.remember(self.settings.last_model())
        self.status.show_busy(state.results.busy)
        self._update_title()

    def _recent_menu(self, menu) -> None:
        self.recent_menu = menu
        menu.aboutToShow.connect(lambda: self.images.fill_recent_menu(menu))

    def _on_model_shown(self, model) -> None:
        if model is not None:
            self.settings.remember("last_model", model.source)
        self._update_title()

    def _update_title(self) -> None:
        model, image = self.state.results.model, self.state.results.image
        parts = ("vitviz", model and model.spec.name, image and image.name)
        self.setWindowTitle(" — ".join(part for part in parts if part))

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if not self._fitted:  # the frame's size is known once the window is shown
            self._fitted = True
            fit_to_screen(self)
            if self.settings.window_state(self.presets.current) is None:
                self.presets.reset()  # sized to the window, now that its size is known

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        if self.images.accepts(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt API)
        self.images.drop(event.mimeData())
        event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        self.persistence.save()
        self.panel_docks.close()
        self.status.show_busy(False)
        self.controller.cancel()
        super().closeEvent(event)
