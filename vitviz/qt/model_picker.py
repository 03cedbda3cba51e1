"""Choosing the model: the toolbar picker, the searchable timm list and the arch chooser.

The picker writes ``state.inputs.model_source`` (and ``arch``); the controller loads the
model in its worker and puts the picker back to the model on screen when loading fails.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QComboBox, QCompleter, QInputDialog, QLabel, QWidget

from vitviz.qt.widgets.bindings import listen
from vitviz.state import AppState
from vitviz.state.events import held_events
from vitviz.vit import hub

DEMO_LABEL = "Demo model (bundled)"
MORE_MODELS = "More timm models…"
OPEN_CHECKPOINT = "Open checkpoint…"
CACHED_MARK = "  ✓ cached"


def describe_source(source: str) -> str:
    """Short text for a model source in the picker."""
    if source == "demo":
        return DEMO_LABEL
    path = Path(source)
    return f"File: {path.name}" if path.suffix and (path.is_absolute() or path.exists()) else source


@functools.cache
def supported_tags() -> tuple[str, ...]:
    """timm pretrained tags vitviz supports (cached: listing them takes a moment)."""
    from vitviz.vit.timm import supported_pretrained_tags

    return tuple(supported_pretrained_tags())


def supported_archs() -> list[str]:
    """Architecture names (tags without their weight suffix), sorted, no duplicates."""
    return sorted({tag.split(".")[0] for tag in supported_tags()})


class ModelPicker(QComboBox):
    """Toolbar combo box: the demo model, models used this session, more models, a file.

    Signals ``browse_requested`` and ``checkpoint_requested`` say that "More timm models…"
    or "Open checkpoint…" was chosen.
    """

    browse_requested = Signal()
    checkpoint_requested = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="model_picker", minimumContentsLength=24)
        self.state = state
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.sources: list[str] = []  # listed above the separator, demo first
        self._archs: dict[str, str | None] = {}  # the architecture each file was opened as
        self.insertSeparator(0)
        for entry in (MORE_MODELS, OPEN_CHECKPOINT):
            self.addItem(entry, entry)
        self.remember("demo")
        self.activated.connect(self._on_activated)
        # The controller puts back the source before the architecture after a failure.
        for event in (state.inputs.events.model_source, state.inputs.events.arch):
            listen(self, event, self._show_source)
        self._show_source()

    def remember(self, source: str) -> None:
        """List ``source`` (e.g. the last model of a previous session)."""
        if source not in self.sources:
            self.insertItem(len(self.sources), describe_source(source), source)
            self.setItemData(len(self.sources), source, Qt.ItemDataRole.ToolTipRole)
            self.sources.append(source)

    def _show_source(self, *_: object) -> None:
        # The state's source, not the event's: a failed load may have put it back meanwhile.
        source = self.state.inputs.model_source
        self._archs[source] = self.state.inputs.arch
        self.remember(source)
        self.setToolTip(f"The model to look inside: {source}")
        with QSignalBlocker(self):
            self.setCurrentIndex(self.findData(source))

    def _on_activated(self, index: int) -> None:
        data, inputs = self.itemData(index), self.state.inputs
        self._show_source()  # dialogs decide the source; until then it shows the current one
        if data == MORE_MODELS:
            self.browse_requested.emit()
        elif data == OPEN_CHECKPOINT:
            self.checkpoint_requested.emit()
        elif data and data != inputs.model_source:
            with held_events(inputs):
                inputs.arch, inputs.model_source = self._archs.get(data), data


class SearchableListDialog(QInputDialog):
    """A choice among ``names`` (shown as ``labels``), first selected; typing filters the
    list (a QCompleter matching anywhere, any case)."""

    def __init__(self, title, prompt, names, parent=None, *, labels=None) -> None:
        super().__init__(parent, windowTitle=title, labelText=f"{prompt}\n{len(names)} available")
        self.names, self.labels = list(names), list(labels or names)
        self.setComboBoxItems(self.labels)
        self.setComboBoxEditable(True)
        self.findChild(QLabel).setWordWrap(True)
        self.completer = self.findChild(QComboBox).completer()
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.resize(520, 0)

    def visible_count(self) -> int:
        """Entries that match the typed text."""
        self.completer.setCompletionPrefix(self.textValue())
        return self.completer.completionCount()

    def selected(self) -> str | None:
        """The chosen name (the first match of a partly typed one), or None when none matches."""
        label = self.textValue() if self.textValue() in self.labels else None
        if label is None and self.visible_count():
            label = self.completer.currentCompletion()
        return None if label is None else self.names[self.labels.index(label)]


def model_dialog(parent: QWidget | None = None) -> SearchableListDialog:
    """The searchable list of supported timm tags, cached ones marked."""
    tags = supported_tags()
    prompt = (
        "Pretrained ViTs vitviz supports. Weights not yet cached are downloaded (needs "
        "the internet; Esc cancels a download)."
    )
    labels = [tag + (CACHED_MARK if hub.is_cached(tag) else "") for tag in tags]
    return SearchableListDialog("Choose a timm model", prompt, tags, parent, labels=labels)


def arch_dialog(path: str, choices: list[str], parent: QWidget | None = None):
    """Ask which architecture checkpoint ``path`` holds, among ``choices`` (best first);
    every supported architecture when ``choices`` is empty (the weights cannot tell)."""
    name = Path(path).name
    prompt = (
        f"The weights in {name} fit these architectures, which compute differently "
        "(activation, norms). Choose the one it was trained with; vitviz will remember."
    )
    if not choices:
        prompt, choices = f"{name} does not say which architecture it holds:", supported_archs()
    return SearchableListDialog("Which architecture?", prompt, choices, parent)
