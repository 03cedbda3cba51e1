"""The window's commands as actions (with their shortcuts) and the menus that list them.

Every command has an entry in :data:`vitviz.qt.shortcuts.SHORTCUTS`; :func:`command_slots`
gives each name its slot, and :data:`MENUS` says which menu lists which action.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from vitviz.qt.model_card import show_model_card
from vitviz.qt.shortcuts import SHORTCUTS, ShortcutSheet
from vitviz.qt.widgets.bindings import listen
from vitviz.qt.window.toolbar import COLORMAPS
from vitviz.state import AppState
from vitviz.state.view import CLASS_METHODS, FUSIONS, OVERLAYS

# Menu title → entries: an action name, "-" (a separator), (submenu title, entries), a
# filler the window gives, or "*Group": every shortcut of that group.
MENUS = {
    "&File": (
        "open_image",
        ("Open &Recent", ("recent",)),
        ("Sa&mples", ("new_sample", "hopper")),
        "paste_image",
        "-",
        "choose_model",
        "open_checkpoint",
        "-",
        "export_panel",
        "export_window",
        "export_picture",
        "copy_panel",
        "copy_window",
        "export_deck",
        "-",
        "quit",
    ),
    "&Select": ("*Selection",),
    "&View": (
        "toggle_grid",
        "next_colormap",
        "next_overlay",
        "next_fusion",
        "next_class_method",
        "opacity_up",
        "opacity_down",
        "-",
        "layout_explore",
        "layout_present",
        "layout_inspect",
        ("&Panels", ("panels",)),
        "reset_layout",
    ),
    "&Help": ("help", "about_model"),
}


def cycle(owner, field: str, values: tuple[str, ...]) -> None:
    """Set ``owner.<field>`` to the value after its current one in ``values`` (wrapping)."""
    current = getattr(owner, field)
    index = values.index(current) if current in values else -1
    setattr(owner, field, values[(index + 1) % len(values)])


def query_default(state: AppState) -> None:
    """Query the class token (the centre patch for models without one)."""
    from vitviz.state.app_state import default_query

    if state.layout is not None:
        state.select_token(default_query(state.layout))


def command_slots(window) -> dict[str, Callable[[], object]]:
    """What each shortcut name does, on ``window``'s state and helpers."""
    state, view = window.state, window.state.view
    images, pictures, presets = window.images, window.pictures, window.presets
    return {
        "open_image": images.open_image_dialog,
        "paste_image": images.paste_image,
        "new_sample": images.new_sample,
        "choose_model": window.models.choose_model_dialog,
        "open_checkpoint": window.models.open_checkpoint_dialog,
        "export_panel": lambda: pictures.export_figure_dialog(window.panel_docks.current_dock),
        "export_window": lambda: pictures.export_dialog(window),
        "export_picture": lambda: pictures.export_dialog(window.panel_docks.current_panel()),
        "export_deck": pictures.export_deck_dialog,
        "copy_panel": lambda: pictures.copy_to_clipboard(window.panel_docks.current_panel()),
        "copy_window": lambda: pictures.copy_to_clipboard(window),
        "quit": window.close,
        "query_left": lambda: state.move_query(0, -1),
        "query_right": lambda: state.move_query(0, 1),
        "query_up": lambda: state.move_query(-1, 0),
        "query_down": lambda: state.move_query(1, 0),
        "query_default": lambda: query_default(state),
        "layer_prev": lambda: state.step_layer(-1),
        "layer_next": lambda: state.step_layer(1),
        "head_prev": lambda: state.step_head(-1),
        "head_next": lambda: state.step_head(1),
        "class_1": lambda: state.show_top_class(0),
        "class_2": lambda: state.show_top_class(1),
        "class_3": lambda: state.show_top_class(2),
        "class_none": lambda: state.show_top_class(None),
        "toggle_grid": lambda: setattr(view, "show_grid", not view.show_grid),
        "next_colormap": lambda: cycle(view, "colormap", COLORMAPS),
        "next_overlay": lambda: cycle(view, "overlay", OVERLAYS),
        "next_fusion": lambda: cycle(view, "fusion", FUSIONS),
        "next_class_method": lambda: cycle(view, "class_method", CLASS_METHODS),
        "opacity_up": lambda: setattr(view, "opacity", round(min(view.opacity + 0.1, 1.0), 2)),
        "opacity_down": lambda: setattr(view, "opacity", round(max(view.opacity - 0.1, 0.0), 2)),
        "layout_explore": lambda: presets.show("explore"),
        "layout_present": lambda: setattr(view, "presentation", not view.presentation),
        "layout_inspect": lambda: presets.show("inspect"),
        "leave_presentation": lambda: setattr(view, "presentation", False),
        "reset_layout": presets.reset,
        "help": lambda: ShortcutSheet(window).show(),
        "about_model": lambda: show_model_card(state.results.model, window),
    }


def build_actions(window: QMainWindow, slots: dict[str, Callable[[], object]]):
    """One action per shortcut, triggering its slot, active anywhere in ``window`` (added to
    it, so that its keys work even when no menu lists it). Returns them by name; the grid
    toggle follows ``window.state``, the layouts are checkable, one at a time."""
    actions = {}
    for entry in SHORTCUTS:
        action = actions[entry.name] = QAction(entry.text, window)
        action.setObjectName(f"action_{entry.name}")
        action.setShortcuts([QKeySequence(k) for k in entry.keys])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setStatusTip(entry.description)
        action.triggered.connect(lambda _checked=False, slot=slots[entry.name]: slot())
        window.addAction(action)
    view, layouts = window.state.view, QActionGroup(window)
    actions["toggle_grid"].setCheckable(True)
    actions["toggle_grid"].setChecked(view.show_grid)
    listen(window, view.events.show_grid, lambda on, *_: actions["toggle_grid"].setChecked(on))
    for name in ("explore", "present", "inspect"):  # checked by window.presets
        layouts.addAction(actions[f"layout_{name}"]).setCheckable(True)
    return actions


def build_menus(window: QMainWindow, actions: dict[str, QAction], fillers: dict) -> None:
    """The menus of :data:`MENUS` on ``window``'s menu bar; ``fillers[entry](menu)`` adds the
    entries that are not actions (``recent``, ``hopper``, ``panels``)."""

    def add(menu: QMenu, entries) -> None:
        for entry in entries:
            if isinstance(entry, tuple):
                add(menu.addMenu(entry[0]), entry[1])
            elif entry == "-":
                menu.addSeparator()
            elif entry.startswith("*"):
                for shortcut in SHORTCUTS:
                    if shortcut.group == entry[1:]:
                        menu.addAction(actions[shortcut.name])
            elif entry in fillers:
                fillers[entry](menu)
            else:
                menu.addAction(actions[entry])

    for title, entries in MENUS.items():
        add(window.menuBar().addMenu(title), entries)
