"""DINO's mass threshold as a control: "Keep top mass" and the fraction ``t`` kept."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QWidget
from superqt import QLabeledDoubleSlider

from vitviz.qt.widgets.bindings import listen
from vitviz.state import ViewOptions


class MassThresholdControl(QWidget):
    """Writes ``view.mass_threshold``: the slider's ``t`` while checked, None while not."""

    def __init__(self, view: ViewOptions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.check = QCheckBox("Keep top mass", self)
        self.check.setToolTip("Keep the smallest set of patches holding this fraction of each map")
        self.slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0.1, 0.95)
        self.slider.setDecimals(2)
        self.slider.setValue(0.6)  # DINO's figures
        self.slider.setFixedWidth(160)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.check)
        layout.addWidget(self.slider)
        layout.addStretch(1)
        self.check.toggled.connect(self._store)
        self.slider.valueChanged.connect(self._store)
        listen(self, view.events.mass_threshold, self._show)
        self._show(view.mass_threshold)

    def _store(self, *_) -> None:
        self.view.mass_threshold = self.slider.value() if self.check.isChecked() else None

    def _show(self, fraction: float | None) -> None:
        with QSignalBlocker(self.check), QSignalBlocker(self.slider):
            self.check.setChecked(fraction is not None)
            if fraction is not None:
                self.slider.setValue(fraction)
            self.slider.setEnabled(fraction is not None)
