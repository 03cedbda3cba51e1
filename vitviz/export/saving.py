"""Save figures: PNG / SVG / PDF, deterministic, with a fast raster path for pictures.

Figures from :mod:`vitviz.export.figures` show each picture on axes that cover an exact
pixel rectangle, at a whole magnification, with nearest-neighbour sampling, so Agg's
output there is the picture with every pixel repeated. matplotlib's generic image path
(float conversion, masking, resampling) costs far more than the rest of such a figure, so
:func:`figure_rgba` draws the figure with its pictures hidden and pastes the magnified
pictures into the buffer: the same pixels, several times faster. Pictures that are not
pixel-aligned, or that share their axes with other artists, are left to matplotlib.
:func:`save_figure` writes PNGs from that buffer, and vector formats through matplotlib.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage, imsave

from vitviz.export.figures import PICTURE_LABEL
from vitviz.export.styles import DPI, FIGURE_FORMATS, SAVE_METADATA, slide_style

# zlib level 1: PNGs of maps over photos barely grow, and encoding is twice as fast.
PNG_OPTIONS = {"compress_level": 1}


def _placement(image: AxesImage, fig_height: int) -> tuple[int, int, int] | None:
    """``(top, left, zoom)`` of a pasteable picture in the figure's raster, else None."""
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


@contextmanager
def _hidden(images: list[AxesImage]) -> Iterator[None]:
    for image in images:
        image.set_visible(False)
    try:
        yield
    finally:
        for image in images:
            image.set_visible(True)


def _draw(figure: Figure, width: int, height: int) -> np.ndarray:
    """Agg's ``[H, W, 4]`` pixels of the figure (a copy)."""
    # A plain Agg canvas at our resolution (what the builders attach) draws in place and
    # keeps its renderer, so unchanged text is not laid out again; any other canvas
    # (a GUI's) is left alone and matplotlib's savefig draws on a temporary one.
    canvas = figure.canvas
    if type(canvas) is FigureCanvasAgg and figure.dpi == DPI:
        canvas.draw()
        return np.asarray(canvas.buffer_rgba()).copy()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="rgba", dpi=DPI)
    return np.frombuffer(buffer.getbuffer(), np.uint8).reshape(height, width, 4).copy()


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
    fig_w, fig_h = (round(v * DPI) for v in figure.get_size_inches())
    pictures = [
        (image, place)
        for axes in figure.axes
        for image in axes.images
        if image.get_label() == PICTURE_LABEL
        and image.get_visible()
        and (place := _placement(image, fig_h)) is not None
    ]
    with slide_style(), _hidden([image for image, _ in pictures]):
        rgba = _draw(figure, fig_w, fig_h)
    for image, (top, left, zoom) in pictures:
        picture = np.asarray(image.get_array())
        if picture.shape[2] == 3:
            picture = np.dstack([picture, np.full(picture.shape[:2], 255, np.uint8)])
        block = np.repeat(np.repeat(picture, zoom, axis=0), zoom, axis=1)  # [h*z, w*z, 4]
        rgba[top : top + block.shape[0], left : left + block.shape[1]] = block
    return rgba


def save_figure(figure: Figure, path: str | Path, fmt: str | None = None) -> Path:
    """Save ``figure`` deterministically as PNG, SVG or PDF.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        A figure built by :mod:`vitviz.export.figures` (any figure works).
    path : str or Path
        Destination file; its parent folder must exist.
    fmt : str, optional
        ``png``, ``svg`` or ``pdf``; taken from the file suffix when omitted.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"cannot save a figure as {fmt!r}; use one of {FIGURE_FORMATS}")
    if fmt == "png":
        return _write_png(figure_rgba(figure), path)
    with slide_style():
        figure.savefig(path, format=fmt, dpi=DPI, metadata=SAVE_METADATA[fmt])
    return path


def _write_png(rgba: np.ndarray, path: Path) -> Path:
    imsave(path, rgba, format="png", dpi=DPI, metadata=SAVE_METADATA["png"], pil_kwargs=PNG_OPTIONS)
    return path


class FigureSaver:
    """Saves figures one after another, encoding PNGs on a worker thread.

    The figure is drawn at once (so it can be reused for the next picture straight
    away); only the PNG encoding and the file write, which do not hold the GIL, overlap
    with what the caller does next (the next batch's forward pass). SVG and PDF are saved
    before :meth:`save` returns.

    Parameters
    ----------
    max_pending : int
        At most this many encodings wait at once (each holds one figure's pixels).
    """

    def __init__(self, max_pending: int = 16):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vitviz-png")
        self._pending: deque[tuple[str, Path, Future]] = deque()
        self._max_pending = max_pending

    def save(self, figure: Figure, path: str | Path, fmt: str, owner: str) -> None:
        """Save ``figure`` to ``path`` as ``fmt``; ``owner`` names it in :meth:`collect`."""
        path = Path(path)
        if fmt != "png":
            self.write_now(owner, path, lambda: save_figure(figure, path, fmt))
            return
        if len(self._pending) >= self._max_pending:
            self._pending[0][2].exception()  # wait for the oldest before adding more
        self._pending.append(
            (owner, path, self._pool.submit(_write_png, figure_rgba(figure), path))
        )

    def write_now(self, owner: str, path: Path, write: Callable[[], object]) -> None:
        """Run ``write`` (which writes ``path``) now, and queue its outcome in order."""
        done: Future = Future()
        try:
            done.set_result(write())
        except OSError as error:
            done.set_exception(error)
        self._pending.append((owner, path, done))

    def collect(self, *, wait: bool = True) -> list[tuple[str, Path, OSError | None]]:
        """Finished saves, in order: ``(owner, path, error or None)``.

        Parameters
        ----------
        wait : bool
            Wait for every pending save; otherwise return only those already done (up to
            the first one still running, so the order is kept).
        """
        finished = []
        while self._pending and (wait or self._pending[0][2].done()):
            owner, path, future = self._pending.popleft()
            finished.append((owner, path, future.exception()))
        return finished

    def close(self) -> None:
        """Wait for pending saves and stop the worker thread."""
        self._pool.shutdown(wait=True)
