"""Animations that step through the layers: GIF (``PillowWriter``), MP4 (``FFMpegWriter``).

One map figure is built for the first frame and updated in place for the others (the
map, its colour limits when each frame has its own, the title); matplotlib's movie
writer grabs the frames. MP4 needs an ``ffmpeg`` executable; without one, MP4 export
raises a :class:`VitvizError` that says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.animation import FFMpegWriter, PillowWriter

from vitviz.compute.geometry import PatchGrid
from vitviz.errors import VitvizError
from vitviz.export.figures import map_figure
from vitviz.export.pictures import DEFAULT_OPTIONS, PictureOptions, as_numpy, paper_mask
from vitviz.export.styles import DPI, MapStyle, slide_style


def mp4_available() -> bool:
    """Whether MP4 can be written here (an ``ffmpeg`` executable matplotlib can run)."""
    return FFMpegWriter.isAvailable()


def _writer(fmt: str, fps: float):
    if fmt == "gif":
        return PillowWriter(fps=fps)
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
    maps,
    grid: PatchGrid,
    image: np.ndarray,
    titles: list[str],
    path: str | Path,
    *,
    options: PictureOptions = DEFAULT_OPTIONS,
    label: str = "attention",
    fixed_scale: bool = True,
    fps: float = 2.0,
) -> Path:
    """Write one frame per map (e.g. per layer) on the image as a GIF or MP4.

    Parameters
    ----------
    maps : array_like
        ``[frames, rows, cols]`` maps (numpy or torch).
    grid : PatchGrid
        Geometry of the input the maps were computed on.
    image : np.ndarray
        ``[h, w, 3]`` uint8 original image or a scaled copy.
    titles : list of str
        One title per frame (model, what is shown, the frame's layer).
    path : str or Path
        Destination; ``.gif`` or ``.mp4`` decides the format.
    options : PictureOptions
        Style, colormap, opacity, upsampling.
    label : str
        What the values are, for the colour bar.
    fixed_scale : bool
        One colour scale for all frames (they compare); otherwise each its own.
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
    frames = as_numpy(maps)  # [F, rows, cols]
    if len(frames) != len(titles) or not len(frames):
        raise ValueError("one title per map, and at least one map, are needed")
    path = Path(path)
    writer = _writer(path.suffix.lstrip(".").lower(), fps)
    limits = (float(np.nanmin(frames)), float(np.nanmax(frames))) if fixed_scale else (None, None)
    figure = map_figure(
        frames[0], grid, image, title=titles[0], options=options, label=label, vmin=limits[0],
        vmax=limits[1],
    )  # fmt: skip
    shown = figure.axes[0].images[-1]  # the map, or the ViT-paper mask
    with slide_style(), writer.saving(figure, str(path), dpi=DPI):
        for values, title in zip(frames, titles, strict=True):
            if options.style is MapStyle.VIT_PAPER:
                shown.set_data(paper_mask(values, grid))
            else:
                shown.set_data(values)
                if not fixed_scale:
                    shown.set_clim(float(np.nanmin(values)), float(np.nanmax(values)))
            figure.suptitle(title, wrap=True)
            writer.grab_frame()
    return path
