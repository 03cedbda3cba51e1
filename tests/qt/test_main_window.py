import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QTabBar

from tests.qt.shell_fakes import FakePipeline, build_window, make_image
from vitviz.qt.controller import Controller
from vitviz.qt.main_window import MainWindow
from vitviz.qt.overlay import describe_overlay, map_limits
from vitviz.qt.shortcuts import SHORTCUTS, ShortcutSheet
from vitviz.qt.window.docks import PANELS
from vitviz.qt.window.image_input import pil_from_qimage
from vitviz.qt.window.pictures import save_widget
from vitviz.state import AppState


@pytest.fixture
def pipeline():
    return FakePipeline()


@pytest.fixture
def window(qtbot, settings, pipeline):
    window = build_window(qtbot, settings, pipeline)
    window.images.set_image(make_image())
    return window


def test_every_panel_is_a_dock_with_its_title(window):
    assert set(window.docks) == {module for module, *_ in PANELS}
    for module, dock in window.docks.items():
        assert dock.windowTitle() == window.panels[module].title
        assert dock.widget().widget() is window.panels[module]  # in a scroll area
    assert window.docks["image_panel"].isVisible()


def test_no_stray_tab_bars(window):
    bars = [b for b in window.findChildren(QTabBar) if b.isVisible()]
    groups = [tuple(b.tabText(i) for i in range(b.count())) for b in bars]
    assert groups == [("Rollout", "Class map", "Tokens")]


def test_status_bar_shows_model_layout_and_time(window):
    text = window.status.status_label.text()
    assert "test-model" in text
    assert "CLS + 4×4 patches" in text
    assert "ms" in text
    assert "test-model" in window.windowTitle()


def test_open_path_reads_the_file_and_remembers_it(window, image_file, settings):
    assert window.images.open_path(image_file)
    assert window.state.inputs.image.path == str(image_file)
    assert window.state.results.image.name == "picture.png"
    assert settings.recent_files() == [str(image_file)]


def test_a_broken_file_shows_a_message_and_keeps_the_image(window, tmp_path):
    shown = window.state.results.image
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert not window.images.open_path(broken)
    assert window.state.results.image is shown
    assert window.state.inputs.image is shown
    assert window.status.error_label.isVisible()
    assert "broken.jpg" in window.status.error_label.toolTip()
    window.images.set_image(make_image(seed=2))
    assert not window.status.error_label.isVisible()


def test_a_click_dismisses_the_error(window, qtbot):
    window.state.results.error = "Something went wrong.\nDetails here."
    assert window.status.error_label.isVisible()
    assert window.status.error_label.text().startswith("Something went wrong.")
    qtbot.mouseClick(window.status.error_label, Qt.MouseButton.LeftButton)
    assert window.state.results.error is None
    assert not window.status.error_label.isVisible()


def test_paste_an_image_from_the_clipboard(window):
    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.red)
    QGuiApplication.clipboard().setImage(image)
    assert window.images.paste_image()
    pasted = window.state.results.image
    assert pasted.name == "pasted image"
    assert pasted.image.size == (40, 30)
    assert pasted.image.getpixel((5, 5)) == (255, 0, 0)


def test_paste_without_an_image_says_so(window):
    QGuiApplication.clipboard().setText("just text")
    assert not window.images.paste_image()
    assert window.state.results.error == "The clipboard holds no image."


def test_drop_a_file(window, image_file):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(image_file))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert window.state.results.image.path == str(image_file)


def test_samples(window):
    window.images.new_sample()
    first = window.state.results.image
    window.images.new_sample()
    assert window.state.results.image.name != first.name
    assert window.state.results.image.image.size == (224, 224)
    assert window.images.open_grace_hopper()
    assert window.state.results.image.name == "grace_hopper.jpg"


def test_keyboard_moves_the_selection(window, qtbot):
    state = window.state
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert (state.selection.layer, state.selection.head) == (2, 1)
    qtbot.keyClick(window, Qt.Key.Key_PageUp)
    qtbot.keyClick(window, Qt.Key.Key_BracketLeft)
    assert (state.selection.layer, state.selection.head) == (1, 0)
    qtbot.keyClick(window, Qt.Key.Key_Right)  # from CLS: the first patch
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.keyClick(window, Qt.Key.Key_Down)
    assert state.layout.patch_position(state.selection.query) == (1, 1)
    qtbot.keyClick(window, Qt.Key.Key_Home)
    assert state.selection.query == 0


def test_keyboard_view_options(window, qtbot):
    view = window.state.view
    view.overlay = "head"  # O steps on from here
    qtbot.keyClick(window, Qt.Key.Key_G)
    assert view.show_grid is False
    qtbot.keyClick(window, Qt.Key.Key_C)
    assert view.colormap == "viridis"
    assert window.toolbar.colormap_combo.currentText() == "viridis"
    qtbot.keyClick(window, Qt.Key.Key_F)
    assert view.fusion == "max"
    qtbot.keyClick(window, Qt.Key.Key_Minus)
    assert view.opacity == pytest.approx(0.5)
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert view.class_method == "grad_rollout"
    qtbot.keyClick(window, Qt.Key.Key_O)
    assert window.state.view.overlay == "fusion"


def test_number_keys_choose_the_top_classes(window, qtbot):
    logits = window.state.results.inference.logits.reshape(-1)
    order = logits.argsort(descending=True).tolist()
    qtbot.keyClick(window, Qt.Key.Key_2)
    assert window.state.selection.class_index == order[1]
    assert (order[1], "relevance") in window.state.results.class_maps
    qtbot.keyClick(window, Qt.Key.Key_0)
    assert window.state.selection.class_index is None


def test_number_keys_lay_the_class_map_on_the_image_and_0_goes_back(window, qtbot):
    state, image = window.state, window.panels["image_panel"]
    state.view.overlay = "fusion"
    labels = state.results.model.spec.labels
    order = state.results.inference.logits.reshape(-1).argsort(descending=True).tolist()
    for key, rank in ((Qt.Key.Key_1, 0), (Qt.Key.Key_3, 2)):
        qtbot.keyClick(window, key)
        assert (state.view.overlay, state.selection.class_index) == ("class", order[rank])
        expected = state.results.class_maps[(order[rank], "relevance")]
        np.testing.assert_array_equal(image.current_map, expected)
        assert image.caption.text() == f"{labels[order[rank]]} · relevance (Chefer et al.)"
        low, high, _ = map_limits(expected)  # the fake maps are flat: drawn from 0
        assert image.canvas.colorbar_labels == (f"{low:.3g}", f"{high:.3g}")
    qtbot.keyClick(window, Qt.Key.Key_0)
    assert (state.view.overlay, state.selection.class_index) == ("fusion", None)
    assert image.caption.text().startswith(f"layer {state.selection.layer}, mean of heads")


def test_presentation_mode(window, qtbot):
    size = window.font().pointSizeF()
    qtbot.keyClick(window, Qt.Key.Key_F11)
    assert window.state.view.presentation
    assert window.isFullScreen()
    assert window.font().pointSizeF() == pytest.approx(size * 1.6)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.state.view.presentation
    assert not window.isFullScreen()
    assert window.font().pointSizeF() == pytest.approx(size)


def test_shortcut_sheet_lists_every_key(window, qtbot):
    qtbot.keyClick(window, Qt.Key.Key_Question)
    sheet = window.findChild(ShortcutSheet)
    assert sheet is not None
    assert sheet.isVisible()
    assert sheet.table.rowCount() == sum(1 for s in SHORTCUTS if s.keys)


def test_toolbar_combos_write_the_inputs(window, pipeline):
    window.toolbar.mode_combo.setCurrentIndex(1)
    assert window.state.inputs.preprocess_mode == "whole"
    window.toolbar.device_combo.setCurrentIndex(window.toolbar.device_combo.findText("cpu"))
    assert window.state.inputs.device == "cpu"
    assert pipeline.loads[-1].device == "cpu"


def test_model_picker_switches_and_falls_back(window, pipeline):
    picker = window.model_picker
    window.models.load_model_source("vit_small_patch16_224.augreg_in21k")
    assert window.state.results.model.source == "vit_small_patch16_224.augreg_in21k"
    assert picker.currentData() == "vit_small_patch16_224.augreg_in21k"
    pipeline.fail_sources.add("vit_offline")
    window.models.load_model_source("vit_offline")
    assert window.state.results.model.source == "vit_small_patch16_224.augreg_in21k"
    assert picker.currentData() == "vit_small_patch16_224.augreg_in21k"
    assert "offline" in window.status.error_label.text()
    demo = picker.sources.index("demo")
    picker.setCurrentIndex(demo)
    picker.activated.emit(demo)
    assert window.state.results.model.source == "demo"


def test_a_model_that_fails_keeps_the_model_and_result_on_screen(qtbot, settings, pipeline):
    # Asynchronous, as in the app: the failure arrives from the worker thread.
    state = AppState()
    window = MainWindow(state, Controller(state, pipeline=pipeline), settings)
    qtbot.addWidget(window)
    window.show()
    window.images.set_image(make_image())
    qtbot.waitUntil(
        lambda: window.controller.idle and state.results.analysis is not None, timeout=10_000
    )
    shown = state.results.model, state.results.inference, window.status.status_label.text()
    pipeline.fail_sources.add("vit_offline")
    window.models.load_model_source("vit_offline")
    qtbot.waitUntil(lambda: window.controller.idle and not state.results.busy, timeout=10_000)
    assert (state.results.model, state.results.inference) == shown[:2]
    assert state.inputs.model_source == "demo"
    assert window.model_picker.currentData() == "demo"  # what is loaded, not what failed
    # Said once, in full: the error bar has it, the status line still names what is shown.
    assert state.results.error == "cannot load vit_offline: offline"
    assert "cannot load vit_offline: offline" in window.status.error_label.toolTip()
    assert window.status.status_label.text() == shown[2]
    panels = window.panels
    assert panels["rollout_panel"].shown_map() is not None
    assert panels["heads_grid"].thumbnail_maps() is not None
    assert panels["selected_head"].head_map() is not None
    assert panels["predictions"].classes


def test_a_first_model_that_fails_falls_back_to_the_demo_model(qtbot, settings, pipeline):
    pipeline.fail_sources.add("vit_offline")
    state = AppState()
    state.inputs.model_source = "vit_offline"
    window = build_window(qtbot, settings, pipeline, state)
    window.images.set_image(make_image())
    assert state.results.model.source == "demo"
    assert window.model_picker.currentData() == "demo"
    assert state.results.error.startswith("cannot load vit_offline: offline")
    assert "demo model instead" in state.results.error
    label = window.status.error_label.text()  # the whole message, once
    assert "offline" in label
    assert "demo model instead" in label
    assert window.panels["rollout_panel"].shown_map() is not None


def test_the_window_opens_within_the_available_screen(qtbot, settings, pipeline):
    window = build_window(qtbot, settings, pipeline)
    available = window.screen().availableGeometry()
    assert available.contains(window.frameGeometry())
    window.resize(available.width() + 800, available.height() + 600)
    window.move(available.right() - 10, available.bottom() - 10)
    window.close()  # saves a geometry larger than the screen
    again = build_window(qtbot, settings, pipeline)
    assert available.contains(again.frameGeometry())


def test_busy_indicator_and_cancel(window):
    assert not window.status.busy_bar.isVisible()
    window.state.results.busy = True
    assert window.status.busy_bar.isVisible()
    assert window.status.cancel_button.isVisible()
    window.status.cancel_button.click()
    assert not window.state.results.busy
    assert not window.status.busy_bar.isVisible()


def test_download_progress_shows_in_the_busy_bar(window):
    window.state.results.busy = True
    window.controller.download_progress.emit(150_000_000, 330_000_000)
    assert window.status.busy_bar.maximum() == 330
    assert window.status.busy_bar.value() == 150
    assert "Downloading" in window.status.busy_bar.format()
    window.state.results.busy = False
    assert window.status.busy_bar.maximum() == 0  # back to an indeterminate bar for the next run


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_export_panel_and_window(window, tmp_path, suffix):
    panel = window.panels["image_panel"]
    saved = window.pictures.export_widget(panel, tmp_path / f"panel{suffix}")
    assert saved.exists()
    assert saved.stat().st_size > 500
    head = saved.read_bytes()[:200]
    if suffix == ".png":
        with Image.open(saved) as image:
            assert image.size == (panel.width() * panel.devicePixelRatio(), panel.height())
    elif suffix == ".svg":
        assert b"<svg" in head or b"<?xml" in head
    else:
        assert head.startswith(b"%PDF")
    whole = save_widget(window, tmp_path / f"window{suffix}")
    assert whole.stat().st_size > 500


@pytest.mark.parametrize(("kind", "suffix"), [("map", ".png"), ("grid", ".svg")])
def test_export_figures_through_vitviz_export(window, tmp_path, kind, suffix):
    window.state.view.overlay = "head"  # the title names the query of the head's map
    window.state.select_token(window.state.layout.patch_index(1, 1))
    saved = window.pictures.export_figure(kind, tmp_path / f"figure{suffix}")
    assert saved.stat().st_size > 1000
    if suffix == ".png":
        with Image.open(saved) as image:
            assert min(image.size) > 200
    else:
        assert b"<svg" in saved.read_bytes()[:2000]
    assert "patch (1, 1)" in describe_overlay(window.state)


def test_export_figure_before_any_result_says_so(qtbot, settings, pipeline, tmp_path):
    empty = build_window(qtbot, settings, pipeline)
    assert empty.pictures.export_figure("map", tmp_path / "x.png") is None
    assert "Nothing to export" in empty.state.results.error


def test_copy_window_to_clipboard(window):
    window.pictures.copy_to_clipboard(window)
    pixmap = QGuiApplication.clipboard().pixmap()
    assert pixmap.width() == window.width()


def test_settings_persist_layout_model_and_view(qtbot, settings, pipeline, image_file):
    window = build_window(qtbot, settings, pipeline)
    window.images.open_path(image_file)
    window.models.load_model_source("vit_other")
    window.state.view.colormap = "magma"
    window.state.inputs.preprocess_mode = "native"
    window.docks["tokens"].hide()
    window.close()
    assert settings.last_model() == "vit_other"
    again = build_window(qtbot, settings, pipeline)
    assert again.state.view.colormap == "magma"
    assert settings.choice("preprocess_mode") == "native"
    assert "vit_other" in again.model_picker.sources
    assert settings.recent_files() == [str(image_file)]
    assert not again.docks["tokens"].isVisible()
    again.presets.reset()
    assert again.docks["tokens"].isVisibleTo(again)


def test_current_panel_follows_focus(window, qtbot):
    assert window.panel_docks.current_panel() is window.panels["image_panel"]
    window.panels["heads_grid"].setFocus()
    qtbot.waitUntil(lambda: window.panel_docks.current_panel() is window.panels["heads_grid"])


def test_pil_from_qimage_keeps_pixels():
    image = QImage(3, 2, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.blue)
    image.setPixelColor(2, 1, Qt.GlobalColor.green)
    pil = pil_from_qimage(image)
    assert pil.size == (3, 2)
    assert pil.getpixel((0, 0)) == (0, 0, 255)
    assert pil.getpixel((2, 1)) == (0, 255, 0)


def test_app_delegates_subcommands_to_the_cli(capsys):
    from vitviz import app

    assert app.main(["models", "--filter", "vit_tiny_patch16_224"]) == 0
    assert "vit_tiny_patch16_224.augreg_in21k" in capsys.readouterr().out


def test_app_opens_the_window_on_the_arguments(qtbot, tmp_path, image_file, monkeypatch):
    from vitviz import app
    from vitviz.qt import controller as controller_module

    monkeypatch.setattr(controller_module, "Pipeline", FakePipeline)
    args = app.build_parser().parse_args(
        [
            str(image_file),
            "--model",
            "vit_x",
            "--device",
            "cpu",
            "--mode",
            "whole",
            "--settings",
            str(tmp_path / "s.ini"),
        ]
    )
    _, window = app.create_window(args)
    qtbot.addWidget(window)
    inputs = window.state.inputs
    assert (inputs.model_source, inputs.device, inputs.preprocess_mode) == ("vit_x", "cpu", "whole")
    assert inputs.image.path == str(image_file)
    qtbot.waitUntil(lambda: window.controller.idle, timeout=10_000)
    assert window.state.results.model.source == "vit_x"
    assert window.state.results.image.name == "picture.png"
    assert window.controller.pipeline.loads == [window.controller.pipeline.loads[0]]


def test_app_falls_back_to_a_sample_when_the_image_is_unreadable(qtbot, tmp_path, monkeypatch):
    from vitviz import app
    from vitviz.qt import controller as controller_module

    monkeypatch.setattr(controller_module, "Pipeline", FakePipeline)
    missing = tmp_path / "missing.jpg"
    args = app.build_parser().parse_args([str(missing), "--settings", str(tmp_path / "s.ini")])
    _, window = app.create_window(args)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.controller.idle, timeout=10_000)
    assert window.state.results.image.name.startswith("demo sample")
    assert "missing.jpg" in window.state.results.error


def test_app_starts_from_the_saved_inputs(qtbot, tmp_path, monkeypatch):
    from vitviz import app
    from vitviz.qt import controller as controller_module
    from vitviz.qt.settings import Settings

    monkeypatch.setattr(controller_module, "Pipeline", FakePipeline)
    saved = Settings.at_path(tmp_path / "s.ini")
    saved.remember("last_model", "vit_saved")
    saved.remember("preprocess_mode", "native")
    saved.sync()
    args = app.build_parser().parse_args(["--settings", str(tmp_path / "s.ini")])
    _, window = app.create_window(args)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.controller.idle, timeout=10_000)
    assert window.state.inputs.preprocess_mode == "native"
    assert window.state.results.model.source == "vit_saved"
    assert window.state.results.image.name == "demo sample 0"
    assert window.controller.generation == 1  # one request: started before the window
