"""Figure builders: one map, a heads × layers grid, the mean-attention-distance plot.

Each builder takes pictures that the renderer already made (uint8 RGB/RGBA arrays, see
:mod:`vitviz.export.pictures`) or plain statistics, and returns a matplotlib
:class:`~matplotlib.figure.Figure` laid out in whole pixels: a picture is shown at an
integer magnification with nearest-neighbour sampling, so the exported pixels are exactly
the renderer's pixels. The GUI's figure export calls these same builders.

Figures are made with :class:`matplotlib.figure.Figure` directly (never pyplot), so no
backend or global figure registry is involved. Save them with
:func:`vitviz.export.saving.save_figure`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from vitviz.export.raster import PICTURE_LABEL, BlitRaster
from vitviz.export.styles import DPI, SLIDE_RC, slide_style

# Measures text for fitted_font_size (only sizes: one pixel of canvas is enough).
_MEASURING = RendererAgg(1, 1, DPI)

TITLE_SIZE = SLIDE_RC["axes.titlesize"]

# Pictures smaller than this (longest side, pixels) are magnified by a whole factor.
MIN_PICTURE_SIDE = 640
_MARGIN = 24
_TITLE_LINE = 32
_COLOURBAR = 28
_COLOURBAR_LABELS = 110


@dataclass(frozen=True)
class ColourScale:
    """The colour scale a picture was rendered with, for its colour bar.

    Attributes
    ----------
    cmap : str
        matplotlib colormap name.
    vmin, vmax : float
        Values mapped to the ends of the colormap.
    label : str
        What the values are (``attention``, ``relevance`` ...).
    """

    cmap: str
    vmin: float
    vmax: float
    label: str = "attention"


def magnification(height: int, width: int, min_side: int = MIN_PICTURE_SIDE) -> int:
    """Whole factor by which a picture is enlarged so its longest side reaches ``min_side``.

    Parameters
    ----------
    height, width : int
        Picture size in pixels.
    min_side : int
        Longest side wanted on the slide; larger pictures are shown at 1:1.

    Returns
    -------
    int
        The factor, at least 1.
    """
    return max(1, math.ceil(min_side / max(height, width)))


def _title_height(title: str) -> int:
    return _MARGIN + _TITLE_LINE * (title.count("\n") + 1)


def fitted_font_size(text: str, width: float, size: float = TITLE_SIZE) -> float:
    """The largest font size up to ``size`` at which every line of ``text`` fits ``width``.

    Parameters
    ----------
    text : str
        Text, possibly several lines.
    width : float
        Room in pixels (at :data:`DPI`).
    size : float
        Preferred size in points.

    Returns
    -------
    float
        Font size in points, shrunk in proportion when the widest line is too wide.
    """
    widest = max(_line_width(line, size) for line in text.splitlines() or [""])
    return size if widest <= width else math.floor(10 * size * width / widest) / 10


def _line_width(line: str, size: float) -> float:
    """Width in pixels of one line in the slide style."""
    with slide_style():
        font = FontProperties(size=size)
        return _MEASURING.get_text_width_height_descent(line, font, ismath=False)[0]


def _new_figure(width: float, height: float, **kwargs) -> Figure:
    """A ``width`` x ``height`` pixel figure on its own Agg canvas (no pyplot, no GUI)."""
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, **kwargs)
    FigureCanvasAgg(figure)
    return figure


def _axes_at(figure: Figure, left: int, bottom: int, width: int, height: int):
    """Axes covering an exact pixel rectangle, so pictures are not resampled off-grid."""
    fig_w, fig_h = (round(v * DPI) for v in figure.get_size_inches())
    axes = figure.add_axes((left / fig_w, bottom / fig_h, width / fig_w, height / fig_h))
    axes.set_axis_off()
    return axes


def _show(axes, picture: np.ndarray) -> None:
    axes.imshow(
        picture, interpolation="nearest", resample=False, aspect="auto", label=PICTURE_LABEL
    )


class MapFigure:
    """A one-map figure that can show another picture of the same size without rebuilding.

    Batches and animations show many pictures of one size; building the figure (axes,
    colour bar, fonts) once and swapping the picture, title and colour limits gives the
    same pixels as a fresh figure at a fraction of the cost, and :meth:`rgba` draws only
    what changes (title, colour-bar ticks and label) over the rest drawn once.

    Parameters
    ----------
    shape : tuple of int
        ``(height, width)`` of the pictures.
    title_lines : int
        Lines of the titles (room is made for them).
    colour_bar : bool
        Whether pictures come with a :class:`ColourScale` to show as a colour bar.
    min_side : int
        See :func:`magnification`.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        *,
        title_lines: int = 2,
        colour_bar: bool = True,
        min_side: int = MIN_PICTURE_SIDE,
    ):
        height, width = shape
        self.shape = (height, width)
        self.title_lines = title_lines
        zoom = magnification(height, width, min_side)
        shown_w, shown_h = width * zoom, height * zoom
        bar = _MARGIN + _COLOURBAR + _COLOURBAR_LABELS if colour_bar else 0
        fig_w = _MARGIN + shown_w + bar + _MARGIN
        fig_h = _MARGIN + shown_h + _MARGIN + _TITLE_LINE * title_lines
        self._mappable: ScalarMappable | None = None
        self._title_room = fig_w - 2 * _MARGIN
        with slide_style():
            self.figure = _new_figure(fig_w, fig_h)
            self.axes = _axes_at(self.figure, _MARGIN, _MARGIN, shown_w, shown_h)
            _show(self.axes, np.zeros((height, width, 3), np.uint8))
            # Left-aligned over the whole figure, so long titles have the most room.
            self.title = self.figure.text(
                _MARGIN / fig_w, 1 - (_MARGIN / 2) / fig_h, "", ha="left", va="top"
            )
            if colour_bar:
                bar_axes = self.figure.add_axes(
                    (
                        (_MARGIN * 2 + shown_w) / fig_w,
                        _MARGIN / fig_h,
                        _COLOURBAR / fig_w,
                        shown_h / fig_h,
                    )
                )
                self._mappable = ScalarMappable(Normalize(0, 1), "viridis")
                self._bar = self.figure.colorbar(self._mappable, cax=bar_axes)
        # A full draw paints the bar's axis (ticks, labels) under its outline, the title last.
        bar_parts = [self._bar.ax.yaxis, self._bar.outline] if colour_bar else []
        self._raster = BlitRaster(self.figure, [*bar_parts, self.title])

    def fits(self, picture: np.ndarray, title: str, scale: ColourScale | None) -> bool:
        """Whether :meth:`show` can display these without a different layout."""
        return (
            picture.shape[:2] == self.shape
            and title.count("\n") + 1 == self.title_lines
            and (scale is not None) == (self._mappable is not None)
        )

    def show(self, picture: np.ndarray, title: str, scale: ColourScale | None = None) -> Figure:
        """Display ``picture`` with ``title`` and ``scale``; returns the figure.

        Parameters
        ----------
        picture : np.ndarray
            ``[h, w, 3|4]`` uint8 picture of this figure's shape.
        title : str
            Title with this figure's number of lines.
        scale : ColourScale or None
            Colour scale (required exactly when the figure has a colour bar).

        Returns
        -------
        matplotlib.figure.Figure
            The updated figure.
        """
        if not self.fits(picture, title, scale):
            raise ValueError("the picture, title or scale does not fit this figure's layout")
        with slide_style():
            self.axes.images[0].set_data(picture)
            self.title.set_text(title)
            self.title.set_fontsize(fitted_font_size(title, self._title_room))
            if scale is not None and self._mappable is not None:
                self._set_scale(scale)
        return self.figure

    def rgba(self) -> np.ndarray:
        """The figure's ``[H, W, 4]`` pixels, drawn fast (see ``raster.BlitRaster``).

        They equal :func:`~vitviz.export.raster.figure_rgba`'s except inside the colour
        bar, whose colours are drawn once, at the limits 0 and 1: from the real limits a
        full draw can move an edge between two of the bar's colours by a row (rounding),
        and one figure's pixels must not depend on the pictures shown before it.
        """
        if self._mappable is not None and self._raster.needs_background:
            limits = self._mappable.get_clim()
            self._mappable.set_clim(0, 1)
            self._raster.draw_background()
            self._mappable.set_clim(*limits)
        return self._raster.rgba()

    def _set_scale(self, scale: ColourScale) -> None:
        # Every change redraws the colour bar (ticks, formatter, mesh): skip the unchanged.
        mappable = self._mappable
        if mappable.get_cmap().name != scale.cmap:
            mappable.set_cmap(scale.cmap)
            self._raster.invalidate()  # the bar's colours are drawn once, with the rest
        if mappable.get_clim() != (scale.vmin, scale.vmax):
            mappable.set_clim(scale.vmin, scale.vmax)
        if self._bar.ax.get_ylabel() != scale.label:
            self._bar.set_label(scale.label)


def map_figure(
    picture: np.ndarray,
    *,
    title: str,
    scale: ColourScale | None = None,
    min_side: int = MIN_PICTURE_SIDE,
) -> Figure:
    """One rendered map, titled, with an optional colour bar.

    Parameters
    ----------
    picture : np.ndarray
        ``[h, w, 3]`` or ``[h, w, 4]`` uint8 picture from the renderer.
    title : str
        Title (may hold several lines): model, what is shown, layer, head, class.
    scale : ColourScale, optional
        Draw a colour bar for this scale; None for pictures without one (the ViT paper's
        mask style).
    min_side : int
        See :func:`magnification`.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; ``figure.axes[0]`` shows the picture, ``figure.texts[0]`` is the title.
    """
    layout = MapFigure(
        picture.shape[:2],
        title_lines=title.count("\n") + 1,
        colour_bar=scale is not None,
        min_side=min_side,
    )
    return layout.show(picture, title, scale)


def grid_figure(
    pictures: Sequence[Sequence[np.ndarray]],
    *,
    title: str,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    cell: int | None = None,
) -> Figure:
    """Small multiples: one picture per (row, column), e.g. layers × heads.

    Parameters
    ----------
    pictures : sequence of sequences of np.ndarray
        ``pictures[r][c]`` is a uint8 ``[h, w, 3|4]`` picture; all the same size.
    title : str
        Figure title.
    row_labels, column_labels : sequence of str
        Labels at the left of each row and above each column.
    cell : int, optional
        Longest side wanted for one thumbnail in pixels; by default chosen so the whole
        grid is about 1200 pixels on its longer side (at least 48 per thumbnail). Pictures
        are magnified by the nearest whole factor.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; ``figure.axes[r * columns + c]`` shows ``pictures[r][c]``.
    """
    rows, cols = len(pictures), len(pictures[0])
    if len(row_labels) != rows or len(column_labels) != cols:
        raise ValueError("one label per row and per column is needed")
    height, width = pictures[0][0].shape[:2]
    if cell is None:
        cell = max(48, min(200, 1200 // max(rows, cols)))
    zoom = max(1, round(cell / max(height, width)))
    thumb_w, thumb_h = width * zoom, height * zoom
    gap = 6
    label_w, label_h = 130, 40
    fig_w = _MARGIN + label_w + cols * (thumb_w + gap) + _MARGIN
    fig_h = _MARGIN + rows * (thumb_h + gap) + label_h + _title_height(title)
    with slide_style():
        figure = _new_figure(fig_w, fig_h)
        top = fig_h - _title_height(title) - label_h
        for r in range(rows):
            bottom = top - (r + 1) * (thumb_h + gap) + gap
            for c in range(cols):
                left = _MARGIN + label_w + c * (thumb_w + gap)
                axes = _axes_at(figure, left, bottom, thumb_w, thumb_h)
                _show(axes, pictures[r][c])
                if r == 0:
                    axes.set_title(column_labels[c], fontsize="small", pad=6)
            figure.text(
                (_MARGIN + label_w - 10) / fig_w,
                (bottom + thumb_h / 2) / fig_h,
                row_labels[r],
                ha="right",
                va="center",
                fontsize="small",
            )
        figure.suptitle(
            title,
            y=1 - _MARGIN / 2 / fig_h,
            va="top",
            fontsize=fitted_font_size(title, fig_w - 2 * _MARGIN, SLIDE_RC["figure.titlesize"]),
        )
    return figure


def attention_distance_figure(
    distance: np.ndarray,
    *,
    title: str,
    colour: np.ndarray | None = None,
    colour_label: str = "",
    cmap: str = "viridis",
) -> Figure:
    """Mean attention distance per head against depth (the ViT paper's Fig. 7, right).

    Parameters
    ----------
    distance : np.ndarray
        ``[layers, heads]`` mean attention distance in pixels.
    title : str
        Figure title.
    colour : np.ndarray, optional
        ``[layers, heads]`` values colouring the points (entropy, prefix mass ...);
        by default points are coloured by head index, as in the paper.
    colour_label : str
        Label of the colour bar when ``colour`` is given.
    cmap : str
        Colormap for ``colour``.

    Returns
    -------
    matplotlib.figure.Figure
        A 12 × 7.5 inch figure (a 16:10 slide at 100 dpi).
    """
    distance = np.asarray(distance, dtype=np.float64)
    layers, heads = distance.shape
    depth = np.broadcast_to(np.arange(layers)[:, None], distance.shape)
    with slide_style():
        figure = _new_figure(12 * DPI, 7.5 * DPI, layout="constrained")
        axes = figure.add_subplot()
        if colour is None:
            for head in range(heads):
                axes.scatter(depth[:, head], distance[:, head], label=f"head {head}", s=80)
            if heads <= 16:
                axes.legend(loc="lower right", ncols=max(1, heads // 6 + 1))
        else:
            points = axes.scatter(
                depth.ravel(), distance.ravel(), c=np.asarray(colour).ravel(), cmap=cmap, s=80
            )
            figure.colorbar(points, ax=axes, label=colour_label)
        axes.set_xlabel("network depth (layer)")
        axes.set_ylabel("mean attention distance (pixels)")
        axes.set_xticks(np.arange(layers))
        # Room above the highest point, so no marker is cut by the frame.
        axes.set_ylim(0, max(float(np.nanmax(distance)) * 1.08, 1.0))
        axes.grid(alpha=0.3)
        # The plot area is about three quarters of the figure's 1200 pixels.
        axes.set_title(title, fontsize=fitted_font_size(title, 850))
    return figure
