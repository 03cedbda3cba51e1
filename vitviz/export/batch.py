"""Export figures for many images: batched preprocessing, inference, analysis, then saving.

Images are read and prepared a batch at a time (a tqdm progress bar), the model runs once
per batch with its attention captured, maps are computed for the whole batch on the
attention tensors, and each image's figures are drawn and saved before the next batch is
read. An image that cannot be read, or whose export fails, is reported and skipped; the
others complete, and the :class:`~vitviz.export.reading.BatchReport` says what failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from vitviz.compute.attention_maps import fuse_heads, query_maps
from vitviz.compute.class_maps import class_maps
from vitviz.compute.head_stats import head_statistics
from vitviz.compute.predictions import class_label
from vitviz.compute.rollout import rollout, selected_layers
from vitviz.errors import AnalysisError, VitvizError
from vitviz.export import titles
from vitviz.export.animation import save_layer_animation
from vitviz.export.deck import save_deck
from vitviz.export.figures import attention_distance_figure, map_figure
from vitviz.export.map_figures import heads_grid_figure
from vitviz.export.pictures import as_numpy
from vitviz.export.reading import BatchItem, BatchReport, forward_batch, read_batches
from vitviz.export.request import ExportRequest, check_against_model, resolve_class
from vitviz.export.saving import save_figure
from vitviz.export.tokens import parse_query, query_label


class BatchExporter:
    """Exports the figures of one request for images, a batch at a time.

    Parameters
    ----------
    model : vitviz.vit.VisionTransformer
        The network, in eval mode.
    spec : vitviz.vit.PretrainedSpec
        Its preprocessing, labels and layout.
    request : ExportRequest
        What to export.
    out_dir : str or Path
        Folder the files go to (created when missing).
    model_name : str, optional
        Name in the titles; default ``spec.name``.
    """

    def __init__(self, model, spec, request: ExportRequest, out_dir, *, model_name=None):
        request.check()
        check_against_model(request, model, spec)
        self.model = model
        self.spec = spec
        self.request = request
        self.out_dir = Path(out_dir)
        self.model_name = model_name or spec.name
        self._written: list[Path] = []
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise VitvizError(
                f"cannot create the output folder {self.out_dir}: {error.strerror or error}; "
                "choose another --out"
            ) from None

    def run(
        self, paths: Sequence[str | Path], *, batch_size: int = 8, progress: bool = True
    ) -> BatchReport:
        """Export every image; unreadable ones are reported and skipped.

        Parameters
        ----------
        paths : sequence of str or Path
            Image files.
        batch_size : int
            Images per forward pass.
        progress : bool
            Show a tqdm progress bar (on stderr).

        Returns
        -------
        BatchReport
            Files written and failures.
        """
        report = BatchReport()
        self._written = report.written
        request = self.request
        groups = read_batches(
            paths, self.spec, report, preprocess=request.preprocess, batch_size=batch_size,
            progress=progress, desc="export",
        )  # fmt: skip
        for items in groups:
            try:
                output = forward_batch(self.model, [item.prepared.tensor for item in items])
                analyses = self._analyse(output, items)
            except VitvizError as error:
                for item in items:
                    report.fail(item.source, str(error))
                continue
            for index, item in enumerate(items):
                failed = False
                # One kind failing (e.g. class maps of a headless model) leaves the others done.
                for kind in request.kinds:
                    try:
                        getattr(self, f"_export_{kind}")(item, analyses, index, output)
                    except VitvizError as error:
                        report.fail(item.source, f"{kind}: {error}")
                        failed = True
                report.done += not failed
        return report

    def _analyse(self, output, items: list[BatchItem]) -> dict[str, Any]:
        """Batched maps for every requested kind, computed once per batch."""
        request = self.request
        layout = output.layout
        attentions = output.attentions
        query = parse_query(request.query, layout)
        analyses: dict[str, Any] = {"query": query}
        kinds = set(request.kinds)
        num_layers = len(attentions)
        end = selected_layers(num_layers, 0, request.layer)[-1]
        analyses["layer"] = end
        if "rollout" in kinds:
            layers = selected_layers(num_layers, request.start_layer, end)
            analyses["rollout_layers"] = layers
            analyses["rollout"] = rollout(
                attentions,
                layout,
                query=query,
                pool_attention=output.pool_attention,
                head_fusion=request.fusion,
                discard_ratio=request.discard_ratio,
                residual_weight=request.residual,
                start_layer=request.start_layer,
                end_layer=end,
                every_layer=request.animated,
            )  # [B, rows, cols] or [B, layers, rows, cols]
        if kinds & {"head", "grid"}:
            if query == "pool":
                raise AnalysisError(
                    "the pooling query is not in the blocks' attention; pick a token with --query"
                )
            analyses["maps"] = query_maps(attentions, layout, query)  # [B, L, H, rows, cols]
        if "stats" in kinds:
            analyses["stats"] = head_statistics(attentions, layout, self.spec.patch_size)
        return analyses

    def _path(self, stem: str, suffix: str) -> Path:
        return self.out_dir / f"{stem}_{suffix}.{self.request.fmt}"

    def _save(self, figure, path: Path) -> None:
        self._write(path, lambda: save_figure(figure, path, self.request.fmt))

    def _write(self, path: Path, write) -> None:
        try:
            write()
        except OSError as error:
            raise VitvizError(f"could not write {path}: {error}") from None
        self._written.append(path)

    def _figure(self, item: BatchItem, values, title: str, label: str = "attention"):
        return map_figure(
            values, item.prepared.grid, item.picture_base, title=title,
            options=self.request.picture, label=label,
        )  # fmt: skip

    def _animate(self, maps, frame_titles, item: BatchItem, path: Path) -> None:
        """One frame per map, on one colour scale so that frames compare (or each its own)."""
        self._write(
            path,
            lambda: save_layer_animation(
                maps, item.prepared.grid, item.picture_base, frame_titles, path,
                options=self.request.picture, fps=self.request.fps,
                fixed_scale=not self.request.frame_scale,
            ),
        )  # fmt: skip

    def _query_label(self, analyses, item: BatchItem) -> str:
        return query_label(analyses["query"], item.prepared.grid.layout)

    def _export_rollout(self, item: BatchItem, analyses, index: int, output) -> None:
        request, layers = self.request, analyses["rollout_layers"]
        titled = [
            titles.rollout_title(
                self.model_name, self._query_label(analyses, item), start_layer=layers[0],
                end_layer=end, fusion=request.fusion, discard_ratio=request.discard_ratio,
                residual=request.residual, image=Path(item.source).name,
            )
            for end in layers
        ]  # fmt: skip
        path, maps = self._path(item.stem, "rollout"), analyses["rollout"][index]
        if request.animated:  # maps: [layers, rows, cols], one per end layer
            self._animate(maps, titled, item, path)
        else:
            self._save(self._figure(item, maps, titled[-1]), path)

    def _export_head(self, item: BatchItem, analyses, index: int, output) -> None:
        request, maps = self.request, analyses["maps"][index]  # [L, H, rows, cols]
        if request.head is None:
            maps, suffix = fuse_heads(maps, request.fusion, dim=-3), f"head-{request.fusion}"
        else:
            maps, suffix = maps[:, request.head], f"head{request.head}"  # [L, rows, cols]
        titled = [
            titles.head_title(
                self.model_name, self._query_label(analyses, item), layer=layer,
                head=request.head, fusion=request.fusion, image=Path(item.source).name,
            )
            for layer in range(maps.shape[0])
        ]  # fmt: skip
        if request.animated:
            self._animate(maps, titled, item, self._path(item.stem, suffix))
            return
        layer = analyses["layer"]
        figure = self._figure(item, maps[layer], titled[layer])
        self._save(figure, self._path(item.stem, f"layer{layer}_{suffix}"))

    def _export_grid(self, item: BatchItem, analyses, index: int, output) -> None:
        request, image = self.request, Path(item.source).name
        title = titles.grid_title(self.model_name, self._query_label(analyses, item), image=image)
        figure = heads_grid_figure(
            analyses["maps"][index], title=title, cmap=request.picture.cmap,
            fusion=request.fusion, shared_scale=request.shared_scale,
        )  # fmt: skip
        self._save(figure, self._path(item.stem, "grid"))

    def _export_stats(self, item: BatchItem, analyses, index: int, output) -> None:
        stats = analyses["stats"]
        colour, label = None, ""
        if self.request.colour_by == "entropy":
            colour, label = as_numpy(stats.entropy[index]), "attention entropy (nats)"
        elif self.request.colour_by == "prefix":
            # Total mass on the prefix tokens; zero for models without any.
            colour = as_numpy(stats.prefix_mass[index].sum(-1))
            label = "attention on prefix tokens"
        figure = attention_distance_figure(
            as_numpy(stats.mean_distance[index]),
            title=titles.distance_title(self.model_name, image=Path(item.source).name),
            colour=colour,
            colour_label=label,
            cmap=self.request.picture.cmap,
        )
        self._save(figure, self._path(item.stem, "distance"))

    def _export_deck(self, item: BatchItem, analyses, index: int, output) -> None:
        path = self.out_dir / f"{item.stem}_deck.pdf"
        self._write(
            path,
            lambda: save_deck(
                path, self.model, self.spec, item.image, item.prepared,
                options=self.request.picture, model_name=self.model_name,
                image_name=Path(item.source).name,
            ),
        )  # fmt: skip

    def _export_class(self, item: BatchItem, analyses, index: int, output) -> None:
        request = self.request
        if output.logits is None:
            raise AnalysisError("this model has no classifier head, so it has no class maps")
        num_classes = output.logits.shape[-1]
        wanted = [resolve_class(c, self.spec.labels, num_classes) for c in request.classes]
        wanted = wanted or [int(output.logits[index].argmax())]  # the image's top-1
        probabilities = torch.softmax(output.logits[index].float(), dim=-1)  # [C]
        # One forward with gradients, one backward per class.
        maps = class_maps(
            self.model,
            item.prepared.tensor,
            wanted,
            method=request.method,
            query=analyses["query"],
            start_layer=request.start_layer,
            end_layer=analyses["layer"],
            head_fusion=request.fusion,
            discard_ratio=request.discard_ratio,
            residual_weight=request.residual,
        )[0]  # [K, rows, cols]
        for class_map, class_index in zip(maps, wanted, strict=True):
            label = class_label(class_index, self.spec.labels)
            title = titles.class_title(
                self.model_name, label, index=class_index, method=request.method,
                probability=float(probabilities[class_index]), image=Path(item.source).name,
            )  # fmt: skip
            name = f"class{class_index}-{_safe(label)}_{request.method}"
            figure = self._figure(item, class_map, title, request.method.replace("_", " "))
            self._save(figure, self._path(item.stem, name))


def _safe(label: str) -> str:
    """A class label as a file-name part."""
    return "".join(ch if ch.isalnum() else "-" for ch in label).strip("-")[:40] or "class"
