"""The panels in their docks: which panels, where they start, reset, and which one is current.

The layout is a table (:data:`PANELS`), so the default arrangement reads at a glance and
``View → Reset Layout`` can restore it.
"""

from __future__ import annotations

import importlib

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QWidget

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


def load_panel(module: str, class_name: str):
    """The panel class ``vitviz.qt.panels.<module>.<class_name>``."""
    return getattr(importlib.import_module(f"vitviz.qt.panels.{module}"), class_name)


class PanelDocks:
    """Main-window mixin: builds the docked panels and tracks the one last focused.

    The window provides ``state`` and gets ``panels``, ``docks`` and ``current_dock``.
    """

    def _build_panels(self) -> None:
        areas = {
            "left": Qt.DockWidgetArea.LeftDockWidgetArea,
            "right": Qt.DockWidgetArea.RightDockWidgetArea,
        }
        for module, class_name, placement, anchor in PANELS:
            panel = load_panel(module, class_name)(self.state)
            panel.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            dock = QDockWidget(panel.title, self)
            dock.setObjectName(f"dock_{module}")
            dock.setWidget(panel)
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                | QDockWidget.DockWidgetFeature.DockWidgetClosable
            )
            if placement in areas:
                self.addDockWidget(areas[placement], dock)
            elif placement == "tab":
                self.tabifyDockWidget(self.docks[anchor], dock)
            else:
                orientation = (
                    Qt.Orientation.Vertical if placement == "below" else Qt.Orientation.Horizontal
                )
                self.splitDockWidget(self.docks[anchor], dock, orientation)
            self.panels[module] = panel
            self.docks[module] = dock
        for _module, _class_name, placement, anchor in PANELS:
            if placement == "tab":
                self.docks[anchor].raise_()
        self.resizeDocks(
            [self.docks[m] for m in ("image_panel", "heads_grid", "predictions")],
            [560, 560, 420],
            Qt.Orientation.Horizontal,
        )
        self.resizeDocks(
            [self.docks[m] for m in ("image_panel", "rollout_panel")],
            [560, 380],
            Qt.Orientation.Vertical,
        )
        self.resizeDocks(
            [self.docks[m] for m in ("predictions", "head_stats_plot")],
            [260, 680],
            Qt.Orientation.Vertical,
        )
        self.current_dock = self.docks["image_panel"]

    def reset_layout(self) -> None:
        """Put every panel back where it started."""
        for dock in self.docks.values():
            dock.show()
        self.restoreState(self._default_layout)

    def current_panel(self) -> QWidget:
        """The panel last clicked or focused (the image panel at first)."""
        dock = self.current_dock or self.docks["image_panel"]
        return dock.widget()

    def _on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        widget = new
        while widget is not None:
            if isinstance(widget, QDockWidget) and widget in self.docks.values():
                self.current_dock = widget
                return
            widget = widget.parentWidget()
