"""The panels in their docks: which panels, where they start, reset, and which one is current.

The layout is a table (:data:`PANELS`), so the default arrangement reads at a glance and
``View → Reset Layout`` can restore it.
"""

from __future__ import annotations

import importlib

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDockWidget, QFrame, QMainWindow, QScrollArea, QWidget

from vitviz.state import AppState

# (module under vitviz.qt.panels, class name, placement, anchor module). Placements, in
# order: "left" / "right" start a dock area, "below" / "beside" split the anchor's place
# vertically / horizontally, "tab" shares the anchor's place as a tab. Three columns:
# image over rollout / class map / tokens; heads grid over selected head; predictions over
# head statistics. Only one place holds tabs: with two, Qt 6 leaves a stray copy of the
# second tab bar on screen.
PANELS = (
    ("image_panel", "ImagePanel", "left", None),
    ("rollout_panel", "RolloutPanel", "below", "image_panel"),
    ("class_map", "ClassMapPanel", "tab", "rollout_panel"),
    ("heads_grid", "HeadsGridPanel", "right", None),
    ("predictions", "PredictionsPanel", "beside", "heads_grid"),
    ("selected_head", "SelectedHeadPanel", "below", "heads_grid"),
    ("head_stats_plot", "HeadStatsPlotPanel", "below", "predictions"),
    ("tokens", "TokensPanel", "tab", "rollout_panel"),
)
# Starting sizes: (docks, sizes in pixels, orientation).
SIZES = (
    (("image_panel", "heads_grid", "predictions"), (560, 560, 420), Qt.Orientation.Horizontal),
    (("image_panel", "rollout_panel"), (560, 380), Qt.Orientation.Vertical),
    (("predictions", "head_stats_plot"), (260, 680), Qt.Orientation.Vertical),
)


class PanelDocks:
    """The panels of :data:`PANELS` on ``state``, docked in ``window``: ``panels`` and
    ``docks`` by module name, and ``current_dock``, the one last clicked or focused."""

    def __init__(self, state: AppState, window: QMainWindow) -> None:
        self.window = window
        self.panels: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        area = Qt.DockWidgetArea
        areas = {"left": area.LeftDockWidgetArea, "right": area.RightDockWidgetArea}
        for module, class_name, placement, anchor in PANELS:
            panel_class = getattr(importlib.import_module(f"vitviz.qt.panels.{module}"), class_name)
            panel = self.panels[module] = panel_class(state)
            panel.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            # Movable, floatable and closable: QDockWidget's default features.
            dock = self.docks[module] = QDockWidget(panel.title, window)
            dock.setObjectName(f"dock_{module}")
            # A panel squeezed below its minimum scrolls, so the window fits small screens.
            scroll = QScrollArea(dock, frameShape=QFrame.Shape.NoFrame, widgetResizable=True)
            scroll.setWidget(panel)
            dock.setWidget(scroll)
            if placement in areas:
                window.addDockWidget(areas[placement], dock)
            elif placement == "tab":
                window.tabifyDockWidget(self.docks[anchor], dock)
            else:
                vertical = placement == "below"
                orientation = Qt.Orientation.Vertical if vertical else Qt.Orientation.Horizontal
                window.splitDockWidget(self.docks[anchor], dock, orientation)
        for _module, _class_name, placement, anchor in PANELS:
            if placement == "tab":
                self.docks[anchor].raise_()
        for names, sizes, orientation in SIZES:
            window.resizeDocks([self.docks[m] for m in names], sizes, orientation)
        self.current_dock = self.docks["image_panel"]
        self._default_layout = window.saveState()
        QApplication.instance().focusChanged.connect(self._on_focus_changed)

    def reset_layout(self) -> None:
        """Put every panel back where it started."""
        for dock in self.docks.values():
            dock.show()
        self.window.restoreState(self._default_layout)

    def current_panel(self) -> QWidget:
        """The panel last clicked or focused (the image panel at first)."""
        return self.current_dock.widget().widget()

    def close(self) -> None:
        """Stop following the focus (the window closes)."""
        QApplication.instance().focusChanged.disconnect(self._on_focus_changed)

    def _on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        widget = new
        while widget is not None:
            if isinstance(widget, QDockWidget) and widget in self.docks.values():
                self.current_dock = widget
                return
            widget = widget.parentWidget()
