"""Settings every test shares: no display, deterministic torch, a small CPU footprint."""

from __future__ import annotations

import os

# Before anything imports Qt: tests run without a display (CI, servers).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import torch

# The test machines share a few cores between many processes; more threads only thrash.
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture
def rng() -> torch.Generator:
    """A seeded torch generator, so random inputs are the same on every run."""
    return torch.Generator().manual_seed(0)
