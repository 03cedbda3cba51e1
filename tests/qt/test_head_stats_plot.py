import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from tests.qt.panel_data import make_state, set_result
from vitviz.compute import head_stats
from vitviz.qt.panels.head_stats_plot import HeadStatsPlotPanel
from vitviz.state import AppState
from vitviz.vit.layout import TokenLayout


@pytest.fixture
def state():
    return make_state(depth=4, heads=3)


@pytest.fixture
def panel(qtbot, state):
    panel = HeadStatsPlotPanel(state)
    qtbot.addWidget(panel)
    panel.resize(600, 450)
    panel.show()
    qtbot.waitExposed(panel)
    panel.canvas.draw()
    return panel


def stats_of(state):
    inference = state.results.inference
    return head_stats.head_statistics(inference.attentions, inference.layout, (16, 16))


def qt_position(panel, layer, head):
    """Where point (layer, head) is on the canvas, in Qt's logical pixels."""
    index = layer * 3 + head
    x, y = panel.axes.transData.transform(panel.positions[index])
    ratio = panel.canvas.device_pixel_ratio
    return QPoint(round(x / ratio), round(panel.canvas.height() - y / ratio))


def test_points_are_the_mean_attention_distance_per_head(panel, state):
    distance = stats_of(state).mean_distance.numpy()
    assert panel.positions.shape == (12, 2)
    np.testing.assert_allclose(panel.positions[:, 1], distance.ravel(), rtol=1e-6)
    np.testing.assert_array_equal(panel.positions[:, 0], np.repeat(np.arange(4), 3))


def test_clicking_a_point_selects_its_layer_and_head(panel, state, qtbot):
    # Points of one layer share an x; pick one whose neighbours are far enough.
    layer, head = 2, 1
    qtbot.mouseClick(panel.canvas, Qt.MouseButton.LeftButton, pos=qt_position(panel, layer, head))
    chosen = (state.selection.layer, state.selection.head)
    assert chosen[0] == layer
    # Heads of one layer may overlap: the chosen point is one under the pointer.
    shown = panel.axes.transData.transform(
        panel.positions[[layer * 3 + head, chosen[0] * 3 + chosen[1]]]
    )
    assert np.hypot(*(shown[0] - shown[1])) <= 12 * panel.canvas.device_pixel_ratio


def test_clicking_empty_space_changes_nothing(panel, state, qtbot):
    before = (state.selection.layer, state.selection.head)
    qtbot.mouseClick(panel.canvas, Qt.MouseButton.LeftButton, pos=QPoint(2, 2))
    assert (state.selection.layer, state.selection.head) == before


def test_the_selection_from_elsewhere_moves_the_ring(panel, state):
    state.selection.layer, state.selection.head = 3, 2
    ring_x, ring_y = panel._ring.get_data()
    assert (ring_x[0], ring_y[0]) == tuple(panel.positions[3 * 3 + 2])


def test_colouring_by_entropy_prefix_mass_or_head(panel, state):
    stats = stats_of(state)
    _, colour, label = panel.statistics()
    np.testing.assert_allclose(colour, stats.entropy.numpy(), rtol=1e-6)
    panel.colour_by.setCurrentText("prefix mass")
    _, colour, label = panel.statistics()
    np.testing.assert_allclose(colour, stats.prefix_mass.sum(-1).numpy(), rtol=1e-6)
    assert "prefix" in label
    panel.colour_by.setCurrentText("head")
    _, colour, _ = panel.statistics()
    assert colour[1, 2] == 2


def test_a_model_without_prefix_tokens_and_an_empty_state(qtbot):
    state = AppState()
    panel = HeadStatsPlotPanel(state)
    qtbot.addWidget(panel)
    assert panel.statistics() is None
    plain = make_state(TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(2, 6)), 2, 2)
    state.results.model = plain.results.model
    set_result(state, plain.results.inference, labels=plain.results.model.spec.labels)
    panel.colour_by.setCurrentText("prefix mass")
    _, colour, _ = panel.statistics()
    np.testing.assert_array_equal(colour, np.zeros((2, 2)))
    assert panel.positions.shape == (4, 2)


def test_hovering_a_point_names_it(panel, state, qtbot):
    distance = stats_of(state).mean_distance.numpy()
    text = panel.describe_point(2, 1)
    assert text.startswith("layer 2, head 1: ")
    assert f"{distance[2, 1]:.1f} px" in text
    assert "entropy" in text
    qtbot.mouseMove(panel.canvas, qt_position(panel, 3, 0))
    assert panel.canvas.toolTip().startswith("layer 3")


def test_a_larger_font_redraws_the_plot_larger(panel, qtbot):
    before = panel.axes.xaxis.label.get_fontsize()
    font = panel.canvas.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    panel.canvas.setFont(font)
    assert panel.axes.xaxis.label.get_fontsize() == pytest.approx(2 * before)


def ring_drawn_at(panel, layer, head):
    """Whether the highlight colour appears in the canvas buffer around point (layer, head)."""
    x, y = panel.axes.transData.transform(panel.positions[layer * 3 + head])
    pixels = np.asarray(panel.canvas.buffer_rgba())  # [h, w, 4], top row first
    row, col = int(pixels.shape[0] - y), int(x)
    window = pixels[max(row - 15, 0) : row + 15, max(col - 15, 0) : col + 15, :3].astype(int)
    return bool((np.abs(window - [0, 230, 255]).sum(-1) < 60).any())


def test_a_selection_change_blits_the_ring_without_redrawing_the_figure(panel, state, qtbot):
    draws = panel.canvas.full_draws
    state.selection.layer, state.selection.head = 3, 0
    qtbot.wait(10)
    assert panel.canvas.full_draws == draws
    assert ring_drawn_at(panel, 3, 0)
    assert not ring_drawn_at(panel, 0, 0)


def test_another_image_on_the_same_model_moves_the_points(panel, state):
    points = panel.axes.collections[0]
    other = make_state(depth=4, heads=3, seed=5)
    set_result(state, other.results.inference)
    expected = stats_of(other).mean_distance.numpy().ravel()
    np.testing.assert_allclose(panel.positions[:, 1], expected, rtol=1e-6)
    np.testing.assert_allclose(points.get_offsets()[:, 1], expected, rtol=1e-6)
    assert panel.axes.collections[0] is points  # moved, not rebuilt
    np.testing.assert_allclose(points.get_array(), stats_of(other).entropy.numpy().ravel())
