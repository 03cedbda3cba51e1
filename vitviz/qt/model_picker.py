"""Choosing the model: the toolbar picker, the searchable timm list and the arch chooser.

The picker writes ``state.inputs.model_source`` (and ``arch``); the controller loads the
model in its worker and puts the picker back to the model on screen when loading fails.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import QSignalBlocker, QSortFilterProxyModel, QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListView,
    QVBoxLayout,
    QWidget,
)

from vitviz.qt.widgets.bindings import listen
from vitviz.state import AppState
from vitviz.state.events import held_events

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


class SearchableListDialog(QDialog):
    """A filter box over a list of ``names`` (shown as ``labels``); returns the chosen one."""

    def __init__(self, title, prompt, names, parent=None, *, labels=None) -> None:
        super().__init__(parent, windowTitle=title)
        self.names = list(names)
        self.search = QLineEdit(self, placeholderText="Type to filter…", clearButtonEnabled=True)
        self._proxy = QSortFilterProxyModel(
            self, filterCaseSensitivity=Qt.CaseSensitivity.CaseInsensitive
        )
        self._proxy.setSourceModel(QStringListModel(labels or self.names, self))
        self.view = QListView(self, uniformItemSizes=True, model=self._proxy)
        self.search.textChanged.connect(self._proxy.setFilterFixedString)
        self.search.textChanged.connect(lambda: self.view.setCurrentIndex(self._proxy.index(0, 0)))
        self.view.doubleClicked.connect(self.accept)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(prompt, wordWrap=True))
        layout.addWidget(self.search)
        layout.addWidget(self.view)
        layout.addWidget(QLabel(f"{len(self.names)} available"))
        layout.addWidget(buttons)
        self.resize(520, 560)
        self.view.setCurrentIndex(self._proxy.index(0, 0))

    def visible_count(self) -> int:
        """Rows left after filtering."""
        return self._proxy.rowCount()

    def selected(self) -> str | None:
        """The chosen name, or None when nothing is selected."""
        index = self.view.currentIndex()
        return self.names[self._proxy.mapToSource(index).row()] if index.isValid() else None


def model_dialog(parent: QWidget | None = None) -> SearchableListDialog:
    """The searchable list of supported timm tags, cached ones marked."""
    from vitviz.vit.hub import is_cached

    tags = supported_tags()
    prompt = (
        "Pretrained ViTs vitviz supports. Weights not yet cached are downloaded (needs "
        "the internet; Esc cancels a download)."
    )
    labels = [tag + (CACHED_MARK if is_cached(tag) else "") for tag in tags]
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
