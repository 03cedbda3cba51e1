"""The shipped demo model: small, self-describing, and meeting its quality bars.

The bars are measured on fewer held-out images than the training script's 1,000, to keep
the test fast; the images are fixed, so the result is the same on every run.
"""

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from tests.demo.other_renderer import render
from vitviz.demo.quality import evaluate, model_input
from vitviz.demo.shapes import CLASS_NAMES
from vitviz.resources import DEMO_MODEL_PATH
from vitviz.vit import load

BAR_IMAGES = 200
OTHER_RENDERER_IMAGES = 150


@pytest.fixture(scope="module")
def demo():
    return load("demo", device="cpu")


def test_the_file_is_small_and_describes_itself():
    assert DEMO_MODEL_PATH.stat().st_size <= 12_000_000
    with safe_open(str(DEMO_MODEL_PATH), "pt") as handle:
        metadata = handle.metadata()
    assert json.loads(metadata["vitviz.labels"]) == list(CLASS_NAMES)
    cfg = json.loads(metadata["vitviz.pretrained_cfg"])
    assert cfg["input_size"] == [3, 224, 224]
    kwargs = json.loads(metadata["vitviz.model_kwargs"])
    assert kwargs["num_classes"] == 10
    assert json.loads(metadata["vitviz.arch"]).startswith("vit_")


def test_it_loads_as_a_patch16_vit_with_a_class_token(demo):
    model, spec = demo
    assert spec.labels == CLASS_NAMES
    assert spec.patch_size == (16, 16)
    assert spec.layout.grid == (14, 14)
    assert spec.layout.class_index == 0
    assert 6 <= model.config.depth <= 12


def test_quality_bars(demo):
    report = evaluate(*demo, BAR_IMAGES)
    assert report.accuracy >= 0.97, report.lines()
    assert report.pointing >= 0.85, report.lines()
    assert report.class_map_pointing >= 0.80, report.lines()


def test_it_generalises_to_shapes_drawn_by_another_renderer(demo):
    model, spec = demo
    rng = np.random.default_rng(0)
    labels = np.arange(OTHER_RENDERER_IMAGES) % len(CLASS_NAMES)
    images = np.stack([render(int(label), rng) for label in labels])
    with torch.no_grad():
        logits = torch.cat(
            [
                model(model_input(images[i : i + 50], spec), capture=False).logits
                for i in range(0, len(images), 50)
            ]
        )
    accuracy = (logits.argmax(-1).numpy() == labels).mean()
    assert accuracy >= 0.85
