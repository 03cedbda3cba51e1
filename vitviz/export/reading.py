"""Reading images a batch at a time, running the model on them, and the report of failures.

Unreadable images go to the :class:`BatchReport`; readable ones stack by input size.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from vitviz.compute.images import open_image
from vitviz.compute.preprocess import Prepared, PreprocessMode, prepare
from vitviz.errors import VitvizError
from vitviz.export.pictures import display_image

logger = logging.getLogger(__name__)


@dataclass
class BatchReport:
    """Outcome of a batch run: files ``written`` in order, ``failures`` as ``(image,
    message)`` for images skipped or only partly exported, and the count ``done`` of
    images exported completely."""

    written: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    done: int = 0

    def fail(self, image: str, message: str) -> None:
        """Record that ``image`` failed with a user-facing ``message``."""
        logger.warning("%s: %s", image, message)
        self.failures.append((image, message))


@dataclass
class BatchItem:
    """One readable image: where it was read from, the unique file stem of its outputs, the
    original RGB image and its model input with patch geometry."""

    source: str
    stem: str
    image: Image.Image
    prepared: Prepared

    @functools.cached_property
    def picture_base(self) -> np.ndarray:
        """The image scaled for figures (see :func:`vitviz.export.pictures.display_image`)."""
        return display_image(self.image)


def unique_stems(paths: Sequence[str | Path]) -> list[str]:
    """File stems for the outputs, unique where two inputs share a name: ``x``, ``x-2``."""
    seen: dict[str, int] = {}
    stems = []
    for path in paths:
        stem = Path(path).stem or "image"
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return stems


def forward_batch(model: torch.nn.Module, tensors: Sequence[torch.Tensor], *, capture=True):
    """The model's output for ``[1, 3, H, W]`` inputs of one size (``capture``: attention)."""
    parameter = next(model.parameters())
    batch = torch.cat(list(tensors)).to(parameter.device, parameter.dtype)  # [B, 3, H, W]
    # no_grad rather than inference_mode: the analysis functions may update tensors
    # derived from the outputs in place, which inference tensors forbid.
    with torch.no_grad():
        return model(batch, capture=capture)


def read_batches(
    paths, spec, report, preprocess=PreprocessMode.CROP, batch_size=8, progress=True, desc=""
) -> Iterator[list[BatchItem]]:
    """Lists of :class:`BatchItem` with inputs of one size (they stack), ``batch_size``
    images read at a time for ``spec``'s model; an unreadable image goes to ``report``.
    ``progress`` shows a tqdm bar labelled ``desc`` on stderr."""
    if batch_size < 1:
        raise VitvizError(f"the batch size must be at least 1, got {batch_size}")
    named = list(zip([str(p) for p in paths], unique_stems(paths), strict=True))
    with tqdm(total=len(named), unit="image", disable=not progress, desc=desc) as bar:
        for start in range(0, len(named), batch_size):
            groups: dict[tuple[int, ...], list[BatchItem]] = {}  # by input size
            for source, stem in named[start : start + batch_size]:
                try:
                    image = open_image(source)
                    prepared = prepare(image, spec, preprocess)
                except VitvizError as error:
                    report.fail(source, str(error))
                    continue
                item = BatchItem(source, stem, image, prepared)
                groups.setdefault(tuple(prepared.tensor.shape), []).append(item)
            yield from groups.values()
            bar.update(len(named[start : start + batch_size]))
