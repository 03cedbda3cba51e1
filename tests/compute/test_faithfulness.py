"""Deletion and insertion curves against a step-by-step loop, on a probe model and a ViT."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import timm
import torch
from torch import nn

from vitviz.compute.faithfulness import (
    faithfulness,
    patch_ranking,
    perturbation_curve,
    step_masks,
)
from vitviz.errors import AnalysisError
from vitviz.vit import from_timm


class PatchProbe(nn.Module):
    """Class 0's score is the brightness of one patch; class 1 is a constant."""

    def __init__(self, row: int, col: int, patch: tuple[int, int], headless: bool = False):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(8.0))
        self.box = (row * patch[0], (row + 1) * patch[0], col * patch[1], (col + 1) * patch[1])
        self.headless = headless

    def forward(self, x, *, capture=True):
        top, bottom, left, right = self.box
        brightness = x[:, :, top:bottom, left:right].mean((1, 2, 3))  # [B]
        logits = torch.stack([self.scale * brightness, torch.zeros_like(brightness)], -1)
        return SimpleNamespace(logits=None if self.headless else logits)


def naive_curve(model, image, relevance, mode, class_index, steps):
    """One perturbed image at a time, patches set with explicit loops."""
    rows, cols = relevance.shape
    ph, pw = image.shape[1] // rows, image.shape[2] // cols
    order = sorted(range(rows * cols), key=lambda i: (-float(relevance.flatten()[i]), i))
    scores = []
    for step in range(steps + 1):
        count = round(step * rows * cols / steps)
        chosen = set(order[:count])
        out = image.clone() if mode == "deletion" else torch.zeros_like(image)
        for index in chosen:
            r, c = divmod(index, cols)
            box = (slice(None), slice(r * ph, (r + 1) * ph), slice(c * pw, (c + 1) * pw))
            out[box] = 0.0 if mode == "deletion" else image[box]
        with torch.no_grad():
            scores.append(float(model(out[None]).logits.softmax(-1)[0, class_index]))
    return scores


@pytest.mark.parametrize("mode", ["deletion", "insertion"])
def test_curve_matches_step_by_step_loop_on_a_non_square_grid(mode):
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(3, 16, 24, generator=generator) + 0.5  # 2 x 3 patches of 8 x 8
    relevance = torch.rand(2, 3, generator=generator)
    model = PatchProbe(1, 2, (8, 8))
    curve = perturbation_curve(
        model, image, relevance, mode=mode, class_index=0, steps=6, batch_size=4
    )
    expected = naive_curve(model, image, relevance, mode, 0, 6)
    torch.testing.assert_close(curve.scores, torch.tensor(expected, dtype=torch.float64))
    torch.testing.assert_close(curve.fractions, torch.arange(7, dtype=torch.float64) / 6)
    assert curve.auc == pytest.approx(float(torch.trapezoid(curve.scores, curve.fractions)))


def test_the_probed_patch_first_makes_deletion_fall_and_insertion_rise_at_once():
    image = torch.ones(3, 16, 24)
    model = PatchProbe(1, 2, (8, 8))  # row 1, column 2: rows and columns must not swap
    good = torch.zeros(2, 3)
    good[1, 2] = 1.0
    swapped = torch.zeros(2, 3)
    swapped[0, 1] = 1.0  # where (1, 2) would land if the grid were read as 3 x 2
    result = faithfulness(model, image, good, steps=6)
    assert result.deletion.class_index == 0
    assert result.deletion.scores[0] > 0.99
    assert (result.deletion.scores[1:] == 0.5).all()
    assert result.insertion.scores[0] == 0.5
    assert (result.insertion.scores[1:] > 0.99).all()
    worse = faithfulness(model, image, swapped, steps=6)
    assert result.deletion.auc < worse.deletion.auc
    assert result.insertion.auc > worse.insertion.auc


def test_ranking_and_masks():
    relevance = torch.tensor([[0.1, 0.9, 0.5], [0.5, 0.0, 0.2]])
    assert patch_ranking(relevance).tolist() == [1, 2, 3, 5, 0, 4]
    masks, fractions = step_masks(patch_ranking(relevance), (2, 3), 3)
    assert masks.shape == (4, 2, 3)
    assert masks.sum((1, 2)).tolist() == [0, 2, 4, 6]
    assert masks[1].tolist() == [[False, True, True], [False, False, False]]
    torch.testing.assert_close(fractions, torch.tensor([0, 1 / 3, 2 / 3, 1], dtype=torch.float64))


def test_on_a_vision_transformer():
    torch.manual_seed(0)
    timm_model = timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        depth=2,
        embed_dim=32,
        num_heads=2,
        img_size=32,
        patch_size=8,
        num_classes=3,
        dynamic_img_size=True,
    )
    nn.init.normal_(timm_model.head.weight)
    model = from_timm(timm_model.eval()).eval()
    image = torch.randn(1, 3, 24, 32)
    relevance = torch.rand(3, 4)
    result = faithfulness(model, image, relevance, steps=5, batch_size=2)
    with torch.no_grad():
        clean = model(image).logits.softmax(-1)[0]
    top = int(clean.argmax())
    for curve in (result.deletion, result.insertion):
        assert curve.class_index == top
        assert curve.scores.shape == (6,)
        assert 0.0 <= curve.auc <= 1.0
    torch.testing.assert_close(result.deletion.scores[0], clean[top].double(), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(
        result.insertion.scores[-1], clean[top].double(), rtol=1e-4, atol=1e-6
    )


def test_bad_requests_raise_analysis_errors():
    image = torch.ones(3, 16, 24)
    model = PatchProbe(0, 0, (8, 8))
    with pytest.raises(AnalysisError, match="whole patches"):
        perturbation_curve(model, image, torch.rand(3, 5))
    with pytest.raises(AnalysisError, match="does not exist"):
        perturbation_curve(model, image, torch.rand(2, 3), class_index=5)
    with pytest.raises(AnalysisError, match="NaN"):
        perturbation_curve(model, image, torch.full((2, 3), float("nan")))
    with pytest.raises(AnalysisError, match="no classifier head"):
        perturbation_curve(PatchProbe(0, 0, (8, 8), headless=True), image, torch.rand(2, 3))
    with pytest.raises(AnalysisError, match="perturbation"):
        perturbation_curve(model, image, torch.rand(2, 3), mode="blur")
