"""The first view of a new model: the rollout on the image, a late layer in the big map.

On the bundled demo model and on checkpoints written here (no class token: average pool,
and SigLIP-style attention pool), through the real worker thread.
"""

import numpy as np
import pytest
import timm
import torch

from tests.qt.demo_window import demo_window, wait_until
from vitviz.qt.overlay import rollout_shown
from vitviz.resources import DEMO_MODEL_PATH
from vitviz.vit import save_checkpoint

pytestmark = pytest.mark.skipif(
    not DEMO_MODEL_PATH.exists(), reason="the demo model has not been built yet"
)


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    yield from demo_window(tmp_path_factory, (1400, 900))


def wait_for_result(window):
    results = window.state.results
    wait_until(
        lambda: (
            results.inference is not None and results.rollout is not None and window.controller.idle
        )
    )


def assert_first_view(window, query_text):
    state, panels = window.state, window.panels
    assert state.view.overlay == "rollout"
    assert state.selection.layer == state.depth - 1
    assert panels["selected_head"].layer.value() == state.depth - 1  # the spin box says so
    image_map = panels["image_panel"].current_map
    np.testing.assert_array_equal(image_map, rollout_shown(state))
    head_map = panels["selected_head"].head_map()
    assert head_map.shape == image_map.shape
    # Two different maps (random-init models attend almost uniformly: compare finely).
    assert not np.allclose(head_map, image_map, rtol=1e-3, atol=0)
    caption = panels["image_panel"].caption.text()
    assert caption == f"rollout L0-L{state.depth - 1} · mean of heads · query {query_text}"


def test_the_demo_model_opens_on_the_class_token_rollout(window):
    wait_for_result(window)
    assert window.state.results.model.source == "demo"
    assert_first_view(window, "CLS")


@pytest.mark.parametrize(
    ("pool", "query_text"),
    [("avg", "mean of patches (avg pool)"), ("map", "attention-pool latent")],
)
def test_a_model_without_class_token_opens_on_its_pooling_query(window, tmp_path, pool, query_text):
    kwargs = {"depth": 3, "num_classes": 4, "class_token": False, "global_pool": pool}
    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, **kwargs)
    path = save_checkpoint(
        model, tmp_path / f"{pool}.safetensors", arch="vit_tiny_patch16_224", model_kwargs=kwargs
    )
    window.state.selection.layer = 0  # a new model starts on its last layer whatever was shown
    window.models.load_model_source(str(path))
    wait_for_result(window)
    assert window.state.results.model.source == str(path)
    assert window.state.layout.class_index is None
    assert_first_view(window, query_text)
