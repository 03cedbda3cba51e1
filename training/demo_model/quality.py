"""The demo model's quality bars, measured with the app's own analysis.

Three numbers on held-out generated images, shared by the training script and the tests:

- **accuracy**: top-1 on one-object images;
- **pointing game**: the peak of the class-token rollout (what the app's rollout panel
  shows) lies on the object, its mask grown by one patch;
- **class-map pointing**: on two-object images of two different classes, the
  class-specific map (Chefer et al. 2021) of *each* of the top-2 predicted classes peaks on
  the object of that class (grown by one patch). An image counts only when both maps do;
  a top-2 class that is not in the image is a miss.

"Grown by one patch" is exact at patch level: the peak patch counts as on the object when
it is one of the patches the object covers or one of their eight neighbours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from vitviz.compute.class_maps import class_maps
from vitviz.compute.preprocess import prepare
from vitviz.compute.rollout import rollout
from vitviz.demo.dataset import generate_batch
from vitviz.vit.spec import PretrainedSpec

# The floors the shipped weights reach (resources/models/MODEL_CARD.md: 95.4 %, 99.4 %,
# 70.6 % on 1,000 images); the first aims, 97 % top-1 and 80 % class-map pairs, are not.
ACCURACY_BAR = 0.95
POINTING_BAR = 0.95
CLASS_MAP_BAR = 0.70

EVAL_SEED = 1_000_003  # held out: training streams use small seeds
TWO_OBJECT_EVAL_SEED = 2_000_003

ProgressFn = Callable[[Iterator], Iterator]


@dataclass(frozen=True)
class QualityReport:
    """Measured quality of a model.

    Attributes
    ----------
    images : int
        Images per measurement.
    accuracy : float
        Top-1 accuracy on one-object images.
    pointing : float
        Share of one-object images whose rollout peak lies on the object.
    class_map_pointing : float
        Share of two-object images where both top-2 class maps peak on their own object.
    class_map_hits : float
        Share of the individual top-2 class maps that peak on their own object.
    accuracy_by_size : tuple of float
        Top-1 accuracy on the thirds of the one-object images with the smallest, middle
        and largest objects (by area); empty when not measured.
    """

    images: int
    accuracy: float
    pointing: float
    class_map_pointing: float
    class_map_hits: float
    accuracy_by_size: tuple[float, ...] = ()

    @property
    def meets_bars(self) -> bool:
        """Whether all three quality bars are met."""
        return (
            self.accuracy >= ACCURACY_BAR
            and self.pointing >= POINTING_BAR
            and self.class_map_pointing >= CLASS_MAP_BAR
        )

    def lines(self) -> list[str]:
        """Human-readable lines, one per metric, each with its bar."""
        rows = [
            ("top-1 accuracy         ", self.accuracy, ACCURACY_BAR, "images"),
            ("pointing game (rollout)", self.pointing, POINTING_BAR, "images"),
            ("class maps, both top-2 ", self.class_map_pointing, CLASS_MAP_BAR, "image pairs"),
        ]
        lines = [
            f"{name} {100 * value:6.2f} %  (bar {100 * bar:.0f} %"
            f"{'' if value >= bar else ', NOT MET'}; {self.images} {unit})"
            for name, value, bar, unit in rows
        ]
        lines[-1] += f"; {100 * self.class_map_hits:.2f} % of single maps"
        if self.accuracy_by_size:
            thirds = " / ".join(f"{100 * value:.1f} %" for value in self.accuracy_by_size)
            lines.append(f"top-1 by object size    {thirds}  (smallest to largest third)")
        return lines


def grown_patch_masks(masks: np.ndarray, patch_size: tuple[int, int]) -> np.ndarray:
    """Patches an object covers, grown by one patch in every direction (8-neighbourhood).

    Parameters
    ----------
    masks : ndarray
        ``bool [..., H, W]`` object pixels; H and W multiples of the patch size.
    patch_size : tuple of int
        ``(ph, pw)`` in pixels.

    Returns
    -------
    ndarray
        ``bool [..., rows, cols]``.
    """
    ph, pw = patch_size
    *lead, height, width = masks.shape
    rows, cols = height // ph, width // pw
    covered = masks.reshape(*lead, rows, ph, cols, pw).any(axis=(-3, -1))  # [..., rows, cols]
    padded = np.pad(covered, [(0, 0)] * len(lead) + [(1, 1), (1, 1)])
    grown = np.zeros_like(covered)
    for dr in range(3):
        for dc in range(3):
            grown |= padded[..., dr : dr + rows, dc : dc + cols]
    return grown


def peak_on(maps: torch.Tensor, targets: np.ndarray) -> np.ndarray:
    """Whether each map's highest patch lies in its target patches.

    Parameters
    ----------
    maps : torch.Tensor
        ``[B, rows, cols]`` maps.
    targets : ndarray
        ``bool [B, rows, cols]`` accepted patches.

    Returns
    -------
    ndarray
        ``bool [B]``.
    """
    flat = maps.detach().flatten(1).float()  # [B, rows*cols]
    peaks = flat.argmax(dim=1).cpu().numpy()
    return targets.reshape(len(peaks), -1)[np.arange(len(peaks)), peaks]


def model_input(images: np.ndarray, spec: PretrainedSpec) -> torch.Tensor:
    """Images prepared exactly as the app prepares them for this model.

    Parameters
    ----------
    images : ndarray
        ``uint8 [B, H, W, 3]``.
    spec : PretrainedSpec
        The model's preprocessing.

    Returns
    -------
    torch.Tensor
        ``[B, 3, h, w]`` normalised input.
    """
    return torch.cat([prepare(Image.fromarray(image), spec).tensor for image in images])


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def measure_single(
    model: torch.nn.Module, spec: PretrainedSpec, images, labels, masks
) -> tuple[np.ndarray, np.ndarray]:
    """Correctness and pointing-game hit of each one-object image.

    Parameters
    ----------
    model : vitviz.vit.VisionTransformer
        The network, in eval mode.
    spec : PretrainedSpec
        Its preprocessing.
    images, labels, masks : ndarray
        ``uint8 [B, H, W, 3]``, ``int [B, 1]``, ``bool [B, 1, H, W]`` from
        :func:`vitviz.demo.dataset.generate_batch`.

    Returns
    -------
    correct, pointed : ndarray
        ``bool [B]`` each.
    """
    x = model_input(images, spec).to(_device_of(model))
    with torch.no_grad():
        out = model(x)
    correct = (out.logits.argmax(-1).cpu().numpy() == labels[:, 0]).astype(bool)
    maps = rollout(out.attentions, out.layout)  # [B, rows, cols]
    return correct, peak_on(maps, grown_patch_masks(masks[:, 0], spec.patch_size))


def measure_pairs(
    model: torch.nn.Module, spec: PretrainedSpec, images, labels, masks
) -> np.ndarray:
    """For two-object images: does the map of each top-2 class peak on its own object?

    Parameters
    ----------
    model : vitviz.vit.VisionTransformer
        The network, in eval mode.
    spec : PretrainedSpec
        Its preprocessing.
    images, labels, masks : ndarray
        ``uint8 [B, H, W, 3]``, ``int [B, 2]``, ``bool [B, 2, H, W]``.

    Returns
    -------
    ndarray
        ``bool [B, 2]``: hit of the map of the first and second predicted class.
    """
    x = model_input(images, spec).to(_device_of(model))
    with torch.no_grad():
        top2 = model(x, capture=False).logits.topk(2, dim=-1).indices.cpu()  # [B, 2]
    grown = grown_patch_masks(masks, spec.patch_size)  # [B, 2, rows, cols]
    hits = np.zeros((len(images), 2), dtype=bool)
    for rank in range(2):
        classes = top2[:, rank].numpy()  # [B]
        own = labels == classes[:, None]  # [B, 2]: which object has that class
        target = np.where(own[..., None, None], grown, False).any(axis=1)  # [B, rows, cols]
        # The app's maps take one class list for a whole batch: group images by class.
        for cls in np.unique(classes):
            chosen = np.nonzero(classes == cls)[0]
            maps = class_maps(model, x[chosen], [int(cls)])[:, 0]  # [b, rows, cols]
            hits[chosen, rank] = own[chosen].any(axis=1) & peak_on(maps, target[chosen])
    return hits


def evaluate(
    model: torch.nn.Module,
    spec: PretrainedSpec,
    num_images: int = 1000,
    *,
    batch_size: int = 50,
    progress: ProgressFn | None = None,
) -> QualityReport:
    """Measure the three quality bars on held-out generated images.

    Parameters
    ----------
    model : vitviz.vit.VisionTransformer
        The network (put in eval mode here).
    spec : PretrainedSpec
        Its preprocessing and patch size.
    num_images : int
        Images per measurement (one-object and two-object sets alike).
    batch_size : int
        Images per forward pass.
    progress : callable, optional
        Wraps the batch iterator (e.g. ``tqdm``).

    Returns
    -------
    QualityReport
        The measured rates.
    """
    model.eval()
    size = spec.input_size[1]
    starts = range(0, num_images, batch_size)
    wrap = progress or (lambda it: it)
    correct, pointed, pairs, areas = [], [], [], []
    for start in wrap(iter(starts)):
        count = min(batch_size, num_images - start)
        single = generate_batch(EVAL_SEED, start, count, size=size)
        c, p = measure_single(model, spec, *single)
        correct.append(c)
        pointed.append(p)
        areas.append(single[2][:, 0].mean(axis=(1, 2)))  # [b] object area share
        two = generate_batch(TWO_OBJECT_EVAL_SEED, start, count, size=size, num_objects=2)
        pairs.append(measure_pairs(model, spec, *two))
    hits = np.concatenate(pairs)
    correct_all = np.concatenate(correct)
    by_area = np.array_split(np.argsort(np.concatenate(areas), kind="stable"), 3)
    return QualityReport(
        images=num_images,
        accuracy=float(correct_all.mean()),
        pointing=float(np.concatenate(pointed).mean()),
        class_map_pointing=float(hits.all(axis=1).mean()),
        class_map_hits=float(hits.mean()),
        accuracy_by_size=tuple(float(correct_all[third].mean()) for third in by_area),
    )
