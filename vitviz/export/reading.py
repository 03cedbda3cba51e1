"""Reading images a batch at a time, and the report of what failed.

Images are opened and prepared a batch at a time; one that cannot be read is recorded in
the :class:`BatchReport` and skipped, and the readable ones are grouped by input size so
that each group stacks into one forward pass.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    """Outcome of a batch run.

    Attributes
    ----------
    written : list of Path
        Every file written, in order.
    failures : list of tuple of str
        ``(image, message)`` for every image that was skipped or only partly exported.
    done : int
        Images exported completely.
    """

    written: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    done: int = 0

    @property
    def ok(self) -> bool:
        """Whether every image was exported completely."""
        return not self.failures

    def fail(self, image: str, message: str) -> None:
        """Record that ``image`` failed with a user-facing ``message``."""
        logger.warning("%s: %s", image, message)
        self.failures.append((image, message))


@dataclass
class BatchItem:
    """One readable image of a batch.

    Attributes
    ----------
    source : str
        Where it was read from.
    stem : str
        Unique file stem for its outputs.
    image : PIL.Image.Image
        The original RGB image.
    prepared : Prepared
        Model input and patch geometry.
    """

    source: str
    stem: str
    image: Image.Image
    prepared: Prepared

    @functools.cached_property
    def picture_base(self) -> np.ndarray:
        """The image scaled for figures (see :func:`vitviz.export.pictures.display_image`)."""
        return display_image(self.image)


def unique_stems(paths: Sequence[str | Path]) -> list[str]:
    """File stems for the outputs, made unique where two inputs share a name.

    Parameters
    ----------
    paths : sequence of str or Path
        Input image paths.

    Returns
    -------
    list of str
        ``cat``, ``dog``, ``cat-2`` ...
    """
    seen: dict[str, int] = {}
    stems = []
    for path in paths:
        stem = Path(path).stem or "image"
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return stems


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def forward_batch(model: torch.nn.Module, tensors: Sequence[torch.Tensor], *, capture=True):
    """Run the model once on inputs of one size, without gradients.

    Parameters
    ----------
    model : vitviz.vit.VisionTransformer
        The network.
    tensors : sequence of torch.Tensor
        ``[1, 3, H, W]`` inputs of the same size.
    capture : bool
        Return every block's attention and token norms.

    Returns
    -------
    vitviz.vit.ViTOutput
        Output for the ``[B, 3, H, W]`` batch.
    """
    parameter = next(model.parameters())
    batch = torch.cat(list(tensors)).to(parameter.device, parameter.dtype)  # [B, 3, H, W]
    # no_grad rather than inference_mode: the analysis functions may update tensors
    # derived from the outputs in place, which inference tensors forbid.
    with torch.no_grad():
        return model(batch, capture=capture)


def read_batches(
    paths: Sequence[str | Path],
    spec,
    report: BatchReport,
    *,
    preprocess: PreprocessMode = PreprocessMode.CROP,
    batch_size: int = 8,
    progress: bool = True,
    desc: str = "",
) -> Iterator[list[BatchItem]]:
    """Read and prepare images a batch at a time; unreadable ones go to ``report``.

    Parameters
    ----------
    paths : sequence of str or Path
        Image files.
    spec : vitviz.vit.PretrainedSpec
        Preprocessing of the model.
    report : BatchReport
        Receives a failure for every image that cannot be read or prepared.
    preprocess : PreprocessMode
        How images are fitted to the model.
    batch_size : int
        Images read per batch.
    progress : bool
        Show a tqdm progress bar (on stderr), advanced as batches are consumed.
    desc : str
        Label of the progress bar.

    Yields
    ------
    list of BatchItem
        Readable images of one batch with inputs of one size (so they stack).
    """
    if batch_size < 1:
        raise VitvizError(f"the batch size must be at least 1, got {batch_size}")
    named = list(zip([str(p) for p in paths], unique_stems(paths), strict=True))
    with tqdm(total=len(named), unit="image", disable=not progress, desc=desc) as bar:
        for chunk in _chunks(named, batch_size):
            items = []
            for source, stem in chunk:
                try:
                    image = open_image(source)
                    prepared = prepare(image, spec, preprocess)
                except VitvizError as error:
                    report.fail(source, str(error))
                    continue
                items.append(BatchItem(source, stem, image, prepared))
            yield from _same_size_groups(items)
            bar.update(len(chunk))


def _same_size_groups(items: list[BatchItem]) -> list[list[BatchItem]]:
    """Items grouped by input size (only equal sizes stack into one batch)."""
    groups: dict[tuple[int, ...], list[BatchItem]] = {}
    for item in items:
        groups.setdefault(tuple(item.prepared.tensor.shape), []).append(item)
    return list(groups.values())
