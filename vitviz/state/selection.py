"""What the user is pointing at. Every panel reads and writes these fields."""

from __future__ import annotations

from dataclasses import dataclass

from psygnal import evented


@evented
@dataclass
class Selection:
    """The linked selection shared by all panels.

    Attributes
    ----------
    query : int
        Sequence index of the query token whose attention rows are shown (class token,
        distillation, register or patch).
    hover : int or None
        Token under the mouse, for previews; None when the pointer is elsewhere.
    layer, head : int
        The selected block and head.
    class_index : int or None
        The class whose class-specific map is shown; None when no class is chosen.
    """

    query: int = 0
    hover: int | None = None
    layer: int = 0
    head: int = 0
    class_index: int | None = None
