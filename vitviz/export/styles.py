"""The look of exported figures: large fonts for slides, fixed sizes, identical bytes.

Figures are built and saved inside :func:`slide_style`, whatever the user's matplotlib
settings, with :data:`SAVE_METADATA` (no timestamps), so equal maps give equal bytes.
"""

from __future__ import annotations

import contextlib
import enum

import matplotlib as mpl

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
}

SAVE_METADATA = {
    "png": {"Software": "vitviz"},
    "svg": {"Date": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": "vitviz"},
}


class MapStyle(enum.Enum):
    """How a map is shown on its image: colormapped over it with the user's opacity, or as
    in the ViT paper's figures (the blurred, max-normalised map as alpha mask over black)."""

    OVERLAY = "overlay"
    VIT_PAPER = "vit-paper"


def slide_style() -> contextlib.AbstractContextManager:
    """matplotlib's ``rc_context`` of :data:`SLIDE_RC` (the user's settings return after it)."""
    return mpl.rc_context(SLIDE_RC)
