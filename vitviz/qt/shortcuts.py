"""Every keyboard shortcut of the app, in one table, and the help sheet that shows it.

The window turns each :class:`Shortcut` into a ``QAction`` (:mod:`vitviz.qt.window.actions`),
so the keys, the menus and the help sheet (``?``) cannot disagree.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


class Shortcut(NamedTuple):
    """A command: its ``name``, ``keys`` (``QKeySequence`` strings, the first one shown in
    menus), menu ``text`` (with ``&`` accelerators), ``description`` for the help sheet and
    status bar, and the help sheet's ``group`` it is listed under."""

    name: str
    keys: tuple[str, ...]
    text: str
    description: str
    group: str


# (name, keys separated by " | ", menu text, description) per help-sheet group, in order.
_TABLE = {
    "Files": (
        ("open_image", "Ctrl+O", "&Open Image…", "Open an image file"),
        ("paste_image", "Ctrl+V", "&Paste Image", "Paste an image from the clipboard"),
        ("new_sample", "Ctrl+N", "New &Sample", "Generate a new demo image"),
        ("choose_model", "Ctrl+L", "Choose &Model…", "Pick a timm model to download"),
        ("open_checkpoint", "Ctrl+Shift+O", "Open &Checkpoint…", "Load a checkpoint file"),
        ("export_panel", "Ctrl+E", "&Export Panel Figure…", "The focused panel as a titled figure"),
        ("export_window", "Ctrl+Shift+E", "Export &Window…", "Save the window (PNG/SVG/PDF)"),
        ("export_picture", "Ctrl+Shift+Alt+E", "Export Panel &Picture…", "The panel as it looks"),
        ("export_deck", "", "Export talk &deck…", "Image, rollout, layers, class maps: a PDF"),
        ("copy_panel", "Ctrl+C", "&Copy Panel", "Copy the current panel to the clipboard"),
        ("copy_window", "Ctrl+Shift+C", "Copy Window", "Copy the whole window to the clipboard"),
        ("quit", "Ctrl+Q", "&Quit", "Quit vitviz"),
    ),
    "Selection": (
        ("query_left", "Left", "Query Left", "Move the query patch left"),
        ("query_right", "Right", "Query Right", "Move the query patch right"),
        ("query_up", "Up", "Query Up", "Move the query patch up"),
        ("query_down", "Down", "Query Down", "Move the query patch down"),
        ("query_default", "Home", "Query Class Token", "Query the class token (or centre patch)"),
        ("layer_prev", "PgUp", "Previous Layer", "Select the previous layer"),
        ("layer_next", "PgDown", "Next Layer", "Select the next layer"),
        ("head_prev", "[", "Previous Head", "Select the previous head"),
        ("head_next", "]", "Next Head", "Select the next head"),
        ("class_1", "1", "Top Class 1", "Show the map of the top prediction"),
        ("class_2", "2", "Top Class 2", "Show the map of the 2nd prediction"),
        ("class_3", "3", "Top Class 3", "Show the map of the 3rd prediction"),
        ("class_none", "0", "No Class", "Deselect the class"),
    ),
    "View": (
        ("toggle_grid", "G", "Patch &Grid", "Show or hide the patch grid"),
        ("next_colormap", "C", "Next &Colormap", "Cycle the colormap"),
        ("next_overlay", "O", "Next &Image Map", "Cycle the map over the image"),
        ("next_fusion", "F", "Next &Fusion", "Cycle head fusion (mean / max / min)"),
        ("next_class_method", "M", "Next Class &Method", "Cycle the class-map method"),
        ("opacity_up", "+ | =", "More Opacity", "Make the map more opaque"),
        ("opacity_down", "-", "Less Opacity", "Make the map more transparent"),
        ("layout_explore", "Ctrl+1", "&Explore Layout", "Every panel"),
        ("layout_present", "F11 | Ctrl+2", "&Present Layout", "Two big maps and the top classes"),
        ("layout_inspect", "Ctrl+3", "&Inspect Layout", "The heads grid large"),
        ("leave_presentation", "Esc", "Leave Presentation", "Back from the Present layout"),
        ("reset_layout", "", "&Reset Layout", "Put the layout's panels back in place"),
    ),
    "Help": (
        ("help", "? | F1", "&Keyboard Shortcuts", "Show this sheet"),
        ("about_model", "", "&About This Model…", "The model's card or checkpoint metadata"),
    ),
}
SHORTCUTS = tuple(
    Shortcut(name, tuple(filter(None, keys.split(" | "))), text, description, group)
    for group, entries in _TABLE.items()
    for name, keys, text, description in entries
)


class ShortcutSheet(QDialog):
    """A table of every shortcut, grouped, opened with ``?`` (deleted when closed)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, windowTitle="Keyboard shortcuts")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        rows = [entry for entry in SHORTCUTS if entry.keys]
        self.table = QTableWidget(len(rows), 3, self, objectName="shortcut_table")
        self.table.setHorizontalHeaderLabels(["Group", "Keys", "Action"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        native = QKeySequence.SequenceFormat.NativeText
        for row, entry in enumerate(rows):
            keys = " / ".join(QKeySequence(k).toString(native) for k in entry.keys)
            for col, text in enumerate((entry.group, keys, entry.description)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.resizeColumnsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(620, 640)
