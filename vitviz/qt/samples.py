"""The sample images the app offers: generated demo shapes and a bundled photograph (apart
from the window, so that start-up picks its first image before importing the window)."""

from __future__ import annotations

from pathlib import Path

from matplotlib import cbook
from PIL import Image

from vitviz.demo.dataset import generate
from vitviz.state import LoadedImage

DEMO_SAMPLE_SEED = 20_240_611  # a stream of its own, apart from training and evaluation


def demo_sample(index: int) -> LoadedImage:
    """Generated demo image ``index`` of the app's own stream (0 is the start-up image)."""
    sample = generate(DEMO_SAMPLE_SEED, index)
    return LoadedImage(Image.fromarray(sample.image), f"demo sample {index}", generated=True)


def grace_hopper_path() -> Path:
    """matplotlib's bundled photograph of Grace Hopper."""
    return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
