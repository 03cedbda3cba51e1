"""A talk deck: one multi-page PDF a speaker can present from, for one image and model.

Pages (16:10 slides): the image with its patch grid; the rollout; the rollout forming
layer by layer; each layer's head-mean attention of the query; the class maps of the
top-3 predictions side by side; the mean-attention-distance plot. ``vitviz export IMAGE
--what deck --format pdf`` and the GUI's File -> Export talk deck write it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_pdf import PdfPages
from PIL import Image

from vitviz.compute.attention_maps import fuse_heads, query_maps
from vitviz.compute.class_maps import class_maps
from vitviz.compute.head_stats import head_statistics
from vitviz.compute.predictions import class_label
from vitviz.compute.preprocess import Prepared
from vitviz.compute.rollout import rollout
from vitviz.export import titles
from vitviz.export.figures import attention_distance_figure, map_figure, slide_figure
from vitviz.export.pictures import (
    DEFAULT_OPTIONS,
    PictureOptions,
    as_numpy,
    display_image,
    draw_map,
)
from vitviz.export.reading import forward_batch
from vitviz.export.styles import SAVE_METADATA, slide_style
from vitviz.export.tokens import query_label

TOP_CLASSES = 3


def _grid_page(image, prepared, title: str, depth: int):
    """The image with the model's patch grid drawn over the region it sees."""
    grid = prepared.grid
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
        (ph, pw), (rows, cols) = grid.patch_size, grid.layout.grid
        axes.set_title(
            f"{title}\n{rows} x {cols} patches of {ph} x {pw} pixels, {depth} layers", wrap=True
        )
    return figure


def _panels_page(panels, image, grid, title: str, options: PictureOptions, shared: bool):
    """Small multiples of maps on the image: ``panels`` is a list of (title, map, label)."""
    cols = math.ceil(math.sqrt(len(panels) * 1.5))
    rows = math.ceil(len(panels) / cols)
    figure = slide_figure(12, 7.5)
    values = [as_numpy(map_grid) for _, map_grid, _ in panels]
    low, high = (float(np.nanmin(values)), float(np.nanmax(values))) if shared else (None, None)
    with slide_style():
        cells = figure.subplots(rows, cols, squeeze=False).ravel()
        for axes, (name, _, label), map_grid in zip(cells, panels, values, strict=False):
            shown = draw_map(axes, map_grid, grid, image, options, vmin=low, vmax=high)
            axes.set_title(name, fontsize="small")
            if shown is not None and not shared:
                figure.colorbar(shown, ax=axes, label=label, location="bottom", shrink=0.8)
        for axes in cells[len(panels) :]:
            axes.set_visible(False)
        if shown is not None and shared:
            figure.colorbar(shown, ax=cells, label=panels[0][2], shrink=0.8)
        figure.suptitle(title, wrap=True)
    return figure


def save_deck(
    path: str | Path,
    model,
    spec,
    image: Image.Image,
    prepared: Prepared,
    *,
    options: PictureOptions = DEFAULT_OPTIONS,
    model_name: str | None = None,
    image_name: str = "",
) -> Path:
    """Write the talk deck of one image as a multi-page PDF.

    Parameters
    ----------
    path : str or Path
        Destination ``.pdf``.
    model : vitviz.vit.VisionTransformer
        The network, in eval mode.
    spec : vitviz.vit.PretrainedSpec
        Its labels and patch size.
    image : PIL.Image.Image
        The original RGB image.
    prepared : Prepared
        The image prepared for the model (its input and patch grid).
    options : PictureOptions
        Style, colormap, opacity, upsampling of the maps.
    model_name : str, optional
        Name in the titles; default ``spec.name``.
    image_name : str
        The image's name in the titles.

    Returns
    -------
    Path
        The written file.
    """
    name, grid = model_name or spec.name, prepared.grid
    about = " · ".join(part for part in (name, image_name) if part)
    picture = display_image(image)
    output = forward_batch(model, [prepared.tensor])
    layout, depth = output.layout, len(output.attentions)
    query = query_label(None, layout)
    forming = rollout(
        output.attentions, layout, pool_attention=output.pool_attention, every_layer=True
    )[0]  # [L, rows, cols]
    rollout_title = titles.rollout_title(
        name, query, start_layer=0, end_layer=depth - 1, fusion="mean", image=image_name
    )
    pages = [
        _grid_page(picture, prepared, f"{image_name or 'The image'} as {name} sees it", depth),
        map_figure(forming[-1], grid, picture, title=rollout_title, options=options),
        _panels_page(
            [(f"up to layer {layer}", m, "attention") for layer, m in enumerate(forming)],
            picture, grid, f"Attention rollout of {query}, forming layer by layer\n{about}",
            options, shared=True,
        ),
    ]  # fmt: skip
    means = fuse_heads(query_maps(output.attentions, layout)[0], "mean", dim=-3)  # [L, r, c]
    panels = [(f"layer {layer}", m, "attention") for layer, m in enumerate(means)]
    label = query_label(None if layout.class_index is not None else "patches", layout)
    title = f"Attention of {label}, mean of the heads, layer by layer\n{about}"
    pages.append(_panels_page(panels, picture, grid, title, options, shared=False))
    if output.logits is not None:
        probabilities = torch.softmax(output.logits[0].float(), dim=-1)  # [C]
        top = probabilities.topk(min(TOP_CLASSES, len(probabilities))).indices.tolist()
        maps = class_maps(model, prepared.tensor, top)[0]  # [K, rows, cols]
        panels = [
            (f"{class_label(c, spec.labels)} ({probabilities[c]:.1%})", maps[k], "relevance")
            for k, c in enumerate(top)
        ]
        title = f"Relevance (Chefer et al. 2021) of the top-{len(top)} classes\n{about}"
        pages.append(_panels_page(panels, picture, grid, title, options, shared=False))
    stats = head_statistics(output.attentions, layout, spec.patch_size)
    distance = as_numpy(stats.mean_distance[0])
    pages.append(
        attention_distance_figure(distance, title=titles.distance_title(name, image=image_name))
    )
    path = Path(path)
    with slide_style(), PdfPages(path, metadata=SAVE_METADATA["pdf"]) as pdf:
        for page in pages:
            pdf.savefig(page)
    return path
