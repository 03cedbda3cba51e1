"""How a checkpoint wants its input prepared, what its classes are, and its token layout."""

from __future__ import annotations

from dataclasses import dataclass

from vitviz.vit.layout import TokenLayout


@dataclass(frozen=True)
class PretrainedSpec:
    """Preprocessing, labels and token layout of a loaded checkpoint.

    Values come from the checkpoint's pretrained config (timm's ``pretrained_cfg``) or the
    metadata stored with a file, never from hard-coded defaults: mean/std and crop differ
    between weight sets of one architecture.

    Attributes
    ----------
    name : str
        What the user loaded: a timm tag, an ``hf-hub:`` id, ``demo`` or a file name.
    arch : str
        timm architecture name (``vit_base_patch16_224``).
    input_size : tuple of int
        ``(channels, height, width)`` the model was trained at.
    crop_pct : float
        Fraction of the resized image kept by the centre crop (timm semantics).
    crop_mode : str
        timm crop mode: ``center``, ``squash`` or ``border``.
    interpolation : str
        Resize filter: ``bicubic``, ``bilinear``, ``nearest`` ...
    mean, std : tuple of float
        Per-channel normalisation.
    labels : tuple of str or None
        Class names in logit order; None for a headless model or unknown labels.
    layout : TokenLayout
        Token layout at ``input_size``.
    patch_size : tuple of int
        ``(height, width)`` of one patch in input pixels.
    label_source : str
        Where ``labels`` came from: ``checkpoint`` (names stored with the file),
        ``pretrained config``, an ImageNet subset (``imagenet-1k``, ``imagenet-21k-goog``
        ...), ``embedding`` (a CLIP image tower, whose outputs are embedding dimensions,
        not classes), ``generic`` (``class 0`` ... because no names are known) or
        ``none`` (headless model).
    """

    name: str
    arch: str
    input_size: tuple[int, int, int]
    crop_pct: float
    crop_mode: str
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    labels: tuple[str, ...] | None
    layout: TokenLayout
    patch_size: tuple[int, int]
    label_source: str = "none"

    @property
    def num_classes(self) -> int:
        """Number of output classes (0 for a headless model)."""
        return len(self.labels) if self.labels else 0
