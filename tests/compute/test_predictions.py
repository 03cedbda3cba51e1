"""Top-k predictions, headless models and class-index checks."""

from __future__ import annotations

import pytest
import torch

from vitviz.compute.predictions import check_class_index, top_k
from vitviz.errors import AnalysisError

LABELS = ("cat", "dog", "owl", "fox")


def test_top_k_ranks_by_probability_with_labels():
    logits = torch.tensor([[0.5, 3.0, -1.0, 2.0]])
    result = top_k(logits, LABELS, k=3)
    assert result.reason is None
    assert result.num_classes == 4
    assert result.indices == (1, 3, 0)
    assert [p.label for p in result.classes] == ["dog", "fox", "cat"]
    assert [p.rank for p in result.classes] == [1, 2, 3]
    expected = torch.softmax(logits[0], -1)
    for prediction in result.classes:
        assert prediction.probability == pytest.approx(float(expected[prediction.index]))
        assert prediction.logit == pytest.approx(float(logits[0, prediction.index]))


def test_k_larger_than_classes_and_missing_labels():
    result = top_k(torch.tensor([1.0, 2.0]), None, k=5)
    assert result.indices == (1, 0)
    assert [p.label for p in result.classes] == ["class 1", "class 0"]
    assert sum(p.probability for p in result.classes) == pytest.approx(1.0)


def test_headless_model_says_it_has_no_classes():
    result = top_k(None, LABELS)
    assert result.classes == ()
    assert result.num_classes == 0
    assert "no classifier head" in result.reason


def test_a_batch_is_ranked_row_by_row():
    logits = torch.tensor([[0.0, 1.0, 0.0, 0.0], [5.0, 1.0, 0.0, 0.0]])
    results = [top_k(row, LABELS, k=1) for row in logits]
    assert [r.classes[0].label for r in results] == ["dog", "cat"]
    with pytest.raises(AnalysisError, match="one by one"):
        top_k(logits, LABELS)


def test_bad_requests_raise_analysis_errors():
    with pytest.raises(AnalysisError, match="3 labels for 4 classes"):
        top_k(torch.zeros(4), LABELS[:3])
    with pytest.raises(AnalysisError, match="does not exist"):
        check_class_index(4, 4)
    with pytest.raises(AnalysisError, match="does not exist"):
        check_class_index(-1, 4)
    with pytest.raises(AnalysisError, match="no classifier head"):
        check_class_index(0, 0)
    assert check_class_index(3, 4) == 3
