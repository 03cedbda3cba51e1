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
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider, QLabeledSlider

from vitviz.qt.overlay import describe_rollout, rollout_shown, rollout_stack
from vitviz.qt.widgets.bindings import bind_combo, bind_value, listen
from vitviz.qt.widgets.guard import shows_errors
from vitviz.qt.widgets.image_map import ImageMapView
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

        # Two rows of controls, so that the map keeps most of a short panel.
        options_row, layers_row = QHBoxLayout(), QHBoxLayout()
        for row, widgets in (
            (options_row, ("query", self.query, "fusion", self.fusion)),
            (options_row, ("discard", self.discard, "residual", self.residual_weight)),
            (layers_row, ("layers", self.start_layer, "to", self.end_layer)),
            (layers_row, ("up to layer", self.layer_slider, self.play)),
        ):
            for widget in widgets:
                row.addWidget(QLabel(widget) if isinstance(widget, str) else widget)
        layout = QVBoxLayout(self)
        layout.addLayout(options_row)
        layout.addWidget(self.map, 1)
        layout.addLayout(layers_row)
        layout.addWidget(self.caption)

        results, events = state.results.events, state.rollout.events
        listen(self, results.model, self._update_ranges)
        listen(self, results.rollout, self.render_all)
        listen(self, state.selection.events.query, self._on_query)
        listen(self, events.follow_query, self.render_all)
        listen(self, events.shown_layer, self.render_all)
        for name in ("drop_prefix", "mass_threshold"):
            listen(self, getattr(state.view.events, name), self.render_all)
        self._update_ranges()
        self.render_all()

    @property
    def maps(self) -> np.ndarray | None:
        """``[n_selected, rows, cols]``: the rollout up to each selected layer, or None."""
        return rollout_stack(self.state)

    def layers(self) -> range | None:
        """The selected blocks (start to end, inclusive), or None when there are none."""
        rollout = self.state.results.rollout
        return rollout.layers if rollout is not None and rollout.layers else None

    def shown_map(self) -> np.ndarray | None:
        """``[rows, cols]`` rollout up to the slider's layer, or None."""
        return rollout_shown(self.state)

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
        self.map.show_map(values, span=self.maps)
        self.map.mark_query(self.state.selection.query if self.state.rollout.follow_query else -1)
        self.caption.setText(describe_rollout(self.state))

    def show_error(self, message: str) -> None:
        self.map.show_map(None, placeholder=message)
        self.caption.setText("")

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
