"""Animations that step through the layers: GIF through Pillow, MP4 through ffmpeg.

One figure is built once and updated in place for every frame (the picture and the
title), and a movie writer grabs the frames: :class:`GifWriter` (Pillow) for GIF,
matplotlib's :class:`~matplotlib.animation.FFMpegWriter` for MP4 only when an ``ffmpeg``
executable is installed; otherwise MP4 export raises a :class:`VitvizError` that says so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from matplotlib.animation import FFMpegWriter
from PIL import Image

from vitviz.errors import VitvizError
from vitviz.export.figures import ColourScale, MapFigure
from vitviz.export.raster import figure_rgba
from vitviz.export.styles import DPI, slide_style


def mp4_available() -> bool:
    """Whether MP4 can be written here (an ``ffmpeg`` executable matplotlib can run)."""
    return FFMpegWriter.isAvailable()


class GifWriter:
    """GIF through Pillow, with frames grabbed by the fast raster path.

    The same interface as matplotlib's movie writers (``saving`` and ``grab_frame``) and
    the same file as :class:`matplotlib.animation.PillowWriter` writes, without resampling
    every frame's pictures through matplotlib's image pipeline.

    Parameters
    ----------
    fps : float
        Frames per second.
    pixels : callable, optional
        Returns the figure's ``[H, W, 4]`` pixels (e.g. :meth:`MapFigure.rgba
        <vitviz.export.figures.MapFigure.rgba>`); default :func:`figure_rgba` of it.
    """

    def __init__(self, fps: float, pixels: Callable[[], np.ndarray] | None = None):
        self.fps = fps
        self._pixels = pixels
        self._figure = None
        self._frames: list[Image.Image] = []

    @contextlib.contextmanager
    def saving(self, figure, path: str, dpi: float) -> Iterator[GifWriter]:
        """Collect frames of ``figure`` inside the block; write ``path`` at its end."""
        self._figure, self._frames = figure, []
        yield self
        self._frames[0].save(
            path,
            format="GIF",
            save_all=True,
            append_images=self._frames[1:],
            duration=int(1000 / self.fps),
            loop=0,
        )

    def grab_frame(self) -> None:
        """Add the figure as it is now as a frame."""
        rgba = self._pixels() if self._pixels is not None else figure_rgba(self._figure)
        self._frames.append(Image.fromarray(rgba).convert("RGB"))


def _writer(fmt: str, fps: float, layout: MapFigure):
    if fmt == "gif":
        return GifWriter(fps, pixels=layout.rgba)
    if fmt == "mp4":
        if not mp4_available():
            raise VitvizError(
                "MP4 export needs the ffmpeg program, which is not installed here; "
                "install ffmpeg (and put it on PATH) or export with --format gif."
            )
        # yuv420p plays everywhere (browsers, slide software); it needs even sizes.
        return FFMpegWriter(
            fps=fps,
            codec="libx264",
            extra_args=["-pix_fmt", "yuv420p", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"],
            metadata={"comment": "vitviz"},
        )
    raise ValueError(f"cannot animate to {fmt!r}; use gif or mp4")


def save_layer_animation(
    pictures: Sequence[np.ndarray],
    titles: Sequence[str],
    path: str | Path,
    *,
    scale: ColourScale | None = None,
    fps: float = 2.0,
) -> Path:
    """Write one frame per picture (e.g. per layer) as a GIF or MP4.

    Parameters
    ----------
    pictures : sequence of np.ndarray
        uint8 ``[h, w, 3|4]`` pictures, all the same size, one per frame.
    titles : sequence of str
        One title per frame (model, what is shown, the frame's layer).
    path : str or Path
        Destination; ``.gif`` or ``.mp4`` decides the format.
    scale : ColourScale, optional
        Colour bar shared by all frames; None for none.
    fps : float
        Frames per second.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    VitvizError
        MP4 was asked for and no ``ffmpeg`` is installed.
    """
    if len(pictures) != len(titles) or not pictures:
        raise ValueError("one title per picture, and at least one picture, are needed")
    path = Path(path)
    lines = max(title.count("\n") + 1 for title in titles)
    layout = MapFigure(pictures[0].shape[:2], title_lines=lines, colour_bar=scale is not None)
    writer = _writer(path.suffix.lstrip(".").lower(), fps, layout)
    with slide_style(), writer.saving(layout.figure, str(path), dpi=DPI):
        for picture, title in zip(pictures, titles, strict=True):
            padded = title + "\n" * (lines - 1 - title.count("\n"))
            layout.show(picture, padded, scale)
            writer.grab_frame()
    return path
