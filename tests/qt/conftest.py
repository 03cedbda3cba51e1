"""Fixtures of the Qt shell tests: settings in a temporary file, small results, a model."""

from __future__ import annotations

import pytest

from tests.qt.shell_fakes import fill_state, make_spec
from vitviz.state import AppState, LoadedModel
from vitviz.vit.layout import TokenLayout
from vitviz.vit.spec import PretrainedSpec


@pytest.fixture
def filled_state() -> AppState:
    """State holding a fake result: CLS + 2 registers over a 4 × 6 patch grid."""
    return fill_state(AppState())


@pytest.fixture(scope="session")
def tiny_model() -> LoadedModel:
    """A real two-block ViT (random weights, 10 classes) with its spec."""
    import timm

    from vitviz.vit import from_timm

    timm_model = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, depth=2, num_classes=10
    ).eval()
    model = from_timm(timm_model).eval()
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(14, 14))
    spec = make_spec(layout, (224, 224))
    spec = PretrainedSpec(**{**vars(spec), "labels": tuple(f"class {i}" for i in range(10))})
    return LoadedModel(model, spec, "tiny", "cpu")


@pytest.fixture
def settings(tmp_path):
    """Settings kept in a temporary INI file."""
    from vitviz.qt.settings import Settings

    return Settings.at_path(tmp_path / "vitviz.ini")


@pytest.fixture
def image_file(tmp_path):
    """A plain grey 120 x 90 PNG."""
    import numpy as np
    from PIL import Image

    path = tmp_path / "picture.png"
    Image.fromarray(np.full((90, 120, 3), 200, dtype=np.uint8)).save(path)
    return path
