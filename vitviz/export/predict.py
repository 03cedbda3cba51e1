"""Top-k classes of many images, batched (``vitviz predict``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vitviz.compute.predictions import top_k_batch
from vitviz.compute.preprocess import PreprocessMode
from vitviz.export.reading import BatchReport, forward_batch, read_batches


def predict_images(
    paths: Sequence[str | Path],
    model,
    spec,
    *,
    topk: int = 5,
    batch_size: int = 8,
    progress: bool = True,
    preprocess: PreprocessMode = PreprocessMode.CROP,
) -> tuple[list[dict[str, Any]], BatchReport]:
    """Top-k classes of many images, batched; unreadable images are reported and skipped.

    Parameters
    ----------
    paths : sequence of str or Path
        Image files.
    model : vitviz.vit.VisionTransformer
        The network.
    spec : vitviz.vit.PretrainedSpec
        Its preprocessing and labels.
    topk : int
        Classes per image (fewer when the model has fewer).
    batch_size : int
        Images per forward pass.
    progress : bool
        Show a tqdm progress bar.
    preprocess : PreprocessMode
        How images are fitted to the model.

    Returns
    -------
    results : list of dict
        Per readable image: ``{"image", "predictions": [{"rank", "index", "label",
        "probability", "logit"}]}``; a headless model gives no predictions and a ``note``.
    report : BatchReport
        Failures (unreadable images).
    """
    report = BatchReport()
    results: list[dict[str, Any]] = []
    groups = read_batches(
        paths,
        spec,
        report,
        preprocess=preprocess,
        batch_size=batch_size,
        progress=progress,
        desc="predict",
    )
    for group in groups:
        tensors = [item.prepared.tensor for item in group]
        output = forward_batch(model, tensors, capture=False)
        ranked = top_k_batch(output.logits, spec.labels, topk, batch_size=len(group))
        for item, predictions in zip(group, ranked, strict=True):
            result: dict[str, Any] = {
                "image": item.source,
                "predictions": [dataclasses.asdict(p) for p in predictions.classes],
            }
            if predictions.reason:
                result["note"] = predictions.reason
            results.append(result)
            report.done += 1
    return results, report
