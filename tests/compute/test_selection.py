"""kth_smallest against torch's kthvalue on awkward value sets."""

from __future__ import annotations

import math

import pytest
import torch

from vitviz.compute.selection import kth_smallest


def value_sets(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    spread = (torch.randn(4000, generator=generator) * 6).exp()  # many magnitudes
    attention = (torch.randn(50, 60, generator=generator) * 3).softmax(-1).flatten()
    clustered = 0.25 + torch.rand(3000, generator=generator) * 1e-6  # one bucket holds all
    ties = torch.tensor([0.5, 0.0, 0.5, 0.25, 0.0, 0.5, 1.0, 0.25])
    with_inf = torch.cat([attention[:500], torch.full((40,), math.inf)])
    return {
        name: values.to(dtype)
        for name, values in {
            "spread": spread,
            "attention": attention,
            "clustered": clustered,
            "ties": ties,
            "with_inf": with_inf,
            "negatives": torch.randn(999, generator=generator),
            "negative_zero": torch.tensor([0.5, -0.0, 0.25, 0.0]),
        }.items()
    }


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_kth_smallest_is_kthvalue_for_every_rank(dtype):
    for name, values in value_sets(dtype).items():
        size = values.numel()
        ranks = sorted({1, 2, size // 3, size // 2, size - 1, size} - {0})
        for k in ranks:
            expected = values.kthvalue(k).values
            got = kth_smallest(values, k)
            assert got.dtype == values.dtype
            assert torch.equal(got, expected), (name, k)


def test_kth_smallest_over_every_rank_of_a_small_set():
    values = torch.tensor([3.0, 0.0, 1e-30, 2.0, 2.0, math.inf, 1e30, 0.5])
    ordered = sorted(values.tolist())
    for k in range(1, values.numel() + 1):
        assert float(kth_smallest(values, k)) == ordered[k - 1]
