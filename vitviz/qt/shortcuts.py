"""Every keyboard shortcut of the app, in one table, and the help sheet that shows it.

The main window turns each :class:`Shortcut` into a ``QAction`` bound to one of its
methods by name, so the keys, the menus and the help sheet (``?``) cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class Shortcut:
    """One command reachable from the keyboard.

    Attributes
    ----------
    name : str
        Identifier; the main window binds it to its method of the same meaning.
    keys : tuple of str
        ``QKeySequence`` strings, the first one is shown in menus.
    text : str
        Menu text (with ``&`` accelerators).
    description : str
        What the command does, for the help sheet.
    group : str
        Heading of the help sheet the shortcut is listed under.
    """

    name: str
    keys: tuple[str, ...]
    text: str
    description: str
    group: str


# (name, keys, menu text, description) per help-sheet group, in the order shown.
_TABLE: dict[str, list[tuple]] = {
    "Files": [
        ("open_image", ("Ctrl+O",), "&Open Image…", "Open an image file"),
        ("paste_image", ("Ctrl+V",), "&Paste Image", "Paste an image from the clipboard"),
        ("new_sample", ("Ctrl+N",), "New &Sample", "Generate a new demo image"),
        ("choose_model", ("Ctrl+L",), "Choose &Model…", "Pick a timm model to download"),
        (
            "open_checkpoint",
            ("Ctrl+Shift+O",),
            "Open &Checkpoint…",
            "Load a model from a checkpoint file",
        ),
        (
            "export_panel",
            ("Ctrl+E",),
            "&Export Panel…",
            "Save the current panel as PNG / SVG / PDF",
        ),
        (
            "export_window",
            ("Ctrl+Shift+E",),
            "Export &Window…",
            "Save the whole window as PNG / SVG / PDF",
        ),
        (
            "export_figure",
            ("Ctrl+Alt+E",),
            "Export Map &Figure…",
            "Save the image panel's map on the image as a titled figure (PNG / SVG / PDF)",
        ),
        (
            "export_grid_figure",
            ("Ctrl+Alt+G",),
            "Export &Heads Grid Figure…",
            "Save every head of every layer for the query as one figure",
        ),
        ("copy_panel", ("Ctrl+C",), "&Copy Panel", "Copy the current panel to the clipboard"),
        ("copy_window", ("Ctrl+Shift+C",), "Copy Window", "Copy the whole window to the clipboard"),
        ("quit", ("Ctrl+Q",), "&Quit", "Quit vitviz"),
    ],
    "Selection": [
        ("query_left", ("Left",), "Query Left", "Move the query patch left"),
        ("query_right", ("Right",), "Query Right", "Move the query patch right"),
        ("query_up", ("Up",), "Query Up", "Move the query patch up"),
        ("query_down", ("Down",), "Query Down", "Move the query patch down"),
        (
            "query_default",
            ("Home",),
            "Query Class Token",
            "Query the class token (the centre patch without one)",
        ),
        ("layer_prev", ("PgUp",), "Previous Layer", "Select the previous layer"),
        ("layer_next", ("PgDown",), "Next Layer", "Select the next layer"),
        ("head_prev", ("[",), "Previous Head", "Select the previous head"),
        ("head_next", ("]",), "Next Head", "Select the next head"),
        ("class_1", ("1",), "Top Class 1", "Show the map of the top prediction"),
        ("class_2", ("2",), "Top Class 2", "Show the map of the 2nd prediction"),
        ("class_3", ("3",), "Top Class 3", "Show the map of the 3rd prediction"),
        ("class_none", ("0",), "No Class", "Deselect the class"),
    ],
    "View": [
        ("toggle_grid", ("G",), "Patch &Grid", "Show or hide the patch grid"),
        ("next_colormap", ("C",), "Next &Colormap", "Cycle the colormap"),
        (
            "next_overlay",
            ("O",),
            "Next &Image Map",
            "Cycle the map over the image (head / fused layer / rollout / class / none)",
        ),
        ("next_fusion", ("F",), "Next &Fusion", "Cycle head fusion (mean / max / min)"),
        (
            "next_class_method",
            ("M",),
            "Next Class &Method",
            "Cycle the class-map method (relevance / gradient rollout)",
        ),
        ("opacity_up", ("+", "="), "More Opacity", "Make the map more opaque"),
        ("opacity_down", ("-",), "Less Opacity", "Make the map more transparent"),
        (
            "presentation",
            ("F11",),
            "&Presentation Mode",
            "Full screen, large fonts, high-contrast grid",
        ),
        ("leave_presentation", ("Esc",), "Leave Presentation", "Leave presentation mode"),
        ("reset_layout", (), "&Reset Layout", "Put every panel back in its place"),
    ],
    "Help": [
        ("help", ("?", "F1"), "&Keyboard Shortcuts", "Show this sheet"),
        ("about_model", (), "&About This Model…", "The model's card or checkpoint metadata"),
    ],
}
SHORTCUTS: tuple[Shortcut, ...] = tuple(
    Shortcut(*entry, group) for group, entries in _TABLE.items() for entry in entries
)

_BY_NAME = {s.name: s for s in SHORTCUTS}


def shortcut(name: str) -> Shortcut:
    """The shortcut called ``name`` (KeyError for an unknown name)."""
    return _BY_NAME[name]


def make_action(parent: QWidget, name: str, slot: Callable[[], object]) -> QAction:
    """A ``QAction`` for shortcut ``name``, active anywhere in ``parent``'s window.

    Parameters
    ----------
    parent : QWidget
        Owner of the action; the action is added to it so that its keys work even when
        it is in no menu.
    name : str
        Name of a :data:`SHORTCUTS` entry.
    slot : callable
        Called with no argument when the action triggers.
    """
    entry = shortcut(name)
    action = QAction(entry.text, parent)
    action.setObjectName(f"action_{name}")
    action.setShortcuts([QKeySequence(k) for k in entry.keys])
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.setStatusTip(entry.description)
    action.triggered.connect(lambda _checked=False: slot())
    parent.addAction(action)
    return action


class ShortcutSheet(QDialog):
    """A table of every shortcut, grouped, opened with ``?``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        table = QTableWidget(0, 3, self)
        table.setObjectName("shortcut_table")
        table.setHorizontalHeaderLabels(["Group", "Keys", "Action"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for entry in SHORTCUTS:
            if not entry.keys:
                continue
            row = table.rowCount()
            table.insertRow(row)
            keys = " / ".join(
                QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in entry.keys
            )
            for col, text in enumerate((entry.group, keys, entry.description)):
                table.setItem(row, col, QTableWidgetItem(text))
        table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        table.resizeColumnsToContents()
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(620, 640)
