"""The talk deck: one PDF page per part of the story, the same bytes for the same input."""

from __future__ import annotations

import re

from vitviz.compute.images import open_image
from vitviz.compute.preprocess import prepare
from vitviz.export.deck import save_deck


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


def test_the_deck_has_six_pages_and_is_deterministic(loaded, tmp_path, images):
    model, spec = loaded
    image = open_image(images[2])
    prepared = prepare(image, spec)
    first = save_deck(tmp_path / "a.pdf", model, spec, image, prepared, image_name="wide.png")
    second = save_deck(tmp_path / "b.pdf", model, spec, image, prepared, image_name="wide.png")
    data = first.read_bytes()
    assert data.startswith(b"%PDF")
    # Image + grid, rollout, rollout forming, head means, top-3 classes, distance plot.
    assert _pages(data) == 6
    assert data == second.read_bytes()
    assert b"CreationDate" not in data


def test_a_model_without_a_classifier_head_has_no_class_page(tmp_path, images):
    import timm

    from vitviz.vit import load, save_checkpoint

    kwargs = {"depth": 2, "num_classes": 0, "class_token": False, "global_pool": "avg"}
    timm_model = timm.create_model("vit_tiny_patch16_224", pretrained=False, **kwargs)
    path = save_checkpoint(
        timm_model, tmp_path / "m.safetensors", arch="vit_tiny_patch16_224", model_kwargs=kwargs
    )
    model, spec = load(path, device="cpu")
    image = open_image(images[0])
    deck = save_deck(tmp_path / "deck.pdf", model, spec, image, prepare(image, spec))
    assert _pages(deck.read_bytes()) == 5
