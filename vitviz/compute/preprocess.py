"""Image → normalised model input, with the geometry that maps tokens back to the image.

The ``CROP`` mode reproduces timm's eval transform for the checkpoint's spec
(``timm.data.create_transform(..., is_training=False)``: resize, then centre crop or pad),
pixel for pixel. It is computed here step by step rather than by calling timm because the
exact scale and offset of each step are needed to place every patch on the original image
(and timm is not imported on the start path).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from vitviz.compute.geometry import PatchGrid
from vitviz.compute.images import to_rgb
from vitviz.errors import AnalysisError
from vitviz.vit.spec import PretrainedSpec

# timm's names of PIL's filters (``timm.data.transforms.str_to_pil_interp``): lower case.
_PIL_FILTERS = {member.name.lower(): member for member in Image.Resampling}


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
    """Largest ``(rows, cols)`` grid with the image's aspect and ``rows * cols <= max_tokens``.

    ``original`` and ``patch_size`` are ``(height, width)``. The grid is that of the image
    scaled by the largest factor whose rounded grid fits the cap (each side at least 1).
    """
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
