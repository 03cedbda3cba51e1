"""Fast figure pixels: a reused map figure draws only what changes, and gets the same pixels."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

from vitviz.export.figures import ColourScale, MapFigure
from vitviz.export.styles import DPI, slide_style


def _picture(seed, channels=3, shape=(40, 60)):
    return np.random.default_rng(seed).integers(0, 256, (*shape, channels), dtype=np.uint8)


def _matplotlib_rgba(figure):
    """A full draw by matplotlib's own Agg canvas (no vitviz caches)."""
    canvas = figure.canvas
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    try:
        with slide_style():
            figure.savefig(buffer, format="rgba", dpi=DPI)
    finally:
        figure.set_canvas(canvas)
    width, height = (round(v * DPI) for v in figure.get_size_inches())
    return np.frombuffer(buffer.getbuffer(), np.uint8).reshape(height, width, 4)


def _bar_inside(layout: MapFigure, shape) -> np.ndarray:
    """Mask of the colour bar's colours (inside its outline)."""
    x0, y0, x1, y1 = (round(v) for v in layout._bar.ax.get_window_extent().extents)
    mask = np.zeros(shape[:2], bool)
    mask[shape[0] - y1 + 2 : shape[0] - y0 - 2, x0 + 2 : x1 - 2] = True
    return mask


SHOWN = [
    ("first\nimage.png", ColourScale("inferno", 0.0, 1.0)),
    ("second, longer title\nimage-2.png", ColourScale("inferno", 0.00123, 0.0456)),
    ("third\nimage-3.png", ColourScale("inferno", -3.2, 17.0, "relevance")),
    ("fourth\nflat map", ColourScale("inferno", 0.5, 0.5)),
    ("fifth\nanother colormap", ColourScale("viridis", 0.01, 0.2)),
]


def test_reused_figure_has_matplotlibs_pixels_outside_the_bar_colours():
    layout = MapFigure((40, 60), title_lines=2)
    for seed, (title, scale) in enumerate(SHOWN):
        layout.show(_picture(seed), title, scale)
        fast = layout.rgba()
        full = _matplotlib_rgba(layout.figure)
        outside = ~_bar_inside(layout, fast.shape)
        np.testing.assert_array_equal(fast[outside], full[outside])


def test_pixels_do_not_depend_on_what_was_shown_before():
    reused = MapFigure((40, 60), title_lines=2)
    for seed, (title, scale) in enumerate(SHOWN):
        reused.show(_picture(seed), title, scale)
        reused.rgba()
        fresh = MapFigure((40, 60), title_lines=2)
        fresh.show(_picture(seed), title, scale)
        np.testing.assert_array_equal(reused.rgba(), fresh.rgba())


def test_a_picture_matplotlib_must_blend_is_drawn_in_full():
    layout = MapFigure((40, 60), title_lines=1, colour_bar=False)
    layout.show(_picture(0), "opaque")
    layout.rgba()
    translucent = _picture(1, channels=4)
    translucent[..., 3] = 128
    layout.show(translucent, "translucent")
    np.testing.assert_array_equal(layout.rgba(), _matplotlib_rgba(layout.figure))
    layout.show(_picture(2), "opaque again")
    np.testing.assert_array_equal(layout.rgba(), _matplotlib_rgba(layout.figure))


def test_a_figure_on_another_canvas_is_drawn_in_full_by_matplotlib():
    layout = MapFigure((40, 60), title_lines=1)
    layout.show(_picture(0), "on our canvas", ColourScale("inferno", 0, 1))
    layout.rgba()
    FigureCanvasBase(layout.figure)  # e.g. a GUI's canvas, which vitviz does not draw on
    layout.show(_picture(1), "on another canvas", ColourScale("inferno", 0.2, 0.7))
    np.testing.assert_array_equal(layout.rgba(), _matplotlib_rgba(layout.figure))
