"""The main toolbar: model, device, precision, preprocessing, colormap, opacity, mass threshold.

Each control is bound two ways to its state field, so the toolbar, the menus, the
shortcuts and the panels always agree.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QToolBar, QWidget
from superqt import QLabeledDoubleSlider

from vitviz.qt.model_picker import ModelPicker
from vitviz.qt.widgets.bindings import bind_combo, bind_value
from vitviz.qt.widgets.mass_threshold import MassThresholdControl
from vitviz.state import AppState
from vitviz.state.inputs import DEVICES, PRECISIONS, PREPROCESS_MODES

COLORMAPS = ("inferno", "viridis", "magma", "plasma", "cividis", "turbo", "jet", "hot", "gray")
MODE_LABELS = ("Checkpoint crop", "Whole image", "Native aspect")


class MainToolbar(QToolBar):
    """The window's fixed toolbar of ``state``'s input and view options; its
    ``model_picker`` asks the window for the model and checkpoint dialogs."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__("Main", parent, objectName="main_toolbar", movable=False)
        self.model_picker = ModelPicker(state, self)
        self._add("Model", self.model_picker)
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
            None,
            ("colormap_combo", "Colormap", state.view, "colormap", COLORMAPS, None),
        )
        for combo in combos:
            if combo is None:
                self.addSeparator()
                continue
            name, label, owner, field, values, labels = combo
            widget = QComboBox(self, objectName=name, toolTip=label)
            bind_combo(widget, owner, field, values, labels)
            setattr(self, name, self._add(label, widget))
        self.opacity_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setObjectName("toolbar_opacity")
        self.opacity_slider.setRange(0.0, 1.0)
        self.opacity_slider.setDecimals(2)
        self.opacity_slider.setMaximumWidth(180)
        bind_value(self.opacity_slider, state.view, "opacity")
        self._add("Opacity", self.opacity_slider)
        self.addSeparator()
        self.addWidget(MassThresholdControl(state.view, self))

    def _add(self, label: str, widget: QWidget) -> QWidget:
        self.addWidget(QLabel(f" {label} ", self))
        self.addWidget(widget)
        return widget
