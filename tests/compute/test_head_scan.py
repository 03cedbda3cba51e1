"""The blocked, threaded pass over heads against explicit loops on awkward shapes."""

from __future__ import annotations

import math
import threading

import pytest
import torch

from vitviz.compute.head_scan import half_entropy_table, scan_heads
from vitviz.compute.head_stats import head_statistics, patch_distances
from vitviz.vit.layout import TokenLayout

# Odd, non-square grid behind five prefix tokens (class + 4 registers): 5 + 21 = 26 rows,
# so that blocks of 4 or 7 rows straddle the prefix/patch boundary and end short.
LAYOUT = TokenLayout(num_class=1, num_dist=0, num_reg=4, grid=(3, 7))
PATCH_SIZE = (14, 10)


def random_heads(layout: TokenLayout, count: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    n = layout.num_tokens
    scores = torch.randn(count, n, n, generator=generator, dtype=torch.float64) * 3
    return scores.softmax(-1)  # [count, N, N]


def loop_statistics(head: torch.Tensor, layout: TokenLayout, first_row: int) -> tuple:
    """Mean distance and mean row entropy of one head, with Python loops over entries."""
    rows, cols = layout.grid
    start, n = layout.num_prefix, layout.num_tokens
    total = 0.0
    for query in range(start, n):
        r1, c1 = divmod(query - start, cols)
        mass = weighted = 0.0
        for key in range(start, n):
            r2, c2 = divmod(key - start, cols)
            value = float(head[query, key])
            mass += value
            weighted += value * math.hypot((r1 - r2) * PATCH_SIZE[0], (c1 - c2) * PATCH_SIZE[1])
        total += weighted / mass
    entropy = sum(
        -float(a) * math.log(float(a)) for i in range(first_row, n) for a in head[i] if a > 0
    )
    return total / (rows * cols), entropy / (n - first_row)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("first_row", [0, LAYOUT.num_prefix])
@pytest.mark.parametrize(("rows_per_block", "workers"), [(1, 1), (4, 2), (7, 3), (64, 1)])
def test_blocks_and_workers_match_explicit_loops(dtype, first_row, rows_per_block, workers):
    heads = random_heads(LAYOUT, 5).to(dtype)
    distances = patch_distances(LAYOUT, PATCH_SIZE)
    values = scan_heads(
        list(heads),
        LAYOUT.num_prefix,
        distances,
        first_row=first_row,
        workers=workers,
        rows_per_block=rows_per_block,
    )
    assert len(values) == 5
    for head, value in zip(heads, values, strict=True):
        assert value.shape == (2,)
        assert value.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
        expected = loop_statistics(head.double(), LAYOUT, first_row)
        assert float(value[0]) == pytest.approx(expected[0], rel=1e-6)
        assert float(value[1]) == pytest.approx(expected[1], rel=1e-6)


def test_blocked_statistics_agree_with_whole_heads_to_float_rounding():
    heads = list(random_heads(LAYOUT, 4, seed=3).half())
    distances = patch_distances(LAYOUT, PATCH_SIZE)
    whole = scan_heads(heads, LAYOUT.num_prefix, distances, workers=1, rows_per_block=1000)
    blocked = scan_heads(heads, LAYOUT.num_prefix, distances, workers=2, rows_per_block=3)
    torch.testing.assert_close(torch.stack(blocked), torch.stack(whole), rtol=1e-6, atol=0)


def test_mixed_storage_dtypes_keep_their_order_across_workers():
    heads = random_heads(LAYOUT, 6, seed=1)
    mixed = [head.half() if i % 3 == 0 else head.float() for i, head in enumerate(heads)]
    distances = patch_distances(LAYOUT, PATCH_SIZE)
    values = scan_heads(mixed, LAYOUT.num_prefix, distances, workers=2, rows_per_block=5)
    for head, value in zip(mixed, values, strict=True):
        alone = scan_heads([head], LAYOUT.num_prefix, distances, workers=1, rows_per_block=5)
        torch.testing.assert_close(value, alone[0])


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_leave_the_thread_count_of_the_caller_and_of_later_threads(workers):
    before = torch.get_num_threads()
    heads = list(random_heads(LAYOUT, 4).half())
    scan_heads(heads, LAYOUT.num_prefix, patch_distances(LAYOUT, PATCH_SIZE), workers=workers)
    assert torch.get_num_threads() == before
    seen = []
    later = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    later.start()
    later.join()
    assert seen == [before]


def test_no_heads_and_empty_patch_rows():
    distances = patch_distances(LAYOUT, PATCH_SIZE)
    assert scan_heads([], LAYOUT.num_prefix, distances) == []
    # A patch row with no mass on the patches gives distance 0 for that row, not NaN.
    head = torch.zeros(LAYOUT.num_tokens, LAYOUT.num_tokens)
    head[:, 0] = 1.0
    (value,) = scan_heads([head.half()], LAYOUT.num_prefix, distances, rows_per_block=4)
    assert float(value[0]) == 0.0
    assert float(value[1]) == 0.0


def test_entropy_table_covers_every_half_value():
    table = half_entropy_table(torch.device("cpu"))
    values = torch.tensor([0.0, 0.25, 0.5, 1.0, -0.5, math.inf, math.nan], dtype=torch.float16)
    looked_up = table[values.view(torch.uint16).to(torch.int64)]
    expected = [0.0, 0.25 * math.log(4), 0.5 * math.log(2), 0.0, 0.0, 0.0, 0.0]
    torch.testing.assert_close(looked_up, torch.tensor(expected))


def test_head_statistics_of_a_batch_through_several_blocks_and_workers():
    generator = torch.Generator().manual_seed(5)
    n = LAYOUT.num_tokens
    stack = (torch.randn(2, 3, 4, n, n, generator=generator) * 3).softmax(-1)  # [B, L, H, N, N]
    stats = head_statistics(stack.half(), LAYOUT, PATCH_SIZE, entropy_rows="patches", workers=3)
    assert stats.mean_distance.shape == stats.entropy.shape == (2, 3, 4)
    exact = stack.half().double()
    for b, layer, h in [(0, 0, 0), (1, 2, 3), (0, 1, 2), (1, 0, 1)]:
        expected = loop_statistics(exact[b, layer, h], LAYOUT, LAYOUT.num_prefix)
        assert float(stats.mean_distance[b, layer, h]) == pytest.approx(expected[0], rel=1e-6)
        assert float(stats.entropy[b, layer, h]) == pytest.approx(expected[1], rel=1e-6)
    serial = head_statistics(stack.half(), LAYOUT, PATCH_SIZE, entropy_rows="patches", workers=1)
    assert torch.equal(serial.mean_distance, stats.mean_distance)
    assert torch.equal(serial.entropy, stats.entropy)
