"""Top-k classes of many images, batched (``vitviz predict``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from vitviz.compute.predictions import top_k
from vitviz.compute.preprocess import PreprocessMode
from vitviz.export.reading import BatchReport, forward_batch, read_batches


def predict_images(
    paths, model, spec, *, topk=5, batch_size=8, progress=True, preprocess=PreprocessMode.CROP
) -> tuple[list[dict[str, Any]], BatchReport]:
    """Top-k classes of many images, batched; unreadable images are reported and skipped.

    Returns ``(results, report)``: per readable image ``{"image", "predictions": [{"rank",
    "index", "label", "probability", "logit"}]}`` (a headless model: none, and a ``note``),
    and the :class:`BatchReport` of unreadable images. The other arguments are as for
    :func:`~vitviz.export.reading.read_batches`.
    """
    report = BatchReport()
    results: list[dict[str, Any]] = []
    for group in read_batches(paths, spec, report, preprocess, batch_size, progress, "predict"):
        output = forward_batch(model, [item.prepared.tensor for item in group], capture=False)
        rows = [None] * len(group) if output.logits is None else output.logits  # [B, C]
        for item, row in zip(group, rows, strict=True):
            predictions = top_k(row, spec.labels, topk)
            classes = [dataclasses.asdict(p) for p in predictions.classes]
            results.append({"image": item.source, "predictions": classes})
            if predictions.reason:
                results[-1]["note"] = predictions.reason
            report.done += 1
    return results, report
