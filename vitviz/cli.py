"""``vitviz predict | export | models``: vitviz without a window.

Examples::

    vitviz predict photos/ --topk 3 --json
    vitviz export photos/*.jpg --what rollout --format png --out figures/
    vitviz export cat.jpg --what head --layer 5 --head 2 --query 3,7 --format gif --out out/
    vitviz export cat.jpg --what all --style vit-paper --format pdf --out out/
    vitviz export cat.jpg --what deck --format pdf --out talk/
    vitviz models --filter dinov2

A folder among the images stands for the images in it (``vitviz predict photos/``).

Exit status: 0 when everything succeeded; 1 when some images could not be read or
exported (the others are still done; each failure is reported on stderr); 2 when nothing
could be done (bad arguments, a model that does not load, an impossible request, every
image failed); 130 when interrupted.

Layers and heads count from 0 (as timm's ``blocks.N``); negative layers count from the
end. The GUI's entry point hands argument lists starting with a subcommand to :func:`main`.
Heavy modules (torch, timm, matplotlib) are imported by the subcommands, not here.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from vitviz.errors import VitvizError

logger = logging.getLogger(__name__)

SUBCOMMANDS = ("predict", "export", "models")

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # the shell's convention for Ctrl-C

_KIND_CHOICES = ("rollout", "head", "grid", "class", "stats", "deck", "all")
_FORMATS = ("png", "svg", "pdf", "gif", "mp4")


def _out(text) -> None:
    """A line of results on stdout (the command's output, meant to be piped)."""
    sys.stdout.write(f"{text}\n")


def _err(text: str) -> None:
    """A line for the person on stderr (failures, summaries)."""
    sys.stderr.write(f"{text}\n")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "images", nargs="+", metavar="IMAGE", help="image files, or folders of images"
    )
    parser.add_argument(
        "--model",
        default="demo",
        metavar="SOURCE",
        help="'demo' (bundled, default), a timm tag, an hf-hub: id or a checkpoint file",
    )
    parser.add_argument(
        "--arch", default=None, help="timm architecture of a checkpoint file that does not say"
    )
    parser.add_argument(
        "--device", default="auto", help="auto (default: cuda, then mps, then cpu), cuda, cpu ..."
    )
    parser.add_argument(
        "--batch-size", type=int, default=8, metavar="N", help="images per forward pass (8)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``vitviz`` subcommands.

    Returns
    -------
    argparse.ArgumentParser
        Parser with ``predict``, ``export`` and ``models`` subcommands.
    """
    parser = argparse.ArgumentParser(
        prog="vitviz",
        description="See inside Vision Transformers, from the command line.",
        epilog="Run 'vitviz' without a subcommand to open the desktop app.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    predict = commands.add_parser("predict", help="top-k classes of images")
    _add_model_options(predict)
    predict.add_argument("--topk", type=int, default=5, metavar="K", help="classes per image (5)")
    predict.add_argument("--json", action="store_true", help="print JSON instead of text")

    export = commands.add_parser(
        "export",
        help="attention figures and animations of images",
        description="Export attention maps as slide-ready figures (png/svg/pdf) or "
        "layer-by-layer animations (gif/mp4).",
    )
    _add_model_options(export)
    export.add_argument(
        "--what",
        required=True,
        action="append",
        choices=_KIND_CHOICES,
        help="rollout, one head's map, the heads x layers grid, a class-specific map, the "
        "mean-attention-distance plot, all of these, or the talk deck (one multi-page PDF: "
        "--format pdf); repeatable",
    )
    export.add_argument("--format", default="png", choices=_FORMATS, help="file format (png)")
    export.add_argument("--out", required=True, metavar="DIR", help="output folder")
    export.add_argument(
        "--layer", type=int, default=None, help="layer of head maps, last layer of the rollout"
    )
    export.add_argument(
        "--head", type=int, default=None, help="head of head maps (default: heads fused)"
    )
    export.add_argument(
        "--query",
        default=None,
        metavar="TOKEN",
        help="query token: cls, dist, regN, ROW,COL, an index, patches or pool (default cls)",
    )
    export.add_argument(
        "--class",
        dest="classes",
        action="append",
        default=[],
        metavar="C",
        help="class index or name of class maps; repeatable (default: the top-1 class)",
    )
    export.add_argument(
        "--method",
        default="relevance",
        choices=("relevance", "grad_rollout"),
        help="class-specific method (relevance: Chefer et al. 2021)",
    )
    export.add_argument(
        "--fusion", default="mean", choices=("mean", "max", "min"), help="head fusion (mean)"
    )
    export.add_argument(
        "--discard", type=float, default=0.0, help="rollout: fraction of weights discarded"
    )
    export.add_argument(
        "--residual", type=float, default=0.5, help="rollout: weight of the identity (0.5)"
    )
    export.add_argument("--start-layer", type=int, default=0, help="rollout: first layer (0)")
    export.add_argument(
        "--style",
        default="overlay",
        choices=("overlay", "vit-paper"),
        help="colour overlay, or the ViT paper's blurred alpha mask over black",
    )
    export.add_argument("--cmap", default="inferno", help="matplotlib colormap (inferno)")
    export.add_argument("--alpha", type=float, default=0.6, help="overlay opacity (0.6)")
    export.add_argument(
        "--upsampling", default="nearest", choices=("nearest", "bilinear"), help="(nearest)"
    )
    export.add_argument(
        "--preprocess",
        default="crop",
        choices=("crop", "whole", "native"),
        help="checkpoint crop (default), whole image, or native aspect ratio",
    )
    export.add_argument(
        "--shared-scale", action="store_true", help="grid: one colour scale for all heads"
    )
    export.add_argument("--fps", type=float, default=2.0, help="animation frames per second")
    export.add_argument(
        "--frame-scale",
        action="store_true",
        help="animations: a colour scale per frame (default: one scale for all frames)",
    )
    export.add_argument(
        "--colour-by",
        default="head",
        choices=("head", "entropy", "prefix"),
        help="stats: colour points by head (default), attention entropy or prefix-token mass",
    )

    models = commands.add_parser(
        "models", help="supported timm pretrained tags and whether they are downloaded"
    )
    models.add_argument("--filter", default="", metavar="TEXT", help="only tags containing TEXT")
    models.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def _load_model(args):
    from vitviz.vit import load

    return load(args.model, arch=args.arch, device=args.device)


def _readable_suffixes() -> frozenset[str]:
    """File suffixes of the formats Pillow can read (stub formats need extra handlers)."""
    from PIL import Image, ImageFile

    readable = {
        name
        for name, (factory, _) in Image.OPEN.items()
        if not (isinstance(factory, type) and issubclass(factory, ImageFile.StubImageFile))
    }
    return frozenset(ext for ext, name in Image.registered_extensions().items() if name in readable)


def expand_images(paths: Sequence[str]) -> list[str]:
    """The image files named on the command line, with each folder replaced by its images.

    Parameters
    ----------
    paths : sequence of str
        Files and folders as typed; files are kept as they are (a missing or unreadable
        one is reported when it is read).

    Returns
    -------
    list of str
        Files, a folder's images sorted by name (not recursive; hidden files skipped).

    Raises
    ------
    VitvizError
        A folder holds no image Pillow can read.
    """
    images: list[str] = []
    suffixes = None
    for path in paths:
        folder = Path(path)
        if not folder.is_dir():
            images.append(path)
            continue
        suffixes = suffixes or _readable_suffixes()
        found = sorted(
            str(child)
            for child in folder.iterdir()
            if child.is_file()
            and not child.name.startswith(".")
            and child.suffix.lower() in suffixes
        )
        if not found:
            raise VitvizError(
                f"the folder {path} holds no images (files ending in .png, .jpg, .webp, "
                "... that Pillow reads); name image files or a folder of them"
            )
        images += found
    return images


def _check_model_name(source: str) -> None:
    """Refuse a near miss of ``demo`` before seconds are spent on asking timm about it."""
    from vitviz.vit.loading import DEMO_NAME, is_demo, is_hub_id, is_local_path

    if is_demo(source) or is_hub_id(source) or is_local_path(source):
        return
    # No timm model or tag comes this close to "demo" (checked against timm 1.0's names).
    if difflib.get_close_matches(source.strip().lower(), [DEMO_NAME], n=1, cutoff=0.6):
        raise VitvizError(
            f"unknown model {source!r}; did you mean demo (the bundled demo model)? "
            "Other models: a timm tag (vitviz models), an hf-hub: id or a checkpoint file."
        )


def _check_encoder(fmt: str) -> None:
    """Refuse MP4 once, up front, where no ffmpeg can write it."""
    if fmt == "mp4":
        from vitviz.export.animation import require_mp4

        require_mp4()


def _report_failures(report, total: int) -> int:
    """Print each failure and the count; the exit status of a batch ``report``."""
    for image, message in report.failures:
        # Image errors usually start with the path already.
        _err(f"vitviz: {message}" if message.startswith(image) else f"vitviz: {image}: {message}")
    if not report.failures:
        return EXIT_OK
    count = len({image for image, _ in report.failures})
    _err(f"vitviz: {count} of {total} images failed")
    if report.done == 0 and not report.written:
        return EXIT_ERROR
    return EXIT_SOME_FAILED


def _note_demo_on_photos(args, spec, results) -> None:
    """Say once that the demo model's classes say nothing about pictures it was not made for.

    A generated demo sample is a 224 x 224 picture; anything else (a photo) gets the
    note. A photo cropped to exactly that size slips through, which only costs the note.
    """
    from PIL import Image

    from vitviz.demo.dataset import IMAGE_SIZE
    from vitviz.vit.loading import is_demo

    if not is_demo(args.model):
        return
    others = []
    for result in results:
        try:
            with Image.open(result["image"]) as image:
                size = image.size
        except OSError:  # gone since it was read: nothing to note about it
            continue
        if size != (IMAGE_SIZE, IMAGE_SIZE):
            others.append(Path(result["image"]).name)
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        _err(
            f"vitviz: note: the demo model knows only {len(spec.labels)} synthetic shapes "
            f"({', '.join(spec.labels)}) drawn by vitviz.demo, so its classes mean little for "
            f"other pictures ({shown}); for photos use an ImageNet model, e.g. --model "
            "vit_base_patch16_224.augreg2_in21k_ft_in1k"
        )


def _predict(args) -> int:
    from vitviz.export.predict import predict_images

    if args.topk < 1:
        raise VitvizError(f"--topk must be at least 1, got {args.topk}")
    model, spec = _load_model(args)
    results, report = predict_images(
        args.images,
        model,
        spec,
        topk=args.topk,
        batch_size=args.batch_size,
        progress=not args.no_progress,
    )
    if args.json:
        failed = [{"image": image, "error": message} for image, message in report.failures]
        _out(json.dumps({"model": spec.name, "results": results, "failures": failed}, indent=2))
    else:
        for result in results:
            _out(result["image"])
            for rank, guess in enumerate(result["predictions"], start=1):
                _out(f"  {rank}. {guess['label']:<30} {guess['probability']:7.2%}")
            if not result["predictions"]:
                _out(f"  {result.get('note', 'no predictions')}")
        _note_demo_on_photos(args, spec, results)
    return _report_failures(report, len(args.images))


def _export(args) -> int:
    from vitviz.compute.preprocess import PreprocessMode
    from vitviz.export.batch import BatchExporter
    from vitviz.export.pictures import PictureOptions
    from vitviz.export.request import ANIMATED_KINDS, KINDS, ExportRequest
    from vitviz.export.styles import ANIMATION_FORMATS, MapStyle

    kinds = list(dict.fromkeys(args.what))
    # Refuse impossible combinations before spending time on loading the model.
    ExportRequest(kinds=tuple(k for k in kinds if k != "all") or KINDS[:1], fmt=args.format).check()
    model, spec = _load_model(args)
    if "all" in kinds:
        animated = args.format in ANIMATION_FORMATS
        kinds = [
            kind
            for kind in KINDS
            if (kind in ANIMATED_KINDS or not animated)
            and (kind != "class" or spec.num_classes)
            and kind != "deck"
        ]
    request = ExportRequest(
        kinds=tuple(kinds),
        fmt=args.format,
        layer=args.layer,
        head=args.head,
        query=args.query,
        classes=tuple(args.classes),
        method=args.method,
        fusion=args.fusion,
        discard_ratio=args.discard,
        residual=args.residual,
        start_layer=args.start_layer,
        picture=PictureOptions(
            style=MapStyle(args.style),
            cmap=args.cmap,
            alpha=args.alpha,
            upsampling=args.upsampling,
        ),
        shared_scale=args.shared_scale,
        preprocess=PreprocessMode(args.preprocess),
        fps=args.fps,
        frame_scale=args.frame_scale,
        colour_by=args.colour_by,
    )
    exporter = BatchExporter(model, spec, request, args.out)
    report = exporter.run(args.images, batch_size=args.batch_size, progress=not args.no_progress)
    for path in report.written:
        _out(path)
    return _report_failures(report, len(args.images))


def _models(args) -> int:
    from vitviz.vit import is_cached, supported_pretrained_tags

    text = args.filter.lower()
    tags = [tag for tag in supported_pretrained_tags() if text in tag.lower()]
    rows = [{"tag": tag, "cached": is_cached(tag)} for tag in tags]
    if args.json:
        _out(json.dumps(rows, indent=2))
        return EXIT_OK
    width = max((len(tag) for tag in tags), default=0)
    for row in rows:
        _out(f"{row['tag']:<{width}}  {'cached' if row['cached'] else '-'}")
    cached = sum(row["cached"] for row in rows)
    _err(f"{len(rows)} supported tags, {cached} in the local cache")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run a ``vitviz`` subcommand.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments after the program name (``["export", "a.png", ...]``); default
        ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 all done, 1 some images failed, 2 nothing could be done.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    logging.basicConfig(level=logging.ERROR, format="vitviz: %(message)s")
    handler = {"predict": _predict, "export": _export, "models": _models}[args.command]
    try:
        if args.command in ("predict", "export"):
            args.images = expand_images(args.images)
            _check_model_name(args.model)
        if args.command == "export":
            _check_encoder(args.format)
        return handler(args)
    except VitvizError as error:
        _err(f"vitviz: {error}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("vitviz: interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
