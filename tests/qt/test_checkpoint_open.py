"""Opening one's own checkpoint in the window: asked only when the weights cannot say, once.

The architecture is read from the weights in the controller's worker, never on the UI thread.

The error display shows a failure's first line and, on request, all of it.
"""

from __future__ import annotations

import threading

import pytest
import timm
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox, QTextEdit

from tests.qt.shell_fakes import FakePipeline, make_image
from vitviz.qt.controller import Controller
from vitviz.qt.main_window import MainWindow
from vitviz.qt.model_picker import SearchableListDialog
from vitviz.state import AppState


@pytest.fixture
def window(qtbot, settings):
    state = AppState()
    window = MainWindow(
        state, Controller(state, synchronous=True, pipeline=FakePipeline()), settings
    )
    qtbot.addWidget(window)
    window.images.set_image(make_image())
    return window


def bare_checkpoint(tmp_path, arch):
    torch.manual_seed(0)
    model = timm.create_model(arch, pretrained=False, depth=1, num_classes=3)
    path = tmp_path / f"{arch}-finetuned.pth"
    torch.save(model.state_dict(), path)
    return str(path)


@pytest.fixture
def asked(monkeypatch):
    """Records each architecture dialog and answers it with its first (best) entry."""
    dialogs = []

    def exec_(dialog):
        dialogs.append(list(dialog.names))
        return True

    monkeypatch.setattr(SearchableListDialog, "exec", exec_)
    return dialogs


def test_weights_that_say_their_architecture_open_without_asking(window, qtbot, tmp_path, asked):
    path = bare_checkpoint(tmp_path, "vit_tiny_patch16_224")
    window.models.open_checkpoint(path)
    qtbot.wait(50)  # a question would be queued to the event loop
    assert asked == []
    assert window.state.results.model.source == path
    assert window.state.inputs.model_source == path
    assert window.state.inputs.arch is None  # load() reads it from the weights
    assert window.model_picker.currentText() == f"File: {path.rsplit('/', 1)[-1]}"


def test_ambiguous_weights_ask_once_and_the_choice_is_remembered(
    window, qtbot, tmp_path, asked, settings
):
    path = bare_checkpoint(tmp_path, "vit_base_patch16_clip_quickgelu_224")
    window.models.open_checkpoint(path)
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    assert asked == [["vit_base_patch16_clip_224", "vit_base_patch16_clip_quickgelu_224"]]
    assert window.state.inputs.arch == "vit_base_patch16_clip_224"
    assert settings.checkpoint_arch(path) == "vit_base_patch16_clip_224"
    assert window.state.results.model.source == path
    window.models.load_model_source("demo")
    window.models.open_checkpoint(path)
    qtbot.wait(50)
    assert len(asked) == 1  # never asked again
    assert window.state.inputs.arch == "vit_base_patch16_clip_224"


def test_declining_the_question_keeps_the_model_on_screen(window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(SearchableListDialog, "exec", lambda dialog: False)
    path = bare_checkpoint(tmp_path, "vit_base_patch16_clip_quickgelu_224")
    window.models.open_checkpoint(path)
    qtbot.wait(50)
    assert window.state.inputs.model_source == "demo"
    assert window.state.results.model.source == "demo"
    assert window.settings.checkpoint_arch(path) is None


def test_the_architecture_is_ranked_in_the_worker_while_the_ui_thread_runs(
    qtbot, settings, tmp_path, asked, monkeypatch
):
    from vitviz.vit import architectures

    ranked_on, release = [], threading.Event()
    rank = architectures.rank_architectures

    def slow_rank(state_dict):
        ranked_on.append(threading.current_thread())
        assert release.wait(10)  # the UI thread must go on meanwhile
        return rank(state_dict)

    monkeypatch.setattr(architectures, "rank_architectures", slow_rank)
    state = AppState()
    controller = Controller(state, pipeline=FakePipeline())
    window = MainWindow(state, controller, settings)
    qtbot.addWidget(window)
    window.images.set_image(make_image())
    qtbot.waitUntil(lambda: controller.idle, timeout=10_000)
    path = bare_checkpoint(tmp_path, "vit_base_patch16_clip_quickgelu_224")
    window.models.open_checkpoint(path)  # returns at once: nothing is ranked here
    qtbot.waitUntil(lambda: bool(ranked_on), timeout=10_000)
    assert ranked_on[0] is not threading.main_thread()
    assert state.results.busy
    assert asked == []
    release.set()
    qtbot.waitUntil(lambda: bool(asked) and controller.idle, timeout=10_000)
    assert asked == [["vit_base_patch16_clip_224", "vit_base_patch16_clip_quickgelu_224"]]
    qtbot.waitUntil(lambda: state.results.model.source == path, timeout=10_000)
    assert state.inputs.arch == "vit_base_patch16_clip_224"


def test_a_file_that_is_not_a_checkpoint_says_so(window, qtbot, tmp_path, asked):
    path = tmp_path / "notes.pth"
    path.write_text("hello")
    window.models.open_checkpoint(str(path))
    qtbot.wait(50)
    assert asked == []
    assert "not a model checkpoint" in window.state.results.error
    assert window.state.inputs.model_source == "demo"


def test_the_whole_error_is_shown_on_request_selectable_and_copyable(window, qtbot, monkeypatch):
    message = (
        "The weights in mine.pth do not fit vit_small_patch16_224. " + "x" * 400 + "\n"
        "2 keys missing from the file: norm.weight, norm.bias\n"
        "Choose the architecture the checkpoint was trained with."
    )
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box) or 0)
    window.state.results.error = message
    button = window.status.details_button
    assert not button.isHidden()
    assert "\n" not in window.status.error_label.text()  # one line in the status bar
    assert window.width() < 2000  # a long message does not widen the window
    button.click()
    (box,) = shown
    assert box.detailedText() == message
    qtbot.addWidget(box)  # closed after the test: a box left open takes later tests' keys
    box.show()
    (details,) = box.findChildren(QTextEdit)
    assert details.isReadOnly()
    assert details.toPlainText() == message
    for key in (Qt.Key.Key_A, Qt.Key.Key_C):  # select all, copy
        qtbot.keyClick(details, key, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == message
    window.state.results.error = None
    assert button.isHidden()


def test_settings_remember_a_files_arch_by_its_absolute_path(settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings.set_checkpoint_arch("mine.pth", "vit_small_patch16_224")
    assert settings.checkpoint_arch(str(tmp_path / "mine.pth")) == "vit_small_patch16_224"
    assert settings.checkpoint_arch(str(tmp_path / "other.pth")) is None
