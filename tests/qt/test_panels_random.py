"""Random selections, options and results thrown at all analysis panels at once.

Every action goes through the state, as the other panels and the controller would make it;
nothing may raise, and afterwards every panel still shows the current result.
"""

import random

import numpy as np
import pytest

from tests.qt.panel_data import PANELS, make_state
from vitviz.state.view import CLASS_METHODS, FUSIONS, SCALES, UPSAMPLING
from vitviz.vit.layout import TokenLayout

LAYOUTS = (
    TokenLayout(num_class=1, num_dist=0, num_reg=2, grid=(3, 5)),
    TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(4, 2)),
    TokenLayout(num_class=1, num_dist=1, num_reg=0, grid=(2, 2)),
)


def new_result(state, rng):
    """A result of another model (new layout, depth, heads), delivered as the controller does."""
    source = make_state(
        rng.choice(LAYOUTS),
        rng.randint(1, 4),
        rng.randint(1, 3),
        num_classes=6,
        seed=rng.randrange(1000),
    )
    results = source.results
    with state.results.events.paused():
        state.results.model = results.model
        state.results.prepared = results.prepared
        state.results.class_maps = {}
        state.results.inference = results.inference
        state.results.analysis = results.analysis
        state.results.rollout = results.rollout
        state.fit_selection(
            results.inference.layout, state.depth, state.num_heads, reset_query=True
        )


def random_class_maps(layout):
    """Maps for classes 0 and 3 by both methods, as the controller would have cached them."""
    rng = np.random.default_rng(0)
    return {(c, m): rng.random(layout.grid) for c in (0, 3) for m in CLASS_METHODS}


def act(state, rng):
    """One random change of the state."""
    layout = state.layout
    selection, view, options = state.selection, state.view, state.rollout
    actions = [
        lambda: state.select_token(rng.randrange(layout.num_tokens)),
        lambda: setattr(selection, "query", rng.randrange(10_000)),  # stale or foreign
        lambda: state.move_query(rng.randint(-1, 1), rng.randint(-1, 1)),
        lambda: state.step_layer(rng.choice((-1, 1))),
        lambda: state.step_head(rng.choice((-1, 1))),
        lambda: setattr(selection, "class_index", rng.choice((None, 0, 3, 5))),
        lambda: setattr(view, "fusion", rng.choice(FUSIONS)),
        lambda: setattr(view, "colormap", rng.choice(("viridis", "gray", "magma_r"))),
        lambda: setattr(view, "scale", rng.choice(SCALES)),
        lambda: setattr(view, "upsampling", rng.choice(UPSAMPLING)),
        lambda: setattr(view, "drop_prefix", rng.random() < 0.5),
        lambda: setattr(view, "mass_threshold", rng.choice((None, 0.6, 1.0))),
        lambda: setattr(view, "class_method", rng.choice(CLASS_METHODS)),
        lambda: setattr(view, "presentation", rng.random() < 0.2),
        lambda: setattr(options, "fusion", rng.choice(FUSIONS)),
        lambda: setattr(options, "discard_ratio", rng.choice((0.0, 0.3, 0.9))),
        lambda: setattr(options, "residual", rng.choice((0.0, 0.5, 1.0))),
        lambda: setattr(options, "start_layer", rng.randint(0, 4)),
        lambda: setattr(options, "end_layer", rng.choice((None, 0, 1, 3))),
        lambda: setattr(options, "shown_layer", rng.choice((None, 0, 2))),
        lambda: setattr(options, "follow_query", rng.random() < 0.5),
        lambda: setattr(state.results, "class_maps", random_class_maps(layout)),
        lambda: new_result(state, rng),
    ]
    rng.choice(actions)()


@pytest.mark.parametrize("seed", [0, 1])
def test_random_changes_never_raise(qtbot, seed):
    rng = random.Random(seed)
    state = make_state()
    panels = [panel_class(state) for panel_class in PANELS]
    for panel in panels:
        qtbot.addWidget(panel)
        panel.resize(320, 320)
        panel.show()
    for step in range(150):
        act(state, rng)
        if step % 25 == 0:
            qtbot.wait(1)  # let paints and blits run too
    # Back to a valid selection: every panel shows the current result again.
    state.rollout.start_layer, state.rollout.end_layer = 0, None
    state.select_token(0)
    heads_grid, selected, rollout = panels[0], panels[1], panels[2]
    depth, heads = state.depth, state.num_heads
    assert heads_grid.mosaic.shape == (depth, heads + 1)
    assert selected.head_map() is not None
    assert rollout.shown_map() is not None
    for panel in panels:
        panel.grab()
