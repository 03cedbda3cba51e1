"""Models in: a timm model by name, or a checkpoint file (with its architecture if unnamed).

Both end in ``state.inputs`` (``model_source`` and ``arch`` changed together); the
controller loads the model. A checkpoint's architecture is read from its weights; the
user is asked only when they fit architectures that compute differently, and the answer
is kept in the settings so that the file never asks again.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from vitviz.errors import VitvizError
from vitviz.qt.controller import held_events
from vitviz.qt.model_picker import arch_dialog, checkpoint_choices, model_dialog
from vitviz.qt.settings import Settings
from vitviz.state import AppState

CHECKPOINT_FILTER = "Checkpoints (*.safetensors *.pth *.pt *.bin *.npz);;All files (*)"


class ModelInput:
    """Choosing the model: ``state.inputs`` gets it; ``window`` parents the dialogs."""

    def __init__(self, state: AppState, settings: Settings, window: QWidget) -> None:
        self.state, self.settings, self.window = state, settings, window

    def load_model_source(self, source: str, arch: str | None = None) -> None:
        """Switch to the model ``source`` (``arch`` for files that do not name theirs)."""
        inputs = self.state.inputs
        if source == inputs.model_source and arch == inputs.arch:
            return
        with held_events(inputs):
            inputs.arch = arch
            inputs.model_source = source

    def choose_model_dialog(self) -> None:
        """The searchable list of timm models."""
        dialog = model_dialog(self.window)
        if dialog.exec() and dialog.selected():
            self.load_model_source(dialog.selected())

    def open_checkpoint_dialog(self) -> None:
        """Open Checkpoint…: pick a file, then :meth:`open_checkpoint` it."""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open checkpoint", "", CHECKPOINT_FILTER)
        if path:
            self.open_checkpoint(path)

    def open_checkpoint(self, path: str) -> None:
        """Load a checkpoint file, asking for its architecture only when the weights cannot say."""
        arch = self.settings.checkpoint_arch(path)
        if arch is None:
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                choices = checkpoint_choices(path)
            except VitvizError as error:
                self.state.results.error = str(error)
                return
            finally:
                QApplication.restoreOverrideCursor()
            if choices is not None and len(choices) != 1:
                dialog = arch_dialog(path, choices, self.window)
                if not dialog.exec() or not dialog.selected():
                    return
                arch = dialog.selected()
                self.settings.set_checkpoint_arch(path, arch)
        self.load_model_source(path, arch)
