"""File -> Export talk deck: the menu entry, the PDF of what is shown, a clear refusal."""

from __future__ import annotations

import time

import pytest
from PySide6.QtWidgets import QApplication

from vitviz.qt.controller import Controller
from vitviz.qt.main_window import MainWindow
from vitviz.qt.settings import Settings
from vitviz.resources import DEMO_MODEL_PATH
from vitviz.state import AppState

pytestmark = pytest.mark.skipif(
    not DEMO_MODEL_PATH.exists(), reason="the demo model has not been built yet"
)


def _window(qtbot, tmp_path):
    state = AppState()
    controller = Controller(state, synchronous=True)
    window = MainWindow(state, controller, Settings.at_path(tmp_path / "vitviz.ini"))
    qtbot.addWidget(window)
    return window, controller


def test_the_file_menu_exports_the_shown_image_as_a_deck(qtbot, tmp_path):
    window, controller = _window(qtbot, tmp_path)
    file_menu = window.menuBar().actions()[0].menu()
    assert "Export talk &deck…" in [action.text() for action in file_menu.actions()]
    assert window.pictures.export_deck(tmp_path / "early.pdf") is None
    assert "Nothing to export" in window.state.results.error
    window.images.new_sample()
    deadline = time.monotonic() + 60
    while window.state.results.inference is None and time.monotonic() < deadline:
        QApplication.processEvents()
    saved = window.pictures.export_deck(tmp_path / "deck.pdf")
    assert saved is not None
    assert saved.read_bytes().startswith(b"%PDF")
    assert "Saved" in window.statusBar().currentMessage()
    controller.cancel()
