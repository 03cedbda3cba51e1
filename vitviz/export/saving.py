"""Save figures as PNG / SVG / PDF through ``savefig``, byte-identical for the same figure."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from vitviz.export.styles import DPI, FIGURE_FORMATS, SAVE_METADATA, slide_style


def save_figure(figure: Figure, path: str | Path, fmt: str | None = None) -> Path:
    """Save ``figure`` deterministically as PNG, SVG or PDF.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        Any figure (the builders of :mod:`vitviz.export.figures` make slide-sized ones).
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
    with slide_style():
        # zlib level 1: a sixth of the default level's time (bench_export); figures are flat.
        extra = {"pil_kwargs": {"compress_level": 1}} if fmt == "png" else {}
        figure.savefig(path, format=fmt, dpi=DPI, metadata=SAVE_METADATA[fmt], **extra)
    return path
