"""Seeded generation of labelled demo images: one (or two) shapes over clutter.

``generate(seed, index)`` is a pure function of its arguments, so a sample can be
reproduced anywhere (training, tests, the app's "new sample" button) from two integers.
Each sample carries the per-object pixel masks used by the attention metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from vitviz.demo.backgrounds import background, random_colour
from vitviz.demo.shapes import CLASS_NAMES, outline, rasterize

IMAGE_SIZE = 224
SCALE_RANGE = (0.15, 0.45)  # object extent as a fraction of the image side
TWO_OBJECT_SCALE_RANGE = (0.15, 0.35)  # smaller, so that two objects fit side by side
_MIN_CONTRAST = 0.3  # RGB distance between object and the background it covers


@dataclass(frozen=True)
class Sample:
    """One generated image with its objects.

    Attributes
    ----------
    image : ndarray
        ``uint8 [H, W, 3]`` RGB image.
    labels : tuple of int
        Class index of each object, in ``CLASS_NAMES`` order.
    masks : ndarray
        ``bool [K, H, W]``, the pixels of each object (coverage >= 0.5).
    """

    image: np.ndarray
    labels: tuple[int, ...]
    masks: np.ndarray

    @property
    def label(self) -> int:
        """Class index of the first object."""
        return self.labels[0]

    @property
    def mask(self) -> np.ndarray:
        """``bool [H, W]`` pixels of the first object."""
        return self.masks[0]


def _object_fill(size: tuple[int, int], under: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fill of an object: solid, two-colour gradient or noisy, contrasting with ``under``."""
    colour = random_colour(rng)
    for _ in range(20):
        if np.linalg.norm(colour - under) >= _MIN_CONTRAST:
            break
        colour = random_colour(rng)
    style = rng.uniform()
    if style < 0.6:
        return np.broadcast_to(colour, (*size, 3))
    if style < 0.8:
        height, width = size
        angle = rng.uniform(0, 2 * np.pi)
        y, x = np.mgrid[0:height, 0:width].astype(np.float32) / max(height, width)
        ramp = np.cos(angle) * x + np.sin(angle) * y  # [H, W], a ramp in a random direction
        shade = np.clip(colour + rng.uniform(-0.35, 0.35, 3), 0, 1).astype(np.float32)
        return colour + (ramp - ramp.min())[..., None] * (shade - colour)
    noise = rng.normal(0, rng.uniform(0.03, 0.12), (*size, 1)).astype(np.float32)
    return np.clip(colour + noise, 0, 1)


def _placements(
    count: int,
    side: int,
    scale_range: tuple[float, float],
    zoom: float,
    rng: np.random.Generator,
) -> list[tuple[tuple[float, float], float]]:
    """Centres and radii of ``count`` objects inside the image, not overlapping."""
    placed: list[tuple[tuple[float, float], float]] = []
    while len(placed) < count:
        radius = rng.uniform(*scale_range) * side / 2 * zoom
        for _ in range(100):
            centre = (rng.uniform(radius, side - radius), rng.uniform(radius, side - radius))
            if all(
                np.hypot(centre[0] - c[0], centre[1] - c[1]) > 1.05 * (radius + r)
                for c, r in placed
            ):
                placed.append((centre, radius))
                break
        else:
            placed.clear()  # no room left: start over with fresh sizes
    return placed


def _degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mild blur and sensor noise, so that crisp synthetic edges are not a cue."""
    if rng.uniform() < 0.3:
        pil = Image.fromarray((image * 255).astype(np.uint8))
        pil = pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
        image = np.asarray(pil, dtype=np.float32) / 255.0
    if rng.uniform() < 0.5:
        image = image + rng.normal(0, rng.uniform(0.005, 0.04), image.shape).astype(np.float32)
    return image


def generate(
    seed: int,
    index: int,
    *,
    size: int = IMAGE_SIZE,
    num_objects: int = 1,
    zoom: float = 1.0,
    clutter: float = 1.0,
) -> Sample:
    """The ``index``-th sample of the stream named by ``seed``.

    Parameters
    ----------
    seed : int
        Names an independent stream (training, held-out evaluation, the app ...).
    index : int
        Position in the stream.
    size : int
        Side of the square image in pixels; objects scale with it.
    num_objects : int
        1 for a classification sample, 2 for two objects of two different classes.
    zoom : float
        Objects are drawn this many times larger than their scale range says, as in a
        ``1 / zoom`` crop of a bigger image: ``size=112, zoom=2`` gives objects of the
        same pixel size as ``size=224`` (training at low resolution, true object scale).
    clutter : float
        Background difficulty in [0, 1] (see :func:`vitviz.demo.backgrounds.background`).

    Returns
    -------
    Sample
        The image, its labels and one mask per object.
    """
    if num_objects not in (1, 2):
        raise ValueError(f"num_objects must be 1 or 2, got {num_objects}")
    rng = np.random.default_rng([seed, index, num_objects, size])
    labels = rng.choice(len(CLASS_NAMES), size=num_objects, replace=False)
    scale_range = SCALE_RANGE if num_objects == 1 else TWO_OBJECT_SCALE_RANGE
    image = background((size, size), rng, clutter)
    masks = np.zeros((num_objects, size, size), dtype=bool)
    for k, (label, (centre, radius)) in enumerate(
        zip(labels, _placements(num_objects, size, scale_range, zoom, rng), strict=True)
    ):
        coverage = rasterize(
            outline(int(label), rng),
            (size, size),
            centre,
            radius,
            angle=rng.uniform(0, 2 * np.pi),
            aspect=float(np.exp(rng.uniform(-0.1, 0.1))),
            supersample=int(rng.choice([1, 2, 4])),
        )
        masks[k] = coverage >= 0.5
        under = image[masks[k]].mean(axis=0) if masks[k].any() else image.mean(axis=(0, 1))
        fill = _object_fill((size, size), under, rng)
        alpha = coverage[..., None]  # [H, W, 1]
        image = image * (1 - alpha) + fill * alpha
    image = _degrade(image, rng)
    pixels = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    return Sample(pixels, tuple(int(v) for v in labels), masks)


def generate_batch(
    seed: int,
    start: int,
    count: int,
    *,
    size: int = IMAGE_SIZE,
    num_objects: int = 1,
    zoom: float = 1.0,
    clutter: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples ``start .. start + count - 1`` of a stream, stacked.

    Parameters
    ----------
    seed, start, count : int
        Stream, first index and number of samples.
    size : int
        Image side in pixels.
    num_objects : int
        Objects per image (1 or 2).
    zoom, clutter : float
        Object magnification and background difficulty (see :func:`generate`).

    Returns
    -------
    images : ndarray
        ``uint8 [B, H, W, 3]``.
    labels : ndarray
        ``int64 [B, K]``.
    masks : ndarray
        ``bool [B, K, H, W]``.
    """
    samples = [
        generate(seed, i, size=size, num_objects=num_objects, zoom=zoom, clutter=clutter)
        for i in range(start, start + count)
    ]
    return (
        np.stack([s.image for s in samples]),
        np.array([s.labels for s in samples], dtype=np.int64),
        np.stack([s.masks for s in samples]),
    )
