"""What to export: the request, checked against the model before any work is done."""

from __future__ import annotations

from dataclasses import dataclass, field

from vitviz.compute.predictions import check_class_index
from vitviz.compute.preprocess import PreprocessMode
from vitviz.compute.render import colormap
from vitviz.errors import AnalysisError, VitvizError
from vitviz.export.pictures import PictureOptions
from vitviz.export.styles import ANIMATION_FORMATS, FIGURE_FORMATS
from vitviz.export.tokens import parse_query

KINDS = ("rollout", "head", "grid", "class", "stats", "deck")
COLOUR_BY = ("head", "entropy", "prefix")
ANIMATED_KINDS = ("rollout", "head")


@dataclass(frozen=True)
class ExportRequest:
    """What to export for every image.

    Attributes
    ----------
    kinds : tuple of str
        Any of :data:`KINDS` (``deck``: the talk deck, one multi-page PDF per image).
    fmt : str
        ``png``, ``svg``, ``pdf`` (figures) or ``gif``, ``mp4`` (one frame per layer:
        the rollout forming, or one head's attention layer by layer).
    layer : int or None
        Layer of ``head`` maps and last layer of the rollout; None for the last block;
        negative counts from the end.
    head : int or None
        Head of ``head`` maps; None fuses the heads with ``fusion``.
    query : str or None
        Query token as text (see :mod:`vitviz.export.tokens`); None for the default.
    classes : tuple of str
        Classes of ``class`` maps, as indices or label names; empty for the top-1 class.
    method : str
        Class-specific method: ``relevance`` or ``grad_rollout``.
    fusion : str
        Head fusion of the rollout and of fused head maps.
    discard_ratio, residual : float
        Rollout settings (see :mod:`vitviz.compute.rollout`).
    start_layer : int
        First block of the rollout.
    picture : PictureOptions
        Map style, colormap, opacity and upsampling.
    shared_scale : bool
        One colour scale for all thumbnails of the grid.
    preprocess : PreprocessMode
        How images are fitted to the model.
    fps : float
        Frames per second of animations.
    frame_scale : bool
        Give each frame of an animation its own colour scale (default: one for all).
    colour_by : str
        Colour of the points of the attention-distance plot: one of :data:`COLOUR_BY`
        (head index as in the ViT paper, attention entropy, or mass on prefix tokens).
    """

    kinds: tuple[str, ...] = ("rollout",)
    fmt: str = "png"
    layer: int | None = None
    head: int | None = None
    query: str | None = None
    classes: tuple[str, ...] = ()
    method: str = "relevance"
    fusion: str = "mean"
    discard_ratio: float = 0.0
    residual: float = 0.5
    start_layer: int = 0
    picture: PictureOptions = field(default_factory=PictureOptions)
    shared_scale: bool = False
    preprocess: PreprocessMode = PreprocessMode.CROP
    fps: float = 2.0
    frame_scale: bool = False
    colour_by: str = "head"

    @property
    def animated(self) -> bool:
        """Whether the format is an animation."""
        return self.fmt in ANIMATION_FORMATS

    def check(self) -> None:
        """Refuse requests that cannot be honoured, before any work is done.

        Raises
        ------
        VitvizError
            Unknown kind, format or colormap, or a kind that has no animation.
        """
        colormap(self.picture.cmap)  # an unknown name fails here, before any image is read
        if self.colour_by not in COLOUR_BY:
            raise VitvizError(f"cannot colour by {self.colour_by!r}; use one of {COLOUR_BY}")
        unknown = set(self.kinds) - set(KINDS)
        if unknown or not self.kinds:
            raise VitvizError(f"unknown export {sorted(unknown)}; choose from {KINDS}")
        if self.fmt not in FIGURE_FORMATS + ANIMATION_FORMATS:
            raise VitvizError(
                f"unknown format {self.fmt!r}; use one of {FIGURE_FORMATS + ANIMATION_FORMATS}"
            )
        if "deck" in self.kinds and self.fmt != "pdf":
            raise VitvizError("the talk deck is one multi-page PDF: export it with --format pdf")
        still = [kind for kind in self.kinds if kind not in ANIMATED_KINDS]
        if self.animated and still:
            raise VitvizError(
                f"{', '.join(still)} cannot be animated; animations ({self.fmt}) step through "
                f"the layers of {' or '.join(ANIMATED_KINDS)}: export the others as png, svg "
                "or pdf"
            )


def resolve_class(name: str | int, labels, num_classes: int) -> int:
    """A class given by index or by label name (case-insensitive) as a class index.

    Parameters
    ----------
    name : str or int
        ``"3"``, ``3`` or ``"star"``.
    labels : sequence of str or None
        The model's class names.
    num_classes : int
        Number of classes of the model.

    Returns
    -------
    int
        The class index.

    Raises
    ------
    AnalysisError
        No such class.
    """
    text = str(name).strip()
    if text.lstrip("-").isdigit():
        return check_class_index(int(text), num_classes)
    lowered = [label.lower() for label in labels or ()]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    known = ", ".join(labels[:12]) + (" ..." if len(labels) > 12 else "") if labels else ""
    raise AnalysisError(
        f"unknown class {text!r}; give a class index (0..{num_classes - 1})"
        + (f" or a label: {known}" if known else "")
    )


def check_against_model(request: ExportRequest, model, spec) -> None:
    """Refuse layers, heads, classes and query tokens the model does not have.

    Parameters
    ----------
    request : ExportRequest
        The request.
    model : vitviz.vit.VisionTransformer
        The network (its depth and heads).
    spec : vitviz.vit.PretrainedSpec
        Its labels and token layout.

    Raises
    ------
    AnalysisError
        Saying what does not exist and what does.
    """
    depth, heads = model.config.depth, model.config.num_heads
    for name, layer in (("--layer", request.layer), ("--start-layer", request.start_layer)):
        if layer is not None and not -depth <= layer < depth:
            raise AnalysisError(
                f"{name} {layer} does not exist: the model has {depth} layers (0..{depth - 1}, "
                "or negative from the end)"
            )
    if request.head is not None and not 0 <= request.head < heads:
        raise AnalysisError(
            f"head {request.head} does not exist: the model has {heads} heads per layer "
            f"(0..{heads - 1})"
        )
    if "class" in request.kinds and not spec.num_classes:
        raise AnalysisError("this model has no classifier head, so it has no class-specific maps")
    if "class" in request.kinds and request.classes:
        for name in request.classes:
            resolve_class(name, spec.labels, spec.num_classes)
    if request.preprocess is not PreprocessMode.NATIVE:
        # Every input has the spec's grid; native inputs are checked image by image.
        parse_query(request.query, spec.layout)
