"""Titles name the model, the map, the layer, the head and the class."""

from __future__ import annotations

from vitviz.export import titles


def test_rollout_title_names_model_query_layers_and_settings():
    title = titles.rollout_title(
        "demo", "CLS", start_layer=0, end_layer=5, fusion="max", discard_ratio=0.9, image="a.png"
    )
    assert title.splitlines() == [
        "Attention rollout of CLS",
        "demo · layers 0–5 · max fusion, discard 0.9 · a.png",
    ]


def test_head_title_names_layer_and_head_or_fusion():
    assert "layer 3 · head 2" in titles.head_title("demo", "CLS", layer=3, head=2)
    assert "heads fused (min)" in titles.head_title("demo", "CLS", layer=3, head=None, fusion="min")


def test_class_title_names_class_method_and_probability():
    title = titles.class_title(
        "demo", "star", index=3, method="relevance", probability=0.8766, image="x.png"
    )
    assert title.startswith("Relevance (Chefer et al. 2021) for class “star”")
    assert "class 3 · p = 87.7% · x.png" in title


def test_grid_and_distance_titles_name_the_model():
    assert "demo" in titles.grid_title("demo", "REG0")
    assert "REG0" in titles.grid_title("demo", "REG0")
    assert titles.distance_title("demo").startswith("Mean attention distance per head")
