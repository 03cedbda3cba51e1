"""Figure builders: pixel-exact pictures, sizes, labels, deterministic bytes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vitviz.export.figures import (
    TITLE_SIZE,
    ColourScale,
    MapFigure,
    attention_distance_figure,
    fitted_font_size,
    grid_figure,
    magnification,
    map_figure,
)
from vitviz.export.saving import save_figure


def _picture(height, width, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, channels), dtype=np.uint8)


def _read(path):
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize(("height", "width"), [(224, 224), (160, 256), (700, 500), (37, 53)])
def test_map_figure_shows_the_picture_pixel_for_pixel(tmp_path, height, width):
    picture = _picture(height, width)
    figure = map_figure(picture, title="demo\nrollout", scale=ColourScale("inferno", 0, 1))
    out = _read(save_figure(figure, tmp_path / "map.png"))
    zoom = magnification(height, width)
    # The picture sits 24 px from the left and bottom edges, magnified by ``zoom``.
    top = out.shape[0] - 24 - height * zoom
    shown = out[top : top + height * zoom, 24 : 24 + width * zoom]
    np.testing.assert_array_equal(shown, np.repeat(np.repeat(picture, zoom, 0), zoom, 1))


def test_small_pictures_are_magnified_for_slides():
    assert magnification(224, 224) == 3
    assert magnification(14, 14) == 46
    assert magnification(1000, 800) == 1


def test_colour_bar_only_when_a_scale_is_given():
    picture = _picture(64, 64)
    with_bar = map_figure(picture, title="t", scale=ColourScale("viridis", 0.0, 2.0, "relevance"))
    without = map_figure(picture, title="t")
    assert len(with_bar.axes) == 2
    assert with_bar.axes[1].get_ylabel() == "relevance"
    assert len(without.axes) == 1
    assert with_bar.get_size_inches()[0] > without.get_size_inches()[0]


def test_map_figure_title_is_the_figure_text():
    figure = map_figure(_picture(32, 32), title="demo — head 2\nlayer 5")
    assert figure.texts[0].get_text() == "demo — head 2\nlayer 5"
    assert figure.texts[0].get_fontsize() == TITLE_SIZE


def test_long_titles_shrink_to_fit_the_figure(tmp_path):
    title = "Attention rollout of CLS\n" + " · ".join(["a_rather_long_checkpoint_name"] * 4)
    figure = map_figure(_picture(32, 32), title=title)
    assert figure.texts[0].get_fontsize() < TITLE_SIZE
    rgb = _read(save_figure(figure, tmp_path / "long.png"))
    # Title text stays inside the figure: the outermost pixel columns are background.
    assert (rgb[:, :3] == 255).all()
    assert (rgb[:, -3:] == 255).all()


def test_fitted_font_size():
    assert fitted_font_size("short", 500) == TITLE_SIZE
    wide = fitted_font_size("x" * 200, 500)
    assert 0 < wide < TITLE_SIZE


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_two_saves_are_byte_identical(tmp_path, fmt):
    def export(name):
        figure = map_figure(_picture(40, 60), title="demo", scale=ColourScale("inferno", 0, 1))
        return save_figure(figure, tmp_path / f"{name}.{fmt}").read_bytes()

    assert export("a") == export("b")


def test_saved_formats_are_what_they_say(tmp_path):
    figure = map_figure(_picture(40, 60), title="demo")
    assert save_figure(figure, tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")
    assert b"<svg" in save_figure(figure, tmp_path / "f.svg").read_bytes()[:1000]
    assert Image.open(save_figure(figure, tmp_path / "f.png")).format == "PNG"


def test_unknown_figure_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="jpg"):
        save_figure(map_figure(_picture(8, 8), title="t"), tmp_path / "f.jpg")


def test_grid_figure_has_one_axes_per_cell_in_row_major_order(tmp_path):
    pictures = [[_picture(10, 16, 4, seed=r * 10 + c) for c in range(4)] for r in range(3)]
    figure = grid_figure(
        pictures,
        title="grid",
        row_labels=["layer 0", "layer 1", "layer 2"],
        column_labels=["head 0", "head 1", "head 2", "mean"],
    )
    assert len(figure.axes) == 12
    np.testing.assert_array_equal(figure.axes[5].images[0].get_array(), pictures[1][1])
    assert [figure.axes[c].title.get_text() for c in range(4)] == [
        "head 0",
        "head 1",
        "head 2",
        "mean",
    ]
    assert {t.get_text() for t in figure.texts} >= {"layer 0", "layer 1", "layer 2"}
    # Thumbnails keep the grid's aspect: 16 columns wide, 10 rows high.
    x0, y0, x1, y1 = figure.axes[0].get_window_extent().extents
    assert (x1 - x0) / (y1 - y0) == pytest.approx(1.6, rel=0.05)
    save_figure(figure, tmp_path / "grid.png")


def test_grid_figure_needs_a_label_per_row_and_column():
    with pytest.raises(ValueError, match="label"):
        grid_figure([[_picture(4, 4)]], title="t", row_labels=[], column_labels=["h"])


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


def test_a_reused_map_figure_draws_what_a_fresh_one_draws(tmp_path):
    layout = MapFigure((40, 60), title_lines=2)
    layout.show(_picture(40, 60, seed=1), "first\nimage", ColourScale("inferno", 0, 1))
    save_figure(layout.figure, tmp_path / "first.png")
    scale = ColourScale("viridis", -2.0, 5.0, "relevance")
    reused = layout.show(_picture(40, 60, seed=2), "second\nimage", scale)
    fresh = map_figure(_picture(40, 60, seed=2), title="second\nimage", scale=scale)
    a = _read(save_figure(reused, tmp_path / "reused.png"))
    b = _read(save_figure(fresh, tmp_path / "fresh.png"))
    np.testing.assert_array_equal(a, b)


def test_map_figure_refuses_what_does_not_fit_its_layout():
    layout = MapFigure((40, 60), title_lines=1, colour_bar=False)
    with pytest.raises(ValueError, match="fit"):
        layout.show(_picture(40, 61), "t")
    with pytest.raises(ValueError, match="fit"):
        layout.show(_picture(40, 60), "two\nlines")
    with pytest.raises(ValueError, match="fit"):
        layout.show(_picture(40, 60), "t", ColourScale("inferno", 0, 1))
