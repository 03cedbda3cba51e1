"""Two-way links between Qt input widgets and fields of the evented state.

A widget writes the user's choice into the state; the state's change moves the widget
back, with the widget's own signals blocked so that nothing echoes. Every connection to
the state is dropped when the widget is destroyed, so a closed panel is never called.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from psygnal import SignalInstance
from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QAbstractButton, QComboBox, QWidget


def listen(owner: QWidget, signal: SignalInstance, slot: Callable[..., Any]) -> None:
    """Connect ``slot`` to a psygnal ``signal`` (``state.selection.events.query``, …) for
    as long as the widget ``owner`` lives."""
    signal.connect(slot)
    owner.destroyed.connect(lambda *_: signal.disconnect(slot, missing_ok=True))


def bind_combo(
    combo: QComboBox,
    owner: Any,
    field: str,
    values: Sequence[Any],
    labels: Sequence[str] | None = None,
) -> None:
    """Fill ``combo`` with ``values`` and keep it equal to ``owner.<field>`` both ways.

    ``owner`` is a part of the state (``state.view``); ``labels`` are the texts shown for
    the values, in order (``str(value)`` by default).
    """
    values = list(values)
    combo.clear()
    for value, text in zip(values, labels or [str(v) for v in values], strict=True):
        combo.addItem(text, value)

    def show(value: Any) -> None:
        if value in values:
            with QSignalBlocker(combo):
                combo.setCurrentIndex(values.index(value))

    def store(index: int) -> None:
        if 0 <= index < len(values):
            setattr(owner, field, values[index])

    show(getattr(owner, field))
    combo.currentIndexChanged.connect(store)
    listen(combo, getattr(owner.events, field), show)


def bind_value(
    widget: QWidget,
    owner: Any,
    field: str,
    *,
    to_widget: Callable[[Any], Any] = lambda v: v,
    to_state: Callable[[Any], Any] = lambda v: v,
    setter: str = "setValue",
    changed: str = "valueChanged",
) -> None:
    """Keep a widget with ``value()``/``setValue()``/``valueChanged`` equal to a field.

    Works for spin boxes and superqt's labelled sliders (other widgets name their
    ``setter`` and ``changed`` signal). ``to_widget`` and ``to_state`` convert between the
    field's value and the widget's (e.g. None ↔ a sentinel).
    """

    def show(value: Any) -> None:
        with QSignalBlocker(widget):
            getattr(widget, setter)(to_widget(value))

    show(getattr(owner, field))
    getattr(widget, changed).connect(lambda value: setattr(owner, field, to_state(value)))
    listen(widget, getattr(owner.events, field), show)


def bind_check(button: QAbstractButton, owner: Any, field: str) -> None:
    """Keep a checkable button equal to a boolean field, both ways."""
    bind_value(
        button, owner, field, to_widget=bool, to_state=bool, setter="setChecked", changed="toggled"
    )
