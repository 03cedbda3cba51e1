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
    """The window's fixed toolbar of input and view options.

    Parameters
    ----------
    state : AppState
        The inputs (model, device, precision, preprocessing) and view (colormap,
        opacity) fields the controls are bound to.

    Attributes
    ----------
    model_picker : ModelPicker
        Its ``browse_requested`` / ``checkpoint_requested`` signals ask the window for
        the model and checkpoint dialogs.
    """

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__("Main", parent)
        self.setObjectName("main_toolbar")
        self.setMovable(False)
        self.model_picker = ModelPicker(state, self)
        self.addWidget(QLabel(" Model ", self))
        self.addWidget(self.model_picker)
        self.device_combo = self._combo("device_combo", "Device", state.inputs, "device", DEVICES)
        self.precision_combo = self._combo(
            "precision_combo", "Precision", state.inputs, "precision", PRECISIONS
        )
        self.addSeparator()
        self.mode_combo = self._combo(
            "mode_combo",
            "Preprocess",
            state.inputs,
            "preprocess_mode",
            PREPROCESS_MODES,
            MODE_LABELS,
        )
        self.addSeparator()
        self.colormap_combo = self._combo(
            "colormap_combo", "Colormap", state.view, "colormap", COLORMAPS
        )
        self.opacity_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setObjectName("toolbar_opacity")
        self.opacity_slider.setRange(0.0, 1.0)
        self.opacity_slider.setDecimals(2)
        self.opacity_slider.setMaximumWidth(180)
        bind_value(self.opacity_slider, state.view, "opacity")
        self.addWidget(QLabel(" Opacity ", self))
        self.addWidget(self.opacity_slider)
        self.addSeparator()
        self.addWidget(MassThresholdControl(state.view, self))

    def _combo(self, name, label, owner, field, values, labels=None) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName(name)
        combo.setToolTip(label)
        bind_combo(combo, owner, field, values, labels)
        self.addWidget(QLabel(f" {label} ", self))
        self.addWidget(combo)
        return combo
