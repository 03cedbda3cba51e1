"""Head statistics against explicit loops and hand-checkable cases."""

from __future__ import annotations

import math

import pytest
import torch

from vitviz.compute.head_stats import (
    head_statistics,
    high_norm_tokens,
    prefix_mass,
)
from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout

LAYOUT = TokenLayout(num_class=1, num_dist=0, num_reg=2, grid=(3, 5))


def random_attention(layout: TokenLayout, layers: int = 2, heads: int = 3, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    n = layout.num_tokens
    scores = torch.randn(layers, heads, n, n, generator=generator, dtype=torch.float64) * 2
    return scores.softmax(-1)  # [L, H, N, N]


def mean_attention_distance(attention, layout, patch_size):
    return head_statistics(attention, layout, patch_size).mean_distance


def attention_entropy(attention, layout):
    return head_statistics(attention, layout, (16, 16)).entropy


def naive_mean_distance(attention, layout, patch_size):
    layers, heads = attention.shape[:2]
    rows, cols = layout.grid
    out = torch.zeros(layers, heads, dtype=torch.float64)
    for layer in range(layers):
        for head in range(heads):
            total = 0.0
            for r1 in range(rows):
                for c1 in range(cols):
                    row = attention[layer, head, layout.patch_index(r1, c1)]
                    mass = sum(
                        float(row[layout.patch_index(r, c)])
                        for r in range(rows)
                        for c in range(cols)
                    )
                    weighted = 0.0
                    for r2 in range(rows):
                        for c2 in range(cols):
                            dy = (r1 - r2) * patch_size[0]
                            dx = (c1 - c2) * patch_size[1]
                            weighted += float(row[layout.patch_index(r2, c2)]) * math.hypot(dy, dx)
                    total += weighted / mass
            out[layer, head] = total / (rows * cols)
    return out


def test_mean_distance_matches_explicit_loops_with_non_square_patches():
    attention = random_attention(LAYOUT, heads=6)  # more heads than one pass takes
    distance = mean_attention_distance(attention, LAYOUT, (8, 4))
    torch.testing.assert_close(distance, naive_mean_distance(attention, LAYOUT, (8, 4)))


@pytest.mark.parametrize(("grid", "expected"), [((2, 1), 10.0), ((1, 2), 3.0)])
def test_mean_distance_respects_rows_and_columns(grid, expected):
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=grid)
    # Each patch attends to the class token and to the other patch only: the class column
    # is dropped and the row renormalised, so the distance is the full patch spacing.
    attention = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.0, 0.5], [0.9, 0.1, 0.0]])[None, None]
    distance = mean_attention_distance(attention, layout, (10, 3))
    torch.testing.assert_close(distance, torch.tensor([[expected]]))


def test_entropy_matches_loops_and_extremes():
    attention = random_attention(LAYOUT, heads=6)
    entropy = attention_entropy(attention, LAYOUT)
    for layer in range(2):
        for head in range(6):
            per_row = [
                -sum(float(p) * math.log(float(p)) for p in attention[layer, head, i])
                for i in range(LAYOUT.num_tokens)
            ]
            assert float(entropy[layer, head]) == pytest.approx(sum(per_row) / len(per_row))
    n = LAYOUT.num_tokens
    uniform = torch.full((1, 1, n, n), 1.0 / n)
    assert float(attention_entropy(uniform, LAYOUT)) == pytest.approx(math.log(n))
    one_hot = torch.eye(n)[None, None]
    assert float(attention_entropy(one_hot, LAYOUT)) == 0.0


def test_half_precision_entropy_is_exact_for_the_stored_values():
    attention = random_attention(LAYOUT).half()
    half = attention_entropy(attention, LAYOUT)
    reference = attention_entropy(attention.double(), LAYOUT)
    torch.testing.assert_close(half.double(), reference, rtol=1e-5, atol=1e-6)


def test_prefix_mass_per_prefix_token():
    attention = random_attention(LAYOUT)
    mass = prefix_mass(attention, LAYOUT)
    assert mass.shape == (2, 3, 3)
    torch.testing.assert_close(mass, attention[:, :, 0, :3])
    patches = prefix_mass(attention, LAYOUT, query="patches")
    torch.testing.assert_close(patches, attention[:, :, 3:, :3].mean(-2))
    no_prefix = TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(2, 2))
    assert prefix_mass(random_attention(no_prefix), no_prefix).shape == (2, 3, 0)


def test_high_norm_tokens_flag_outliers_by_modified_z_score():
    n = LAYOUT.num_tokens
    generator = torch.Generator().manual_seed(1)
    norms = 50 + torch.randn(4, n, generator=generator)  # [L, N]
    norms[2, 7] = 400.0  # a register-like artifact in a patch
    norms[3, 1] = 300.0  # a high-norm register
    flags = high_norm_tokens(norms, LAYOUT)
    assert flags.shape == (4, n)
    assert {tuple(i) for i in flags.nonzero().tolist()} == {(2, 7), (3, 1)}
    # The rule, step by step, for one block.
    patches = norms[2, 3:]
    median = patches.median()
    mad = (patches - median).abs().median()
    expected = 0.6745 * (norms[2] - median) / mad > 3.5
    assert torch.equal(flags[2], expected)


def test_head_statistics_agree_with_single_statistics_and_carry_batches():
    batch = torch.stack([random_attention(LAYOUT, seed=s) for s in range(2)]).float()
    norms = torch.rand(2, 2, LAYOUT.num_tokens)  # [B, L, N]
    stats = head_statistics(batch, LAYOUT, (8, 4), token_norms=norms)
    assert stats.mean_distance.shape == (2, 2, 3)
    assert stats.entropy.shape == (2, 2, 3)
    assert stats.prefix_mass.shape == (2, 2, 3, 3)
    assert stats.high_norm.shape == (2, 2, LAYOUT.num_tokens)
    torch.testing.assert_close(stats.mean_distance, mean_attention_distance(batch, LAYOUT, (8, 4)))
    torch.testing.assert_close(stats.entropy, attention_entropy(batch, LAYOUT))
    torch.testing.assert_close(stats.prefix_mass, prefix_mass(batch, LAYOUT))
    for b in range(2):
        single = head_statistics(list(batch[b].unbind(0)), LAYOUT, (8, 4))
        torch.testing.assert_close(single.mean_distance, stats.mean_distance[b])
        assert single.high_norm is None
    half = head_statistics(batch.half(), LAYOUT, (8, 4))
    torch.testing.assert_close(half.mean_distance, stats.mean_distance, rtol=2e-3, atol=1e-2)
    torch.testing.assert_close(half.entropy, stats.entropy, rtol=2e-3, atol=1e-3)


def test_statistics_reject_a_mismatched_layout():
    other = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(2, 2))
    attention = random_attention(LAYOUT)
    with pytest.raises(AnalysisError, match="token layout"):
        head_statistics(attention, other, (16, 16))
    with pytest.raises(AnalysisError, match="token layout"):
        high_norm_tokens(torch.ones(2, 3), other)


def naive_entropy(attention, layout):
    layers, heads, n = attention.shape[:3]
    out = torch.zeros(layers, heads, dtype=torch.float64)
    for layer in range(layers):
        for head in range(heads):
            rows = [
                -sum(float(p) * math.log(float(p)) for p in attention[layer, head, i] if p > 0)
                for i in range(n)
            ]
            out[layer, head] = sum(rows) / len(rows)
    return out


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_head_statistics_match_explicit_loops_for_each_storage_dtype(dtype):
    # head_statistics upcasts one head at a time: check it against the loops on the
    # values as stored.
    stored = torch.stack([random_attention(LAYOUT, heads=4, seed=s) for s in range(2)]).to(dtype)
    stats = head_statistics(stored, LAYOUT, (8, 4))  # [B, L, H]
    assert stats.mean_distance.shape == stats.entropy.shape == (2, 2, 4)
    exact = stored.double()
    for b in range(2):
        torch.testing.assert_close(
            stats.mean_distance[b].double(),
            naive_mean_distance(exact[b], LAYOUT, (8, 4)),
            rtol=1e-5,
            atol=1e-5,
        )
        torch.testing.assert_close(
            stats.entropy[b].double(),
            naive_entropy(exact[b], LAYOUT),
            rtol=1e-5,
            atol=1e-6,
        )


def test_head_statistics_accept_layers_stored_in_different_dtypes():
    attention = random_attention(LAYOUT)  # [L, H, N, N] float64
    mixed = [attention[0].half(), attention[1]]
    stats = head_statistics(mixed, LAYOUT, (8, 4))
    separate = [head_statistics([layer], LAYOUT, (8, 4)) for layer in mixed]
    for layer, single in enumerate(separate):
        torch.testing.assert_close(
            stats.mean_distance[layer], single.mean_distance[0].to(stats.mean_distance.dtype)
        )
        torch.testing.assert_close(stats.entropy[layer], single.entropy[0].to(stats.entropy.dtype))
