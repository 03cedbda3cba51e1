"""Export figures for many images: batched preprocessing, inference, analysis and saving.

Images are read and prepared a batch at a time, the model runs once per batch with its
attention captured, maps are computed for the whole batch on the attention tensors, and
each image's figures are rendered and saved while the next batch's forward pass runs, so
memory holds two batches of attention at most. An image that cannot be read, or whose
export fails, is reported and skipped; the others complete, and the
:class:`~vitviz.export.reading.BatchReport` says what failed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vitviz.compute.attention_maps import fuse_heads, query_maps
from vitviz.compute.class_maps import class_maps
from vitviz.compute.head_stats import head_statistics
from vitviz.compute.predictions import class_label
from vitviz.compute.rollout import rollout, selected_layers
from vitviz.errors import AnalysisError, VitvizError
from vitviz.export import titles
from vitviz.export.animation import save_layer_animation
from vitviz.export.figures import ColourScale, MapFigure, attention_distance_figure
from vitviz.export.map_figures import heads_grid_figure
from vitviz.export.pictures import as_numpy, map_picture
from vitviz.export.reading import BatchItem, BatchReport, forward_batch, read_batches
from vitviz.export.request import ExportRequest, check_against_model, resolve_class
from vitviz.export.saving import FigureSaver
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
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise VitvizError(
                f"cannot create the output folder {self.out_dir}: {error.strerror or error}; "
                "choose another --out"
            ) from None
        # One figure per layout, reused for every image of that layout (same pixels as a
        # fresh figure, without rebuilding axes, colour bar and fonts each time).
        self._layouts: dict[tuple, MapFigure] = {}
        self._saver = FigureSaver()

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
        groups = _on_one_thread(
            read_batches(
                paths,
                self.spec,
                report,
                preprocess=self.request.preprocess,
                batch_size=batch_size,
                progress=progress,
                desc="export",
            )
        )
        saver = self._saver = FigureSaver()
        processed: list[str] = []
        failed: set[str] = set()
        # The next batch's forward pass runs on a worker thread (torch releases the GIL in
        # its kernels) while this batch is analysed, drawn and saved.
        forwards = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vitviz-forward")
        try:
            waiting = None
            for group in chain(groups, [None]):
                started = None if group is None else (group, forwards.submit(self._forward, group))
                if waiting is not None:
                    self._export_group(*waiting, report, failed)
                    processed += [item.source for item in waiting[0]]
                    # PNGs still encoding overlap with the next batch's forward pass.
                    self._collect(saver.collect(wait=False), report, failed)
                waiting = started
            self._collect(saver.collect(wait=True), report, failed)
        finally:
            forwards.shutdown(wait=True, cancel_futures=True)
            saver.close()
        report.done = sum(source not in failed for source in processed)
        return report

    @staticmethod
    def _collect(finished, report: BatchReport, failed: set[str]) -> None:
        for source, path, error in finished:
            if error is None:
                report.written.append(path)
            else:
                report.fail(source, f"could not write {path}: {error}")
                failed.add(source)

    def _forward(self, items: list[BatchItem]):
        return forward_batch(self.model, [item.prepared.tensor for item in items])

    def _export_group(
        self, items: list[BatchItem], forward: Future, report: BatchReport, failed: set[str]
    ) -> None:
        try:
            output = forward.result()
            analyses = self._analyse(output, items)
        except VitvizError as error:
            for item in items:
                report.fail(item.source, str(error))
                failed.add(item.source)
            return
        with _one_thread():
            self._export_items(items, analyses, output, report, failed)

    def _export_items(self, items, analyses, output, report: BatchReport, failed: set[str]):
        for index, item in enumerate(items):
            # One kind failing (e.g. class maps of a headless model) leaves the others done.
            for kind in self.request.kinds:
                try:
                    self._export(kind, item, analyses, index, output)
                except VitvizError as error:
                    report.fail(item.source, f"{kind}: {error}")
                    failed.add(item.source)

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
        with _one_thread():
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
                        "the pooling query is not in the blocks' attention; "
                        "pick a token with --query"
                    )
                analyses["maps"] = query_maps(attentions, layout, query)  # [B, L, H, rows, cols]
            if "stats" in kinds:
                analyses["stats"] = head_statistics(attentions, layout, self.spec.patch_size)
        if "class" in kinds:
            try:
                self._analyse_classes(output, items, analyses)
            except AnalysisError as error:
                # Only the class maps are lost; the other kinds of this batch still export.
                analyses["class_error"] = error
        return analyses

    def _analyse_classes(self, output, items: list[BatchItem], analyses: dict[str, Any]) -> None:
        """Class maps of the batch: one forward with gradients, one backward per class."""
        request = self.request
        if output.logits is None:
            raise AnalysisError(
                "this model has no classifier head, so it has no class-specific maps"
            )
        if request.classes:
            fixed = [
                resolve_class(c, self.spec.labels, output.logits.shape[-1]) for c in request.classes
            ]
            wanted = [fixed] * len(items)
        else:
            wanted = [[int(i)] for i in output.logits.argmax(-1)]  # each image's top-1
        union = sorted({c for classes in wanted for c in classes})
        batch = torch.cat([item.prepared.tensor for item in items])  # [B, 3, H, W]
        analyses["classes"] = wanted
        analyses["class_columns"] = {c: k for k, c in enumerate(union)}
        analyses["class_maps"] = class_maps(
            self.model,
            batch,
            union,
            method=request.method,
            query=analyses["query"],
            start_layer=request.start_layer,
            end_layer=analyses["layer"],
            head_fusion=request.fusion,
            discard_ratio=request.discard_ratio,
            residual_weight=request.residual,
        )  # [B, K, rows, cols]

    def _map_figure(self, picture: np.ndarray, title: str, scale: ColourScale | None):
        key = (picture.shape[:2], title.count("\n"), scale is not None)
        if key not in self._layouts:
            self._layouts[key] = MapFigure(
                picture.shape[:2], title_lines=key[1] + 1, colour_bar=scale is not None
            )
        layout = self._layouts[key]
        layout.show(picture, title, scale)
        return layout

    def _path(self, stem: str, suffix: str) -> Path:
        return self.out_dir / f"{stem}_{suffix}.{self.request.fmt}"

    def _save(self, figure, path: Path, item: BatchItem) -> None:
        """Save a figure, or a :class:`MapFigure` (whose pixels come faster)."""
        if isinstance(figure, MapFigure):
            self._saver.save(figure.figure, path, self.request.fmt, item.source, rgba=figure.rgba)
        else:
            self._saver.save(figure, path, self.request.fmt, item.source)

    def _export(self, kind: str, item: BatchItem, analyses, index: int, output) -> None:
        exporter = {
            "rollout": self._export_rollout,
            "head": self._export_head,
            "grid": self._export_grid,
            "class": self._export_class,
            "stats": self._export_stats,
        }[kind]
        exporter(item, analyses, index, output)

    def _query_label(self, analyses, item: BatchItem) -> str:
        return query_label(analyses["query"], item.prepared.grid.layout)

    def _export_rollout(self, item: BatchItem, analyses, index: int, output) -> None:
        request, grid = self.request, item.prepared.grid
        maps = analyses["rollout"][index]
        layers = analyses["rollout_layers"]

        def title(end_layer: int) -> str:
            return titles.rollout_title(
                self.model_name,
                self._query_label(analyses, item),
                start_layer=layers[0],
                end_layer=end_layer,
                fusion=request.fusion,
                discard_ratio=request.discard_ratio,
                residual=request.residual,
                image=Path(item.source).name,
            )

        path = self._path(item.stem, "rollout")
        if request.animated:
            self._animate(maps, [title(layer) for layer in layers], grid, item, path)
        else:
            picture, scale = map_picture(maps, grid, item.picture_base, request.picture)
            self._save(self._map_figure(picture, title(layers[-1]), scale), path, item)

    def _animate(self, maps, frame_titles, grid, item: BatchItem, path: Path) -> None:
        """One frame per map, on one colour scale so that frames compare."""
        values = as_numpy(maps)
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        rendered = [
            map_picture(m, grid, item.picture_base, self.request.picture, vmin=low, vmax=high)
            for m in values
        ]
        scale = rendered[0][1]
        pictures = [picture for picture, _ in rendered]
        self._saver.write_now(
            item.source,
            path,
            lambda: save_layer_animation(
                pictures, frame_titles, path, scale=scale, fps=self.request.fps
            ),
        )

    def _export_head(self, item: BatchItem, analyses, index: int, output) -> None:
        request, grid = self.request, item.prepared.grid
        maps = analyses["maps"][index]  # [L, H, rows, cols]
        if request.head is None:
            maps = fuse_heads(maps, request.fusion, dim=-3)  # [L, rows, cols]
            suffix = f"head-{request.fusion}"
        else:
            maps = maps[:, request.head]  # [L, rows, cols]
            suffix = f"head{request.head}"
        query = self._query_label(analyses, item)

        def title(layer: int) -> str:
            return titles.head_title(
                self.model_name,
                query,
                layer=layer,
                head=request.head,
                fusion=request.fusion,
                image=Path(item.source).name,
            )

        if request.animated:
            path = self._path(item.stem, suffix)
            frames = [title(layer) for layer in range(maps.shape[0])]
            self._animate(maps, frames, grid, item, path)
            return
        layer = analyses["layer"]
        picture, scale = map_picture(maps[layer], grid, item.picture_base, request.picture)
        figure = self._map_figure(picture, title(layer), scale)
        self._save(figure, self._path(item.stem, f"layer{layer}_{suffix}"), item)

    def _export_grid(self, item: BatchItem, analyses, index: int, output) -> None:
        request = self.request
        figure = heads_grid_figure(
            analyses["maps"][index],  # [L, H, rows, cols]
            title=titles.grid_title(
                self.model_name, self._query_label(analyses, item), image=Path(item.source).name
            ),
            cmap=request.picture.cmap,
            fusion=request.fusion,
            shared_scale=request.shared_scale,
        )
        self._save(figure, self._path(item.stem, "grid"), item)

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
        self._save(figure, self._path(item.stem, "distance"), item)

    def _export_class(self, item: BatchItem, analyses, index: int, output) -> None:
        if "class_error" in analyses:
            raise analyses["class_error"]
        request = self.request
        wanted = analyses["classes"][index]
        probabilities = torch.softmax(output.logits[index].float(), dim=-1)  # [C]
        maps = analyses["class_maps"]  # [B, K, rows, cols] over the batch's classes
        for class_index in wanted:
            label = class_label(class_index, self.spec.labels)
            column = analyses["class_columns"][class_index]
            picture, scale = map_picture(
                maps[index, column],
                item.prepared.grid,
                item.picture_base,
                request.picture,
                label=request.method.replace("_", " "),
            )
            title = titles.class_title(
                self.model_name,
                label,
                index=class_index,
                method=request.method,
                probability=float(probabilities[class_index]),
                image=Path(item.source).name,
            )
            name = f"class{class_index}-{_safe(label)}_{request.method}"
            path = self._path(item.stem, name)
            self._save(self._map_figure(picture, title, scale), path, item)


def _safe(label: str) -> str:
    """A class label as a file-name part."""
    return "".join(ch if ch.isalnum() else "-" for ch in label).strip("-")[:40] or "class"


def _on_one_thread(groups: Iterator[list[BatchItem]]) -> Iterator[list[BatchItem]]:
    """The groups, each read and prepared on one torch thread (see :func:`_one_thread`).

    Images are read while the previous batch's forward pass runs on the worker thread;
    preprocessing's small tensor operations would otherwise wait for its cores.
    """
    while True:
        with _one_thread():
            group = next(groups, None)
        if group is None:
            return
        yield group


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread, then restore the count.

    The analysis is many small operations: on a second thread each waits for a core
    (milliseconds when the machine is busy) for microseconds of work. The forward pass's
    large matrix products keep the full thread count.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
