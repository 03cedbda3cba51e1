"""The fast raster path gives matplotlib's own pixels; vector formats go through matplotlib."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from vitviz.export.figures import ColourScale, grid_figure, map_figure
from vitviz.export.raster import figure_rgba
from vitviz.export.saving import FigureSaver, save_figure
from vitviz.export.styles import DPI, slide_style


def _matplotlib_rgba(figure):
    buffer = io.BytesIO()
    with slide_style():
        figure.savefig(buffer, format="rgba", dpi=DPI)
    width, height = (round(v * DPI) for v in figure.get_size_inches())
    return np.frombuffer(buffer.getbuffer(), np.uint8).reshape(height, width, 4)


def _picture(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_map_figure_fast_path_equals_matplotlib():
    figure = map_figure(_picture((50, 70, 3)), title="t\nu", scale=ColourScale("inferno", 0, 1))
    np.testing.assert_array_equal(figure_rgba(figure), _matplotlib_rgba(figure))


def test_grid_figure_fast_path_equals_matplotlib():
    pictures = [[_picture((6, 9, 4), seed=r * 3 + c) for c in range(3)] for r in range(2)]
    for row in pictures:
        for picture in row:
            picture[..., 3] = 255
    figure = grid_figure(pictures, title="g", row_labels=["a", "b"], column_labels=["x", "y", "z"])
    np.testing.assert_array_equal(figure_rgba(figure), _matplotlib_rgba(figure))


def test_translucent_and_unaligned_pictures_are_left_to_matplotlib():
    translucent = _picture((8, 8, 4))
    translucent[0, 0, 3] = 10
    figure = map_figure(translucent, title="t")
    np.testing.assert_array_equal(figure_rgba(figure), _matplotlib_rgba(figure))
    loose = Figure(figsize=(3, 2), dpi=DPI)
    axes = loose.add_subplot()
    axes.imshow(_picture((7, 5, 3)), label="vitviz-picture")
    np.testing.assert_array_equal(figure_rgba(loose), _matplotlib_rgba(loose))


def test_pictures_stay_visible_after_saving(tmp_path):
    figure = map_figure(_picture((10, 10, 3)), title="t")
    save_figure(figure, tmp_path / "a.png")
    assert figure.axes[0].images[0].get_visible()


def test_png_carries_the_figure_size_and_dpi(tmp_path):
    figure = map_figure(_picture((10, 10, 3)), title="t")
    image = Image.open(save_figure(figure, tmp_path / "a.png"))
    width, height = (round(v * DPI) for v in figure.get_size_inches())
    assert image.size == (width, height)
    assert round(image.info["dpi"][0]) == DPI


def test_png_holds_the_figure_pixels_and_the_same_figure_gives_the_same_bytes(tmp_path):
    figure = map_figure(_picture((10, 10, 3)), title="t")
    first = save_figure(figure, tmp_path / "a.png").read_bytes()
    again = save_figure(figure, tmp_path / "b.png").read_bytes()
    assert first == again
    image = Image.open(io.BytesIO(first))
    assert image.mode == "RGBA"
    assert image.info["Software"] == "vitviz"
    np.testing.assert_array_equal(np.asarray(image), figure_rgba(figure))


def test_figure_saver_keeps_order_and_reports_write_errors(tmp_path):
    saver = FigureSaver(max_pending=2)
    figure = map_figure(_picture((10, 10, 3)), title="t")
    (tmp_path / "blocked.png").mkdir()
    for name in ("a.png", "blocked.png", "c.png", "d.png"):
        saver.save(figure, tmp_path / name, "png", owner=name)
    saver.save(figure, tmp_path / "e.svg", "svg", owner="e")
    finished = saver.collect(wait=True)
    saver.close()
    assert [(owner, path.name) for owner, path, _ in finished] == [
        ("a.png", "a.png"),
        ("blocked.png", "blocked.png"),
        ("c.png", "c.png"),
        ("d.png", "d.png"),
        ("e", "e.svg"),
    ]
    errors = {owner: error for owner, _, error in finished}
    assert isinstance(errors.pop("blocked.png"), OSError)
    assert all(error is None for error in errors.values())
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "c.png").read_bytes()
    assert saver.collect(wait=True) == []
