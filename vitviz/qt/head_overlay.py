"""The "Heads in colour" overlay: the selected layer's heads for the query, each in its own
colour (DINO's figures), and the legend that says which colour is which head."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QWidget

from vitviz.compute.head_colours import head_composite, head_palette
from vitviz.qt.widgets.bindings import listen
from vitviz.state import AppState


def heads_rgba(heads: np.ndarray) -> np.ndarray:
    """``uint8 [rows, cols, 4]``: each patch of the ``[H, rows, cols]`` head maps in its
    strongest head's colour."""
    rgb = head_composite(heads) * 255  # [rows, cols, 3]
    return np.dstack([rgb, np.full(rgb.shape[:2], 255)]).round().astype(np.uint8)


class HeadLegend(QLabel):
    """Which colour is which head; shown while the image shows the heads in colour."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setObjectName("head_legend")
        self.setToolTip("Each patch in its strongest head's colour (each head scaled to its peak)")
        for signal in (state.view.events.overlay, state.results.events.model):
            listen(self, signal, self.refresh)
        self.refresh()

    def refresh(self, *_) -> None:
        """Show the legend of the current model's heads, or hide it for other overlays."""
        heads = self.state.num_heads
        self.setVisible(self.state.view.overlay == "heads" and heads > 0)
        colours = (head_palette(heads) * 255).round().astype(int).tolist()  # [H, 3]
        swatches = (f'<b style="color: rgb{tuple(c)}">■</b> h{h}' for h, c in enumerate(colours))
        self.setText("<br>".join(("heads", *swatches)))
