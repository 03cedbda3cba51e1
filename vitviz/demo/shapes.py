"""Geometry of the ten demo classes: each shape as filled polygons minus hole polygons.

Shapes are defined in unit coordinates (centred on the origin, about the unit circle: the
triangle's bounding box is centred, so its corners reach 1.11) with a little per-instance
variation (star depth, arm width, ring thickness ...), so the model learns the class, not
one exact drawing. ``rasterize`` places a shape in an image and returns its coverage,
anti-aliased by supersampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

CLASS_NAMES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "cross",
    "ring",
    "hexagon",
    "crescent",
    "heart",
    "arrow",
)

# Enough vertices that a circle of 100 px shows no facets.
_ROUND_VERTICES = 64


@dataclass(frozen=True)
class Outline:
    """A shape in unit coordinates: polygons to fill, then polygons to cut out.

    Attributes
    ----------
    fills : tuple of ndarray
        Polygons ``[V, 2]`` (x, y) whose inside belongs to the shape.
    holes : tuple of ndarray
        Polygons ``[V, 2]`` cut out of the fills afterwards (ring, crescent).
    """

    fills: tuple[np.ndarray, ...]
    holes: tuple[np.ndarray, ...] = ()


def _regular(n: int, radius: float = 1.0, phase: float = 0.0, centre=(0.0, 0.0)) -> np.ndarray:
    angles = phase + 2 * np.pi * np.arange(n) / n
    return np.stack(
        [centre[0] + radius * np.cos(angles), centre[1] + radius * np.sin(angles)], axis=1
    )


def _star(rng: np.random.Generator) -> Outline:
    inner = rng.uniform(0.36, 0.5)
    radii = np.where(np.arange(10) % 2 == 0, 1.0, inner)
    angles = -np.pi / 2 + np.pi * np.arange(10) / 5
    return Outline((np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1),))


def _cross(rng: np.random.Generator) -> Outline:
    w = rng.uniform(0.22, 0.34)  # half-width of an arm
    e = 0.95  # arm length, so the cross fills the unit circle like the other shapes
    pts = [(w, -e), (w, -w), (e, -w), (e, w), (w, w), (w, e)]
    pts += [(-w, e), (-w, w), (-e, w), (-e, -w), (-w, -w), (-w, -e)]
    return Outline((np.array(pts),))


def _ring(rng: np.random.Generator) -> Outline:
    inner = rng.uniform(0.5, 0.68)
    return Outline((_regular(_ROUND_VERTICES),), (_regular(_ROUND_VERTICES, inner),))


def _crescent(rng: np.random.Generator) -> Outline:
    offset = rng.uniform(0.38, 0.6)
    radius = rng.uniform(0.8, 0.95)
    hole = _regular(_ROUND_VERTICES, radius, centre=(offset, -0.1 * offset))
    return Outline((_regular(_ROUND_VERTICES),), (hole,))


def _heart(rng: np.random.Generator) -> Outline:
    t = np.linspace(0, 2 * np.pi, _ROUND_VERTICES, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    y = y + 2.5  # centre the curve's bounding box on the origin
    pts = np.stack([x, y * rng.uniform(0.9, 1.05)], axis=1)
    return Outline((pts / np.abs(pts).max(axis=0).max(),))


def _arrow(rng: np.random.Generator) -> Outline:
    shaft = rng.uniform(0.14, 0.24)  # half-width of the shaft
    head = rng.uniform(0.5, 0.7)  # half-width of the head
    neck = rng.uniform(0.05, 0.3)  # where the head starts along x
    pts = [(-0.95, -shaft), (neck, -shaft), (neck, -head), (0.95, 0.0)]
    pts += [(neck, head), (neck, shaft), (-0.95, shaft)]
    return Outline((np.array(pts),))


def _triangle(rng: np.random.Generator) -> Outline:
    pts = _regular(3, 1.0, -np.pi / 2)
    return Outline((pts + np.array([0.0, 0.2]),))


def outline(label: int, rng: np.random.Generator) -> Outline:
    """One instance of class ``label`` in unit coordinates, with small shape variation.

    Parameters
    ----------
    label : int
        Index into ``CLASS_NAMES``.
    rng : numpy.random.Generator
        Source of the per-instance variation.

    Returns
    -------
    Outline
        The shape, about the size of the unit circle, before rotation and placement.
    """
    name = CLASS_NAMES[label]
    if name == "circle":
        return Outline((_regular(_ROUND_VERTICES),))
    if name == "square":
        return Outline((_regular(4, 1.0, np.pi / 4),))
    if name == "hexagon":
        return Outline((_regular(6),))
    builders = {
        "triangle": _triangle,
        "star": _star,
        "cross": _cross,
        "ring": _ring,
        "crescent": _crescent,
        "heart": _heart,
        "arrow": _arrow,
    }
    return builders[name](rng)


def _transform(points: np.ndarray, centre, radius: float, angle: float, aspect: float):
    cos, sin = np.cos(angle), np.sin(angle)
    x = points[:, 0] * radius * aspect
    y = points[:, 1] * radius / aspect
    return np.stack([centre[0] + cos * x - sin * y, centre[1] + sin * x + cos * y], axis=1)


def rasterize(
    shape: Outline,
    size: tuple[int, int],
    centre: tuple[float, float],
    radius: float,
    angle: float,
    aspect: float = 1.0,
    supersample: int = 2,
) -> np.ndarray:
    """Coverage of a placed shape, anti-aliased by supersampling.

    Parameters
    ----------
    shape : Outline
        Shape in unit coordinates.
    size : tuple of int
        ``(height, width)`` of the image in pixels.
    centre : tuple of float
        ``(x, y)`` of the shape's centre in pixels.
    radius : float
        Pixels per unit, i.e. half the shape's extent.
    angle : float
        Rotation in radians.
    aspect : float
        Horizontal stretch (1 keeps proportions); vertical is divided by it.
    supersample : int
        Drawing scale before box-filtering down; 1 gives hard edges.

    Returns
    -------
    ndarray
        ``float32 [H, W]`` coverage in [0, 1].
    """
    height, width = size
    s = supersample
    canvas = Image.new("L", (width * s, height * s), 0)
    draw = ImageDraw.Draw(canvas)
    for polygons, value in ((shape.fills, 255), (shape.holes, 0)):
        for poly in polygons:
            pts = _transform(poly, centre, radius, angle, aspect) * s
            draw.polygon([tuple(p) for p in pts.tolist()], fill=value)
    if s > 1:
        canvas = canvas.resize((width, height), Image.Resampling.BOX)
    return np.asarray(canvas, dtype=np.float32) / 255.0
