"""The shipped demo model: small, self-describing, and measured against its quality bars.

The bars are the floors the shipped weights reach on the training script's 1,000 held-out
images (``resources/models/MODEL_CARD.md``); here they are measured on fewer, to keep the
test fast (96.7 % top-1, 100 % pointing, 71.7 % class-map pairs on these 60). The images
are fixed, so the result is the same on every run.
"""

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from tests.training.demo_model.other_renderer import render
from training.demo_model.quality import (
    ACCURACY_BAR,
    CLASS_MAP_BAR,
    POINTING_BAR,
    QualityReport,
    evaluate,
    model_input,
)
from vitviz.demo.shapes import CLASS_NAMES
from vitviz.resources import DEMO_MODEL_PATH
from vitviz.vit import load

BAR_IMAGES = 60
OTHER_RENDERER_IMAGES = 100


@pytest.fixture(scope="module")
def demo():
    return load("demo", device="cpu")


@pytest.fixture(scope="module")
def report(demo) -> QualityReport:
    return evaluate(*demo, BAR_IMAGES)


@pytest.fixture(scope="module")
def other_renderer_accuracy(demo) -> float:
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
    return float((logits.argmax(-1).numpy() == labels).mean())


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


def test_pointing_game_bar(report):
    assert report.pointing >= POINTING_BAR, report.lines()


def test_accuracy_by_object_size_splits_the_images_into_thirds(report):
    assert len(report.accuracy_by_size) == 3
    assert BAR_IMAGES % 3 == 0
    assert np.mean(report.accuracy_by_size) == pytest.approx(report.accuracy)


def test_single_class_maps_keep_their_measured_quality(report):
    # A few points under the 85 % of single class maps on their object measured on these
    # images: a loading or analysis regression drops far below.
    assert report.class_map_hits >= 0.8, report.lines()


def test_accuracy_bar(report):
    assert report.accuracy >= ACCURACY_BAR, report.lines()


def test_class_map_bar(report):
    assert report.class_map_pointing >= CLASS_MAP_BAR, report.lines()


def test_it_generalises_to_shapes_drawn_by_another_renderer(other_renderer_accuracy):
    assert other_renderer_accuracy >= 0.85
