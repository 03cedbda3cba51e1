"""The worker's second stage and its per-query reads, against the functions they wrap."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vitviz.compute.analysis import analyse, rollout_maps
from vitviz.compute.attention_maps import fuse_heads, mass_threshold, query_maps
from vitviz.compute.head_stats import head_statistics, high_norm_tokens
from vitviz.compute.rollout import RolloutOptions, rollout
from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout

LAYOUT = TokenLayout(num_class=1, num_dist=0, num_reg=2, grid=(3, 4))


def inference(layout=LAYOUT, layers=3, heads=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    n = layout.num_tokens
    scores = torch.randn(1, layers, heads, n, n, generator=generator) * 2  # [1, L, H, N, N]
    return SimpleNamespace(
        attentions=scores.softmax(-1).half(),
        token_norms=torch.rand(1, layers, n, generator=generator) + 1,  # [1, L, N]
        logits=torch.randn(1, 7, generator=generator),  # [1, C]
        pool_attention=None,
        layout=layout,
    )


def test_analyse_holds_the_statistics_of_the_first_image():
    result = inference()
    analysis = analyse(result, (16, 16), tuple("abcdefg"))
    stats = head_statistics(result.attentions[0], LAYOUT, (16, 16))
    np.testing.assert_allclose(analysis.mean_distance, stats.mean_distance.numpy(), rtol=1e-6)
    np.testing.assert_allclose(analysis.entropy, stats.entropy.numpy(), rtol=1e-6)
    flags = high_norm_tokens(result.token_norms[0], LAYOUT).numpy()
    np.testing.assert_array_equal(analysis.high_norm, flags)
    assert analysis.patch_prefix_mass.shape == (3, LAYOUT.num_prefix)
    best = int(result.logits[0].argmax())
    assert analysis.predictions.classes[0].index == best
    assert analysis.predictions.classes[0].label == "abcdefg"[best]
    assert len(analysis.predictions.classes) == 7
    with pytest.raises(ValueError, match="read-only"):
        analysis.entropy[0, 0] = 1.0  # shared with the UI thread: nobody writes to it


def test_cells_are_every_head_then_the_fused_one_with_the_threshold():
    result = inference()
    analysis = analyse(result, (16, 16))
    query = LAYOUT.patch_index(1, 2)
    maps = query_maps(result.attentions[0], LAYOUT, query, renormalize=True)  # [L, H, r, c]
    cells = analysis.cells(query, fusion="max", renormalize=True)
    np.testing.assert_allclose(cells[:, :-1], maps.numpy(), rtol=1e-6)
    np.testing.assert_allclose(cells[:, -1], fuse_heads(maps, "max", dim=1).numpy(), rtol=1e-6)
    kept = analysis.cells(query, threshold=0.6, layer=2)  # [H + 1, r, c]
    raw = query_maps(result.attentions[0], LAYOUT, query)[2]  # [H, r, c]
    np.testing.assert_allclose(kept[:-1], (raw * mass_threshold(raw, 0.6)).numpy(), rtol=1e-6)


def test_rollout_maps_read_any_query_up_to_every_layer():
    result = inference(layers=4)
    options = RolloutOptions("min", 0.3, 0.6, 1, 3)
    rolled = rollout_maps(result, options)
    assert list(rolled.layers) == [1, 2, 3]
    keywords = dict(
        head_fusion="min", discard_ratio=0.3, residual_weight=0.6, start_layer=1, every_layer=True
    )
    for query in (None, 0, LAYOUT.patch_index(2, 3)):
        expected = rollout(result.attentions[0], LAYOUT, query=query, **keywords)
        np.testing.assert_allclose(rolled.maps(query), expected.numpy(), rtol=1e-5, atol=1e-7)
    with pytest.raises(AnalysisError, match="does not exist"):
        rolled.maps(10_000)


def test_invalid_rollout_options_give_a_message_not_an_exception():
    rolled = rollout_maps(inference(), RolloutOptions(start_layer=2, end_layer=1))
    assert rolled.maps() is None
    assert "not a range" in rolled.error


def test_without_class_token_the_default_rollout_is_the_mean_of_the_patches():
    layout = TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(2, 3))
    result = inference(layout)
    expected = rollout(result.attentions[0], layout, query="patches", every_layer=True)
    np.testing.assert_allclose(rollout_maps(result, RolloutOptions()).maps(), expected, rtol=1e-5)


def test_the_default_query_alone_is_rolled_out_without_the_stack():
    result = inference(layers=4)
    options = RolloutOptions(discard_ratio=0.2, start_layer=1)
    alone = rollout_maps(result, options, every_query=False)
    assert alone.stack is None
    np.testing.assert_allclose(alone.maps(), rollout_maps(result, options).maps(), rtol=1e-5)
    assert alone.maps(LAYOUT.patch_index(0, 0)) is None
