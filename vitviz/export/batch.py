"""Export figures for many images: batched preprocessing, inference, analysis, then saving.

One forward pass and the maps per batch, then each image's files one after another. An
image that cannot be read or exported is reported and skipped; the others complete.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch

from vitviz.compute.attention_maps import fuse_heads, patch_columns, query_maps
from vitviz.compute.class_maps import class_maps
from vitviz.compute.head_stats import head_statistics
from vitviz.compute.predictions import class_label
from vitviz.compute.rollout import RolloutOptions, rollout_rows, selected_layers
from vitviz.errors import AnalysisError, VitvizError
from vitviz.export import titles
from vitviz.export.animation import save_layer_animation
from vitviz.export.deck import save_deck
from vitviz.export.figures import attention_distance_figure
from vitviz.export.map_figures import heads_grid_figure, map_image_figure
from vitviz.export.pictures import as_numpy
from vitviz.export.reading import BatchItem, BatchReport, forward_batch, read_batches
from vitviz.export.request import ExportRequest, check_against_model, resolve_class
from vitviz.export.saving import save_figure
from vitviz.export.tokens import parse_query, query_label


class BatchExporter:
    """Exports the files of ``request`` for images into ``out_dir`` (created when missing).

    ``model`` (in eval mode) and its ``spec`` analyse them, named ``model_name`` (default
    ``spec.name``) in the titles. An impossible request is refused here, before any work.
    """

    def __init__(self, model, spec, request: ExportRequest, out_dir, *, model_name=None):
        request.check()
        check_against_model(request, model, spec)
        self.model, self.spec, self.request = model, spec, request
        self.out_dir, self.model_name = Path(out_dir), model_name or spec.name
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise VitvizError(
                f"cannot create the output folder {self.out_dir}: {error.strerror or error}; "
                "choose another --out"
            ) from None

    def run(self, paths, *, batch_size: int = 8, progress: bool = True) -> BatchReport:
        """Export the images ``paths``, ``batch_size`` per forward pass, under a tqdm bar."""
        report, request = BatchReport(), self.request
        reading = (request.preprocess, batch_size, progress, "export")
        for items in read_batches(paths, self.spec, report, *reading):
            try:
                output = forward_batch(self.model, [item.prepared.tensor for item in items])
                batch = self._analyse(output)
            except VitvizError as error:
                for item in items:
                    report.fail(item.source, str(error))
                continue
            for index, item in enumerate(items):
                failures = len(report.failures)
                # One kind failing (e.g. class maps of a headless model) leaves the others done.
                for kind in request.kinds:
                    try:
                        for suffix, write in getattr(self, f"_{kind}")(item, batch, index):
                            path = self.out_dir / f"{item.stem}_{suffix}.{request.fmt}"
                            self._write(write, path)
                            report.written.append(path)
                    except VitvizError as error:
                        report.fail(item.source, f"{kind}: {error}")
                report.done += len(report.failures) == failures
        return report

    def _write(self, write, path: Path) -> None:
        """A figure saved, or a writer (animation, deck) called, at ``path``."""
        try:
            write(path) if callable(write) else save_figure(write, path, self.request.fmt)
        except OSError as error:
            raise VitvizError(f"could not write {path}: {error}") from None

    def _analyse(self, output) -> dict:
        """What the requested kinds need, computed once for the whole batch."""
        request, layout, attentions = self.request, output.layout, output.attentions
        query = parse_query(request.query, layout)
        end = selected_layers(len(attentions), 0, request.layer)[-1]
        fields = (request.fusion, request.discard_ratio, request.residual, request.start_layer, end)
        options = RolloutOptions(*fields)
        batch = {"output": output, "query": query, "layer": end, "options": options}
        if "rollout" in request.kinds:
            batch["rollout_layers"] = selected_layers(len(attentions), request.start_layer, end)
            steps = {"pool_attention": output.pool_attention, "every_layer": request.animated}
            rows = rollout_rows(attentions, layout, options, query=query, **steps)  # [B, (k,) N]
            batch["rollout"] = patch_columns(rows, layout)  # [B, (layers,) rows, cols]
        if {"head", "grid"} & set(request.kinds):
            if query == "pool":
                raise AnalysisError(
                    "the pooling query is not in the blocks' attention; pick a token with --query"
                )
            batch["maps"] = query_maps(attentions, layout, query)  # [B, L, H, rows, cols]
        if "stats" in request.kinds:
            batch["stats"] = head_statistics(attentions, layout, self.spec.patch_size)
        return batch

    def _maps(self, item: BatchItem, maps, names: list[str], label: str = "attention"):
        """``[frames, rows, cols]`` maps as the frames of an animation, or the last as a figure."""
        request, grid, base = self.request, item.prepared.grid, item.picture_base
        options = {"options": request.picture, "label": label}
        if request.animated:
            scale = {"fps": request.fps, "fixed_scale": not request.frame_scale}
            return partial(save_layer_animation, maps, grid, base, names, **options, **scale)
        return map_image_figure(maps[-1], grid, base, title=names[-1], **options)

    def _about(self, item: BatchItem, batch) -> dict:
        """The title parts every map shares: model, query, image."""
        query = query_label(batch["query"], item.prepared.grid.layout)
        return {"model": self.model_name, "query": query, "image": Path(item.source).name}

    def _rollout(self, item: BatchItem, batch, index: int):
        request, layers, about = self.request, batch["rollout_layers"], self._about(item, batch)
        settings = {"fusion": request.fusion, "start_layer": layers[0]}
        settings.update(discard_ratio=request.discard_ratio, residual=request.residual)
        names = [titles.rollout_title(**about, **settings, end_layer=end) for end in layers]
        maps = batch["rollout"][index]  # [rows, cols], or [layers, rows, cols] animated
        yield "rollout", self._maps(item, maps if request.animated else maps[None], names)

    def _head(self, item: BatchItem, batch, index: int):
        request, maps = self.request, batch["maps"][index]  # [L, H, rows, cols]
        if request.head is None:
            maps, suffix = fuse_heads(maps, request.fusion, dim=-3), f"head-{request.fusion}"
        else:
            maps, suffix = maps[:, request.head], f"head{request.head}"  # [L, rows, cols]
        layers = list(range(len(maps))) if request.animated else [batch["layer"]]
        about, head, fusion = self._about(item, batch), request.head, request.fusion
        names = [titles.head_title(**about, layer=n, head=head, fusion=fusion) for n in layers]
        suffix = suffix if request.animated else f"layer{layers[0]}_{suffix}"
        yield suffix, self._maps(item, maps[layers], names)

    def _grid(self, item: BatchItem, batch, index: int):
        request, title = self.request, titles.grid_title(**self._about(item, batch))
        style = {"cmap": request.picture.cmap, "shared_scale": request.shared_scale}
        maps, fusion = batch["maps"][index], request.fusion  # [L, H, rows, cols]
        yield "grid", heads_grid_figure(maps, title=title, fusion=fusion, **style)

    def _stats(self, item: BatchItem, batch, index: int):
        stats, by = batch["stats"], self.request.colour_by
        colour, label = None, ""
        if by == "entropy":
            colour, label = as_numpy(stats.entropy[index]), "attention entropy (nats)"
        elif by == "prefix":  # total mass on the prefix tokens; zero for models without any
            colour = as_numpy(stats.prefix_mass[index].sum(-1))
            label = "attention on prefix tokens"
        title = titles.distance_title(self.model_name, image=Path(item.source).name)
        style = {"colour": colour, "colour_label": label, "cmap": self.request.picture.cmap}
        distance = as_numpy(stats.mean_distance[index])  # [L, H]
        yield "distance", attention_distance_figure(distance, title=title, **style)

    def _deck(self, item: BatchItem, batch, index: int):
        about = {"model_name": self.model_name, "image_name": Path(item.source).name}
        inputs = dict(model=self.model, spec=self.spec, image=item.image, prepared=item.prepared)
        yield "deck", partial(save_deck, **inputs, options=self.request.picture, **about)

    def _class(self, item: BatchItem, batch, index: int):
        request, logits = self.request, batch["output"].logits
        if logits is None:
            raise AnalysisError("this model has no classifier head, so it has no class maps")
        wanted = [resolve_class(c, self.spec.labels, logits.shape[-1]) for c in request.classes]
        wanted = wanted or [int(logits[index].argmax())]  # the image's top-1
        probabilities = torch.softmax(logits[index].float(), dim=-1)  # [C]
        # One forward with gradients, one backward per class: maps [K, rows, cols].
        settings = {"method": request.method, "options": batch["options"], "query": batch["query"]}
        maps = class_maps(self.model, item.prepared.tensor, wanted, **settings)[0]
        for class_map, class_index in zip(maps, wanted, strict=True):
            label = class_label(class_index, self.spec.labels)
            chance, image = float(probabilities[class_index]), Path(item.source).name
            about = {"method": request.method, "probability": chance, "image": image}
            title = titles.class_title(self.model_name, label, index=class_index, **about)
            safe = "".join(ch if ch.isalnum() else "-" for ch in label).strip("-")[:40] or "class"
            figure = self._maps(item, class_map[None], [title], request.method.replace("_", " "))
            yield f"class{class_index}-{safe}_{request.method}", figure
