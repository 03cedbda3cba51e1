"""Attention maps of any query token, head fusion and DINO's mass threshold."""

from __future__ import annotations

import pytest
import torch

from vitviz.compute.attention_maps import (
    fuse_heads,
    mass_threshold,
    query_maps,
)
from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout

LAYOUTS = [
    TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(3, 4)),
    TokenLayout(num_class=1, num_dist=1, num_reg=0, grid=(2, 3)),
    TokenLayout(num_class=1, num_dist=0, num_reg=4, grid=(3, 2)),
    TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(2, 5)),
    TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(2, 2), pool_query=True),
]


def random_attention(layout: TokenLayout, layers: int = 3, heads: int = 2, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    n = layout.num_tokens
    scores = torch.randn(layers, heads, n, n, generator=generator, dtype=torch.float64) * 2
    return scores.softmax(-1)  # [L, H, N, N]


def naive_grid(row: torch.Tensor, layout: TokenLayout) -> torch.Tensor:
    rows, cols = layout.grid
    grid = torch.zeros(rows, cols, dtype=row.dtype)
    for r in range(rows):
        for c in range(cols):
            grid[r, c] = row[layout.patch_index(r, c)]
    return grid


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
def test_query_maps_match_explicit_loops_for_every_token(layout):
    attention = random_attention(layout)
    for query in range(layout.num_tokens):
        maps = query_maps(attention, layout, query)
        assert maps.shape == (3, 2, *layout.grid)
        for layer in range(3):
            for head in range(2):
                expected = naive_grid(attention[layer, head, query], layout)
                torch.testing.assert_close(maps[layer, head], expected)


def test_default_query_is_class_token_else_mean_of_patch_queries():
    with_class = LAYOUTS[2]
    attention = random_attention(with_class)
    torch.testing.assert_close(
        query_maps(attention, with_class), query_maps(attention, with_class, 0)
    )
    without = LAYOUTS[3]
    attention = random_attention(without)
    maps = query_maps(attention, without)
    expected = attention[:, :, without.num_prefix :, :].mean(-2)  # [L, H, N]
    torch.testing.assert_close(maps, expected.reshape(3, 2, *without.grid))


def test_renormalised_maps_drop_prefix_mass_and_sum_to_one():
    layout = LAYOUTS[2]
    attention = random_attention(layout)
    raw = query_maps(attention, layout, 0)
    renorm = query_maps(attention, layout, 0, renormalize=True)
    torch.testing.assert_close(renorm.sum((-2, -1)), torch.ones(3, 2, dtype=torch.float64))
    prefix_mass = attention[:, :, 0, : layout.num_prefix].sum(-1)
    torch.testing.assert_close(raw.sum((-2, -1)), 1 - prefix_mass)
    # Renormalisation is per map: each map is divided by its own patch mass only.
    torch.testing.assert_close(renorm * raw.sum((-2, -1), keepdim=True), raw)


def test_non_square_grid_keeps_rows_and_columns():
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=4, grid=(10, 16))
    n = layout.num_tokens
    attention = torch.full((1, 1, n, n), 1e-4)
    target = layout.patch_index(2, 13)
    attention[0, 0, 0, target] = 1.0
    maps = query_maps(attention, layout, "class")
    assert maps.shape == (1, 1, 10, 16)
    peak = int(maps[0, 0].argmax())
    assert divmod(peak, 16) == (2, 13)


def test_sequence_and_stack_inputs_agree_and_half_precision_is_upcast():
    layout = LAYOUTS[1]
    attention = random_attention(layout).float()
    stacked = query_maps(attention, layout, 1)
    per_layer = query_maps(list(attention.unbind(0)), layout, 1)
    torch.testing.assert_close(stacked, per_layer)
    half = query_maps(attention.half(), layout, 1)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, stacked, atol=1e-3, rtol=1e-3)


def test_batch_dimensions_are_carried_through():
    layout = LAYOUTS[1]
    batch = torch.stack([random_attention(layout, seed=s) for s in range(3)])  # [B, L, H, N, N]
    maps = query_maps(batch, layout, 4)
    assert maps.shape == (3, 3, 2, *layout.grid)
    for b in range(3):
        torch.testing.assert_close(maps[b], query_maps(batch[b], layout, 4))


def test_hand_checkable_three_token_example_from_design():
    x = torch.tensor([[1, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1]], dtype=torch.float64)
    w_q = torch.tensor([[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 1]], dtype=torch.float64)
    w_k = torch.tensor([[0, 0, 1], [1, 1, 0], [0, 1, 0], [1, 1, 0]], dtype=torch.float64)
    scores = (x @ w_q) @ (x @ w_k).T
    torch.testing.assert_close(
        scores, torch.tensor([[2, 4, 4], [4, 16, 12], [4, 12, 10.0]]).double()
    )
    attention = scores.softmax(-1)[None, None]  # [1, 1, 3, 3]
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(1, 2))
    torch.testing.assert_close(
        attention[0, 0, 0], torch.tensor([0.0634, 0.4683, 0.4683]).double(), atol=1e-4, rtol=0
    )
    grid = query_maps(attention, layout, "class")
    torch.testing.assert_close(
        grid[0, 0], torch.tensor([[0.4683, 0.4683]]).double(), atol=1e-4, rtol=0
    )


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
def test_fuse_heads_matches_loop(fusion):
    values = torch.randn(2, 5, 4, 4, dtype=torch.float64)
    fused = fuse_heads(values, fusion)
    expected = values[:, 0].clone()
    for head in range(1, 5):
        if fusion == "mean":
            expected = expected + values[:, head]
        elif fusion == "max":
            expected = torch.maximum(expected, values[:, head])
        else:
            expected = torch.minimum(expected, values[:, head])
    if fusion == "mean":
        expected = expected / 5
    torch.testing.assert_close(fused, expected)


def dino_threshold(flat: torch.Tensor, t: float) -> torch.Tensor:
    """facebookresearch/dino's visualize_attention.py rule, for one flat map."""
    values, index = torch.sort(flat)
    values = values / values.sum()
    cumulative = torch.cumsum(values, dim=0)
    kept = cumulative > (1 - t)
    out = torch.zeros_like(kept)
    out[index] = kept
    return out


@pytest.mark.parametrize("t", [0.1, 0.3, 0.6, 0.9])
def test_mass_threshold_matches_dino_and_is_smallest_set(t):
    generator = torch.Generator().manual_seed(3)
    maps = torch.rand(4, 5, 7, generator=generator, dtype=torch.float64) ** 3
    mask = mass_threshold(maps, t)
    assert mask.shape == maps.shape
    for i in range(4):
        flat = maps[i].flatten()
        kept = mask[i].flatten()
        assert torch.equal(kept, dino_threshold(flat, t))
        total = flat.sum()
        assert flat[kept].sum() >= t * total
        # Dropping the smallest kept patch falls below t: no smaller top set holds t.
        assert flat[kept].sum() - flat[kept].min() < t * total
        # Every kept patch outranks every dropped one.
        assert flat[kept].min() >= flat[~kept].max()


def test_mass_threshold_hand_example_and_bad_input():
    maps = torch.tensor([[0.5, 0.1], [0.3, 0.1]])
    assert mass_threshold(maps, 0.6).tolist() == [[True, False], [True, False]]
    assert mass_threshold(maps, 0.5).tolist() == [[True, False], [False, False]]
    assert not mass_threshold(torch.zeros(2, 2), 0.6).any()
    with pytest.raises(AnalysisError):
        mass_threshold(maps, 0.0)
    signed = torch.tensor([[0.5, -0.4], [0.3, 0.2]])  # negatives hold no mass
    assert mass_threshold(signed, 0.6).tolist() == [[True, False], [True, False]]


def test_errors_name_the_problem():
    layout = LAYOUTS[3]
    attention = random_attention(layout)
    with pytest.raises(AnalysisError, match="no class token"):
        query_maps(attention, layout, "class")
    with pytest.raises(AnalysisError, match="does not exist"):
        query_maps(attention, layout, layout.num_tokens)
    with pytest.raises(AnalysisError, match="does not match the token layout"):
        query_maps(attention, LAYOUTS[0], 0)
    with pytest.raises(AnalysisError, match="head fusion"):
        fuse_heads(attention, "median")
    with pytest.raises(AnalysisError, match="capture"):
        query_maps([], layout, 0)
