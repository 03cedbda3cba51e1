"""Save figures: PNG / SVG / PDF, deterministic, PNGs encoded off the main thread.

:func:`save_figure` writes PNGs from the fast raster path (:mod:`vitviz.export.raster`,
encoded by Pillow at zlib level 1: fast, and the same pixels always give the same bytes),
and vector formats through matplotlib.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image, PngImagePlugin

from vitviz.export.raster import figure_rgba
from vitviz.export.styles import DPI, FIGURE_FORMATS, SAVE_METADATA, slide_style


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
    info = PngImagePlugin.PngInfo()
    for key, value in SAVE_METADATA["png"].items():
        info.add_text(key, value)
    # Level 1: a third of the default level's time; figures are mostly flat, so files stay small.
    Image.fromarray(rgba, "RGBA").save(
        path, format="png", compress_level=1, dpi=(DPI, DPI), pnginfo=info
    )
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

    def save(
        self,
        figure: Figure,
        path: str | Path,
        fmt: str,
        owner: str,
        *,
        rgba: Callable[[], np.ndarray] | None = None,
    ) -> None:
        """Save ``figure`` to ``path`` as ``fmt``; ``owner`` names it in :meth:`collect`.

        ``rgba``, when given, returns the figure's pixels faster than
        :func:`~vitviz.export.raster.figure_rgba` (e.g. :meth:`MapFigure.rgba
        <vitviz.export.figures.MapFigure.rgba>`); it is used for PNG only.
        """
        path = Path(path)
        if fmt != "png":
            self.write_now(owner, path, lambda: save_figure(figure, path, fmt))
            return
        if len(self._pending) >= self._max_pending:
            self._pending[0][2].exception()  # wait for the oldest before adding more
        pixels = rgba() if rgba is not None else figure_rgba(figure)
        self._pending.append((owner, path, self._pool.submit(_write_png, pixels, path)))

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
