"""What the user asked to look at: the image, the model and how to run it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psygnal import evented

PREPROCESS_MODES = ("crop", "whole", "native")
DEVICES = ("auto", "cuda", "mps", "cpu")
PRECISIONS = ("fp32", "fp16", "bf16")


@dataclass(eq=False, frozen=True)
class LoadedImage:
    """An RGB image and where it came from.

    Compared by identity, so replacing the image always notifies listeners and no pixel
    comparison ever runs on the UI thread. ``generated`` marks the app's own generated
    demo samples: the demo model's domain, known from where the image came from.
    """

    image: Any  # PIL.Image.Image in RGB mode
    name: str
    path: str | None = None
    generated: bool = False


@evented
@dataclass
class Inputs:
    """The image, the model source and the run settings chosen by the user.

    Attributes
    ----------
    image : LoadedImage or None
        The current image; replaced only by a successfully read one.
    model_source : str
        ``"demo"``, a timm tag, an ``hf-hub:`` id or a checkpoint path.
    arch : str or None
        Architecture for checkpoint files that do not say it themselves.
    device : str
        One of :data:`DEVICES`.
    precision : str
        One of :data:`PRECISIONS`; half precision only takes effect on a GPU.
    preprocess_mode : str
        One of :data:`PREPROCESS_MODES`: the checkpoint's crop, the whole image, or the
        image's native aspect ratio.
    """

    image: LoadedImage | None = None
    model_source: str = "demo"
    arch: str | None = None
    device: str = "auto"
    precision: str = "fp32"
    preprocess_mode: str = "crop"
    max_tokens: int | None = field(default=None)
