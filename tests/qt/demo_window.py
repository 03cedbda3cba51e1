"""The main window on the bundled demo model with the real worker thread, for the tests
that drive the whole app (one window per module: the model loads once)."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QApplication

from vitviz.qt.controller import Controller
from vitviz.qt.main_window import MainWindow
from vitviz.qt.settings import Settings
from vitviz.state import AppState


def wait_until(condition, timeout_s: float = 60) -> None:
    """Run the event loop until ``condition()`` holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the worker"
        QApplication.processEvents()
        time.sleep(0.005)


def demo_window(tmp_path_factory, size: tuple[int, int]):
    """Yield the window, shown at ``size`` with a generated sample analysed; then close it."""
    state = AppState()
    controller = Controller(state)  # the real worker thread
    settings = Settings.at_path(tmp_path_factory.mktemp("settings") / "vitviz.ini")
    window = MainWindow(state, controller, settings)
    window.resize(*size)
    window.show()
    window.images.new_sample()
    wait_until(lambda: state.results.inference is not None and controller.idle)
    yield window
    controller.cancel()
    assert controller.wait()
    window.close()
    window.deleteLater()
