"""Patch geometry: which pixels of the original image each token covers.

Preprocessing resizes (and maybe crops or pads) the original image into the model's input.
Both steps are axis-aligned, so one affine map per axis takes an original pixel coordinate
to an input pixel coordinate: ``x_in = sx * x_orig + ox`` and ``y_in = sy * y_orig + oy``.
Coordinates are continuous with pixel ``(i, j)`` covering ``[j, j + 1) x [i, i + 1)``
(PIL's convention), boxes are ``(left, top, right, bottom)``, and sizes and grids are
``(height, width)`` / ``(rows, cols)``: rows first, never assumed square.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class PatchGrid:
    """The model's patch grid and where it lies on the original image.

    ``layout`` is the prepared input's token layout (``layout.grid`` is ``(rows, cols)``);
    ``patch_size``, ``input_size`` (a multiple of the patch) and ``original_size`` are
    ``(height, width)``; ``scale`` is ``(sx, sy)``, input pixels per original pixel, and
    ``offset`` ``(ox, oy)``, the input coordinate of the original image's top-left corner
    (negative when the image was cropped, positive when it was padded).
    """

    layout: TokenLayout
    patch_size: tuple[int, int]
    input_size: tuple[int, int]
    original_size: tuple[int, int]
    scale: tuple[float, float] = (1.0, 1.0)
    offset: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        (height, width), (ph, pw) = self.input_size, self.patch_size
        if height % ph or width % pw:
            raise AnalysisError(
                f"the model's input size {height}x{width} is not a multiple of its "
                f"patch size {ph}x{pw}"
            )
        if self.layout.grid != (height // ph, width // pw):
            raise AnalysisError(
                f"layout grid {self.layout.grid} does not match input {height}x{width} "
                f"with patch {ph}x{pw}"
            )
        if min(self.scale) <= 0 or min(self.original_size) <= 0:
            raise AnalysisError("scale and original size must be positive")

    @property
    def rows(self) -> int:
        return self.layout.grid[0]

    @property
    def cols(self) -> int:
        return self.layout.grid[1]

    def to_input(self, x, y):
        """Original-image coordinates (scalars or arrays) → ``(x_in, y_in)`` input pixels."""
        (sx, sy), (ox, oy) = self.scale, self.offset
        return sx * np.asarray(x, dtype=float) + ox, sy * np.asarray(y, dtype=float) + oy

    def to_original(self, x, y):
        """Input coordinates (scalars or arrays) → ``(x_orig, y_orig)`` original pixels."""
        (sx, sy), (ox, oy) = self.scale, self.offset
        return (np.asarray(x, dtype=float) - ox) / sx, (np.asarray(y, dtype=float) - oy) / sy

    def _box(self, left: float, top: float, right: float, bottom: float) -> Box:
        """An input-pixel box in original pixels."""
        x0, y0 = self.to_original(left, top)
        x1, y1 = self.to_original(right, bottom)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def crop_box(self) -> Box:
        """The region of the original image the model sees, in original pixels.

        It extends past the image where preprocessing padded (``border`` crop mode, or an
        image smaller than the crop).
        """
        height, width = self.input_size
        return self._box(0, 0, width, height)

    def patch_box(self, row: int, col: int) -> Box:
        """Box ``(left, top, right, bottom)`` of patch ``(row, col)`` in original pixels."""
        if not (0 <= row < self.rows and 0 <= col < self.cols):
            raise IndexError(f"patch ({row}, {col}) outside a {self.rows}x{self.cols} grid")
        ph, pw = self.patch_size
        return self._box(col * pw, row * ph, (col + 1) * pw, (row + 1) * ph)

    def patch_boxes(self) -> np.ndarray:
        """Boxes of all patches in original pixels: ``[rows, cols, 4]``, each ``(l, t, r, b)``."""
        ph, pw = self.patch_size
        xs, ys = self.to_original(np.arange(self.cols + 1) * pw, np.arange(self.rows + 1) * ph)
        left, top = np.meshgrid(xs[:-1], ys[:-1])  # [rows, cols] each
        right, bottom = np.meshgrid(xs[1:], ys[1:])  # [rows, cols] each
        return np.stack([left, top, right, bottom], -1)  # [rows, cols, 4]

    def patch_at(self, x: float, y: float) -> tuple[int, int] | None:
        """Grid position ``(row, col)`` of the patch covering original pixel ``(x, y)``.

        Returns None for a point outside the original image or outside the region the
        model sees (cropped away).
        """
        height, width = self.original_size
        if not (0 <= x < width and 0 <= y < height):
            return None
        x_in, y_in = self.to_input(x, y)
        ph, pw = self.patch_size
        row, col = int(np.floor(y_in / ph)), int(np.floor(x_in / pw))
        return (row, col) if 0 <= row < self.rows and 0 <= col < self.cols else None
