"""A second, independent renderer of the ten demo shapes, for the generalisation test.

Shapes are drawn with matplotlib's own patches (``Circle``, ``RegularPolygon``, ``Wedge``,
``FancyArrow`` ...) and constructions that differ from ``vitviz.demo.shapes`` (a heart from
two discs and a square, a crescent from two intersecting arcs, a thinner cross, a fatter
star), with matplotlib's anti-aliasing and sometimes an outline, over backgrounds the
generator never makes: 1/f ("pink") noise, soft blurred blobs and a sky/ground scene.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib import patches
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

SIZE = 224


def pink_noise(rng: np.random.Generator) -> np.ndarray:
    """Coloured 1/f noise, the spectrum of natural images; ``float [H, W, 3]``."""
    fy = np.fft.fftfreq(SIZE)[:, None]
    fx = np.fft.fftfreq(SIZE)[None, :]
    falloff = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / SIZE) ** rng.uniform(1.0, 1.6)
    channels = []
    for _ in range(3):
        spectrum = falloff * np.exp(2j * np.pi * rng.uniform(size=(SIZE, SIZE)))
        field = np.real(np.fft.ifft2(spectrum))
        channels.append((field - field.mean()) / (field.std() + 1e-9))
    mix = rng.uniform(0.1, 0.25, (3, 3)) + np.eye(3) * rng.uniform(0, 0.1)
    image = np.stack(channels, -1) @ mix + rng.uniform(0.25, 0.75, 3)  # [H, W, 3]
    return np.clip(image, 0, 1)


def blobs(rng: np.random.Generator) -> np.ndarray:
    """Soft out-of-focus blobs of colour ("bokeh"); ``float [H, W, 3]``."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    image = np.broadcast_to(rng.uniform(0, 1, 3), (SIZE, SIZE, 3)).copy()
    for _ in range(int(rng.integers(4, 12))):
        cx, cy, sigma = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.25)
        weight = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))[..., None]
        image = image * (1 - 0.8 * weight) + rng.uniform(0, 1, 3) * 0.8 * weight
    return image


def scene(rng: np.random.Generator) -> np.ndarray:
    """Sky gradient over textured ground with a wavy horizon; ``float [H, W, 3]``."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    horizon = rng.uniform(0.3, 0.7) + 0.05 * np.sin(2 * np.pi * rng.uniform(1, 3) * x)
    sky = rng.uniform(0.4, 1, 3) * (1 - 0.4 * y[..., None])
    ground = rng.uniform(0, 0.6, 3) + 0.15 * pink_noise(rng) - 0.075
    return np.clip(np.where((y > horizon)[..., None], ground, sky), 0, 1)


BACKGROUNDS = (pink_noise, blobs, scene)


def _star(xy, radius, angle, inner):
    angles = angle + np.pi * np.arange(10) / 5
    radii = np.where(np.arange(10) % 2 == 0, radius, radius * inner)
    return [patches.Polygon(np.c_[xy[0] + radii * np.cos(angles), xy[1] + radii * np.sin(angles)])]


def _rotate(points: np.ndarray, xy, radius: float, angle: float) -> np.ndarray:
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return points @ rot.T * radius + np.asarray(xy)


def _cross(xy, radius, angle):
    w = 0.2
    pts = np.array([(w, -1), (w, -w), (1, -w), (1, w), (w, w), (w, 1), (-w, 1), (-w, w)])
    pts = np.concatenate([pts, np.array([(-1, w), (-1, -w), (-w, -w), (-w, -1)])])
    return [patches.Polygon(_rotate(pts * 0.95, xy, radius, angle))]


def _crescent(xy, radius, angle):
    d, r = 0.5, 0.85  # inner circle: centre (d, 0), radius r; outer: unit circle
    cx = (1 + d**2 - r**2) / (2 * d)
    theta = np.arctan2(np.sqrt(1 - cx**2), cx)
    outer = np.linspace(theta, 2 * np.pi - theta, 60)
    phi = np.arctan2(np.sqrt(1 - cx**2), cx - d)
    inner = np.linspace(2 * np.pi - phi, phi, 60)
    pts = np.concatenate(
        [np.c_[np.cos(outer), np.sin(outer)], np.c_[d + r * np.cos(inner), r * np.sin(inner)]]
    )
    return [patches.Polygon(_rotate(pts, xy, radius, angle))]


def _heart(xy, radius, angle):
    # A square on its corner with two discs on its upper sides.
    s = 0.62
    square = np.array([(0, -1.0), (s, -1.0 + s), (0, -1.0 + 2 * s), (-s, -1.0 + s)])
    lobes = [(s / 2, -1.0 + 1.5 * s), (-s / 2, -1.0 + 1.5 * s)]
    shift = np.array([0, 0.2])
    parts = [patches.Polygon(_rotate(square + shift, xy, radius, angle))]
    for centre in lobes:
        c = _rotate(np.array([centre]) + shift, xy, radius, angle)[0]
        parts.append(patches.Circle(c, radius * s / np.sqrt(2)))
    return parts


def _arrow(xy, radius, angle):
    dx, dy = np.cos(angle), np.sin(angle)
    start = (xy[0] - 0.95 * radius * dx, xy[1] - 0.95 * radius * dy)
    return [
        patches.FancyArrow(
            *start,
            1.9 * radius * dx,
            1.9 * radius * dy,
            width=0.35 * radius,
            head_width=1.1 * radius,
            head_length=0.8 * radius,
            length_includes_head=True,
        )
    ]


def shape_patches(label: int, xy, radius: float, angle: float) -> list[patches.Patch]:
    """matplotlib patches drawing class ``label`` centred at ``xy`` (pixels)."""
    degrees = np.degrees(angle)
    makers = {
        0: lambda: [patches.Circle(xy, radius)],
        1: lambda: [patches.RegularPolygon(xy, 4, radius=radius, orientation=angle)],
        2: lambda: [patches.RegularPolygon(xy, 3, radius=radius, orientation=angle)],
        3: lambda: _star(xy, radius, angle, 0.5),
        4: lambda: _cross(xy, radius, angle),
        5: lambda: [patches.Wedge(xy, radius, degrees, degrees + 360, width=0.4 * radius)],
        6: lambda: [patches.RegularPolygon(xy, 6, radius=radius, orientation=angle)],
        7: lambda: _crescent(xy, radius, angle),
        8: lambda: _heart(xy, radius, angle),
        9: lambda: _arrow(xy, radius, angle),
    }
    return makers[label]()


def render(label: int, rng: np.random.Generator) -> np.ndarray:
    """One image of class ``label``: ``uint8 [224, 224, 3]``."""
    back = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))](rng)
    radius = rng.uniform(0.15, 0.45) * SIZE / 2
    xy = (rng.uniform(radius, SIZE - radius), rng.uniform(radius, SIZE - radius))
    under = back.reshape(-1, 3).mean(0)
    colour = rng.uniform(0, 1, 3)
    while np.linalg.norm(colour - under) < 0.4:
        colour = rng.uniform(0, 1, 3)
    figure = Figure(figsize=(SIZE / 100, SIZE / 100), dpi=100)
    canvas = FigureCanvasAgg(figure)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.imshow(back, extent=(0, SIZE, SIZE, 0), interpolation="bilinear")
    outlined = rng.uniform() < 0.3
    for patch in shape_patches(label, xy, radius, rng.uniform(0, 2 * np.pi)):
        patch.set_facecolor(colour)
        patch.set_edgecolor(np.clip(colour * 0.5, 0, 1) if outlined else "none")
        patch.set_linewidth(1.5 if outlined else 0)
        ax.add_patch(patch)
    ax.set_xlim(0, SIZE)
    ax.set_ylim(SIZE, 0)
    ax.axis("off")
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
