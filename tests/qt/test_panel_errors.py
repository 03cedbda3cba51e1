"""A selection the result cannot serve becomes a message in the panel, never an exception."""

import pytest

from tests.qt.panel_data import PANELS, make_state
from vitviz.errors import AnalysisError
from vitviz.qt.panels.heads_grid import HeadsGridPanel
from vitviz.qt.widgets.guard import shows_errors


@pytest.mark.parametrize("panel_class", PANELS, ids=lambda c: c.__name__)
def test_bad_query_and_colormap_leave_the_panel_working(qtbot, panel_class):
    state = make_state()
    state.rollout.follow_query = True
    panel = panel_class(state)
    qtbot.addWidget(panel)
    panel.show()
    state.selection.query = 10_000  # a token of some other, longer sequence
    state.view.colormap = "no-such-colormap"
    state.selection.class_index = 1
    state.results.class_maps = {(1, "relevance"): state.results.inference.logits.new_ones(3, 5)}
    panel.grab()
    state.view.colormap = "viridis"
    state.selection.query = 0
    panel.render_all()
    panel.grab()


def test_a_guarded_method_hands_the_message_to_the_panel():
    class Panel:
        shown = None

        @shows_errors
        def render_all(self):
            raise AnalysisError("token 9 does not exist")

        def show_error(self, message):
            self.shown = message

    panel = Panel()
    panel.render_all()
    assert panel.shown == "token 9 does not exist"


def test_the_heads_grid_says_what_went_wrong(qtbot):
    state = make_state()
    panel = HeadsGridPanel(state)
    qtbot.addWidget(panel)
    state.selection.query = 10_000
    assert panel.mosaic.map_image is None
    state.selection.query = 0
    assert panel.mosaic.map_image is not None
