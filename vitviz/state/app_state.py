"""The whole application state and the selection moves every panel shares."""

from __future__ import annotations

from dataclasses import dataclass, field

from vitviz.state.events import held_events
from vitviz.state.inputs import Inputs
from vitviz.state.results import Results
from vitviz.state.selection import Selection
from vitviz.state.view import RolloutOptions, ViewOptions
from vitviz.vit.layout import TokenKind, TokenLayout


@dataclass
class AppState:
    """Container of the evented parts of the application state.

    Each part (``inputs``, ``selection``, ``view``, ``rollout``, ``results``) is a psygnal
    evented dataclass: connect to ``state.selection.events.layer`` and so on. The methods
    below are the selection moves shared by the mouse, the keyboard and the panels, kept
    here so that every way of making a move clamps the same way.
    """

    inputs: Inputs = field(default_factory=Inputs)
    selection: Selection = field(default_factory=Selection)
    view: ViewOptions = field(default_factory=ViewOptions)
    rollout: RolloutOptions = field(default_factory=RolloutOptions)
    results: Results = field(default_factory=Results)
    overlay_before_class: str = "rollout"  # what 0 (no class) lays over the image again

    @property
    def layout(self) -> TokenLayout | None:
        """Token layout of the current result, or None before the first result."""
        inference = self.results.inference
        return None if inference is None else inference.layout

    @property
    def depth(self) -> int:
        """Blocks of the current model (0 when none is loaded)."""
        return self.results.model.depth if self.results.model else 0

    @property
    def num_heads(self) -> int:
        """Heads per block of the current model (0 when none is loaded)."""
        return self.results.model.num_heads if self.results.model else 0

    def select_token(self, index: int) -> None:
        """Make token ``index`` the query, if the current layout has it."""
        layout = self.layout
        if layout is not None and 0 <= index < layout.num_tokens:
            self.selection.query = index

    def move_query(self, d_row: int, d_col: int) -> None:
        """Move a patch query by whole patches, stopping at the grid's edge.

        From a prefix token (or an index the layout does not have), any move lands on the
        top-left patch.
        """
        layout = self.layout
        if layout is None:
            return
        query = self.selection.query
        if not 0 <= query < layout.num_tokens or layout.kind(query) is not TokenKind.PATCH:
            self.selection.query = layout.patch_index(0, 0)
            return
        row, col = layout.patch_position(self.selection.query)
        rows, cols = layout.grid
        row = min(max(row + d_row, 0), rows - 1)
        col = min(max(col + d_col, 0), cols - 1)
        self.selection.query = layout.patch_index(row, col)

    def step_layer(self, delta: int) -> None:
        """Select the block ``delta`` away, clamped to the model's depth."""
        if self.depth:
            self.selection.layer = min(max(self.selection.layer + delta, 0), self.depth - 1)

    def step_head(self, delta: int) -> None:
        """Select the head ``delta`` away, clamped to the heads of a block."""
        if self.num_heads:
            self.selection.head = min(max(self.selection.head + delta, 0), self.num_heads - 1)

    def show_top_class(self, rank: int | None) -> None:
        """Lay the map of the class predicted at ``rank`` (0 = top-1) over the image.

        None deselects the class and brings back the overlay shown before the first class.
        """
        view, analysis = self.view, self.results.analysis
        if rank is None:
            self.selection.class_index = None
            if view.overlay == "class":
                view.overlay = self.overlay_before_class
            return
        ranked = () if analysis is None else analysis.predictions.classes
        if rank < len(ranked):
            if view.overlay != "class":
                self.overlay_before_class = view.overlay
            self.selection.class_index = ranked[rank].index
            view.overlay = "class"

    def fit_selection(
        self, layout: TokenLayout, depth: int, num_heads: int, *, reset_query: bool = False
    ) -> None:
        """Keep the selection valid for a new result (another model or image size).

        The query stays where the new layout still has it, unless ``reset_query`` (a new
        model, whose token indices mean something else); otherwise it becomes the class
        token, or the centre patch for models without one. A new model starts on its last
        layer (whose heads differ from the rollout on the image: the first view shows two
        different maps); otherwise layer and head are clamped, a
        class the model does not have is deselected, and rollout layers beyond the model's
        depth go back to the last block.
        """
        sel = self.selection
        spec = self.results.model.spec if self.results.model else None
        with held_events(sel):
            if reset_query or sel.query >= layout.num_tokens:
                sel.query = default_query(layout)
            sel.layer = depth - 1 if reset_query else min(sel.layer, depth - 1)
            sel.head = min(sel.head, num_heads - 1)
            sel.hover = None
            if sel.class_index is not None and (
                spec is None or sel.class_index >= spec.num_classes
            ):
                sel.class_index = None
        rollout = self.rollout
        with held_events(rollout):
            rollout.start_layer = min(rollout.start_layer, depth - 1)
            for name in ("end_layer", "shown_layer"):
                value = getattr(rollout, name)
                if value is not None and not rollout.start_layer <= value < depth:
                    setattr(rollout, name, None)


def default_query(layout: TokenLayout) -> int:
    """The class token, or the centre patch when the model has none."""
    if layout.class_index is not None:
        return layout.class_index
    rows, cols = layout.grid
    return layout.patch_index(rows // 2, cols // 2)
