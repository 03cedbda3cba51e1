"""Class-specific maps: gradient rollout and Chefer et al.'s relevance, for any class.

Both weight each layer's attention ``A_l`` by the gradient of the class score ``y_c``
with respect to that same layer's attention, keeping the positive part per head:
``G_l = (∇A_l ⊙ A_l)⁺`` (``[H, N, N]``). ``torch.autograd.grad`` returns the gradients in
the order of its ``inputs``, so layer ``l``'s gradient always meets layer ``l``'s
attention (vit-explain's backward hooks collect them in reverse order).

- **relevance** (Chefer et al. 2021, "Generic attention-model explainability"):
  ``R = I; R += mean_h(G_l) · R`` for each layer from ``start_layer`` up, no row
  normalisation (as the authors' code).
- **grad_rollout** (vit-explain): ``G_l`` fused over heads (the positive part taken
  *before* fusing, as in Chefer's formula; vit-explain fuses first), then the rollout
  recipe of :mod:`vitviz.compute.rollout`.

The map is the query's row (class token by default) over the patch columns. Classes share
one forward pass; each costs one backward pass, its gradients dropped once its map is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from vitviz.compute.attention_maps import (
    Attentions,
    Query,
    as_float,
    attention_layers,
    check_tokens,
    fuse_heads,
    patch_columns,
)
from vitviz.compute.predictions import check_class_index
from vitviz.compute.rollout import (
    RolloutOptions,
    chain_rows,
    rollout_factor,
    selected_layers,
    start_vector,
)
from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout

ClassMethod = Literal["relevance", "grad_rollout"]
CLASS_METHODS: tuple[str, ...] = ("relevance", "grad_rollout")


def class_rows(
    attentions: Attentions,
    gradients: Attentions,
    layout: TokenLayout,
    method: ClassMethod = "relevance",
    options: RolloutOptions | None = None,
    *,
    query: Query = None,
    pool_attention: torch.Tensor | None = None,
    every_layer: bool = False,
) -> torch.Tensor:
    """The query's ``[..., N]`` row of a class-specific map (see the module docstring).

    ``gradients`` are the class score's gradients with respect to ``attentions``, layer for
    layer; ``options`` gives the layers taken in (and, for gradient rollout, the rollout
    recipe); the other arguments are those of :func:`vitviz.compute.rollout.rollout_rows`.
    """
    layers, grads = attention_layers(attentions), attention_layers(gradients)
    if [g.shape for g in grads] != [a.shape for a in layers]:
        raise AnalysisError(
            f"the gradient ({len(grads)} gradient layers of {tuple(grads[0].shape)}) does not "
            f"match the attention ({len(layers)} layers of {tuple(layers[0].shape)})"
        )
    check_tokens(layers[0], layout)
    options = options or RolloutOptions()
    chosen = selected_layers(len(layers), options.start_layer, options.end_layer)
    fusion = "mean" if method == "relevance" else options.fusion

    def factor(index: int) -> torch.Tensor:
        # (∇A ⊙ A)⁺ per head, then fused: [..., H, N, N] -> [..., N, N]
        weighted = fuse_heads((as_float(grads[index]) * layers[index]).clamp_min_(0), fusion)
        if method == "grad_rollout":
            return rollout_factor(weighted, options)
        weighted.diagonal(dim1=-2, dim2=-1).add_(1.0)  # no row normalisation (Chefer's code)
        return weighted

    start = start_vector(layout, query, pool_attention=pool_attention, head_fusion=fusion)
    return chain_rows(start, factor, chosen, every_layer=every_layer)


def class_maps(
    model: torch.nn.Module,
    x: torch.Tensor,
    classes: Sequence[int],
    *,
    method: ClassMethod = "relevance",
    options: RolloutOptions | None = None,
    query: Query = None,
    renormalize: bool = False,
) -> torch.Tensor:
    """``[B, K, rows, cols]`` detached maps of ``K`` ``classes`` from one forward pass.

    ``x`` (``[B, 3, H, W]`` or ``[3, H, W]``) is moved to ``model``'s device and dtype; the
    model's parameter gradients are left untouched. A class the model lacks (or a headless
    model) raises :class:`AnalysisError`. ``method``, ``options`` and ``query`` are as in
    :func:`class_rows`; ``renormalize`` renormalises each map over the patches.
    """
    if method not in CLASS_METHODS:
        raise AnalysisError(f"unknown class-map method {method!r}; use {', '.join(CLASS_METHODS)}")
    if x.dim() == 3:
        x = x.unsqueeze(0)  # [1, 3, H, W]
    parameter = next(model.parameters())
    # Gradients even when called under no_grad or inference_mode (an inference tensor
    # cannot enter the graph, so it is copied into a normal one).
    with torch.inference_mode(False), torch.enable_grad():
        x = x.to(device=parameter.device, dtype=parameter.dtype)
        if x.is_inference():
            x = x.clone()
        output = model(x)
        num_classes = 0 if output.logits is None else output.logits.shape[-1]
        classes = [check_class_index(c, num_classes) for c in classes]
        if not output.attentions or not all(a.requires_grad for a in output.attentions):
            raise AnalysisError(
                "the model's attention is not part of the autograd graph, "
                "so class-specific maps cannot be computed"
            )

        maps, attentions, pool = [], output.attentions, output.pool_attention
        for position, index in enumerate(classes):
            score = output.logits[:, index].sum()  # images are independent: one backward
            grads = torch.autograd.grad(score, attentions, retain_graph=position < len(classes) - 1)
            rows = class_rows(
                attentions, grads, output.layout, method, options, query=query, pool_attention=pool
            )
            maps.append(rows.detach())  # [B, N]
            del grads
    rows = torch.stack(maps, dim=-2)  # [B, K, N]
    return patch_columns(rows, output.layout, renormalize=renormalize)  # [B, K, rows, cols]


def class_map(model: torch.nn.Module, x: torch.Tensor, class_index: int, **options) -> torch.Tensor:
    """The class-specific map of one class (see :func:`class_maps` for ``options``).

    ``[rows, cols]`` for one image (``[3, H, W]`` or a batch of one), else ``[B, rows, cols]``.
    """
    maps = class_maps(model, x, [class_index], **options)[:, 0]  # [B, rows, cols]
    return maps[0] if maps.shape[0] == 1 else maps
