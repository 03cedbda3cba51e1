"""Image → normalised model input, with the patch geometry that maps tokens back to the image.

The ``CROP`` mode reproduces timm's eval transform for the checkpoint's spec
(``timm.data.create_transform(..., is_training=False)``: resize, then centre crop or pad),
pixel for pixel. It is computed here step by step rather than by calling timm because the
exact scale and offset of each step are needed to place every patch on the original image
(and timm is not imported on the start path).

Both steps are axis-aligned, so one affine map per axis takes an original pixel coordinate
to an input pixel coordinate (:class:`PatchGrid`): ``x_in = sx * x_orig + ox`` and
``y_in = sy * y_orig + oy``. Coordinates are continuous with pixel ``(i, j)`` covering
``[j, j + 1) x [i, i + 1)`` (PIL's convention), boxes are ``(left, top, right, bottom)``,
and sizes and grids are ``(height, width)`` / ``(rows, cols)``: rows first, never square.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from vitviz.compute.images import to_rgb
from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout
from vitviz.vit.spec import PretrainedSpec

# timm's names of PIL's filters (``timm.data.transforms.str_to_pil_interp``): lower case.
_PIL_FILTERS = {member.name.lower(): member for member in Image.Resampling}


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

    @property
    def crop_box(self) -> Box:
        """The region of the original image the model sees, in original pixels (past the
        image where preprocessing padded: ``border`` crop mode, or a small image)."""
        (x0, x1), (y0, y1) = self.to_original([0, self.input_size[1]], [0, self.input_size[0]])
        return float(x0), float(y0), float(x1), float(y1)

    def patch_box(self, row: int, col: int) -> Box:
        """Box ``(left, top, right, bottom)`` of patch ``(row, col)`` in original pixels."""
        if not (0 <= row < self.rows and 0 <= col < self.cols):
            raise IndexError(f"patch ({row}, {col}) outside a {self.rows}x{self.cols} grid")
        return tuple(float(v) for v in self.patch_boxes()[row, col])

    def patch_boxes(self) -> np.ndarray:
        """Boxes of all patches in original pixels: ``[rows, cols, 4]``, each ``(l, t, r, b)``."""
        ph, pw = self.patch_size
        xs, ys = self.to_original(np.arange(self.cols + 1) * pw, np.arange(self.rows + 1) * ph)
        left, top = np.meshgrid(xs[:-1], ys[:-1])  # [rows, cols] each
        right, bottom = np.meshgrid(xs[1:], ys[1:])  # [rows, cols] each
        return np.stack([left, top, right, bottom], -1)  # [rows, cols, 4]

    def patch_at(self, x: float, y: float) -> tuple[int, int] | None:
        """Grid position ``(row, col)`` of the patch covering original pixel ``(x, y)``; None
        outside the original image or the region the model sees (cropped away)."""
        height, width = self.original_size
        if not (0 <= x < width and 0 <= y < height):
            return None
        x_in, y_in = self.to_input(x, y)
        ph, pw = self.patch_size
        row, col = int(np.floor(y_in / ph)), int(np.floor(x_in / pw))
        return (row, col) if 0 <= row < self.rows and 0 <= col < self.cols else None


class PreprocessMode(enum.Enum):
    """How the image is fitted to the model."""

    CROP = "crop"  # the checkpoint's own resize + centre crop (what it was evaluated with)
    WHOLE = "whole"  # squashed to the model's input size: nothing cut, aspect not kept
    NATIVE = "native"  # at its own aspect ratio; the patch grid follows it (capped tokens)


@dataclass(frozen=True)
class Prepared:
    """A prepared model input: the normalised ``[1, 3, H, W]`` float32 ``tensor``, the patch
    ``grid`` mapping input to original pixels, and the RGB ``image`` as the model sees it.
    """

    tensor: torch.Tensor
    grid: PatchGrid
    image: Image.Image


def _centre_origin(resized: int, crop: int) -> int:
    # torchvision's CenterCrop: pad (crop - resized) // 2 before when too small, else
    # round((resized - crop) / 2) with Python's round-half-to-even.
    if crop > resized:
        return -((crop - resized) // 2)
    return round((resized - crop) / 2.0)


def _keep_ratio(original: tuple[int, int], target: tuple[int, int], *, longest: bool) -> tuple:
    """timm's ``ResizeKeepRatio`` (no randomness): fit the shortest or longest edge."""
    ratios = (original[0] / target[0], original[1] / target[1])
    ratio = max(ratios) if longest else min(ratios)
    return round(original[0] / ratio), round(original[1] / ratio)


def _crop_resize(original: tuple[int, int], spec: PretrainedSpec) -> tuple[int, int]:
    """The ``(h, w)`` timm's ``transforms_imagenet_eval`` resizes to before cropping."""
    height, width = original
    size = spec.input_size[1:]
    crop_pct = spec.crop_pct or 0.875  # timm's DEFAULT_CROP_PCT when the cfg has none
    scale_size = (math.floor(size[0] / crop_pct), math.floor(size[1] / crop_pct))
    if spec.crop_mode == "squash":
        return scale_size
    if spec.crop_mode == "border":
        return _keep_ratio(original, scale_size, longest=True)
    if scale_size[0] != scale_size[1]:
        return _keep_ratio(original, scale_size, longest=False)
    # torchvision Resize(int): shortest edge to the size, longest truncated
    new_long = int(scale_size[0] * max(height, width) / min(height, width))
    return (scale_size[0], new_long) if height <= width else (new_long, scale_size[0])


def native_grid(
    original: tuple[int, int], patch_size: tuple[int, int], max_tokens: int
) -> tuple[int, int]:
    """Largest ``(rows, cols)`` grid with the image's aspect and ``rows * cols <= max_tokens``:
    that of the ``(height, width)`` ``original`` scaled by the largest factor whose rounded
    grid fits the cap (each side at least 1)."""
    if max_tokens < 1:
        raise AnalysisError(f"max_tokens must be at least 1, got {max_tokens}")
    # Patch rows and columns the image spans at scale 1; the grid at scale s rounds s * these.
    span_rows, span_cols = original[0] / patch_size[0], original[1] / patch_size[1]

    def grid_at(s: float) -> tuple[int, int]:
        return max(1, round(s * span_rows)), max(1, round(s * span_cols))

    # The token count only grows with s, so bisect for the largest s within the cap.
    low, high = 0.0, 2.0 * math.sqrt(max_tokens / (span_rows * span_cols)) + 1.0
    for _ in range(64):
        mid = 0.5 * (low + high)
        rows, cols = grid_at(mid)
        low, high = (mid, high) if rows * cols <= max_tokens else (low, mid)
    return grid_at(low)


def prepare(
    image: Image.Image,
    spec: PretrainedSpec,
    mode: PreprocessMode = PreprocessMode.CROP,
    *,
    max_tokens: int | None = None,
) -> Prepared:
    """Prepare an RGB ``image`` (another mode is converted by
    :func:`~vitviz.compute.images.to_rgb`) for the model whose preprocessing and layout
    ``spec`` gives, fitted as ``mode`` says.

    ``max_tokens`` caps the patches of ``NATIVE`` inputs; by default the model's own count
    at its training size (196 for a 224-pixel, patch-16 model).
    """
    mode = PreprocessMode(mode)
    if image.mode != "RGB":
        image = to_rgb(image)
    width, height = image.size
    (ph, pw), (top, left), fill = spec.patch_size, (0, 0), (0, 0, 0)
    if mode is PreprocessMode.NATIVE:
        cap = spec.layout.num_patches if max_tokens is None else max_tokens
        rows, cols = native_grid((height, width), (ph, pw), cap)
        size = resized = (rows * ph, cols * pw)
    else:
        size = resized = tuple(spec.input_size[1:])
    if mode is PreprocessMode.CROP:
        resized = _crop_resize((height, width), spec)
        top, left = _centre_origin(resized[0], size[0]), _centre_origin(resized[1], size[1])
        if spec.crop_mode == "border":
            fill = tuple(round(255 * v) for v in spec.mean)
    try:
        interpolation = _PIL_FILTERS[spec.interpolation or "bicubic"]
    except KeyError:
        raise AnalysisError(
            f"unknown resize interpolation {spec.interpolation!r} in the model's preprocessing "
            "config; expected nearest, bilinear, bicubic, box, hamming or lanczos"
        ) from None
    seen = image if image.size == resized[::-1] else image.resize(resized[::-1], interpolation)
    if (top, left) != (0, 0) or resized != size:
        canvas = Image.new("RGB", size[::-1], fill)
        canvas.paste(seen, (-left, -top))
        seen = canvas
    grid = PatchGrid(  # raises an AnalysisError for an input not a multiple of the patch
        layout=spec.layout.with_grid((size[0] // ph, size[1] // pw)),
        patch_size=(ph, pw),
        input_size=size,
        original_size=(height, width),
        scale=(resized[1] / width, resized[0] / height),
        offset=(float(-left), float(-top)),
    )
    # torchvision's ToTensor + Normalize in the same order and precision: bit-identical.
    pixels = torch.from_numpy(np.array(seen, dtype=np.uint8)).permute(2, 0, 1)  # [3, H, W]
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(3, 1, 1)  # [3, 1, 1]
    std = torch.tensor(spec.std, dtype=torch.float32).view(3, 1, 1)  # [3, 1, 1]
    tensor = pixels.float().div(255).sub(mean).div(std).unsqueeze(0)  # [1, 3, H, W]
    return Prepared(tensor, grid, seen)
