"""The main toolbar: model, device, precision, preprocessing, colormap, mass threshold.

The opacity slider is the image panel's (and + / -).

Each control is bound two ways to its state field, so the toolbar, the menus, the
shortcuts and the panels always agree.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLabel, QToolBar, QWidget

from vitviz.qt.model_picker import ModelPicker
from vitviz.qt.widgets.bindings import bind_combo
from vitviz.qt.widgets.mass_threshold import MassThresholdControl
from vitviz.state import AppState
from vitviz.state.inputs import DEVICES, PRECISIONS, PREPROCESS_MODES

COLORMAPS = ("inferno", "viridis", "magma", "plasma", "cividis", "turbo", "jet", "hot", "gray")
MODE_LABELS = ("Checkpoint crop", "Whole image", "Native aspect")


class MainToolbar(QToolBar):
    """The window's fixed toolbar of ``state``'s inputs, and ``view_bar`` of its view
    options (beside the menus, so that one row fits 1024 px); its ``model_picker`` asks
    the window for the model and checkpoint dialogs."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__("Main", parent, objectName="main_toolbar", movable=False)
        self.view_bar = QToolBar("View", parent, objectName="view_toolbar", movable=False)
        self.model_picker = ModelPicker(state, self)
        self._add(self, "Model", self.model_picker)
        # (attribute, label, state part, field, values, labels); a separator before None.
        combos = (
            ("device_combo", "Device", state.inputs, "device", DEVICES, None),
            ("precision_combo", "Precision", state.inputs, "precision", PRECISIONS, None),
            None,
            (
                "mode_combo",
                "Preprocess",
                state.inputs,
                "preprocess_mode",
                PREPROCESS_MODES,
                MODE_LABELS,
            ),
            ("colormap_combo", "Colormap", state.view, "colormap", COLORMAPS, None),
        )
        for combo in combos:
            if combo is None:
                self.addSeparator()
                continue
            name, label, owner, field, values, labels = combo
            bar = self.view_bar if owner is state.view else self
            widget = QComboBox(bar, objectName=name, toolTip=label)
            bind_combo(widget, owner, field, values, labels)
            setattr(self, name, self._add(bar, label, widget))
        self.view_bar.addSeparator()
        self.view_bar.addWidget(MassThresholdControl(state.view, self.view_bar))

    @staticmethod
    def _add(bar: QToolBar, label: str, widget: QWidget) -> QWidget:
        bar.addWidget(QLabel(f" {label} ", bar))
        bar.addWidget(widget)
        return widget
