"""The main window: dock panels, menus, toolbar, status bar, files in and pictures out.

The window owns no analysis: panels read the state and write selections back, the
controller turns input changes into results. The window composes small helpers, each
taking the state in its constructor (:mod:`vitviz.qt.window`): the docked panels
(``panel_docks``), images in (``images``), models in (``models``), keyboard commands
(``commands``), pictures out (``pictures``), settings (``persistence``), the toolbar and
the status bar; its actions and menus are built from tables.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import QMainWindow, QWidget

from vitviz.qt.controller import Controller
from vitviz.qt.deck_action import add_deck_action
from vitviz.qt.domain_note import DomainNote
from vitviz.qt.settings import Settings
from vitviz.qt.widgets.bindings import listen
from vitviz.qt.window.actions import build_actions, build_menus, command_slots
from vitviz.qt.window.commands import SelectionCommands
from vitviz.qt.window.docks import PanelDocks
from vitviz.qt.window.image_input import ImageInput
from vitviz.qt.window.model_input import ModelInput
from vitviz.qt.window.persistence import WindowSettings, fit_to_screen
from vitviz.qt.window.pictures import PicturesOut
from vitviz.qt.window.presentation import PresentationMode
from vitviz.qt.window.status import StatusIndicators
from vitviz.qt.window.toolbar import MainToolbar
from vitviz.state import AppState


class MainWindow(QMainWindow):
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
        self.setObjectName("vitviz_main_window")
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
        self.panel_docks = PanelDocks(state, self)
        self.panels, self.docks = self.panel_docks.panels, self.panel_docks.docks
        self.images = ImageInput(state, self.settings, self)
        self.models = ModelInput(state, self.settings, self)
        self.commands = SelectionCommands(state, self)
        self.pictures = PicturesOut(state, self)
        self.persistence = WindowSettings(state, self.settings, self)
        self.toolbar = MainToolbar(state, self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self.toolbar.model_picker.browse_requested.connect(self.models.choose_model_dialog)
        self.toolbar.model_picker.checkpoint_requested.connect(self.models.open_checkpoint_dialog)
        self.model_picker = self.toolbar.model_picker
        self.status = StatusIndicators(self, state, controller)
        self.actions_by_name = build_actions(self, command_slots(self))
        build_menus(
            self,
            self.actions_by_name,
            {
                "recent": self._recent_menu,
                "hopper": lambda menu: menu.addAction(
                    "Grace Hopper (matplotlib)", self.images.open_grace_hopper
                ),
                "deck": lambda menu: add_deck_action(self, menu),
                "panels": lambda menu: [
                    menu.addAction(dock.toggleViewAction()) for dock in self.docks.values()
                ],
            },
        )
        presentation = PresentationMode(self)
        listen(self, state.results.events.model, self._on_model_shown)
        listen(self, state.results.events.image, lambda *_: self._update_title())
        listen(self, state.view.events.presentation, presentation.apply)
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
        results = self.state.results
        parts = ["vitviz"]
        if results.model is not None:
            parts.append(results.model.spec.name)
        if results.image is not None:
            parts.append(results.image.name)
        self.setWindowTitle(" — ".join(parts))

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if not self._fitted:  # the frame's size is known once the window is shown
            self._fitted = True
            fit_to_screen(self)

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
