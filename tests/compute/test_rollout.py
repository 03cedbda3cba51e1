"""Attention rollout against explicit loops, Abnar & Zuidema's joint attention, invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vitviz.compute.attention_maps import fuse_heads
from vitviz.compute.rollout import (
    RolloutOptions,
    chain_rows,
    rollout,
    rollout_factor,
    rollout_rows,
    rollout_stack,
    selected_layers,
    start_vector,
)
from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout

LAYOUT = TokenLayout(num_class=1, num_dist=1, num_reg=2, grid=(2, 3))
NO_CLASS = TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(3, 2))
POOLED = TokenLayout(num_class=0, num_dist=0, num_reg=0, grid=(2, 2), pool_query=True)


def random_attention(layout: TokenLayout, layers: int = 4, heads: int = 3, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    n = layout.num_tokens
    scores = torch.randn(layers, heads, n, n, generator=generator, dtype=torch.float64) * 2
    return scores.softmax(-1)  # [L, H, N, N]


def naive_factor(layer_attention, fusion, discard_ratio, residual_weight):
    """One layer's factor with explicit loops over heads, entries and rows."""
    heads, n, _ = layer_attention.shape
    fused = layer_attention[0].clone()
    for head in range(1, heads):
        if fusion == "mean":
            fused += layer_attention[head]
        elif fusion == "max":
            fused = torch.maximum(fused, layer_attention[head])
        else:
            fused = torch.minimum(fused, layer_attention[head])
    if fusion == "mean":
        fused /= heads
    off_diagonal = sorted(float(fused[i, j]) for i in range(n) for j in range(n) if i != j)
    count = int(discard_ratio * n * (n - 1) + 1e-9)
    if count:
        threshold = off_diagonal[count - 1]
        for i in range(n):
            for j in range(n):
                if i != j and fused[i, j] <= threshold:
                    fused[i, j] = 0.0
    factor = (1 - residual_weight) * fused + residual_weight * torch.eye(n, dtype=fused.dtype)
    for i in range(n):
        factor[i] = factor[i] / factor[i].sum()
    return factor


def naive_rollout_matrix(attention, fusion, discard_ratio, residual_weight, start, end):
    product = torch.eye(attention.shape[-1], dtype=attention.dtype)
    for layer in range(start, end + 1):
        product = naive_factor(attention[layer], fusion, discard_ratio, residual_weight) @ product
    return product


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard_ratio", [0.0, 0.3, 0.9])
@pytest.mark.parametrize("residual_weight", [0.0, 0.5, 0.8])
def test_rollout_matches_explicit_loops(fusion, discard_ratio, residual_weight):
    attention = random_attention(LAYOUT)
    for start, end in [(0, 3), (1, 2), (2, 2)]:
        options = RolloutOptions(fusion, discard_ratio, residual_weight, start, end)
        stack = rollout_stack(attention, options)
        assert stack.shape == (end - start + 1, LAYOUT.num_tokens, LAYOUT.num_tokens)
        for position, top in enumerate(range(start, end + 1)):
            expected = naive_rollout_matrix(
                attention, fusion, discard_ratio, residual_weight, start, top
            )
            torch.testing.assert_close(stack[position], expected)
        for query in range(LAYOUT.num_tokens):
            rows = rollout_rows(attention, LAYOUT, options, query=query)
            torch.testing.assert_close(rows, expected[query])


def test_every_layer_gives_the_rollout_up_to_each_layer():
    attention = random_attention(LAYOUT, layers=5)
    options = RolloutOptions(start_layer=1)
    per_layer = rollout_rows(attention, LAYOUT, options, query=3, every_layer=True)
    assert per_layer.shape == (4, LAYOUT.num_tokens)
    for position, end in enumerate(range(1, 5)):
        expected = naive_rollout_matrix(attention, "mean", 0.0, 0.5, 1, end)[3]
        torch.testing.assert_close(per_layer[position], expected)
    grids = rollout(attention, LAYOUT, every_layer=True)
    assert grids.shape == (5, *LAYOUT.grid)


def compute_joint_attention(att_mat, add_residual=True):
    """samiraabnar/attention_flow's joint attention (numpy), over head-averaged layers."""
    if add_residual:
        residual_att = np.eye(att_mat.shape[1])[None, ...]
        aug_att_mat = att_mat + residual_att
        aug_att_mat = aug_att_mat / aug_att_mat.sum(axis=-1)[..., None]
    else:
        aug_att_mat = att_mat
    joint_attentions = np.zeros(aug_att_mat.shape)
    layers = joint_attentions.shape[0]
    joint_attentions[0] = aug_att_mat[0]
    for i in np.arange(1, layers):
        joint_attentions[i] = aug_att_mat[i].dot(joint_attentions[i - 1])
    return joint_attentions


def test_mean_fusion_no_discard_half_residual_is_abnar_joint_attention():
    attention = random_attention(LAYOUT, layers=6)
    joint = torch.from_numpy(compute_joint_attention(attention.mean(1).numpy()))
    torch.testing.assert_close(rollout_stack(attention), joint)
    per_layer = rollout_rows(attention, LAYOUT, query=0, every_layer=True)
    torch.testing.assert_close(per_layer, joint[:, 0])


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard_ratio", [0.0, 0.5, 0.99])
def test_every_factor_is_row_stochastic(fusion, discard_ratio):
    attention = random_attention(LAYOUT)
    for layer in attention:
        options = RolloutOptions(fusion, discard_ratio)
        factor = rollout_factor(fuse_heads(layer, fusion), options)
        assert (factor >= 0).all()
        torch.testing.assert_close(factor.sum(-1), torch.ones(LAYOUT.num_tokens).double())
    rows = rollout_rows(attention, LAYOUT, RolloutOptions(fusion, discard_ratio))
    torch.testing.assert_close(rows.sum(), torch.tensor(1.0).double())


@pytest.mark.parametrize("residual_weight", [0.0, 0.5, 1.0])
def test_identity_attention_gives_identity_rollout(residual_weight):
    n = LAYOUT.num_tokens
    attention = torch.eye(n).expand(4, 3, n, n)
    options = RolloutOptions(residual=residual_weight, discard_ratio=0.5)
    torch.testing.assert_close(rollout_stack(attention, options)[-1], torch.eye(n))
    patch = LAYOUT.patch_index(1, 2)
    grid = rollout(attention, LAYOUT, query=patch)
    expected = torch.zeros(LAYOUT.grid)
    expected[1, 2] = 1.0
    torch.testing.assert_close(grid, expected)


def discard_lowest(fused, ratio):
    """The discarded matrix, read back from a factor without residual (rows renormalised)."""
    return rollout_factor(fused, RolloutOptions(discard_ratio=ratio, residual=0.0))


def test_discard_never_drops_the_diagonal_and_drops_the_lowest():
    fused = torch.tensor([[0.01, 0.5, 0.49], [0.3, 0.02, 0.68], [0.2, 0.7, 0.1]])
    kept = discard_lowest(fused, 0.5)  # 3 of the 6 off-diagonal entries go
    expected = torch.tensor([[0.01, 0.5, 0.49], [0.0, 0.02, 0.68], [0.0, 0.7, 0.1]])
    expected[0, 2] = 0.0
    torch.testing.assert_close(kept, expected / expected.sum(-1, keepdim=True))
    everything = discard_lowest(fused, 1.0)
    torch.testing.assert_close(everything, torch.eye(3))


def test_non_square_grid_rollout_keeps_orientation():
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=4, grid=(10, 16))
    n = layout.num_tokens
    attention = torch.full((2, 2, n, n), 1e-6)
    target = layout.patch_index(7, 3)
    attention[:, :, :, target] = 1.0
    attention = attention / attention.sum(-1, keepdim=True)
    grid = rollout(attention, layout)
    assert grid.shape == (10, 16)
    assert divmod(int(grid.argmax()), 16) == (7, 3)


def test_default_query_without_class_token_is_mean_of_patch_queries():
    attention = random_attention(NO_CLASS)
    matrix = naive_rollout_matrix(attention, "mean", 0.0, 0.5, 0, 3)
    expected = matrix[NO_CLASS.num_prefix :].mean(0)
    torch.testing.assert_close(rollout_rows(attention, NO_CLASS), expected)
    torch.testing.assert_close(rollout_rows(attention, NO_CLASS, query="patches"), expected)


def test_pool_query_rollout_starts_from_the_pool_attention():
    attention = random_attention(POOLED)
    pool = torch.rand(3, 1, POOLED.num_tokens, dtype=torch.float64).softmax(-1)  # [H, Q, N]
    matrix = naive_rollout_matrix(attention, "mean", 0.0, 0.5, 0, 3)
    expected = pool.mean(0)[0] @ matrix
    torch.testing.assert_close(rollout_rows(attention, POOLED, pool_attention=pool), expected)
    with pytest.raises(AnalysisError, match="pool attention"):
        rollout_rows(attention, POOLED, query="pool")


def test_batched_and_half_precision_inputs():
    batch = torch.stack([random_attention(LAYOUT, seed=s) for s in range(3)])  # [B, L, H, N, N]
    options = RolloutOptions(discard_ratio=0.4)
    rows = rollout_rows(batch, LAYOUT, options, every_layer=True)
    assert rows.shape == (3, 4, LAYOUT.num_tokens)
    for b in range(3):
        torch.testing.assert_close(
            rows[b], rollout_rows(batch[b], LAYOUT, options, every_layer=True)
        )
    half = rollout(batch.half(), LAYOUT)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, rollout(batch, LAYOUT).float(), atol=2e-3, rtol=2e-3)
    sequence = rollout(list(batch.unbind(1)), LAYOUT)
    torch.testing.assert_close(sequence, rollout(batch, LAYOUT))


def test_hand_checkable_three_token_example():
    scores = torch.tensor([[2, 4, 4], [4, 16, 12], [4, 12, 10.0]], dtype=torch.float64)
    attention = scores.softmax(-1)[None, None]  # [1, 1, 3, 3]
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(1, 2))
    rows = rollout_rows(attention, layout)
    torch.testing.assert_close(
        rows, torch.tensor([0.5317, 0.2342, 0.2342]).double(), atol=1e-4, rtol=0
    )
    grid = rollout(attention, layout, renormalize=True)
    torch.testing.assert_close(grid, torch.tensor([[0.5, 0.5]]).double())


def test_layer_selection_and_bad_options():
    assert list(selected_layers(12)) == list(range(12))
    assert list(selected_layers(12, 3, 5)) == [3, 4, 5]
    assert list(selected_layers(12, -2)) == [10, 11]
    attention = random_attention(LAYOUT)
    with pytest.raises(AnalysisError, match="range"):
        rollout(attention, LAYOUT, start_layer=3, end_layer=1)
    with pytest.raises(AnalysisError, match="range"):
        rollout(attention, LAYOUT, end_layer=4)
    with pytest.raises(AnalysisError, match="discard"):
        rollout(attention, LAYOUT, discard_ratio=1.5)
    with pytest.raises(AnalysisError, match="residual"):
        rollout(attention, LAYOUT, residual_weight=-0.1)
    with pytest.raises(AnalysisError, match="token layout"):
        rollout(attention, NO_CLASS)


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard_ratio", [0.0, 0.3])
def test_rollout_rows_equal_the_chain_of_formed_factors_for_batches_and_storage(
    fusion, discard_ratio
):
    # rollout_rows fuses stored (half) precision head by head; chain_rows here multiplies
    # factors formed in float64. Same rows, batch and dtype alike.
    layout = TokenLayout(num_class=1, num_dist=0, num_reg=4, grid=(3, 5))
    batch = torch.stack([random_attention(layout, layers=5, seed=s) for s in range(2)])
    options = RolloutOptions(fusion, discard_ratio, start_layer=1)
    for stored in (batch, batch.float(), batch.half()):
        exact = stored.double()
        for query, every_layer in [(None, True), (7, False), ("patches", True)]:
            start = start_vector(layout, query)  # float32, as rollout_rows starts

            def factor(index, exact=exact):
                fused = fuse_heads(exact[:, index], fusion)  # [B, N, N]
                return rollout_factor(fused, options)

            expected = chain_rows(start, factor, range(1, 5), every_layer=every_layer)
            rows = rollout_rows(stored, layout, options, query=query, every_layer=every_layer)
            assert rows.dtype == torch.promote_types(stored.dtype, torch.float32)
            tolerance = 1e-12 if stored.dtype == torch.float64 else 2e-6
            torch.testing.assert_close(rows.double(), expected, rtol=tolerance, atol=tolerance)


def test_a_sequence_of_layers_in_different_storage_dtypes():
    attention = random_attention(LAYOUT)  # [L, H, N, N]
    mixed = [layer.half() if index % 2 else layer.float() for index, layer in enumerate(attention)]
    rows = rollout_rows(mixed, LAYOUT, every_layer=True)
    expected = rollout_rows(
        torch.stack([layer.double() for layer in mixed]), LAYOUT, every_layer=True
    )
    torch.testing.assert_close(rows.double(), expected, rtol=2e-6, atol=2e-6)


def test_discard_leaves_the_input_and_keeps_the_diagonal():
    fused = fuse_heads(random_attention(LAYOUT, layers=1)[0], "mean")  # [N, N]
    n = LAYOUT.num_tokens
    original = fused.clone()
    copied = discard_lowest(fused, 0.6)
    torch.testing.assert_close(fused, original, rtol=0, atol=0)
    kept_mass = (original * (copied > 0)).sum(-1)  # [N]
    torch.testing.assert_close(copied.diagonal(), original.diagonal() / kept_mass)
    assert int((copied == 0).sum()) == math.floor(0.6 * n * (n - 1) + 1e-9)
