"""A talk deck: one multi-page PDF a speaker can present from, for one image and model.

16:10 pages: the image with its patch grid, the rollout, the rollout forming layer by
layer, each layer's head-mean attention, the top-3 classes' maps, attention distances.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_pdf import PdfPages

from vitviz.compute.attention_maps import fuse_heads, query_maps
from vitviz.compute.class_maps import class_maps
from vitviz.compute.head_stats import head_statistics
from vitviz.compute.predictions import class_label
from vitviz.compute.rollout import rollout
from vitviz.export import titles
from vitviz.export.figures import attention_distance_figure, slide_figure
from vitviz.export.map_figures import map_image_figure
from vitviz.export.pictures import as_numpy, display_image, draw_map
from vitviz.export.reading import forward_batch
from vitviz.export.styles import SAVE_METADATA, slide_style
from vitviz.export.tokens import query_label

TOP_CLASSES = 3


def _grid_page(image, grid, title: str):
    """The image with the model's patch grid drawn over the region it sees."""
    figure = slide_figure(12, 7.5)
    with slide_style():
        axes = figure.add_subplot()
        height, width = image.shape[:2]
        axes.imshow(image, extent=(0, width, height, 0), interpolation="antialiased")
        sx, sy = width / grid.original_size[1], height / grid.original_size[0]
        boxes = grid.patch_boxes()  # [rows, cols, 4]: left, top, right, bottom (original px)
        xs = np.append(boxes[0, :, 0], boxes[0, -1, 2]) * sx
        ys = np.append(boxes[:, 0, 1], boxes[-1, 0, 3]) * sy
        axes.vlines(xs, ys[0], ys[-1], colors="white", linewidths=0.8, alpha=0.8)
        axes.hlines(ys, xs[0], xs[-1], colors="white", linewidths=0.8, alpha=0.8)
        axes.set(xlim=(0, width), ylim=(height, 0))
        axes.set_axis_off()
        axes.set_title(title, wrap=True)
    return figure


def _panels_page(maps, names, title: str, drawn, label="attention", shared=False):
    """Small multiples of ``maps`` on the image, one colour bar (``shared``) or one each;
    ``drawn`` is the ``(image, grid, options)`` they are drawn with."""
    (image, grid, options), maps = drawn, as_numpy(maps)  # [panels, rows, cols]
    cols = math.ceil(math.sqrt(len(maps) * 1.5))
    figure = slide_figure(12, 7.5)
    low, high = (np.nanmin(maps), np.nanmax(maps)) if shared else (None, None)
    with slide_style():
        cells = figure.subplots(math.ceil(len(maps) / cols), cols, squeeze=False).ravel()
        for axes, values, name in zip(cells, maps, names, strict=False):
            shown = draw_map(axes, values, grid, image, options, vmin=low, vmax=high)
            axes.set_title(name, fontsize="small")
            if shown is not None and not shared:
                figure.colorbar(shown, ax=axes, label=label, location="bottom", shrink=0.8)
        for axes in cells[len(maps) :]:
            axes.set_visible(False)
        if shown is not None and shared:
            figure.colorbar(shown, ax=cells, label=label, shrink=0.8)
        figure.suptitle(title, wrap=True)
    return figure


def save_deck(
    path, model, spec, image, prepared, *, options=None, model_name=None, image_name=""
) -> Path:
    """Write the talk deck of one PIL ``image`` to the PDF ``path``; the path.

    ``model`` (in eval mode) and its ``spec`` run on ``prepared`` (the image's model input
    and patch grid); ``options`` are the maps' :class:`PictureOptions`; ``model_name``
    (default ``spec.name``) and ``image_name`` go into the titles.
    """
    name, grid, picture = model_name or spec.name, prepared.grid, display_image(image)
    about = " · ".join(part for part in (name, image_name) if part)
    output = forward_batch(model, [prepared.tensor])
    layout, depth = output.layout, len(output.attentions)
    query = query_label(None, layout)
    forming = rollout(
        output.attentions, layout, pool_attention=output.pool_attention, every_layer=True
    )[0]  # [L, rows, cols]
    means = fuse_heads(query_maps(output.attentions, layout)[0], "mean", dim=-3)  # [L, r, c]
    means_of = query_label(None if layout.class_index is not None else "patches", layout)
    (ph, pw), (rows, cols), layers = grid.patch_size, layout.grid, range(depth)
    seen = f"{rows} x {cols} patches of {ph} x {pw} pixels, {depth} layers"
    drawn = (picture, grid, options)
    rolled = titles.rollout_title(
        name, query, start_layer=0, end_layer=depth - 1, fusion="mean", image=image_name
    )
    forming_title = f"Attention rollout of {query}, forming layer by layer\n{about}"
    means_title = f"Attention of {means_of}, mean of the heads, layer by layer\n{about}"
    pages = [
        _grid_page(picture, grid, f"{image_name or 'The image'} as {name} sees it\n{seen}"),
        map_image_figure(forming[-1], grid, picture, options=options, title=rolled),
        _panels_page(
            forming, [f"up to layer {n}" for n in layers], forming_title, drawn, shared=True
        ),
        _panels_page(means, [f"layer {n}" for n in layers], means_title, drawn),
    ]
    if output.logits is not None:
        probabilities = torch.softmax(output.logits[0].float(), dim=-1)  # [C]
        top = probabilities.topk(min(TOP_CLASSES, len(probabilities))).indices.tolist()
        names = [f"{class_label(c, spec.labels)} ({probabilities[c]:.1%})" for c in top]
        title = f"Relevance (Chefer et al. 2021) of the top-{len(top)} classes\n{about}"
        maps = class_maps(model, prepared.tensor, top)[0]  # [K, rows, cols]
        pages.append(_panels_page(maps, names, title, drawn, "relevance"))
    distance = head_statistics(output.attentions, layout, spec.patch_size).mean_distance[0]
    title = titles.distance_title(name, image=image_name)
    pages.append(attention_distance_figure(as_numpy(distance), title=title))
    with slide_style(), PdfPages(path, metadata=SAVE_METADATA["pdf"]) as pdf:
        for page in pages:
            pdf.savefig(page)
    return Path(path)
