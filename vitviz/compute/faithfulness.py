"""Faithfulness of a map: deletion and insertion curves and their areas (one image).

A map ranks the patches (most relevant first; ties in row-major order). **Deletion**
replaces the top-ranked patches by a baseline, a growing fraction at each step, and
records the model's probability of the class: a faithful map makes it fall fast (low
area is good). **Insertion** starts from the baseline and reveals the top-ranked
patches: a faithful map makes it rise fast (high area is good). The steps are evaluated
in batches, without attention capture.

Conventions, stated because the tools differ: the x-axis is the fraction of *patches*
removed or revealed, from 0 to 1 in ``steps`` equal steps (rounded to whole patches);
the score is the softmax probability of the class (default: the top class on the
unperturbed image); the area is the trapezoid rule over that axis, so it lies in
``[0, 1]``. The default baseline is zero in the normalised input, i.e. the
normalisation's mean colour; pass another (e.g. a blurred or black image, normalised)
to change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from vitviz.compute.predictions import check_class_index
from vitviz.errors import AnalysisError

Perturbation = Literal["deletion", "insertion"]


@dataclass(frozen=True)
class FaithfulnessCurve:
    """One deletion or insertion curve.

    Attributes
    ----------
    mode : {"deletion", "insertion"}
        What was done to the ranked patches.
    class_index : int
        The class whose probability is tracked.
    fractions : torch.Tensor
        ``[S + 1]`` fraction of patches removed (deletion) or revealed (insertion).
    scores : torch.Tensor
        ``[S + 1]`` probability of the class at each fraction.
    auc : float
        Area under ``scores`` over ``fractions`` (trapezoid rule), in ``[0, 1]``.
    """

    mode: Perturbation
    class_index: int
    fractions: torch.Tensor
    scores: torch.Tensor
    auc: float


@dataclass(frozen=True)
class Faithfulness:
    """Deletion and insertion curves of one map."""

    deletion: FaithfulnessCurve
    insertion: FaithfulnessCurve


def patch_ranking(relevance: torch.Tensor) -> torch.Tensor:
    """Row-major patch indices, most relevant first (ties keep row-major order).

    Parameters
    ----------
    relevance : torch.Tensor
        ``[rows, cols]`` map.

    Returns
    -------
    torch.Tensor
        ``[rows * cols]`` long indices.
    """
    flat = torch.as_tensor(relevance).detach().float().flatten()  # [P]
    if not bool(torch.isfinite(flat).all()):
        raise AnalysisError("the map has NaN or infinite values; it cannot rank patches")
    return flat.argsort(descending=True, stable=True)


def step_masks(
    ranking: torch.Tensor, grid: tuple[int, int], steps: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which patches are affected at each step: the top ``round(s / steps · P)``.

    Parameters
    ----------
    ranking : torch.Tensor
        ``[P]`` from :func:`patch_ranking`.
    grid : tuple of int
        ``(rows, cols)``.
    steps : int
        Number of steps after the unperturbed one.

    Returns
    -------
    masks : torch.Tensor
        ``[steps + 1, rows, cols]`` booleans, True for the affected patches.
    fractions : torch.Tensor
        ``[steps + 1]`` fraction of patches affected.
    """
    if steps < 1:
        raise AnalysisError(f"a curve needs at least one step, got {steps}")
    count = grid[0] * grid[1]
    counts = torch.linspace(0, count, steps + 1).round().long()  # [S + 1]
    rank_of = torch.empty(count, dtype=torch.long)
    rank_of[ranking] = torch.arange(count)  # [P] rank of each patch
    masks = rank_of[None, :] < counts[:, None]  # [S + 1, P]
    return masks.reshape(steps + 1, *grid), counts.double() / count  # [S + 1, rows, cols]


def _class_probabilities(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    logits = model(images, capture=False).logits
    if logits is None:
        raise AnalysisError("this model has no classifier head, so faithfulness has no score")
    return logits.float().softmax(-1)  # [b, C]


def perturbation_curve(
    model: torch.nn.Module,
    x: torch.Tensor,
    relevance: torch.Tensor,
    *,
    mode: Perturbation = "deletion",
    class_index: int | None = None,
    steps: int = 20,
    baseline: torch.Tensor | None = None,
    batch_size: int = 16,
) -> FaithfulnessCurve:
    """Deletion or insertion curve of one map on one image.

    Parameters
    ----------
    model : vitviz.vit.VisionTransformer
        The network (eval mode); inputs are moved to its device and dtype.
    x : torch.Tensor
        ``[3, H, W]`` or ``[1, 3, H, W]`` preprocessed image.
    relevance : torch.Tensor
        ``[rows, cols]`` map over the image's patch grid (rows first); ``H`` and ``W``
        must be multiples of ``rows`` and ``cols``.
    mode : {"deletion", "insertion"}
        Remove the top patches, or reveal them on the baseline.
    class_index : int, optional
        Class to track; default the top class on ``x``.
    steps : int
        Steps from 0 to all patches.
    baseline : torch.Tensor, optional
        ``[3, H, W]`` or ``[1, 3, H, W]`` replacement image; default zeros.
    batch_size : int
        Perturbed images per forward pass.

    Returns
    -------
    FaithfulnessCurve
    """
    if mode not in ("deletion", "insertion"):
        raise AnalysisError(f"unknown perturbation {mode!r}; use 'deletion' or 'insertion'")
    parameter = next(model.parameters())
    image = _one_image(x).to(device=parameter.device, dtype=parameter.dtype)  # [3, H, W]
    fill = torch.zeros_like(image) if baseline is None else _one_image(baseline)
    fill = fill.to(device=image.device, dtype=image.dtype)  # [3, H, W]
    if fill.shape != image.shape:
        raise AnalysisError(f"baseline {tuple(fill.shape)} differs from image {tuple(image.shape)}")
    relevance = torch.as_tensor(relevance)
    if relevance.dim() != 2:
        raise AnalysisError(f"expected a [rows, cols] map, got shape {tuple(relevance.shape)}")
    rows, cols = relevance.shape
    height, width = image.shape[-2:]
    if height % rows or width % cols:
        raise AnalysisError(
            f"a {rows}x{cols} map does not tile a {height}x{width} image into whole patches"
        )
    masks, fractions = step_masks(patch_ranking(relevance), (rows, cols), steps)
    pixels = masks.repeat_interleave(height // rows, 1).repeat_interleave(width // cols, 2)
    pixels = pixels.to(image.device)[:, None]  # [S + 1, 1, H, W]
    scores = []
    with torch.inference_mode():
        if class_index is None:
            class_index = int(_class_probabilities(model, image[None])[0].argmax())
        for chunk in pixels.split(batch_size):
            if mode == "deletion":
                images = torch.where(chunk, fill, image)  # [b, 3, H, W]
            else:
                images = torch.where(chunk, image, fill)  # [b, 3, H, W]
            probabilities = _class_probabilities(model, images)  # [b, C]
            class_index = check_class_index(class_index, probabilities.shape[-1])
            scores.append(probabilities[:, class_index].double().cpu())
    values = torch.cat(scores)  # [S + 1]
    return FaithfulnessCurve(
        mode=mode,
        class_index=class_index,
        fractions=fractions,
        scores=values,
        auc=float(torch.trapezoid(values, fractions)),
    )


def faithfulness(
    model: torch.nn.Module,
    x: torch.Tensor,
    relevance: torch.Tensor,
    *,
    class_index: int | None = None,
    steps: int = 20,
    baseline: torch.Tensor | None = None,
    batch_size: int = 16,
) -> Faithfulness:
    """Deletion and insertion curves of one map (see :func:`perturbation_curve`)."""
    options = {
        "class_index": class_index,
        "steps": steps,
        "baseline": baseline,
        "batch_size": batch_size,
    }
    deletion = perturbation_curve(model, x, relevance, mode="deletion", **options)
    options["class_index"] = deletion.class_index
    insertion = perturbation_curve(model, x, relevance, mode="insertion", **options)
    return Faithfulness(deletion=deletion, insertion=insertion)


def _one_image(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 4 and x.shape[0] == 1:
        x = x[0]  # [3, H, W]
    if x.dim() != 3:
        raise AnalysisError(f"faithfulness takes one image [3, H, W], got {tuple(x.shape)}")
    return x
