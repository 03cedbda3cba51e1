"""The window's commands as actions (with their shortcuts) and the menus that list them.

Every command has an entry in :data:`vitviz.qt.shortcuts.SHORTCUTS` (name, keys, text);
here each name gets its slot, and the menus group the actions.
"""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow

from vitviz.qt.deck_action import add_deck_action
from vitviz.qt.shortcuts import SHORTCUTS, make_action
from vitviz.qt.widgets.bindings import listen
from vitviz.qt.window.commands import cycle, step_opacity
from vitviz.qt.window.toolbar import COLORMAPS
from vitviz.state.view import CLASS_METHODS, FUSIONS


def build_actions(window: QMainWindow) -> dict[str, QAction]:
    """One action per shortcut entry, triggering the window's command of that name.

    Parameters
    ----------
    window : MainWindow
        Owns the actions; its methods and its ``state`` are what they act on.

    Returns
    -------
    dict of str to QAction
        The actions by shortcut name; the grid and presentation toggles are checkable
        and follow the state.
    """
    state = window.state
    view = state.view
    slots = {
        "open_image": window.open_image_dialog,
        "paste_image": window.paste_image,
        "new_sample": window.new_sample,
        "choose_model": window.choose_model_dialog,
        "open_checkpoint": window.open_checkpoint_dialog,
        "export_panel": lambda: window.export_dialog(window.current_panel()),
        "export_window": lambda: window.export_dialog(window),
        "export_figure": lambda: window.export_figure_dialog("map"),
        "export_grid_figure": lambda: window.export_figure_dialog("grid"),
        "copy_panel": lambda: window.copy_to_clipboard(window.current_panel()),
        "copy_window": lambda: window.copy_to_clipboard(window),
        "quit": window.close,
        "query_left": lambda: state.move_query(0, -1),
        "query_right": lambda: state.move_query(0, 1),
        "query_up": lambda: state.move_query(-1, 0),
        "query_down": lambda: state.move_query(1, 0),
        "query_default": window.query_default,
        "layer_prev": lambda: state.step_layer(-1),
        "layer_next": lambda: state.step_layer(1),
        "head_prev": lambda: state.step_head(-1),
        "head_next": lambda: state.step_head(1),
        "class_1": lambda: window.select_top_class(0),
        "class_2": lambda: window.select_top_class(1),
        "class_3": lambda: window.select_top_class(2),
        "class_none": lambda: setattr(state.selection, "class_index", None),
        "toggle_grid": lambda: setattr(view, "show_grid", not view.show_grid),
        "next_colormap": lambda: cycle(view, "colormap", COLORMAPS),
        "next_overlay": window.next_overlay,
        "next_fusion": lambda: cycle(view, "fusion", FUSIONS),
        "next_class_method": lambda: cycle(view, "class_method", CLASS_METHODS),
        "opacity_up": lambda: step_opacity(view, 0.1),
        "opacity_down": lambda: step_opacity(view, -0.1),
        "presentation": lambda: setattr(view, "presentation", not view.presentation),
        "leave_presentation": lambda: setattr(view, "presentation", False),
        "reset_layout": window.reset_layout,
        "help": window.show_shortcuts,
    }
    actions = {e.name: make_action(window, e.name, slots[e.name]) for e in SHORTCUTS}
    grid_action = actions["toggle_grid"]
    grid_action.setCheckable(True)
    grid_action.setChecked(view.show_grid)
    listen(window, view.events.show_grid, lambda on: grid_action.setChecked(bool(on)))
    presentation = actions["presentation"]
    presentation.setCheckable(True)
    listen(window, view.events.presentation, lambda on: presentation.setChecked(bool(on)))
    return actions


def build_menus(window: QMainWindow, actions: dict[str, QAction]) -> None:
    """File, Select, View and Help menus on ``window``'s menu bar.

    Parameters
    ----------
    window : MainWindow
        Gets the menus, and ``recent_menu`` (filled each time it opens).
    actions : dict of str to QAction
        From :func:`build_actions`.
    """
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(actions["open_image"])
    window.recent_menu = file_menu.addMenu("Open &Recent")
    window.recent_menu.aboutToShow.connect(window.fill_recent_menu)
    samples = file_menu.addMenu("Sa&mples")
    samples.addAction(actions["new_sample"])
    hopper = samples.addAction("Grace Hopper (matplotlib)")
    hopper.triggered.connect(window.open_grace_hopper)
    file_menu.addAction(actions["paste_image"])
    file_menu.addSeparator()
    file_menu.addAction(actions["choose_model"])
    file_menu.addAction(actions["open_checkpoint"])
    file_menu.addSeparator()
    for name in (
        "export_panel",
        "export_window",
        "export_figure",
        "export_grid_figure",
        "copy_panel",
        "copy_window",
    ):
        file_menu.addAction(actions[name])
    add_deck_action(window, file_menu)
    file_menu.addSeparator()
    file_menu.addAction(actions["quit"])
    select_menu = bar.addMenu("&Select")
    for entry in SHORTCUTS:
        if entry.group == "Selection":
            select_menu.addAction(actions[entry.name])
    view_menu = bar.addMenu("&View")
    view_actions = (
        "toggle_grid",
        "next_colormap",
        "next_overlay",
        "next_fusion",
        "next_class_method",
        "opacity_up",
        "opacity_down",
        "presentation",
    )
    for name in view_actions:
        view_menu.addAction(actions[name])
    view_menu.addSeparator()
    panels_menu = view_menu.addMenu("&Panels")
    for dock in window.docks.values():
        panels_menu.addAction(dock.toggleViewAction())
    view_menu.addAction(actions["reset_layout"])
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(actions["help"])
