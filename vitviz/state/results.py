"""What the controller produced: the loaded model and the latest analysis results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psygnal import evented


@dataclass(eq=False, frozen=True)
class LoadedModel:
    """A ready model with the spec that says how to feed it.

    Compared by identity: a new load always notifies listeners.

    Attributes
    ----------
    model : vitviz.vit.VisionTransformer
        The network, in eval mode, on ``device``.
    spec : vitviz.vit.PretrainedSpec
        Preprocessing, labels and token layout.
    source : str
        What the user asked for (``demo``, a tag or a path).
    device : str
        The device the model actually runs on (``cpu``, ``cuda:0`` ...).
    dtype : str
        ``fp32``, ``fp16`` or ``bf16``.
    """

    model: Any
    spec: Any
    source: str
    device: str
    dtype: str = "fp32"

    @property
    def depth(self) -> int:
        """Number of attention blocks."""
        return self.model.config.depth

    @property
    def num_heads(self) -> int:
        """Heads per block."""
        return self.model.config.num_heads


@evented
@dataclass
class Results:
    """Outputs of the worker, replaced wholesale so that listeners see one change each.

    Attributes
    ----------
    model : LoadedModel or None
        The model currently shown.
    image : LoadedImage or None
        The image ``prepared`` and ``inference`` were computed from (``inputs.image`` may
        already be a newer one while the worker runs).
    prepared : Any
        ``vitviz.compute.preprocess.Prepared`` of the current image (tensor, patch grid,
        the image as the model sees it), or None.
    inference : Any
        ``vitviz.compute.inference.InferenceResult`` for ``prepared``, or None.
    analysis : Any
        ``vitviz.compute.analysis.Analysis`` of ``inference`` (head statistics, high-norm
        flags, prefix mass, predictions), computed in the worker with it; or None.
    rollout : Any
        ``vitviz.compute.analysis.RolloutMaps`` of ``inference`` for the rollout options
        it names (replaced when they change), or None.
    class_maps : dict
        Cache of class-specific maps: ``(class_index, method) -> [rows, cols]`` array, for
        the current inference; replaced (never mutated) when it grows.
    busy : bool
        A request is running in the worker.
    status : str
        One-line status for the status bar.
    error : str or None
        The last user-facing error message; None once acknowledged.
    """

    model: LoadedModel | None = None
    image: Any = None
    prepared: Any = None
    inference: Any = None
    analysis: Any = None
    rollout: Any = None
    class_maps: dict = field(default_factory=dict)
    busy: bool = False
    status: str = ""
    error: str | None = None
