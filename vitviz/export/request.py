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
    """What to export for every image: ``vitviz export``'s options (``--help`` says each).

    ``kinds`` are any of :data:`KINDS`; ``fmt`` a figure format or an animation format
    (one frame per layer: the rollout forming, or one head's attention). ``layer`` (None:
    the last; negative: from the end) is the head maps' layer and the rollout's last;
    ``head`` None fuses the heads; ``query`` is a token as :mod:`~vitviz.export.tokens`
    reads it; ``classes`` (indices or labels; empty: the top-1 class) are mapped with
    ``method``; ``picture`` holds the map style, colormap, opacity and upsampling.
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
        """Raise a :class:`VitvizError` for a request that cannot be honoured by any model."""
        colormap(self.picture.cmap)  # an unknown name fails here, before any image is read
        if self.colour_by not in COLOUR_BY:
            raise VitvizError(f"cannot colour by {self.colour_by!r}; use one of {COLOUR_BY}")
        unknown = set(self.kinds) - set(KINDS)
        if unknown or not self.kinds:
            raise VitvizError(f"unknown export {sorted(unknown)}; choose from {KINDS}")
        formats = FIGURE_FORMATS + ANIMATION_FORMATS
        if self.fmt not in formats:
            raise VitvizError(f"unknown format {self.fmt!r}; use one of {formats}")
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
    """The index of a class given as an index (``"3"``) or a label (case-insensitive)."""
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
    """Raise an :class:`AnalysisError` for layers, heads, classes, tokens ``model`` lacks."""
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
    for name in request.classes if "class" in request.kinds else ():
        resolve_class(name, spec.labels, spec.num_classes)
    if request.preprocess is not PreprocessMode.NATIVE:
        # Every input has the spec's grid; native inputs are checked image by image.
        parse_query(request.query, spec.layout)
