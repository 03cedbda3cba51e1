"""Choosing the model: the toolbar picker, the searchable timm list and the arch chooser.

The picker writes ``state.inputs.model_source`` (and ``arch``); the controller loads the
model in its worker, downloading timm weights when they are not cached, and puts the
picker back to the model on screen when loading fails (offline, bad file).
"""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, QStringListModel, Qt, Signal
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
    if path.suffix and (path.is_absolute() or path.exists()):
        return f"File: {path.name}"
    return source


@functools.cache
def supported_tags() -> tuple[str, ...]:
    """timm pretrained tags vitviz supports (cached: listing them takes a moment)."""
    from vitviz.vit.timm import supported_pretrained_tags

    return tuple(supported_pretrained_tags())


def supported_archs() -> list[str]:
    """Architecture names (tags without their weight suffix), sorted, no duplicates."""
    return sorted({tag.split(".")[0] for tag in supported_tags()})


def stored_arch(path: str | Path) -> str | None:
    """The architecture a checkpoint file names in its own metadata, read cheaply.

    Only self-describing ``.safetensors`` files (written by ``save_checkpoint``) carry it.
    """
    from safetensors import SafetensorError, safe_open

    from vitviz.errors import ModelLoadError
    from vitviz.vit.checkpoints import parse_metadata

    try:
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
        return parse_metadata(metadata, Path(path)).arch
    except (SafetensorError, OSError, ValueError, ModelLoadError):
        return None


def checkpoint_choices(path: str | Path) -> list[str] | None:
    """The architectures a checkpoint's weights fit exactly, best first.

    Returns
    -------
    list of str or None
        None when the file says its architecture itself; an empty list when its weights
        cannot tell (a Google ``.npz``) or fit none (loading then says what differs).

    Raises
    ------
    ModelLoadError
        For a file that is not a readable checkpoint.
    """
    if stored_arch(path) is not None:
        return None
    from vitviz.vit.architectures import exact_choices, rank_architectures
    from vitviz.vit.checkpoints import read_checkpoint

    checkpoint = read_checkpoint(path)
    if checkpoint.info.arch is not None:
        return None
    if checkpoint.state_dict is None:
        return []
    return [match.arch for match in exact_choices(rank_architectures(checkpoint.state_dict))]


class ModelPicker(QComboBox):
    """Toolbar combo box: the demo model, models used this session, more models, a file.

    Signals
    -------
    browse_requested()
        "More timm models…" was chosen.
    checkpoint_requested()
        "Open checkpoint…" was chosen.
    """

    browse_requested = Signal()
    checkpoint_requested = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setObjectName("model_picker")
        self.setToolTip("The model to look inside")
        self.setMinimumContentsLength(24)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self._sources: list[str] = ["demo"]
        self._archs: dict[str, str | None] = {}  # the architecture each file was opened as
        self._rebuild()
        self.activated.connect(self._on_activated)
        listen(self, state.inputs.events.model_source, self._show_source)
        listen(self, state.inputs.events.arch, self._remember_arch)
        self._show_source(state.inputs.model_source)

    @property
    def sources(self) -> list[str]:
        """The model sources listed, demo first."""
        return list(self._sources)

    def remember(self, source: str) -> None:
        """List ``source`` (e.g. the last model of a previous session)."""
        if source not in self._sources:
            self._sources.append(source)
            self._rebuild()

    def _rebuild(self) -> None:
        self.blockSignals(True)
        self.clear()
        for source in self._sources:
            self.addItem(describe_source(source), source)
            self.setItemData(self.count() - 1, source, Qt.ItemDataRole.ToolTipRole)
        self.insertSeparator(self.count())
        self.addItem(MORE_MODELS, MORE_MODELS)
        self.addItem(OPEN_CHECKPOINT, OPEN_CHECKPOINT)
        self.setCurrentIndex(
            self._sources.index(self.state.inputs.model_source)
            if self.state.inputs.model_source in self._sources
            else 0
        )
        self.blockSignals(False)

    def _remember_arch(self, arch: str | None) -> None:
        # The controller puts back the source before the architecture after a failure.
        self._archs[self.state.inputs.model_source] = arch

    def _show_source(self, source: str) -> None:
        self._archs[source] = self.state.inputs.arch
        self.setToolTip(f"The model to look inside: {source}")
        if source not in self._sources:
            self._sources.append(source)
            self._rebuild()
            return
        self.blockSignals(True)
        self.setCurrentIndex(self._sources.index(source))
        self.blockSignals(False)

    def _on_activated(self, index: int) -> None:
        data = self.itemData(index)
        # Dialogs decide the source; until then the picker shows the current model.
        self._show_source(self.state.inputs.model_source)
        if data == MORE_MODELS:
            self.browse_requested.emit()
        elif data == OPEN_CHECKPOINT:
            self.checkpoint_requested.emit()
        elif data and data != self.state.inputs.model_source:
            with held_events(self.state.inputs):
                self.state.inputs.arch = self._archs.get(data)
                self.state.inputs.model_source = data


class SearchableListDialog(QDialog):
    """A filter box over a list of names; returns the chosen one."""

    def __init__(
        self,
        title: str,
        prompt: str,
        names: list[str],
        parent: QWidget | None = None,
        *,
        labels: list[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._names = list(names)
        self.search = QLineEdit(self)
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Type to filter…")
        self.search.setClearButtonEnabled(True)
        self._model = QStringListModel(labels or names, self)
        self._proxy = QSortFilterProxyModel(self)
        self._proxy.setSourceModel(self._model)
        self._proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.search.textChanged.connect(self._proxy.setFilterFixedString)
        self.search.textChanged.connect(lambda _t: self._select_first())
        self.view = QListView(self)
        self.view.setObjectName("names")
        self.view.setModel(self._proxy)
        self.view.setUniformItemSizes(True)
        self.view.doubleClicked.connect(lambda _i: self.accept())
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.count_label = QLabel(f"{len(names)} available", self)
        layout = QVBoxLayout(self)
        prompt_label = QLabel(prompt, self)
        prompt_label.setWordWrap(True)
        layout.addWidget(prompt_label)
        layout.addWidget(self.search)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count_label)
        layout.addWidget(buttons)
        self.resize(520, 560)
        self._select_first()

    def _select_first(self) -> None:
        if self._proxy.rowCount():
            self.view.setCurrentIndex(self._proxy.index(0, 0))

    def visible_count(self) -> int:
        """Rows left after filtering."""
        return self._proxy.rowCount()

    def selected(self) -> str | None:
        """The chosen name, or None when nothing is selected."""
        index = self.view.currentIndex()
        if not index.isValid():
            return None
        return self._names[self._proxy.mapToSource(index).row()]


def model_dialog(parent: QWidget | None = None) -> SearchableListDialog:
    """The searchable list of supported timm tags, cached ones marked."""
    from vitviz.vit.hub import is_cached

    tags = list(supported_tags())
    labels = [tag + (CACHED_MARK if is_cached(tag) else "") for tag in tags]
    return SearchableListDialog(
        "Choose a timm model",
        "Pretrained ViTs vitviz supports. Weights not yet cached are downloaded "
        "(needs the internet; Esc cancels a download).",
        tags,
        parent,
        labels=labels,
    )


def arch_dialog(
    path: str | Path, choices: list[str], parent: QWidget | None = None
) -> SearchableListDialog:
    """Ask which architecture a checkpoint holds, among those its weights fit, best first.

    Parameters
    ----------
    path : str or Path
        The checkpoint.
    choices : list of str
        Architectures its weights fit, best first; empty when the weights cannot tell
        (every supported architecture is offered).
    parent : QWidget, optional
    """
    name = Path(path).name
    if choices:
        prompt = (
            f"The weights in {name} fit these architectures, which compute differently "
            "(activation, norms). Choose the one it was trained with; vitviz will remember."
        )
    else:
        prompt = f"{name} does not say which architecture it holds. Choose it:"
        choices = supported_archs()
    return SearchableListDialog("Which architecture?", prompt, choices, parent)
