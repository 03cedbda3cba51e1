"""Models in: a timm model by name, or a checkpoint file (with its architecture if unnamed).

Both end in ``state.inputs`` (``model_source`` and ``arch`` changed together); the
controller loads the model.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QWidget

from vitviz.qt.controller import held_events
from vitviz.qt.model_picker import arch_dialog, model_dialog, stored_arch
from vitviz.state import AppState

CHECKPOINT_FILTER = "Checkpoints (*.safetensors *.pth *.pt *.bin *.npz);;All files (*)"


class ModelInput:
    """Choosing the model: ``state.inputs`` gets it; ``window`` parents the dialogs."""

    def __init__(self, state: AppState, window: QWidget) -> None:
        self.state, self.window = state, window

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
        """Open Checkpoint…: a file, and its architecture when the file does not say."""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open checkpoint", "", CHECKPOINT_FILTER)
        if not path:
            return
        arch = None
        if stored_arch(path) is None:
            dialog = arch_dialog(path, self.window)
            if not dialog.exec() or not dialog.selected():
                return
            arch = dialog.selected()
        self.load_model_source(path, arch)
