"""Models in: a timm model by name, or a checkpoint file.

Both end in ``state.inputs`` (``model_source`` and ``arch`` changed together) at once; the
controller's worker loads the model and reads a bare checkpoint's architecture from its
weights. Only when they fit several architectures that compute differently does it hand
the choices back (:attr:`Controller.architecture_needed`); the user is asked then, and the
answer is kept in the settings so that the file never asks again.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QWidget

from vitviz.qt.controller import Controller, held_events
from vitviz.qt.model_picker import arch_dialog, model_dialog
from vitviz.qt.settings import Settings
from vitviz.state import AppState

CHECKPOINT_FILTER = "Checkpoints (*.safetensors *.pth *.pt *.bin *.npz);;All files (*)"


class ModelInput:
    """Choosing the model: ``state.inputs`` gets it; ``window`` parents the dialogs."""

    def __init__(
        self, state: AppState, settings: Settings, controller: Controller, window: QWidget
    ) -> None:
        self.state, self.settings, self.window = state, settings, window
        # Queued: the dialog opens after the response is applied, never inside it.
        controller.architecture_needed.connect(
            self.ask_architecture, Qt.ConnectionType.QueuedConnection
        )

    def load_model_source(self, source: str, arch: str | None = None) -> None:
        """Switch to the model ``source`` (``arch`` for files that do not name theirs)."""
        inputs = self.state.inputs
        if (source, arch) == (inputs.model_source, inputs.arch):
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
        folder = self.settings.folder()
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open checkpoint", folder, CHECKPOINT_FILTER
        )
        if self.settings.remember_folder(path):
            self.open_checkpoint(path)

    def open_checkpoint(self, path: str) -> None:
        """Load a checkpoint file as the architecture chosen for it before, if any."""
        self.load_model_source(path, self.settings.checkpoint_arch(path))

    def ask_architecture(self, path: str, choices: list[str]) -> None:
        """Ask which of ``choices`` checkpoint ``path`` holds, remember it and load it."""
        dialog = arch_dialog(path, choices, self.window)
        if dialog.exec() and dialog.selected():
            self.settings.set_checkpoint_arch(path, dialog.selected())
            self.load_model_source(path, dialog.selected())
        elif self.state.results.model is None:  # nothing on screen: show the demo model
            self.load_model_source("demo")
