"""Attention rollout (Abnar & Zuidema 2020) with its controls and a layer slider.

The per-layer rollout factors depend only on the result and on fusion, discard ratio and
attention weight, so they are cached; a new query (when the rollout follows it) is one
chain of vector-matrix products, and the layer slider only picks an already computed map.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from PySide6.QtCore import Qt, QTimer
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

from vitviz.compute import attention_maps, rollout
from vitviz.errors import AnalysisError
from vitviz.qt.widgets.analysis_cache import first_image
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
        self._factors: dict[int, torch.Tensor] = {}
        self._factor_key: tuple | None = None
        self._maps: np.ndarray | None = None  # [n_selected, rows, cols]
        self._maps_key: tuple | None = None
        self._maps_inference = None
        self._factor_inference = None
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
        listen(self, results.inference, self.render_all)
        listen(self, state.selection.events.query, self._on_query)
        for name in ("fusion", "discard_ratio", "residual", "start_layer", "end_layer"):
            listen(self, getattr(events, name), self.render_all)
        listen(self, events.follow_query, self.render_all)
        listen(self, events.shown_layer, self._show_layer)
        listen(self, state.view.events.drop_prefix, self.render_all)
        self._update_ranges()
        self.render_all()

    @property
    def maps(self) -> np.ndarray | None:
        """``[n_selected, rows, cols]``: the rollout up to each selected layer, or None."""
        return self._maps

    def layers(self) -> range | None:
        """The selected blocks (start to end, inclusive), or None when they are invalid."""
        options, depth = self.state.rollout, self.state.depth
        try:
            return rollout.selected_layers(depth, options.start_layer, options.end_layer)
        except AnalysisError:
            return None

    def shown_map(self) -> np.ndarray | None:
        """``[rows, cols]`` rollout up to the slider's layer, or None."""
        chosen = self.layers()
        if self._maps is None or chosen is None:
            return None
        shown = self.state.rollout.shown_layer
        shown = chosen[-1] if shown is None else min(max(shown, chosen[0]), chosen[-1])
        return self._maps[shown - chosen[0]]

    @shows_errors
    def render_all(self, *_) -> None:
        """Recompute the rollout if its inputs changed and redraw."""
        inference = self.state.results.inference
        chosen = self.layers()
        if inference is None or chosen is None or self.state.results.model is None:
            self._maps, self._maps_key = None, None
            self.map.show_map(None, "No result yet" if chosen else "Choose a start layer ≤ end")
            self.caption.setText("")
            return
        options, view = self.state.rollout, self.state.view
        query = self.state.selection.query if options.follow_query else None
        # Keyed by the result's identity: results hold tensors, which do not compare.
        key = (id(inference), self._factor_fields(), chosen, query, view.drop_prefix)
        if key != self._maps_key or self._maps_inference is not inference:
            self._maps = self._compute(inference, chosen, query)
            self._maps_key, self._maps_inference = key, inference
        self._update_slider(chosen)
        self._draw()

    def show_error(self, message: str) -> None:
        """Say why there is no rollout."""
        self._maps, self._maps_key = None, None
        self.map.show_map(None, placeholder=message)
        self.caption.setText("")

    def _factor_fields(self) -> tuple:
        options = self.state.rollout
        return options.fusion, options.discard_ratio, options.residual

    def _factor(self, inference) -> Callable[[int], torch.Tensor]:
        key = self._factor_fields()
        if key != self._factor_key or self._factor_inference is not inference:
            self._factors, self._factor_key, self._factor_inference = {}, key, inference
        layers = attention_maps.attention_layers(inference.attentions)
        fusion, discard, residual = self._factor_fields()

        def factor(index: int) -> torch.Tensor:
            if index not in self._factors:
                # Head by head: the layer is never upcast whole (120 MB for DINOv2-L).
                fused = attention_maps.fuse_layer(first_image(layers[index], 3), fusion)  # [N, N]
                self._factors[index] = rollout.rollout_factor(
                    fused, discard_ratio=discard, residual_weight=residual
                )
            return self._factors[index]

        return factor

    def _compute(self, inference, chosen: range, query: int | None) -> np.ndarray:
        layout = inference.layout
        pool = inference.pool_attention
        start = rollout.start_vector(
            layout,
            query,
            pool_attention=None if pool is None else first_image(pool, 3),
            head_fusion=self.state.rollout.fusion,
        )
        rows = rollout.chain_rows(start, self._factor(inference), chosen, every_layer=True)
        maps = attention_maps.patch_columns(
            rows, layout, renormalize=self.state.view.drop_prefix
        )  # [n_selected, rows, cols]
        return maps.numpy()

    def _draw(self) -> None:
        values = self.shown_map()
        if values is None:
            return
        self.map.show_map(values)
        layer = self.layer_slider.value()
        self.caption.setText(f"rollout of {self._query_label()} up to layer {layer}")

    def _query_label(self) -> str:
        layout = self.state.results.inference.layout
        if self.state.rollout.follow_query:
            return token_label(layout, self.state.selection.query)
        if layout.class_index is not None:
            return layout.label(layout.class_index)
        return "the pooling query" if layout.pool_query else "the mean of the patches"

    def _update_slider(self, chosen: range) -> None:
        shown = self.state.rollout.shown_layer
        self.layer_slider.blockSignals(True)
        self.layer_slider.setRange(chosen[0], chosen[-1])
        self.layer_slider.setValue(chosen[-1] if shown is None else shown)
        self.layer_slider.blockSignals(False)

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
        if playing:
            self._timer.start()
        else:
            self._timer.stop()

    def _on_slider(self, value: int) -> None:
        chosen = self.layers()
        last = chosen is not None and value == chosen[-1]
        self.state.rollout.shown_layer = None if last else value

    @shows_errors
    def _show_layer(self, *_) -> None:
        chosen = self.layers()
        if chosen is not None and self._maps is not None:
            self._update_slider(chosen)
            self._draw()

    def _on_query(self, *_) -> None:
        if self.state.rollout.follow_query:
            self.render_all()

    def _update_ranges(self, *_) -> None:
        last = max(self.state.depth - 1, 0)
        self.start_layer.setMaximum(last)
        self.end_layer.setMaximum(last)
