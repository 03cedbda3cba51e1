"""Animations that step through the layers: GIF (``PillowWriter``), MP4 (``FFMpegWriter``).

One map figure is updated in place for each frame (map, colour limits, title) and
grabbed by matplotlib's movie writer. MP4 needs an ``ffmpeg`` executable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.animation import FFMpegWriter, PillowWriter

from vitviz.errors import VitvizError
from vitviz.export.map_figures import map_image_figure
from vitviz.export.pictures import as_numpy, paper_mask
from vitviz.export.styles import DPI, MapStyle, slide_style


def mp4_available() -> bool:
    """Whether MP4 can be written here (an ``ffmpeg`` executable matplotlib can run)."""
    return FFMpegWriter.isAvailable()


def require_mp4() -> None:
    """Raise :class:`VitvizError`, saying what to do, where no ``ffmpeg`` can write MP4."""
    if not mp4_available():
        raise VitvizError(
            "MP4 export needs the ffmpeg program, which is not installed here; "
            "install ffmpeg (and put it on PATH) or export with --format gif."
        )


def save_layer_animation(
    maps, grid, image, titles, path, *, options=None, label="attention", fixed_scale=True, fps=2.0
) -> Path:
    """Write one frame per map (e.g. per layer) on the image as a GIF or MP4; the path.

    ``maps`` are ``[frames, rows, cols]`` (numpy or torch), each drawn as by
    :func:`~vitviz.export.map_figures.map_image_figure` and titled by its ``titles`` entry;
    ``path``'s suffix decides the format; ``fixed_scale`` gives all frames one colour
    scale (so they compare), otherwise each frame spans the colormap. Raises a
    :class:`VitvizError` for MP4 where no ``ffmpeg`` is installed.
    """
    frames, path = as_numpy(maps), Path(path)  # [F, rows, cols]
    if len(frames) != len(titles) or not len(frames):
        raise ValueError("one title per map, and at least one map, are needed")
    if path.suffix.lower() == ".mp4":
        require_mp4()
        # yuv420p plays everywhere (browsers, slide software); it needs even sizes.
        even = ["-pix_fmt", "yuv420p", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]
        writer = FFMpegWriter(fps, "libx264", extra_args=even, metadata={"comment": "vitviz"})
    elif path.suffix.lower() == ".gif":
        writer = PillowWriter(fps=fps)
    else:
        raise ValueError(f"cannot animate to {path.suffix!r}; use .gif or .mp4")
    low, high = (np.nanmin(frames), np.nanmax(frames)) if fixed_scale else (None, None)
    figure = map_image_figure(
        frames[0], grid, image, title=titles[0], options=options, label=label, vmin=low, vmax=high
    )
    shown = figure.axes[0].images[-1]  # the map, or the ViT-paper mask
    paper = options is not None and options.style is MapStyle.VIT_PAPER
    with slide_style(), writer.saving(figure, str(path), dpi=DPI):
        for values, title in zip(frames, titles, strict=True):
            shown.set_data(paper_mask(values, grid) if paper else values)
            if not (fixed_scale or paper):
                shown.set_clim(np.nanmin(values), np.nanmax(values))
            figure.suptitle(title, wrap=True)
            writer.grab_frame()
    return path
