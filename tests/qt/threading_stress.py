"""Change image, model and query while results are in flight; then check nothing is stale.

Run by ``tests/qt/test_threading.py`` as a subprocess (``python -m
tests.qt.threading_stress SETTINGS MODEL_FILE SEED ACTIONS``), so that a crash fails that
test instead of killing the test run. The window is the app's own (``create_window``)
with its real worker thread; inputs are changed through ``window.state`` as the panels
and the window do. After the worker settles, the shown result must be the one of the
last inputs (recomputed here) and every panel must show that result. Exits 0 and prints
``stress ok`` when all holds; an assertion's traceback otherwise.
"""

from __future__ import annotations

import random
import sys
import time

import numpy as np
import torch
from PIL import Image

from vitviz.app import build_parser, create_window
from vitviz.compute.attention_maps import query_maps
from vitviz.compute.preprocess import prepare
from vitviz.compute.rollout import rollout
from vitviz.state import LoadedImage

SETTLE_S = 120


def random_image(rng: random.Random, index: int) -> LoadedImage:
    """Noise of a random size (so that crops and grids differ from image to image)."""
    width, height = rng.randrange(64, 400), rng.randrange(64, 400)
    pixels = np.random.default_rng(index).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return LoadedImage(Image.fromarray(pixels), f"stress-{index}")


def pump(app, seconds: float) -> None:
    """Deliver events for ``seconds`` (at least once)."""
    end = time.monotonic() + seconds
    app.processEvents()
    while time.monotonic() < end:
        app.processEvents()


def settled(window) -> bool:
    """The worker is done and the shown result is of the current inputs."""
    state = window.state
    results, inputs, selection = state.results, state.inputs, state.selection
    return (
        window.controller.idle
        and not results.busy
        and results.inference is not None
        and results.image is inputs.image
        and results.model is not None
        and results.model.source == inputs.model_source
        and (
            selection.class_index is None
            or (selection.class_index, state.view.class_method) in results.class_maps
        )
    )


def act(rng: random.Random, app, window, sources: list[str], index: int) -> bool:
    """One random change; True when it asked the worker for something."""
    state = window.state
    roll = rng.random()
    if roll < 0.25:
        state.inputs.image = random_image(rng, index)
        return True
    if roll < 0.40:
        state.inputs.model_source = rng.choice(sources)
        return True
    layout = state.layout
    if roll < 0.65 and layout is not None:
        state.select_token(rng.randrange(layout.num_tokens))
    elif roll < 0.75:
        state.move_query(rng.choice([-1, 0, 1]), rng.choice([-1, 0, 1]))
    elif roll < 0.85 and state.results.model is not None:
        classes = state.results.model.spec.num_classes
        state.selection.class_index = rng.choice([None, rng.randrange(classes)])
        return state.selection.class_index is not None
    elif roll < 0.92:
        state.step_layer(rng.choice([-1, 1]))
        state.step_head(rng.choice([-1, 1]))
    else:
        pump(app, rng.choice([0.001, 0.01, 0.05]))
    return False


def check_panels(window) -> None:
    """Every panel shows the current result for the current selection."""
    state = window.state
    results, selection = state.results, state.selection
    inference, model = results.inference, results.model
    layout = inference.layout
    with torch.inference_mode():
        prepared = prepare(state.inputs.image.image, model.spec, state.inputs.preprocess_mode)
        output = model.model(prepared.tensor.to(model.device))
    # The result is the last image's, through the last model.
    assert prepared.grid.layout == layout == results.prepared.grid.layout
    torch.testing.assert_close(output.logits, inference.logits, rtol=1e-4, atol=1e-5)
    assert 0 <= selection.query < layout.num_tokens
    assert 0 <= selection.layer < state.depth
    assert 0 <= selection.head < state.num_heads

    heads = query_maps(inference.attentions, layout, selection.query)[0].numpy()  # [L, H, r, c]
    expected = heads[selection.layer, selection.head]
    panels = window.panels
    image_panel = panels["image_panel"]
    np.testing.assert_allclose(image_panel.current_map, expected, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(panels["selected_head"].head_map(), expected, rtol=1e-3, atol=1e-6)
    rolled = rollout(inference.attentions, layout, query=selection.query)[0].numpy()
    np.testing.assert_allclose(panels["rollout_panel"].shown_map(), rolled, rtol=1e-3, atol=1e-6)
    shown = panels["predictions"].classes
    assert shown == inference.logits[0].argsort(descending=True)[: len(shown)].tolist()
    mass = panels["tokens"].prefix_mass
    assert mass is None or mass.shape == (state.depth, layout.num_prefix)
    if selection.class_index is not None:
        key = (selection.class_index, state.view.class_method)
        assert results.class_maps[key].shape == layout.grid
        np.testing.assert_allclose(panels["class_map"].class_map(), results.class_maps[key])


def main(settings: str, other_model: str, seed: int, actions: int) -> None:
    """Run ``actions`` random changes on the demo model and ``other_model``, then check."""
    errors: list[str] = []
    # PySide6 reports exceptions raised in slots through sys.excepthook and carries on.
    sys.excepthook = lambda kind, value, tb: errors.append(f"{kind.__name__}: {value}")
    args = build_parser().parse_args(["--settings", settings, "--model", "demo"])
    app, window = create_window(args)
    window.resize(1200, 800)
    window.show()
    state = window.state
    state.rollout.follow_query = True
    state.view.overlay = "head"
    deadline = time.monotonic() + SETTLE_S
    while not settled(window):
        assert time.monotonic() < deadline, f"no first result: {state.results.error}"
        pump(app, 0.01)

    rng = random.Random(seed)
    sources = ["demo", other_model]
    in_flight = 0  # worker requests made while an earlier one was still running
    for index in range(actions):
        busy = not window.controller.idle
        if act(rng, app, window, sources, index) and busy:
            in_flight += 1
        app.processEvents()
    # The last word: another image, the other model, a patch and a class.
    state.inputs.image = random_image(rng, actions)
    state.inputs.model_source = other_model
    state.selection.class_index = 1
    deadline = time.monotonic() + SETTLE_S
    while not settled(window):
        assert time.monotonic() < deadline, f"the worker did not settle: {state.results.error}"
        pump(app, 0.01)
    state.move_query(1, 1)  # from the centre patch (no class token here) down-right
    pump(app, 0.05)
    assert window.controller.wait(), "the worker did not finish"
    assert settled(window)
    assert state.results.error is None, state.results.error
    assert not errors, errors
    assert state.layout.num_prefix == 4  # other_model's registers, no class token
    assert state.layout.class_index is None
    check_panels(window)
    window.close()
    sys.stdout.write(f"stress ok: {actions} changes, {in_flight} while the worker was busy\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
