"""Holding back evented-state notifications so listeners see a block of changes at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def held_events(*parts: Any) -> Iterator[None]:
    """Hold back the field events of evented state parts until the block ends.

    psygnal's ``events.paused()`` only pauses the group's combined signal, not the
    per-field signals panels connect to; this pauses each of those. At the end each field
    that changed emits once, with its last value, in the order of ``parts`` and of their
    fields, so every listener sees all of the block's changes at once.

    Parameters
    ----------
    *parts : evented dataclass
        E.g. ``state.selection``, ``state.results``.
    """
    signals = [signal for part in parts for signal in part.events.signals.values()]
    for signal in signals:
        signal.pause()
    try:
        yield
    finally:
        errors = []
        for signal in signals:
            try:
                signal.resume(reducer=lambda _earlier, last: last)
            except Exception as error:  # resume the others before reporting it
                errors.append(error)
        if errors:
            raise errors[0]
