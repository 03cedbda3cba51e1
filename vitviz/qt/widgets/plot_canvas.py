"""A matplotlib canvas that matches the panel's font and palette and redraws cheaply.

Matplotlib fixes a text's size when the artist is made, so panels build their plots
inside :meth:`PlotCanvas.style`; when the widget's font changes (presentation mode) the
canvas emits ``restyled`` and the panel rebuilds its plot at the new size.

A full figure draw costs 40-100 ms (mostly tick labels), so it happens only when a plot
is rebuilt or resized: the layout is computed once per rebuild (:meth:`settle`), and the
artists whose data change with the selection or the image are *overlays* (matplotlib's
blitting), redrawn over a saved copy of the rest of the figure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import matplotlib
from matplotlib.artist import Artist
from matplotlib.backend_bases import DrawEvent, ResizeEvent
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QWidget

MIN_LAYOUT_PX = 60


class PlotCanvas(FigureCanvasQTAgg):
    """A figure with one axes, styled like the surrounding widgets, with blitted overlays.

    Signals
    -------
    restyled()
        The widget's font changed: rebuild the plot inside :meth:`style`.
    """

    restyled = Signal()

    def __init__(self, parent: QWidget | None = None, figsize: tuple[float, float] = (5, 3.5)):
        super().__init__(Figure(figsize=figsize))
        self.setParent(parent)
        self.axes = self.figure.add_subplot()
        self._overlays: list[Artist] = []
        self._background = None
        self.full_draws = 0
        self.mpl_connect("draw_event", self._on_draw)
        self.mpl_connect("resize_event", self._on_resize)

    @contextlib.contextmanager
    def style(self) -> Iterator[None]:
        """Matplotlib settings that follow the widget's font and colours."""
        points = self.font().pointSizeF()
        size = points if points > 0 else 9.0
        palette = self.palette()
        text = palette.text().color().name()
        window = palette.window().color().name()
        rc = dict.fromkeys(("font.size", "axes.titlesize", "axes.labelsize"), size)
        rc |= dict.fromkeys(("xtick.labelsize", "ytick.labelsize", "legend.fontsize"), size * 0.9)
        rc |= dict.fromkeys(("figure.facecolor", "axes.facecolor"), window)
        colored = ("text.color", "axes.labelcolor", "xtick.color", "ytick.color", "axes.edgecolor")
        with matplotlib.rc_context(rc | dict.fromkeys(colored, text)):
            self.figure.set_facecolor(window)
            self.axes.set_facecolor(window)
            # Build under constrained layout (colour bars then get axes it can place);
            # settle() applies it once and switches it off for the cheap draws after.
            self.figure.set_layout_engine("constrained")
            yield

    def set_overlays(self, artists: Sequence[Artist]) -> None:
        """Artists redrawn by :meth:`refresh_overlays` alone (they must belong to the figure)."""
        for artist in artists:
            artist.set_animated(True)
        self._overlays = list(artists)
        self._background = None

    def settle(self) -> None:
        """Lay the figure out once (constrained layout), then keep that layout while drawing."""
        self._lay_out()
        self.figure.set_layout_engine("none")
        self._background = None
        self.draw_idle()

    def _lay_out(self) -> None:
        width, height = self.figure.get_size_inches() * self.figure.dpi
        # A canvas not yet shown can be a few pixels tall: nothing to lay out in that.
        if self.figure.axes and width >= MIN_LAYOUT_PX and height >= MIN_LAYOUT_PX:
            ConstrainedLayoutEngine().execute(self.figure)

    def refresh_overlays(self) -> None:
        """Redraw only the overlays, over the last full drawing of the rest."""
        if self._background is None:
            self.draw_idle()
            return
        self.restore_region(self._background)
        for artist in self._overlays:
            self.figure.draw_artist(artist)
        self.blit(self.figure.bbox)

    def _on_draw(self, event: DrawEvent) -> None:
        # Every full draw leaves the figure without its (animated) overlays: keep that
        # as the background, then add the overlays on top.
        self.full_draws += 1
        self._background = self.copy_from_bbox(self.figure.bbox)
        for artist in self._overlays:
            self.figure.draw_artist(artist)

    def _on_resize(self, event: ResizeEvent) -> None:
        self._lay_out()
        self._background = None

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.PaletteChange):
            self.restyled.emit()
