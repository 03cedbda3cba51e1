"""The look of exported figures: large fonts for slides, fixed sizes, identical bytes.

Every exported figure is built and saved inside :func:`slide_style`, so the fonts, line
widths and resolution are the same whatever the user's matplotlib configuration says, and
:func:`save_figure` strips the timestamps PDF and SVG would embed, so two exports of the
same map are byte-identical.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib as mpl

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100
FIGURE_FORMATS = ("png", "svg", "pdf")
ANIMATION_FORMATS = ("gif", "mp4")

SLIDE_RC = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    # Fixed canvas: "tight" would make the size depend on the title's length.
    "savefig.bbox": None,
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
    # DejaVu ships with matplotlib, so the glyphs are the same on every machine.
    "font.family": "DejaVu Sans",
    "font.size": 18,
    "axes.titlesize": 20,
    "axes.labelsize": 20,
    "figure.titlesize": 24,
    "xtick.labelsize": 16,
    "ytick.labelsize": 16,
    "legend.fontsize": 15,
    "axes.linewidth": 1.5,
    "lines.linewidth": 2.5,
    "lines.markersize": 10,
    # SVG element ids are random unless salted.
    "svg.hashsalt": "vitviz",
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "image.interpolation": "nearest",
    "image.resample": False,
}

# Timestamps are what makes two saves of one figure differ.
_METADATA = {
    "png": {"Software": "vitviz"},
    "svg": {"Date": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": "vitviz"},
}


class MapStyle(enum.Enum):
    """How a map is shown on its image."""

    OVERLAY = "overlay"
    """The colormapped map over the image with the user's opacity."""
    VIT_PAPER = "vit-paper"
    """The ViT paper's figures: blurred, max-normalised map as an alpha mask over black."""


@contextlib.contextmanager
def slide_style() -> Iterator[None]:
    """Context in which exported figures are built and saved.

    Yields
    ------
    None
        matplotlib's rcParams are the slide style inside the block and restored after it.
    """
    with mpl.rc_context(SLIDE_RC):
        yield


def save_figure(figure: Figure, path: str | Path, fmt: str | None = None) -> Path:
    """Save ``figure`` deterministically as PNG, SVG or PDF.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        A figure built by :mod:`vitviz.export.figures`.
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
        figure.savefig(path, format=fmt, dpi=DPI, metadata=_METADATA[fmt])
    return path
