"""The text-caching renderer draws exactly what matplotlib's Agg renderer draws."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vitviz.export.styles import DPI, slide_style
from vitviz.export.text_cache import TextCachingCanvas, TextCachingRenderer


def _texts(figure: Figure) -> None:
    rng = np.random.default_rng(0)
    strings = ["0.0125", "Attention rollout of CLS", "demo · layers 0–5 · x.png", "attention"]
    for k in range(24):
        figure.text(
            rng.uniform(0.02, 0.7),
            rng.uniform(0.05, 0.95),
            strings[k % len(strings)],  # each string drawn at several sub-pixel positions
            rotation=90 if k % 5 == 0 else 0,
            fontsize=[16, 20, 13.5][k % 3],
            antialiased=k % 7 != 0,
        )


def _pixels(canvas_type) -> np.ndarray:
    with slide_style():
        figure = Figure(figsize=(6, 4), dpi=DPI)
        canvas = canvas_type(figure)
        _texts(figure)
        canvas.draw()
        first = np.asarray(canvas.buffer_rgba()).copy()
        canvas.draw()  # a second draw finds everything in the caches
        np.testing.assert_array_equal(np.asarray(canvas.buffer_rgba()), first)
    return first


def test_cached_text_has_matplotlibs_pixels():
    np.testing.assert_array_equal(_pixels(TextCachingCanvas), _pixels(FigureCanvasAgg))


def test_the_canvas_draws_with_the_caching_renderer_after_a_resize():
    figure = Figure(figsize=(2, 2), dpi=DPI)
    canvas = TextCachingCanvas(figure)
    assert isinstance(canvas.get_renderer(), TextCachingRenderer)
    figure.set_size_inches(3, 2)
    renderer = canvas.get_renderer()
    assert isinstance(renderer, TextCachingRenderer)
    assert (renderer.width, renderer.height) == (300, 200)
