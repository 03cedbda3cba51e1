"""Figure pixels through Agg, fast: pictures pasted, unchanged parts drawn once.

Figures from :mod:`vitviz.export.figures` show each picture on axes that cover an exact
pixel rectangle, at a whole magnification, with nearest-neighbour sampling, so Agg's
output there is the picture with every pixel repeated. matplotlib's generic image path
(float conversion, masking, resampling) costs far more than the rest of such a figure, so
:func:`figure_rgba` draws the figure with its pictures hidden and pastes the magnified
pictures into the buffer: the same pixels, several times faster. Pictures that are not
pixel-aligned, or that share their axes with other artists, are left to matplotlib.

A figure shown again and again with new pictures, titles and colour limits (a batch, an
animation) changes in a few artists only: :class:`BlitRaster` draws the rest once, keeps
those pixels, and per call draws only the changing artists over a copy of them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from vitviz.export.styles import DPI, slide_style

PICTURE_LABEL = "vitviz-picture"
"""Label of the images shown pixel-aligned at a whole magnification (pasted, not drawn)."""

Placement = tuple[int, int, int]
"""``(top, left, zoom)`` of a picture in the figure's raster."""


def _placement(image: AxesImage, fig_height: int) -> Placement | None:
    """Where a pasteable picture goes in the figure's raster, else None."""
    axes = image.axes
    if axes.lines or axes.patches or axes.collections or axes.texts or len(axes.images) != 1:
        return None
    picture = np.asarray(image.get_array())
    if picture.dtype != np.uint8 or picture.ndim != 3:
        return None
    if picture.shape[2] == 4 and picture[..., 3].min() < 255:
        return None  # translucent pixels are blended by Agg, not pasted
    height, width = picture.shape[:2]
    x0, y0, x1, y1 = image.get_window_extent().extents
    zoom = round((x1 - x0) / width)
    exact = [x0, y0, x1, y1] == [round(v) for v in (x0, y0, x1, y1)]
    if not exact or zoom < 1 or round(x1 - x0) != width * zoom or round(y1 - y0) != height * zoom:
        return None
    return fig_height - round(y1), round(x0), zoom


def _size(figure: Figure) -> tuple[int, int]:
    """``(width, height)`` of the figure in pixels at :data:`DPI`."""
    width, height = (round(v * DPI) for v in figure.get_size_inches())
    return width, height


def _pictures(figure: Figure) -> tuple[list[tuple[AxesImage, Placement]], bool]:
    """The figure's pasteable pictures, and whether every labelled picture is one."""
    height = _size(figure)[1]
    labelled = [
        image
        for axes in figure.axes
        for image in axes.images
        if image.get_label() == PICTURE_LABEL and image.get_visible()
    ]
    placed = [(image, _placement(image, height)) for image in labelled]
    pasteable = [(image, place) for image, place in placed if place is not None]
    return pasteable, len(pasteable) == len(labelled)


@contextmanager
def _hidden(artists: Sequence[Artist]) -> Iterator[None]:
    for artist in artists:
        artist.set_visible(False)
    try:
        yield
    finally:
        for artist in artists:
            artist.set_visible(True)


def _own_canvas(figure: Figure) -> bool:
    """Whether the figure draws on an Agg canvas of ours at our resolution (the builders')."""
    return type(figure.canvas) is FigureCanvasAgg and figure.dpi == DPI


def _draw(figure: Figure) -> np.ndarray:
    """Agg's ``[H, W, 4]`` pixels of the figure (a copy)."""
    # Our own canvas draws in place and keeps its renderer; any other canvas (a GUI's)
    # is left alone and matplotlib's savefig draws on a temporary one.
    if _own_canvas(figure):
        figure.canvas.draw()
        return np.asarray(figure.canvas.buffer_rgba()).copy()
    width, height = _size(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="rgba", dpi=DPI)
    return np.frombuffer(buffer.getbuffer(), np.uint8).reshape(height, width, 4).copy()


def _paste(rgba: np.ndarray, pictures: list[tuple[AxesImage, Placement]]) -> np.ndarray:
    for image, (top, left, zoom) in pictures:
        picture = np.asarray(image.get_array())
        if picture.shape[2] == 3:
            picture = np.dstack([picture, np.full(picture.shape[:2], 255, np.uint8)])
        height, width = picture.shape[:2]
        row = np.repeat(picture, zoom, axis=1)  # [h, w*z, 4]
        area = rgba[top : top + height * zoom, left : left + width * zoom]  # [h*z, w*z, 4]
        # Each row shown zoom times: broadcast into a view of the area, no [h*z, ...] copy.
        area.reshape(height, zoom, width * zoom, 4)[...] = row[:, None]  # [h, z, w*z, 4]
    return rgba


def figure_rgba(figure: Figure) -> np.ndarray:
    """The figure rendered by Agg at :data:`DPI`, as a ``[H, W, 4]`` uint8 array.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        Any figure; its pictures labelled :data:`PICTURE_LABEL` take the fast path.

    Returns
    -------
    np.ndarray
        RGBA pixels, top row first, equal to what ``savefig(format="rgba")`` gives.
    """
    pictures, _ = _pictures(figure)
    with slide_style(), _hidden([image for image, _ in pictures]):
        rgba = _draw(figure)
    return _paste(rgba, pictures)


class BlitRaster:
    """:func:`figure_rgba` of a figure in which only a few artists change between calls.

    The figure is drawn once without the changing artists and without its pictures;
    each call restores those pixels, draws the changing artists over them in the order
    given (the order in which a full draw paints them, for identical pixels where they
    overlap) and pastes the pictures. Call :meth:`invalidate` when anything else changes,
    or :meth:`draw_background` to keep the figure as it is now.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        A figure on its own Agg canvas (see ``figures``); others are drawn in full.
    changing : sequence of Artist
        The artists that change, in the order a full draw paints them; none of them may
        be painted over by an artist that does not change.
    """

    def __init__(self, figure: Figure, changing: Sequence[Artist]):
        self.figure = figure
        self._changing = list(changing)
        self._background = None
        self._renderer = None

    def invalidate(self) -> None:
        """Forget the kept pixels: the next call draws the whole figure."""
        self._background = None

    @property
    def needs_background(self) -> bool:
        """Whether the next :meth:`rgba` draws the unchanging parts first.

        False also when it is going to draw the whole figure (see :meth:`rgba`).
        """
        if not self._blittable():
            return False
        return self._background is None or self.figure.canvas.get_renderer() is not self._renderer

    def _blittable(self) -> bool:
        # A picture Agg has to draw (translucent, not aligned) is part of the background,
        # and a canvas not ours (a GUI's) is drawn by its owner.
        _, all_pasteable = _pictures(self.figure)
        return all_pasteable and _own_canvas(self.figure)

    def draw_background(self) -> None:
        """Draw and keep everything but the changing artists and the pasted pictures."""
        canvas = self.figure.canvas
        pictures, _ = _pictures(self.figure)
        with slide_style(), _hidden([*self._changing, *(image for image, _ in pictures)]):
            canvas.draw()
        self._renderer = canvas.get_renderer()
        self._background = self._renderer.copy_from_bbox(self.figure.bbox)

    def rgba(self) -> np.ndarray:
        """The figure's ``[H, W, 4]`` pixels, as :func:`figure_rgba` gives them."""
        if not self._blittable():
            self.invalidate()
            return figure_rgba(self.figure)
        if self.needs_background:
            self.draw_background()
        pictures, _ = _pictures(self.figure)
        renderer = self._renderer
        with slide_style():
            renderer.restore_region(self._background)
            for artist in self._changing:
                artist.draw(renderer)
        return _paste(np.asarray(renderer.buffer_rgba()).copy(), pictures)
