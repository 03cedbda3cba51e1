"""The panels in their docks: which panels, where they start, and which one is current.

The arrangement is a table (:data:`PANELS`), so it reads at a glance; the layout presets
(:mod:`vitviz.qt.window.presets`) show, move and size the docks from it.
"""

from __future__ import annotations

import importlib

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDockWidget, QFrame, QMainWindow, QScrollArea, QWidget

from vitviz.state import AppState

# (module under vitviz.qt.panels, class name, placement, anchor module). Placements, in
# order: "top" / "bottom" start a dock area, "below" / "beside" split the anchor's place
# vertically / horizontally, "tab" shares the anchor's place as a tab. Two rows: the image,
# rollout / class map / tokens and the selected head over the heads grid, predictions and
# head statistics (:mod:`~vitviz.qt.window.presets` sizes them). Only one place holds
# tabs: with two, Qt 6 leaves a stray copy of the second tab bar on screen.
PANELS = (
    ("image_panel", "ImagePanel", "top", None),
    ("rollout_panel", "RolloutPanel", "beside", "image_panel"),
    ("selected_head", "SelectedHeadPanel", "beside", "rollout_panel"),
    ("class_map", "ClassMapPanel", "tab", "rollout_panel"),
    ("heads_grid", "HeadsGridPanel", "bottom", None),
    ("predictions", "PredictionsPanel", "beside", "heads_grid"),
    ("head_stats_plot", "HeadStatsPlotPanel", "beside", "predictions"),
    ("tokens", "TokensPanel", "tab", "rollout_panel"),
)
AREA = Qt.DockWidgetArea
AREAS = {
    side: getattr(AREA, f"{side.title()}DockWidgetArea")
    for side in ("top", "bottom", "left", "right")
}


class PanelDocks:
    """The panels of :data:`PANELS` on ``state``, docked in ``window``: ``panels`` and
    ``docks`` by module name, and ``current_dock``, the one last clicked or focused."""

    def __init__(self, state: AppState, window: QMainWindow) -> None:
        self.window = window
        self.panels: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        for corner in Qt.Corner:  # the side areas, which presets use, run the window's height
            side = "Left" if "Left" in corner.name else "Right"
            window.setCorner(corner, getattr(AREA, f"{side}DockWidgetArea"))
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
            if placement in AREAS:
                window.addDockWidget(AREAS[placement], dock)
            elif placement == "tab":
                window.tabifyDockWidget(self.docks[anchor], dock)
            else:
                vertical = placement == "below"
                orientation = Qt.Orientation.Vertical if vertical else Qt.Orientation.Horizontal
                window.splitDockWidget(self.docks[anchor], dock, orientation)
        for _module, _class_name, placement, anchor in PANELS:
            if placement == "tab":
                self.docks[anchor].raise_()
        self.current_dock = self.docks["image_panel"]
        QApplication.instance().focusChanged.connect(self._on_focus_changed)

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
