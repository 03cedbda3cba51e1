"""Attention rollout (Abnar & Zuidema 2020) with its controls and a layer slider.

The controller's worker rolls out every query up to every selected layer whenever the
result or the options change (``results.rollout``); following another query or moving the
layer slider only reads a row of it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider, QLabeledSlider

from vitviz.qt.widgets.bindings import bind_combo, bind_value, listen
from vitviz.qt.widgets.guard import shows_errors
from vitviz.qt.widgets.image_map import ImageMapView
from vitviz.qt.widgets.labels import token_label
from vitviz.state import AppState
from vitviz.state.view import FUSIONS

PLAY_INTERVAL_MS = 500
LAST_LAYER = -1
"""Spin-box value standing for ``end_layer=None`` (the model's last block)."""


class RolloutPanel(QWidget):
    """Rollout of the class token (or the selected query) up to any layer."""

    title = "Rollout"

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        options = state.rollout

        self.fusion = QComboBox()
        bind_combo(self.fusion, options, "fusion", FUSIONS)
        self.query = QComboBox()
        bind_combo(
            self.query, options, "follow_query", [False, True], ["class token", "selected token"]
        )
        self.discard = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.discard.setRange(0.0, 0.99)
        self.discard.setDecimals(2)
        self.discard.setToolTip("Fraction of the lowest attention entries zeroed in each layer")
        bind_value(self.discard, options, "discard_ratio")
        self.residual_weight = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.residual_weight.setRange(0.0, 1.0)
        self.residual_weight.setDecimals(2)
        self.residual_weight.setToolTip(
            "w in (1 − w)·A + w·I: the weight of the residual (identity) path "
            "(0.5 is Abnar & Zuidema's (A + I) / 2)"
        )
        bind_value(self.residual_weight, options, "residual")
        self.start_layer = QSpinBox()
        bind_value(self.start_layer, options, "start_layer")
        self.end_layer = QSpinBox()
        self.end_layer.setMinimum(LAST_LAYER)
        self.end_layer.setSpecialValueText("last")
        bind_value(
            self.end_layer,
            options,
            "end_layer",
            to_widget=lambda v: LAST_LAYER if v is None else v,
            to_state=lambda v: None if v == LAST_LAYER else v,
        )
        self.layer_slider = QLabeledSlider(Qt.Orientation.Horizontal)
        self.layer_slider.setToolTip("Show the rollout accumulated up to this layer")
        self.layer_slider.valueChanged.connect(self._on_slider)
        self.play = QToolButton()
        self.play.setText("▶")
        self.play.setCheckable(True)
        self.play.setToolTip("Step through the layers: how the picture forms")
        self.play.toggled.connect(self._on_play)
        self._timer = QTimer(self)
        self._timer.setInterval(PLAY_INTERVAL_MS)
        self._timer.timeout.connect(self.step_shown_layer)
        self.map = ImageMapView(state)
        self.caption = QLabel()

        # Two columns of controls, so that the map keeps most of a short panel.
        form = QGridLayout()
        form.addWidget(QLabel("query"), 0, 0)
        form.addWidget(self.query, 0, 1)
        form.addWidget(QLabel("fusion"), 0, 2)
        form.addWidget(self.fusion, 0, 3)
        form.addWidget(QLabel("discard"), 1, 0)
        form.addWidget(self.discard, 1, 1)
        form.addWidget(QLabel("residual"), 1, 2)
        form.addWidget(self.residual_weight, 1, 3)
        layers = QHBoxLayout()
        layers.addWidget(self.start_layer)
        layers.addWidget(QLabel("to"))
        layers.addWidget(self.end_layer)
        layers.addStretch(1)
        form.addWidget(QLabel("layers"), 2, 0)
        form.addLayout(layers, 2, 1, 1, 3)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.map, 1)
        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("up to layer"))
        slider_row.addWidget(self.layer_slider, 1)
        slider_row.addWidget(self.play)
        layout.addLayout(slider_row)
        layout.addWidget(self.caption)

        results, events = state.results.events, state.rollout.events
        listen(self, results.model, self._update_ranges)
        listen(self, results.rollout, self.render_all)
        listen(self, state.selection.events.query, self._on_query)
        listen(self, events.follow_query, self.render_all)
        listen(self, events.shown_layer, self.render_all)
        listen(self, state.view.events.drop_prefix, self.render_all)
        self._update_ranges()
        self.render_all()

    @property
    def maps(self) -> np.ndarray | None:
        """``[n_selected, rows, cols]``: the rollout up to each selected layer, or None."""
        rollout = self.state.results.rollout
        if rollout is None or self.state.results.inference is None:
            return None
        query = self.state.selection.query if self.state.rollout.follow_query else None
        return rollout.maps(query, renormalize=self.state.view.drop_prefix)

    def layers(self) -> range | None:
        """The selected blocks (start to end, inclusive), or None when there are none."""
        rollout = self.state.results.rollout
        return rollout.layers if rollout is not None and rollout.layers else None

    def shown_map(self) -> np.ndarray | None:
        """``[rows, cols]`` rollout up to the slider's layer, or None."""
        maps, chosen = self.maps, self.layers()
        if maps is None or chosen is None:
            return None
        shown = self.state.rollout.shown_layer
        shown = chosen[-1] if shown is None else min(max(shown, chosen[0]), chosen[-1])
        return maps[shown - chosen[0]]

    @shows_errors
    def render_all(self, *_) -> None:
        """Redraw the rollout the worker computed (or say why there is none)."""
        results, chosen = self.state.results, self.layers()
        values = self.shown_map()
        if values is None:
            if results.inference is None:
                message = "No result yet"
            elif results.rollout is None or results.rollout.error is None:
                message = "Computing the rollout…"  # (of every query, to follow the query)
            else:
                message = results.rollout.error
            self.map.show_map(None, message)
            self.caption.setText("")
            return
        self._update_slider(chosen)
        self.map.show_map(values)
        layer = self.layer_slider.value()
        self.caption.setText(f"rollout of {self._query_label()} up to layer {layer}")

    def show_error(self, message: str) -> None:
        self.map.show_map(None, placeholder=message)
        self.caption.setText("")

    def _query_label(self) -> str:
        layout = self.state.results.inference.layout
        if self.state.rollout.follow_query:
            return token_label(layout, self.state.selection.query)
        if layout.class_index is not None:
            return layout.label(layout.class_index)
        return "the pooling query" if layout.pool_query else "the mean of the patches"

    def _update_slider(self, chosen: range) -> None:
        shown = self.state.rollout.shown_layer
        with QSignalBlocker(self.layer_slider):
            self.layer_slider.setRange(chosen[0], chosen[-1])
            self.layer_slider.setValue(chosen[-1] if shown is None else shown)

    @property
    def is_playing(self) -> bool:
        """Whether the layer slider is stepping by itself."""
        return self._timer.isActive()

    def step_shown_layer(self) -> None:
        """Show the rollout one layer further, wrapping from the last layer to the first."""
        chosen = self.layers()
        if chosen is None:
            return
        shown = self.layer_slider.value()
        self.layer_slider.setValue(chosen[0] if shown >= chosen[-1] else shown + 1)

    def _on_play(self, playing: bool) -> None:
        self.play.setText("⏸" if playing else "▶")
        (self._timer.start if playing else self._timer.stop)()

    def _on_slider(self, value: int) -> None:
        chosen = self.layers()
        last = chosen is not None and value == chosen[-1]
        self.state.rollout.shown_layer = None if last else value

    def _on_query(self, *_) -> None:
        if self.state.rollout.follow_query:
            self.render_all()

    def _update_ranges(self, *_) -> None:
        last = max(self.state.depth - 1, 0)
        self.start_layer.setMaximum(last)
        self.end_layer.setMaximum(last)
