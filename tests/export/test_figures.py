"""Figure builders and saving: titles, colour bars, small multiples, identical bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from vitviz.compute.preprocess import PatchGrid
from vitviz.export.figures import attention_distance_figure
from vitviz.export.map_figures import heads_grid_figure, map_image_figure
from vitviz.export.pictures import PictureOptions
from vitviz.export.saving import save_figure
from vitviz.export.styles import DPI, MapStyle
from vitviz.vit.layout import TokenLayout


def _grid(rows=4, cols=6) -> PatchGrid:
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(rows, cols))
    return PatchGrid(layout, (16, 16), (16 * rows, 16 * cols), (16 * rows, 16 * cols))


def _map_figure(seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (64, 96, 3), np.uint8)
    return map_image_figure(rng.random((4, 6)), _grid(), image, title="model\nmap", **kwargs)


def test_map_figure_has_the_title_and_a_colour_bar_of_the_maps_scale():
    figure = _map_figure(label="relevance", vmin=0.0, vmax=2.0)
    assert figure.get_suptitle() == "model\nmap"
    assert len(figure.axes) == 2
    assert figure.axes[1].get_ylabel() == "relevance"
    assert figure.axes[1].get_ylim() == (0.0, 2.0)


def test_the_vit_paper_style_has_no_colour_bar():
    figure = _map_figure(options=PictureOptions(style=MapStyle.VIT_PAPER))
    assert len(figure.axes) == 1


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_two_saves_of_the_same_input_are_byte_identical(tmp_path, fmt):
    first = save_figure(_map_figure(), tmp_path / f"a.{fmt}").read_bytes()
    second = save_figure(_map_figure(), tmp_path / f"b.{fmt}").read_bytes()
    assert first == second
    assert first != save_figure(_map_figure(seed=1), tmp_path / f"c.{fmt}").read_bytes()


def test_saved_formats_are_what_they_say_and_png_has_size_dpi_and_software(tmp_path):
    figure = _map_figure()
    assert save_figure(figure, tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    assert b"<svg" in save_figure(figure, tmp_path / "a.svg").read_bytes()[:2000]
    png = Image.open(io.BytesIO(save_figure(figure, tmp_path / "a.png").read_bytes()))
    assert png.size == tuple(round(v * DPI) for v in figure.get_size_inches())
    assert round(png.info["dpi"][0]) == DPI
    assert png.info["Software"] == "vitviz"


def test_unknown_figure_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="cannot save a figure as 'bmp'"):
        save_figure(_map_figure(), tmp_path / "a.bmp")


def test_grid_figure_has_one_axes_per_cell_in_row_major_order_and_a_bar():
    maps = np.random.default_rng(0).random((3, 3, 10, 16)) * 5
    figure = heads_grid_figure(maps, title="grid")
    assert len(figure.axes) == 12 + 1
    cell = figure.axes[5].images[0].get_array()  # row 1, column 1, scaled to 0..1
    one = maps[1, 1]
    np.testing.assert_allclose(cell, (one - one.min()) / (one.max() - one.min()), rtol=1e-6)
    titles = ["head 0", "head 1", "head 2", "mean"]
    assert [figure.axes[c].title.get_text() for c in range(4)] == titles
    assert [figure.axes[4 * r].get_ylabel() for r in range(3)] == ["layer 0", "layer 1", "layer 2"]
    assert "each map from its minimum to its maximum" in figure.axes[-1].get_ylabel()


def test_attention_distance_figure_plots_every_head(tmp_path):
    distance = np.arange(12, dtype=float).reshape(4, 3) * 10
    figure = attention_distance_figure(distance, title="distance")
    axes = figure.axes[0]
    points = np.concatenate([c.get_offsets() for c in axes.collections])
    assert points.shape == (12, 2)
    assert sorted(points[:, 1].tolist()) == sorted(distance.ravel().tolist())
    assert axes.get_ylabel() == "mean attention distance (pixels)"
    save_figure(figure, tmp_path / "stats.svg")


def test_attention_distance_figure_colours_by_a_statistic():
    distance = np.ones((2, 3))
    entropy = np.arange(6, dtype=float).reshape(2, 3)
    figure = attention_distance_figure(
        distance, title="d", colour=entropy, colour_label="entropy (nats)"
    )
    assert len(figure.axes) == 2
    np.testing.assert_array_equal(figure.axes[0].collections[0].get_array(), entropy.ravel())
