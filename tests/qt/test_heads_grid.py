import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from tests.qt.panel_data import make_state, set_result
from vitviz.compute import render
from vitviz.qt.panels.heads_grid import HeadsGridPanel
from vitviz.state import AppState
from vitviz.vit.layout import TokenLayout


@pytest.fixture
def state():
    return make_state(depth=3, heads=4)


@pytest.fixture
def panel(qtbot, state):
    panel = HeadsGridPanel(state)
    qtbot.addWidget(panel)
    panel.resize(600, 500)
    panel.show()
    return panel


def expected_map(state, layer, head, query):
    inference = state.results.inference
    layout = inference.layout
    row = inference.attentions[layer, head, query].float()  # [N]
    return row[layout.num_prefix :].reshape(layout.grid).numpy()  # [rows, cols]


def test_one_thumbnail_per_head_and_a_fused_column(panel, state):
    assert panel.mosaic.shape == (3, 5)
    assert panel.num_heads == 4
    cells = panel.thumbnail_maps()
    np.testing.assert_allclose(cells[1, 2], expected_map(state, 1, 2, 0), rtol=1e-6)
    np.testing.assert_allclose(cells[:, 4], cells[:, :4].mean(axis=1), rtol=1e-5)


def test_a_new_query_redraws_every_thumbnail(panel, state):
    before = panel.mosaic.map_image
    query = state.results.inference.layout.patch_index(2, 4)
    state.selection.query = query
    assert panel.mosaic.map_image is not before
    cells = panel.thumbnail_maps()
    np.testing.assert_allclose(cells[2, 3], expected_map(state, 2, 3, query), rtol=1e-6)
    assert "patch (2, 4)" in panel.caption.text()


def test_the_atlas_shows_the_rendered_colours(panel, state):
    cells = panel.thumbnail_maps()
    colours = render.render_maps(cells, state.view.colormap, "per_map")
    # Cell (1, 2) starts after one cell and its gutter in each direction.
    rows, cols = state.results.inference.layout.grid
    top, left = 1 * (rows + 1), 2 * (cols + 1)
    pixel = panel.mosaic.map_image.pixelColor(left + 4, top + 2)
    assert pixel == QColor(*colours[1, 2, 2, 4])


def test_fusion_and_scale_choices_change_the_state_and_the_drawing(panel, state):
    panel.fusion.setCurrentIndex(panel.fusion.findText("max"))
    assert state.view.fusion == "max"
    cells = panel.thumbnail_maps()
    np.testing.assert_allclose(cells[:, 4], cells[:, :4].max(axis=1), rtol=1e-6)
    assert panel.mosaic.describe(0, 4) == "layer L0, max"
    state.view.fusion = "min"
    assert panel.fusion.currentText() == "min"
    panel.scale.setCurrentIndex(1)
    assert state.view.scale == "shared"


def test_patches_only_renormalises_over_the_patches(panel, state):
    panel.drop_prefix.setChecked(True)
    assert state.view.drop_prefix
    cells = panel.thumbnail_maps()
    np.testing.assert_allclose(cells[:, :4].sum(axis=(-2, -1)), 1.0, rtol=1e-4)


def test_mass_threshold_keeps_only_the_top_patches(panel, state):
    state.view.mass_threshold = 0.5
    cells = panel.thumbnail_maps()
    zeroed = (cells == 0).sum(axis=(-2, -1))
    assert (zeroed > 0).all()


def test_clicking_a_head_selects_its_layer_and_head(panel, state, qtbot):
    click = panel.mosaic.cell_rect(2, 1).center().toPoint()
    qtbot.mouseClick(panel.mosaic, Qt.MouseButton.LeftButton, pos=click)
    assert (state.selection.layer, state.selection.head) == (2, 1)
    # The fused column selects the layer and keeps the head.
    qtbot.mouseClick(
        panel.mosaic, Qt.MouseButton.LeftButton, pos=panel.mosaic.cell_rect(0, 4).center().toPoint()
    )
    assert (state.selection.layer, state.selection.head) == (0, 1)


def test_layer_and_head_from_elsewhere_move_the_outline(panel, state):
    state.selection.layer = 2
    state.selection.head = 3
    assert panel.mosaic.marker == (2, 3)
    assert "layer 2, head 3" in panel.caption.text()


def test_empty_state_then_a_result_then_another_model(qtbot):
    state = AppState()
    panel = HeadsGridPanel(state)
    qtbot.addWidget(panel)
    assert panel.mosaic.map_image is None
    filled = make_state(depth=2, heads=3)
    state.results.model = filled.results.model
    set_result(state, filled.results.inference, labels=filled.results.model.spec.labels)
    assert panel.mosaic.shape == (2, 4)
    wide = make_state(TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(2, 6)), 4, 2)
    state.results.model = wide.results.model
    state.fit_selection(wide.results.inference.layout, 4, 2, reset_query=True)
    set_result(state, wide.results.inference, labels=wide.results.model.spec.labels)
    assert panel.mosaic.shape == (4, 3)
    assert panel.thumbnail_maps().shape == (4, 3, 2, 6)


def test_thumbnails_fit_the_panel_until_the_user_zooms(panel, qtbot):
    fitted = panel.mosaic.zoom
    assert panel.mosaic.sizeHint().width() <= panel.scroll.maximumViewportSize().width()
    panel.resize(1000, 900)
    qtbot.wait(1)
    assert panel.mosaic.zoom > fitted
    panel.zoom_out.click()
    chosen = panel.mosaic.zoom
    panel.resize(1100, 1000)
    assert panel.mosaic.zoom == chosen
    panel.zoom_in.click()
    assert panel.mosaic.zoom == chosen + 1
    panel.fit()
    assert panel.mosaic.sizeHint().width() <= panel.scroll.maximumViewportSize().width()


def test_attention_in_a_batch_axis_is_read_from_the_first_image(qtbot, state):
    inference = state.results.inference
    inference.attentions = torch.stack([inference.attentions, inference.attentions.flip(0)])
    panel = HeadsGridPanel(state)
    qtbot.addWidget(panel)
    assert panel.mosaic.shape == (3, 5)


def test_every_head_is_named_when_its_label_fits_its_thumbnail(qtbot):
    """A short panel (the Explore layout's) still names h0, h1 and the fused column."""
    state = make_state(depth=6, heads=2)
    panel = HeadsGridPanel(state)
    qtbot.addWidget(panel)
    panel.resize(600, 230)
    panel.show()
    qtbot.wait(1)
    mosaic = panel.mosaic
    w, zoom = mosaic._cell[1], mosaic.zoom
    left, top = mosaic._margins()
    image = mosaic.grab().toImage()
    background = image.pixelColor(1, 1)
    for col in range(mosaic.shape[1]):
        xs = range(left + col * w * zoom + w * zoom // 4, left + col * w * zoom + w * zoom * 3 // 4)
        inked = sum(image.pixelColor(x, y) != background for x in xs for y in range(top - 2))
        assert inked > 0, f"column {col} has no label"
