import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QPointF, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox

from vitviz.qt.widgets.bindings import bind_check, bind_combo, bind_value
from vitviz.qt.widgets.map_view import MapView
from vitviz.qt.widgets.mosaic import MosaicView, label_step, pack_atlas
from vitviz.state import AppState


def cells(n_rows, n_cols, h, w):
    """Cells whose red channel says the row and green the column, for locating them."""
    out = np.zeros((n_rows, n_cols, h, w, 4), dtype=np.uint8)
    out[..., 0] = np.arange(n_rows)[:, None, None, None] * 10
    out[..., 1] = np.arange(n_cols)[None, :, None, None] * 10
    out[..., 3] = 255
    return out


def test_atlas_places_each_cell_with_a_gutter():
    atlas = pack_atlas(cells(3, 4, 2, 5))
    assert atlas.shape == (3 * 3, 4 * 6, 4)
    # Cell (2, 1) starts at pixel row 2 * 3, column 1 * 6.
    assert tuple(atlas[6, 6, :2]) == (20, 10)
    assert tuple(atlas[7, 10, :2]) == (20, 10)
    # The gutter after it is neither this cell nor the next one.
    assert tuple(atlas[8, 6]) == (40, 40, 40, 255)
    assert tuple(atlas[6, 11]) == (40, 40, 40, 255)


def test_mosaic_click_reports_the_cell_under_the_pointer(qtbot):
    view = MosaicView()
    qtbot.addWidget(view)
    view.set_cells(cells(3, 5, 4, 4), [str(i) for i in range(3)], [f"h{i}" for i in range(5)])
    view.show()
    rect = view.cell_rect(2, 3)
    with qtbot.waitSignal(view.cell_clicked) as blocker:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    assert blocker.args == [2, 3]
    assert view.cell_at(QPoint(1, 1)) is None
    assert view.describe(2, 3) == "layer 2, h3"


def test_mosaic_zoom_is_clamped_and_resizes_the_widget(qtbot):
    view = MosaicView()
    qtbot.addWidget(view)
    view.set_cells(cells(2, 2, 4, 4))
    view.set_zoom(2)
    small = view.sizeHint()
    view.set_zoom(6)
    assert view.sizeHint().width() > small.width()
    view.set_zoom(10_000)
    assert view.zoom == 24
    view.set_zoom(0)
    assert view.zoom == 1
    assert view.fit_zoom(view.sizeHint()) >= 1


def test_map_view_keeps_rows_and_columns_on_a_non_square_grid(qtbot):
    view = MapView()
    qtbot.addWidget(view)
    view.resize(500, 200)
    view.set_map(np.zeros((2, 5, 4), dtype=np.uint8))
    view.show()
    rect = view.cell_rect(1, 4)
    with qtbot.waitSignal(view.cell_clicked) as blocker:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    assert blocker.args == [1, 4]
    # Aspect follows the grid: 5 columns are wider than 2 rows are tall.
    target = view.target_rect()
    assert target.width() / target.height() == pytest.approx(5 / 2)
    assert view.cell_at(QPointF(0, 0)) is None or target.contains(QPointF(0, 0))


def test_map_view_aspect_follows_the_background(qtbot):
    view = MapView()
    qtbot.addWidget(view)
    view.resize(400, 400)
    view.set_background(np.zeros((100, 200, 3), dtype=np.uint8))
    view.set_map(np.zeros((7, 14, 4), dtype=np.uint8))
    target = view.target_rect()
    assert target.width() == pytest.approx(400)
    assert target.height() == pytest.approx(200)
    view.set_map(None, placeholder="nothing")
    assert not view.has_map


def test_combo_binding_goes_both_ways(qtbot):
    state = AppState()
    combo = QComboBox()
    qtbot.addWidget(combo)
    bind_combo(combo, state.view, "fusion", ["mean", "max", "min"])
    state.view.fusion = "max"
    assert combo.currentText() == "max"
    combo.setCurrentIndex(2)
    assert state.view.fusion == "min"


def test_value_and_check_bindings_go_both_ways(qtbot):
    state = AppState()
    spin = QDoubleSpinBox()
    check = QCheckBox()
    qtbot.addWidget(spin)
    qtbot.addWidget(check)
    bind_value(spin, state.view, "opacity")
    bind_check(check, state.view, "show_grid")
    state.view.opacity = 0.25
    assert spin.value() == pytest.approx(0.25)
    spin.setValue(0.75)
    assert state.view.opacity == pytest.approx(0.75)
    check.setChecked(False)
    assert state.view.show_grid is False
    state.view.show_grid = True
    assert check.isChecked()


def test_bindings_are_dropped_with_the_widget(qtbot):
    state = AppState()
    combo = QComboBox()
    bind_combo(combo, state.view, "fusion", ["mean", "max", "min"])
    before = len(state.view.events.fusion)
    combo.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert len(state.view.events.fusion) == before - 1
    state.view.fusion = "max"


def test_labels_thin_out_when_thumbnails_are_small():
    assert label_step(10, 20) == 1
    assert label_step(30, 14) == 3
    assert label_step(5, 0) == 5
