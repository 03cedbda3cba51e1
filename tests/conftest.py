"""Settings every test shares: no display, deterministic torch, a small CPU footprint."""

from __future__ import annotations

import os

# Before anything imports Qt: tests run without a display (CI, servers).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import torch

# The test machines share a few cores between many processes; more threads only thrash.
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture
def rng() -> torch.Generator:
    """A seeded torch generator, so random inputs are the same on every run."""
    return torch.Generator().manual_seed(0)


@pytest.fixture(scope="session")
def model_source(tmp_path_factory) -> str:
    """The bundled demo model, or a small random model of the same family if it is missing."""
    from vitviz.demo.shapes import CLASS_NAMES
    from vitviz.resources import DEMO_MODEL_PATH

    if DEMO_MODEL_PATH.is_file():
        return "demo"
    import timm

    from vitviz.vit import save_checkpoint

    kwargs = {"depth": 2, "num_classes": len(CLASS_NAMES)}
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, **kwargs)
    path = tmp_path_factory.mktemp("model") / "small.safetensors"
    save_checkpoint(
        model, path, arch="vit_tiny_patch16_224", model_kwargs=kwargs, labels=list(CLASS_NAMES)
    )
    return str(path)
