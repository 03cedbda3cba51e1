"""Keyboard commands that act on the selection and view (top-k classes, overlays, cycling).

The actions in :mod:`vitviz.qt.window.actions` call these; each one only writes state
, so every panel follows at once.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from vitviz.qt.shortcuts import ShortcutSheet
from vitviz.state import AppState
from vitviz.state.view import OVERLAYS


def cycle(owner, field: str, values: tuple[str, ...]) -> None:
    """Set ``owner.<field>`` to the value after its current one in ``values`` (wrapping)."""
    current = getattr(owner, field)
    index = values.index(current) if current in values else -1
    setattr(owner, field, values[(index + 1) % len(values)])


def step_opacity(view, delta: float) -> None:
    """Change the map opacity by ``delta``, kept within ``[0, 1]``."""
    view.opacity = round(min(max(view.opacity + delta, 0.0), 1.0), 2)


class SelectionCommands:
    """The commands that need more than one line of state; ``window`` parents the sheet."""

    def __init__(self, state: AppState, window: QWidget) -> None:
        self.state, self.window = state, window

    def query_default(self) -> None:
        """Query the class token (the centre patch for models without one)."""
        from vitviz.state.app_state import default_query

        layout = self.state.layout
        if layout is not None:
            self.state.select_token(default_query(layout))

    def select_top_class(self, rank: int) -> None:
        """Select the class predicted at ``rank`` (0 = top-1)."""
        analysis = self.state.results.analysis
        ranked = () if analysis is None else analysis.predictions.classes
        if rank < len(ranked):
            self.state.selection.class_index = ranked[rank].index

    def next_overlay(self) -> None:
        """Cycle the map laid over the image."""
        cycle(self.state.view, "overlay", OVERLAYS)

    def show_shortcuts(self) -> None:
        """The keyboard shortcut sheet (``?``)."""
        sheet = ShortcutSheet(self.window)
        sheet.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        sheet.show()
