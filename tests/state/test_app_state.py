from types import SimpleNamespace

import pytest

from vitviz.state import AppState, LoadedModel
from vitviz.state.app_state import default_query
from vitviz.vit.layout import TokenLayout

LAYOUT = TokenLayout(num_class=1, num_dist=0, num_reg=4, grid=(3, 5))


@pytest.fixture
def state():
    state = AppState()
    config = SimpleNamespace(depth=4, num_heads=3)
    spec = SimpleNamespace(num_classes=10)
    state.results.model = LoadedModel(SimpleNamespace(config=config), spec, "demo", "cpu")
    state.results.inference = SimpleNamespace(layout=LAYOUT)
    return state


def test_selection_changes_are_announced(state):
    seen = []
    state.selection.events.layer.connect(seen.append)
    state.step_layer(+2)
    state.step_layer(+5)
    state.step_layer(-9)
    assert seen == [2, 3, 0]


def test_head_steps_clamp_to_the_model(state):
    state.step_head(+10)
    assert state.selection.head == 2
    state.step_head(-1)
    assert state.selection.head == 1


def test_move_query_from_prefix_lands_on_first_patch(state):
    state.select_token(0)
    state.move_query(0, 1)
    assert state.selection.query == LAYOUT.patch_index(0, 0)


def test_move_query_walks_rows_and_columns_and_stops_at_edges(state):
    state.select_token(LAYOUT.patch_index(1, 1))
    state.move_query(0, 1)
    assert LAYOUT.patch_position(state.selection.query) == (1, 2)
    state.move_query(1, 0)
    assert LAYOUT.patch_position(state.selection.query) == (2, 2)
    state.move_query(5, 9)
    assert LAYOUT.patch_position(state.selection.query) == (2, 4)


def test_select_token_ignores_indices_outside_the_layout(state):
    state.select_token(3)
    state.select_token(LAYOUT.num_tokens)
    assert state.selection.query == 3


def test_fit_selection_clamps_and_resets(state):
    sel = state.selection
    sel.query, sel.layer, sel.head, sel.class_index = 7, 3, 2, 9
    small = TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(2, 3))
    state.results.model = LoadedModel(
        SimpleNamespace(config=SimpleNamespace(depth=2, num_heads=1)),
        SimpleNamespace(num_classes=5),
        "other",
        "cpu",
    )
    state.fit_selection(small, depth=2, num_heads=1, reset_query=True)
    assert (sel.query, sel.layer, sel.head, sel.class_index) == (
        small.patch_index(1, 1),
        1,
        0,
        None,
    )


def test_default_query_prefers_the_class_token():
    assert default_query(LAYOUT) == 0
    no_cls = TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(4, 6))
    assert no_cls.kind(default_query(no_cls)).value == "patch"
    assert no_cls.patch_position(default_query(no_cls)) == (2, 3)


def test_rollout_follows_the_class_token_unless_asked():
    state = AppState()
    seen = []
    state.rollout.events.follow_query.connect(seen.append)
    assert state.rollout.follow_query is False
    state.rollout.follow_query = True
    assert seen == [True]


def test_move_query_from_a_stale_index_lands_on_first_patch(state):
    state.selection.query = 10_000  # left over from a longer sequence
    state.move_query(1, 0)
    assert state.selection.query == LAYOUT.patch_index(0, 0)


def test_fit_selection_announces_only_a_consistent_selection(state):
    sel = state.selection
    sel.query, sel.layer, sel.head = 7, 3, 2
    small = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(2, 2))
    seen = []
    sel.events.query.connect(lambda _: seen.append((sel.query, sel.layer, sel.head)))
    state.fit_selection(small, depth=2, num_heads=1, reset_query=True)
    # When the query change is announced, layer and head are already clamped.
    assert seen == [(0, 1, 0)]


def test_the_first_view_is_the_rollout_and_a_new_model_starts_on_its_last_layer(state):
    assert state.view.overlay == "rollout"
    state.selection.layer = 0
    state.fit_selection(LAYOUT, depth=4, num_heads=3, reset_query=True)
    assert state.selection.layer == 3
    state.selection.layer = 1
    state.fit_selection(LAYOUT, depth=4, num_heads=3)  # another image: the layer stays
    assert state.selection.layer == 1


def test_a_top_class_goes_on_the_image_and_none_brings_back_the_overlay(state):
    ranked = [SimpleNamespace(index=i) for i in (7, 2, 5)]
    state.results.analysis = SimpleNamespace(predictions=SimpleNamespace(classes=ranked))
    state.view.overlay = "fusion"
    state.show_top_class(1)
    assert (state.view.overlay, state.selection.class_index) == ("class", 2)
    state.show_top_class(2)
    state.show_top_class(9)  # no such rank: nothing changes
    assert (state.view.overlay, state.selection.class_index) == ("class", 5)
    state.show_top_class(None)
    assert (state.view.overlay, state.selection.class_index) == ("fusion", None)
