"""Named layouts of the docks: Explore, Present and Inspect, each remembered as left.

A preset is the docks it shows, where some of them move and their starting sizes
(:data:`PRESETS`), laid out from the docks' default arrangement; what the user changes is
kept per preset with ``QMainWindow.saveState`` in the settings. Present is also full
screen with large fonts: ``state.view.presentation`` is true exactly while it is shown.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QMainWindow, QTabBar

from vitviz.qt.settings import Settings
from vitviz.qt.widgets.bindings import listen
from vitviz.qt.window.docks import AREAS

H, V = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
FONT_SCALE = 1.6  # Present's fonts, for the back of the room
# name → (docks shown (None: all), moves as (dock, a side area or the dock to go below),
# sizes as (docks, fractions of the window's width or height, orientation)).
PRESETS = {
    "explore": (
        None,
        (),
        (
            (("image_panel", "heads_grid"), (0.64, 0.36), V),
            (("image_panel", "rollout_panel", "selected_head"), (0.44, 0.32, 0.24), H),
            (("heads_grid", "predictions", "head_stats_plot"), (0.44, 0.31, 0.25), H),
        ),
    ),
    "present": (
        ("image_panel", "selected_head", "predictions"),
        (("predictions", "selected_head"),),
        (
            (("image_panel", "selected_head"), (0.5, 0.5), H),
            (("selected_head", "predictions"), (0.62, 0.38), V),
        ),
    ),
    "inspect": (
        ("image_panel", "selected_head", "heads_grid"),
        (("image_panel", "left"), ("selected_head", "image_panel"), ("heads_grid", "right")),
        (
            (("image_panel", "heads_grid"), (0.44, 0.56), H),
            (("image_panel", "selected_head"), (0.5, 0.5), V),
        ),
    ),
}


class Presets:
    """Switches ``window``'s docks between the :data:`PRESETS`, keeping each one's layout
    in ``settings``; ``current`` is the preset shown."""

    def __init__(self, window: QMainWindow, settings: Settings) -> None:
        self.window, self.settings = window, settings
        self.current = self.back = "explore"  # back: where leaving Present goes
        self._default = window.saveState()
        self._font, self._was_maximized = QFont(window.font()), False
        view = window.state.view
        listen(window, view.events.presentation, lambda on: self.show("present" if on else "back"))

    def show(self, name: str) -> None:
        """Show preset ``name`` ("back": the one before Present) as the user left it."""
        name = self.back if name == "back" else name
        if name == self.current:
            return
        window = self.window
        if self.current != "present":
            self._was_maximized = window.isMaximized()
        self.save()
        if name != "present":
            self.back = name
        self.current = name
        window.actions_by_name[f"layout_{name}"].setChecked(True)
        saved = self.settings.window_state(name)
        if saved is None or not window.restoreState(saved):
            self.reset()
        self._full_screen(name == "present")  # after restoreState, which leaves full screen
        window.toolbar.view_bar.setVisible(name != "present")  # beside the menus, not in the state
        window.state.view.presentation = name == "present"

    def restore(self, name: str) -> None:
        """Start in preset ``name`` as it was left (laid out afresh when never left)."""
        self.current = self.back = name
        self.window.actions_by_name[f"layout_{name}"].setChecked(True)
        saved = self.settings.window_state(name)
        if saved is not None:
            self.window.restoreState(saved)

    def save(self) -> None:
        """Remember the current preset's layout (and that it is the current one)."""
        self.settings.set_window_state(self.current, self.window.saveState())
        self.settings.remember("window/preset", self.current)

    def reset(self) -> None:
        """Lay the current preset out as it starts, sized to the window."""
        window, docks = self.window, self.window.docks
        shown, moves, sizes = PRESETS[self.current]
        window.restoreState(self._default)
        for name, anchor in moves:
            if anchor in AREAS:
                window.addDockWidget(AREAS[anchor], docks[name])
            else:
                window.splitDockWidget(docks[anchor], docks[name], V)
        for name in set(docks) - set(shown or docks):
            docks[name].setFloating(True)  # out of the tab group, which then goes
            docks[name].hide()
        hidden = {docks[name].windowTitle() for name in set(docks) - set(shown or docks)}
        for bar in window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if {bar.tabText(i) for i in range(bar.count())} & hidden:
                bar.hide()  # Qt 6 can leave the tab bar of hidden docks on screen
        window.toolbar.setVisible(self.current != "present")
        for names, fractions, orientation in sizes:
            length = window.width() if orientation == H else window.height()
            pixels = [round(f * length) for f in fractions]
            window.resizeDocks([docks[n] for n in names], pixels, orientation)

    def _full_screen(self, on: bool) -> None:
        window, font = self.window, QFont(self._font)
        font.setPointSizeF(self._font.pointSizeF() * (FONT_SCALE if on else 1))
        window.setFont(font)
        if on:
            window.showFullScreen()
        elif self._was_maximized:
            window.showMaximized()
        else:
            window.showNormal()
