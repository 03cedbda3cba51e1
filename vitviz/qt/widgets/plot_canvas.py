"""A matplotlib canvas that matches the panel's font and palette.

Matplotlib fixes a text's size when the artist is made, so panels build their plots
inside :meth:`PlotCanvas.style`; when the widget's font changes (presentation mode) the
canvas emits ``restyled`` and the panel rebuilds its plot at the new size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import matplotlib
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QWidget


class PlotCanvas(FigureCanvasQTAgg):
    """A constrained-layout figure with one axes, styled like the surrounding widgets.

    Signals
    -------
    restyled()
        The widget's font changed: rebuild the plot inside :meth:`style`.
    """

    restyled = Signal()

    def __init__(self, parent: QWidget | None = None, figsize: tuple[float, float] = (5, 3.5)):
        super().__init__(Figure(figsize=figsize, layout="constrained"))
        self.setParent(parent)
        self.axes = self.figure.add_subplot()

    @contextlib.contextmanager
    def style(self) -> Iterator[None]:
        """Matplotlib settings that follow the widget's font and colours."""
        points = self.font().pointSizeF()
        size = points if points > 0 else 9.0
        palette = self.palette()
        text = palette.text().color().name()
        window = palette.window().color().name()
        with matplotlib.rc_context(
            {
                "font.size": size,
                "axes.titlesize": size,
                "axes.labelsize": size,
                "xtick.labelsize": size * 0.9,
                "ytick.labelsize": size * 0.9,
                "legend.fontsize": size * 0.9,
                "text.color": text,
                "axes.labelcolor": text,
                "xtick.color": text,
                "ytick.color": text,
                "axes.edgecolor": text,
                "figure.facecolor": window,
                "axes.facecolor": window,
            }
        ):
            self.figure.set_facecolor(window)
            self.axes.set_facecolor(window)
            yield

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.PaletteChange):
            self.restyled.emit()
