"""Top-k predictions: class indices, labels and probabilities from a forward pass's logits.

Distilled models (DeiT) need nothing special: their logits are already the mean of the
two heads, as in timm's eval mode. Headless models (e.g. DINOv2 backbones) have no
logits; they get an empty result that says why, instead of an error.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from vitviz.errors import AnalysisError

NO_HEAD_REASON = "this model has no classifier head, so it predicts no classes"


@dataclass(frozen=True)
class Prediction:
    """One ranked class: ``rank`` 1 is the top class, ``index`` its logit position,
    ``label`` its name (``class <index>`` without labels), ``probability`` its softmax
    over all classes and ``logit`` its raw score."""

    rank: int
    index: int
    label: str
    probability: float
    logit: float


@dataclass(frozen=True)
class Predictions:
    """Top-k classes of one image (best first), or the ``reason`` there are none.

    ``num_classes`` is the model's number of classes (0 for a headless model).
    """

    classes: tuple[Prediction, ...]
    num_classes: int
    reason: str | None = None

    @property
    def indices(self) -> tuple[int, ...]:
        """Class indices, best first."""
        return tuple(p.index for p in self.classes)


def class_label(index: int, labels: Sequence[str] | None) -> str:
    """Name of class ``index``: its label, or ``class <index>`` without labels."""
    return labels[index] if labels else f"class {index}"


def check_class_index(index: int, num_classes: int) -> int:
    """Return ``index`` if a model with ``num_classes`` classes has it; else raise.

    Raises :class:`AnalysisError` for a headless model (``num_classes`` 0), a
    non-integer or an index out of range.
    """
    if num_classes == 0:
        raise AnalysisError(f"class {index} was asked for, but {NO_HEAD_REASON}")
    if isinstance(index, bool) or not hasattr(type(index), "__index__"):
        raise AnalysisError(f"a class index must be an integer, got {index!r}")
    index = operator.index(index)  # numpy and torch integers too, not floats
    if not 0 <= index < num_classes:
        raise AnalysisError(
            f"class {index!r} does not exist: the model has classes 0..{num_classes - 1}"
        )
    return index


def top_k(
    logits: torch.Tensor | None, labels: Sequence[str] | None = None, k: int = 5
) -> Predictions:
    """The ``k`` most probable classes of one image's ``[C]`` or ``[1, C]`` ``logits``.

    ``labels`` are the class names in logit order (``PretrainedSpec.labels``); fewer than
    ``k`` classes are returned when the model has fewer, none (with a reason) when
    ``logits`` is None (a headless model).
    """
    if logits is None:
        return Predictions(classes=(), num_classes=0, reason=NO_HEAD_REASON)
    if logits.dim() == 2 and logits.shape[0] == 1:
        logits = logits[0]  # [C]
    if logits.dim() != 1:
        raise AnalysisError(
            f"top_k takes the logits of one image, got shape {tuple(logits.shape)}; "
            "rank the rows of a batch one by one"
        )
    if k < 1:
        raise AnalysisError(f"k must be at least 1, got {k}")
    num_classes = logits.shape[0]
    if labels and len(labels) != num_classes:
        raise AnalysisError(
            f"the checkpoint lists {len(labels)} labels for {num_classes} classes; "
            "fix or remove its label list"
        )
    scores = logits.detach().float().cpu()  # [C]
    best = scores.softmax(-1).topk(min(k, num_classes))
    ranked = zip(best.values.tolist(), best.indices.tolist(), strict=True)
    classes = tuple(
        Prediction(rank, index, class_label(index, labels), probability, float(scores[index]))
        for rank, (probability, index) in enumerate(ranked, start=1)
    )
    return Predictions(classes=classes, num_classes=num_classes)
