"""Cluttered backgrounds for the demo images, so that the object has to be found.

Each pattern is a vectorised numpy function of a random generator returning
``float32 [H, W, 3]`` in [0, 1]; ``background`` layers one or two of them and may scatter
small strokes on top (line pieces and arcs, never closed shapes of the ten classes).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour in [0, 1], from greys to saturated hues.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray
        ``float32 [3]``.
    """
    base = rng.uniform(0, 1)
    colour = base + rng.uniform(-1, 1, 3) * rng.uniform(0, 0.6)
    return np.clip(colour, 0, 1).astype(np.float32)


def _coords(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Pixel positions projected on a random direction, in units of the image side."""
    height, width = size
    angle = rng.uniform(0, np.pi)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return (np.cos(angle) * x + np.sin(angle) * y) / max(height, width)


def _two_tone(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    a, b = random_colour(rng), random_colour(rng)
    return a + t[..., None] * (b - a)  # [H, W, 3]


def smooth_noise(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Coloured value noise: a small random image upsampled smoothly."""
    height, width = size
    cells = int(rng.integers(2, 12))
    small = (rng.uniform(0, 1, (cells, cells, 3)) * 255).astype(np.uint8)
    big = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float32) / 255.0


def gradient(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A linear colour ramp in a random direction."""
    t = _coords(size, rng)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return _two_tone(t, rng)


def stripes(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Parallel stripes of random angle, period and sharpness."""
    periods = rng.uniform(3, 20)
    wave = np.sin(2 * np.pi * periods * _coords(size, rng) + rng.uniform(0, 2 * np.pi))
    sharp = rng.uniform(1, 8)
    return _two_tone(0.5 + 0.5 * np.tanh(sharp * wave), rng)


def checkerboard(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A possibly rotated checkerboard of random cell size."""
    cells = rng.uniform(4, 24)
    u = _coords(size, rng) * cells
    v = _coords(size, rng) * cells
    t = (np.floor(u) + np.floor(v)) % 2
    return _two_tone(t.astype(np.float32), rng)


def flat(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """One colour."""
    return np.broadcast_to(random_colour(rng), (*size, 3)).copy()


PATTERNS = (smooth_noise, gradient, stripes, checkerboard, flat)


def scatter_strokes(image: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """Draw ``count`` short line pieces and open arcs of random colours onto ``image``.

    Parameters
    ----------
    image : ndarray
        ``float32 [H, W, 3]`` in [0, 1]; not modified.
    rng : numpy.random.Generator
        Source of randomness.
    count : int
        Number of strokes.

    Returns
    -------
    ndarray
        A new ``float32 [H, W, 3]`` image with the strokes.
    """
    height, width = image.shape[:2]
    side = max(height, width)
    canvas = Image.fromarray((image * 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(count):
        colour = tuple(int(c) for c in random_colour(rng) * 255)
        line_width = max(1, int(side * rng.uniform(0.004, 0.02)))
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        length = side * rng.uniform(0.03, 0.12)
        if rng.uniform() < 0.6:
            angle = rng.uniform(0, 2 * np.pi)
            end = (x + length * np.cos(angle), y + length * np.sin(angle))
            draw.line([(x, y), end], fill=colour, width=line_width)
        else:
            start = rng.uniform(0, 360)
            box = [x - length / 2, y - length / 2, x + length / 2, y + length / 2]
            draw.arc(box, start, start + rng.uniform(60, 200), fill=colour, width=line_width)
    return np.asarray(canvas, dtype=np.float32) / 255.0


def background(size: tuple[int, int], rng: np.random.Generator, clutter: float = 1.0) -> np.ndarray:
    """A random cluttered background.

    One pattern, often blended with a second one, and in most images scattered strokes.

    Parameters
    ----------
    size : tuple of int
        ``(height, width)`` in pixels.
    rng : numpy.random.Generator
        Source of randomness.
    clutter : float
        In [0, 1]: 1 gives the full variety; 0 only flat colours and gradients, never
        blended, with no strokes (the easy start of a training curriculum).

    Returns
    -------
    ndarray
        ``float32 [H, W, 3]`` in [0, 1].
    """
    plain = (gradient, flat)
    if rng.uniform() < clutter:
        image = PATTERNS[int(rng.integers(len(PATTERNS)))](size, rng)
    else:
        image = plain[int(rng.integers(len(plain)))](size, rng)
    if rng.uniform() < 0.5 * clutter:
        other = PATTERNS[int(rng.integers(len(PATTERNS)))](size, rng)
        weight = rng.uniform(0.2, 0.6)
        image = (1 - weight) * image + weight * other
    if rng.uniform() < 0.7 * clutter:
        image = scatter_strokes(image, rng, int(rng.integers(3, 25)))
    return image.astype(np.float32)
