"""One layer's heads in one picture, each head in its own colour (as in the DINO figures)."""

from __future__ import annotations

import matplotlib
import numpy as np
import torch

from vitviz.errors import AnalysisError


def head_palette(num_heads: int) -> np.ndarray:
    """``[num_heads, 3]`` distinct RGB colours in 0..1: tab10's, hues evenly spaced beyond ten."""
    if num_heads <= 10:
        return np.asarray(matplotlib.colormaps["tab10"].colors[:num_heads], dtype=np.float32)
    return matplotlib.colormaps["hsv"](np.arange(num_heads) / num_heads)[:, :3].astype(np.float32)


def head_composite(maps, palette: np.ndarray | None = None) -> np.ndarray:
    """Colour every patch by its strongest head, brightness by that head's value.

    Each head's map is scaled by its own maximum first (as DINO shows each head's map on
    its own), so a head that attends broadly is not drowned by a sharp one; negative
    values count as none. ``maps`` are one layer's ``[heads, rows, cols]`` (numpy or
    torch), ``palette`` ``[heads, 3]`` RGB in 0..1 (default :func:`head_palette`). Returns
    ``float32 [rows, cols, 3]`` in 0..1: black where no head attends.
    """
    values = torch.as_tensor(maps).detach().float().cpu().clamp_min(0)  # [H, rows, cols]
    if values.dim() != 3 or not len(values):
        raise AnalysisError(f"head maps must be [heads, rows, cols], got shape {values.shape}")
    palette = head_palette(len(values)) if palette is None else palette
    peak = values.amax(dim=(1, 2), keepdim=True)  # [H, 1, 1]
    strength, owner = (values / torch.where(peak > 0, peak, 1)).max(0)  # [rows, cols] each
    return np.asarray(palette, np.float32)[owner.numpy()] * strength.numpy()[..., None]
