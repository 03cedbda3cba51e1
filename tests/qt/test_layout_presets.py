"""The window's layout presets, exports of the focused panel, the error bar and dialog folders."""

import itertools

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QTabBar

from tests.qt.shell_fakes import FakePipeline, build_window, make_image
from vitviz.qt.widgets.map_view import MapView
from vitviz.qt.widgets.mosaic import MosaicView


@pytest.fixture
def window(qtbot, settings):
    window = build_window(qtbot, settings, FakePipeline())
    window.images.set_image(make_image())
    return window


ALL_DOCKS = {
    "image_panel",
    "rollout_panel",
    "class_map",
    "tokens",
    "heads_grid",
    "selected_head",
    "predictions",
    "head_stats_plot",
}


def shown_docks(window) -> set[str]:
    """Docks the preset shows (tabbed docks count though only one tab is on top)."""
    return {name for name, dock in window.docks.items() if not dock.isHidden()}


def on_screen(window) -> dict:
    """Docks drawn in the window (a tab under another is kept visible, off screen)."""
    docks = window.docks.items()
    return {name: d for name, d in docks if d.isVisible() and not d.visibleRegion().isEmpty()}


@pytest.mark.parametrize(
    ("name", "key", "docks"),
    [
        ("inspect", Qt.Key.Key_3, {"image_panel", "heads_grid", "selected_head"}),
        ("present", Qt.Key.Key_2, {"image_panel", "selected_head", "predictions"}),
        ("explore", Qt.Key.Key_1, ALL_DOCKS),
    ],
)
def test_presets_switch_by_key_and_menu(window, qtbot, name, key, docks):
    start = "explore" if name != "explore" else "inspect"
    window.actions_by_name[f"layout_{start}"].trigger()
    assert window.presets.current == start
    qtbot.keyClick(window, key, Qt.KeyboardModifier.ControlModifier)
    assert window.presets.current == name
    assert shown_docks(window) == docks
    assert window.actions_by_name[f"layout_{name}"].isChecked()
    assert window.state.view.presentation == (name == "present")
    assert window.toolbar.isHidden() == (name == "present")
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert window.actions_by_name[f"layout_{name}"] in view_menu.actions()
    window.actions_by_name[f"layout_{start}"].trigger()  # back through the menu's action
    assert window.presets.current == start


def test_present_is_full_screen_and_escape_goes_back(window, qtbot):
    window.actions_by_name["layout_inspect"].trigger()
    qtbot.keyClick(window, Qt.Key.Key_F11)
    assert window.presets.current == "present"
    assert window.isFullScreen()
    assert set(on_screen(window)) == {"image_panel", "selected_head", "predictions"}
    assert not [bar for bar in window.findChildren(QTabBar) if bar.isVisible()]
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.presets.current == "inspect"
    assert not window.isFullScreen()
    window.state.view.presentation = True  # e.g. --presentation
    assert window.presets.current == "present"
    qtbot.keyClick(window, Qt.Key.Key_F11)  # F11 toggles back
    assert window.presets.current == "inspect"


def test_inspect_gives_the_heads_grid_most_of_the_window(window, qtbot):
    window.resize(1024, 700)
    window.actions_by_name["layout_inspect"].trigger()
    qtbot.wait(10)
    areas = {n: d.width() * d.height() for n, d in on_screen(window).items()}
    assert max(areas, key=areas.get) == "heads_grid"
    assert areas["heads_grid"] > sum(areas.values()) / 2


def test_each_preset_remembers_its_docks_across_runs(qtbot, settings):
    window = build_window(qtbot, settings, pipeline := FakePipeline())
    window.docks["tokens"].hide()
    window.presets.show("inspect")
    assert window.docks["image_panel"].isVisible()
    window.docks["image_panel"].close()
    window.presets.show("explore")
    assert window.docks["image_panel"].isVisible()
    assert window.docks["tokens"].isHidden()
    window.presets.show("inspect")
    assert window.docks["image_panel"].isHidden()
    window.close()
    again = build_window(qtbot, settings, pipeline)
    assert again.presets.current == "inspect"
    assert again.docks["image_panel"].isHidden()
    again.presets.show("explore")
    assert again.docks["tokens"].isHidden()
    again.presets.reset()
    assert not again.docks["tokens"].isHidden()


@pytest.mark.parametrize("name", ["explore", "inspect"])
def test_no_dock_overlaps_and_maps_are_200_px_at_1024_by_700(window, qtbot, name):
    window.resize(1024, 700)
    window.presets.show(name)
    window.presets.reset()
    qtbot.wait(20)
    assert window.size().toTuple() == (1024, 700)
    docks = on_screen(window)
    for (a, first), (b, second) in itertools.combinations(docks.items(), 2):
        assert not first.geometry().intersects(second.geometry()), (a, b)
    for dock in docks.values():
        assert window.rect().contains(dock.geometry())
    maps = [  # the heads grid's thumbnails are small multiples; Inspect makes them large
        m
        for m in window.findChildren(MapView)
        if not m.visibleRegion().isEmpty() and not isinstance(m, MosaicView)
    ]
    assert len(maps) >= 2
    for view in maps:
        assert min(view.width(), view.height()) >= 200, view.parent().objectName()


def test_ctrl_e_exports_the_focused_panels_titled_figure(window, qtbot, tmp_path, monkeypatch):
    import vitviz.export.saving as saving

    figures, real_save = [], saving.save_figure
    monkeypatch.setattr(saving, "save_figure", lambda f, p: figures.append(f) or real_save(f, p))
    names = iter(["grid.png", "rollout.png"])
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a: (str(tmp_path / next(names)), "")
    )
    for panel, word in (("heads_grid", "query"), ("rollout_panel", "rollout")):
        window.panels[panel].setFocus()
        qtbot.waitUntil(lambda p=panel: window.panel_docks.current_panel() is window.panels[p])
        qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
        titles = [t.get_text() for t in figures[-1].findobj(lambda a: hasattr(a, "get_text"))]
        assert any("test-model" in t and word in t for t in titles), titles
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert (tmp_path / "rollout.png").stat().st_size > 0
    assert window.actions_by_name["export_picture"].shortcut().toString() == "Ctrl+Alt+Shift+E"


def test_errors_stay_out_of_grabs_and_clear_on_the_next_success(window, tmp_path, image_file):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    assert not window.images.open_path(broken)
    assert window.status.error_label.isVisible()
    grab = window.pictures._without_errors(window.grab).toImage()
    pixels = np.array(
        [
            [grab.pixelColor(x, y).name() for x in range(0, grab.width(), 3)]
            for y in range(grab.height() - 40, grab.height())
        ]
    )
    assert "#7a1f1f" not in pixels  # the error bar's colour
    assert window.status.error_label.isVisible()  # back after the grab
    assert window.images.open_path(image_file)
    assert window.state.results.error is None
    assert window.pictures.export_widget(window, tmp_path / "none" / "x.png") is None
    assert "Could not export" in window.state.results.error
    assert window.pictures.export_widget(window, tmp_path / "window.png") is not None
    assert window.state.results.error is None


def test_file_dialogs_start_in_the_last_folder(window, tmp_path, image_file, monkeypatch):
    asked = []

    def answer(path):
        return lambda _parent, _title, start, *_: (asked.append(start) or str(path), "")

    monkeypatch.setattr(QFileDialog, "getOpenFileName", answer(image_file))
    window.images.open_image_dialog()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", answer(""))
    window.models.open_checkpoint_dialog()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", answer(tmp_path / "out" / "x.png"))
    window.pictures.export_dialog(window)
    window.pictures.export_figure_dialog(window.docks["image_panel"])
    assert asked[1] == str(image_file.parent)
    assert asked[2] == str(image_file.parent / "vitviz-window.png")
    assert asked[3] == str(tmp_path / "out" / "vitviz-map.png")


def test_present_grid_is_thin_and_in_no_colormap(window, qtbot):
    import matplotlib

    from vitviz.qt.widgets.map_view import HIGH_CONTRAST_GRID
    from vitviz.qt.window.toolbar import COLORMAPS

    window.presets.show("present")
    view = window.panels["selected_head"].map
    assert view.high_contrast
    colours = np.concatenate([matplotlib.colormaps[c](np.linspace(0, 1, 256)) for c in COLORMAPS])
    grid = np.array(HIGH_CONTRAST_GRID.getRgbF()[:3])
    assert np.abs(colours[:, :3] - grid).max(axis=1).min() > 0.1  # far from every colour
