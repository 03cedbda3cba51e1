"""How a checkpoint wants its input prepared, what its classes are, and its token layout."""

from __future__ import annotations

from dataclasses import dataclass

from vitviz.vit.layout import TokenLayout


@dataclass(frozen=True)
class PretrainedSpec:
    """Preprocessing, labels and token layout of a loaded checkpoint, from its pretrained
    config or file metadata, never hard-coded (mean/std and crop differ between weights).

    Attributes
    ----------
    name, arch : str
        What the user loaded (a timm tag, an ``hf-hub:`` id, ``demo``, a file name); the
        timm architecture.
    input_size : tuple of int
        ``(channels, height, width)`` the model was trained at.
    crop_pct, crop_mode, interpolation, mean, std
        timm's preprocessing fields.
    labels : tuple of str or None
        Class names in logit order; None for a headless model.
    layout : TokenLayout
        Token layout at ``input_size``; ``patch_size`` is ``(height, width)`` of a patch.
    label_source : str
        Where ``labels`` came from (see :func:`vitviz.vit.loading.class_labels`).
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
