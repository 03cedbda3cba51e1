"""The window's commands as actions (with their shortcuts) and the menus that list them.

Every command has an entry in :data:`vitviz.qt.shortcuts.SHORTCUTS` (name, keys, text);
:func:`command_slots` gives each name its slot, and :data:`MENUS` says which menu lists
which action.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu

from vitviz.qt.model_card import show_model_card
from vitviz.qt.shortcuts import SHORTCUTS, make_action
from vitviz.qt.widgets.bindings import listen
from vitviz.qt.window.commands import cycle, step_opacity
from vitviz.qt.window.toolbar import COLORMAPS
from vitviz.state.view import CLASS_METHODS, FUSIONS

# Menu title → entries: an action name, "-" (a separator), or (submenu title, entries).
# "*Selection" lists every shortcut of that group; "recent", "hopper", "deck" and "panels" are
# filled by the window.
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
        "export_figure",
        "export_grid_figure",
        "copy_panel",
        "copy_window",
        "deck",
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
        "presentation",
        "-",
        ("&Panels", ("panels",)),
        "reset_layout",
    ),
    "&Help": ("help", "about_model"),
}


def command_slots(window) -> dict[str, Callable[[], object]]:
    """What each shortcut name does, on ``window``'s state and helpers."""
    state, view = window.state, window.state.view
    images, pictures, commands = window.images, window.pictures, window.commands
    return {
        "open_image": images.open_image_dialog,
        "paste_image": images.paste_image,
        "new_sample": images.new_sample,
        "choose_model": window.models.choose_model_dialog,
        "open_checkpoint": window.models.open_checkpoint_dialog,
        "export_panel": lambda: pictures.export_dialog(window.panel_docks.current_panel()),
        "export_window": lambda: pictures.export_dialog(window),
        "export_figure": lambda: pictures.export_figure_dialog("map"),
        "export_grid_figure": lambda: pictures.export_figure_dialog("grid"),
        "copy_panel": lambda: pictures.copy_to_clipboard(window.panel_docks.current_panel()),
        "copy_window": lambda: pictures.copy_to_clipboard(window),
        "quit": window.close,
        "query_left": lambda: state.move_query(0, -1),
        "query_right": lambda: state.move_query(0, 1),
        "query_up": lambda: state.move_query(-1, 0),
        "query_down": lambda: state.move_query(1, 0),
        "query_default": commands.query_default,
        "layer_prev": lambda: state.step_layer(-1),
        "layer_next": lambda: state.step_layer(1),
        "head_prev": lambda: state.step_head(-1),
        "head_next": lambda: state.step_head(1),
        "class_1": lambda: commands.select_top_class(0),
        "class_2": lambda: commands.select_top_class(1),
        "class_3": lambda: commands.select_top_class(2),
        "class_none": lambda: setattr(state.selection, "class_index", None),
        "toggle_grid": lambda: setattr(view, "show_grid", not view.show_grid),
        "next_colormap": lambda: cycle(view, "colormap", COLORMAPS),
        "next_overlay": commands.next_overlay,
        "next_fusion": lambda: cycle(view, "fusion", FUSIONS),
        "next_class_method": lambda: cycle(view, "class_method", CLASS_METHODS),
        "opacity_up": lambda: step_opacity(view, 0.1),
        "opacity_down": lambda: step_opacity(view, -0.1),
        "presentation": lambda: setattr(view, "presentation", not view.presentation),
        "leave_presentation": lambda: setattr(view, "presentation", False),
        "reset_layout": window.panel_docks.reset_layout,
        "help": commands.show_shortcuts,
        "about_model": lambda: show_model_card(state.results.model, window),
    }


def build_actions(window: QMainWindow, slots: dict[str, Callable[[], object]]):
    """One action per shortcut entry, triggering its slot.

    Returns
    -------
    dict of str to QAction
        The actions by shortcut name; the grid and presentation toggles are checkable
        and follow ``window.state``.
    """
    view = window.state.view
    actions = {e.name: make_action(window, e.name, slots[e.name]) for e in SHORTCUTS}
    for name, field in (("toggle_grid", "show_grid"), ("presentation", "presentation")):
        action = actions[name]
        action.setCheckable(True)
        action.setChecked(getattr(view, field))
        listen(window, getattr(view.events, field), _checker(action))
    return actions


def _checker(action: QAction) -> Callable[[bool], None]:
    return lambda on: action.setChecked(bool(on))


def build_menus(window: QMainWindow, actions: dict[str, QAction], fillers: dict) -> None:
    """The menus of :data:`MENUS` on ``window``'s menu bar.

    Parameters
    ----------
    window : QMainWindow
        Gets the menus.
    actions : dict of str to QAction
        From :func:`build_actions`.
    fillers : dict of str to callable
        ``filler(menu)`` for the entries that are not actions (``recent``, ``hopper``,
        ``panels``).
    """

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
