"""Shared fixtures of the export tests: generated images (the model is tests/conftest.py's)."""

from __future__ import annotations

import pytest
from PIL import Image

from vitviz.demo.dataset import generate


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> list[str]:
    """Three generated demo images as PNG files (one not square, to exercise the crop)."""
    folder = tmp_path_factory.mktemp("images")
    paths = []
    for index in range(3):
        size = 224 if index < 2 else 256
        path = folder / f"shape{index}.png"
        Image.fromarray(generate(11, index, size=size).image).save(path)
        paths.append(str(path))
    wide = Image.open(paths[2]).resize((320, 256))
    wide.save(paths[2])
    return paths


@pytest.fixture(scope="session")
def broken_image(tmp_path_factory) -> str:
    """A file named like an image that holds no image."""
    path = tmp_path_factory.mktemp("broken") / "broken.png"
    path.write_bytes(b"this is not a PNG")
    return str(path)


@pytest.fixture(scope="session")
def loaded(model_source):
    """``(model, spec)`` of :func:`model_source` on the CPU."""
    from vitviz.vit import load

    return load(model_source, device="cpu")
