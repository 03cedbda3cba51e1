"""Class-specific maps: explicit loops, finite differences through timm, several classes."""

from __future__ import annotations

import pytest
import timm
import torch

from vitviz.compute.class_maps import (
    class_map,
    class_maps,
    class_rows,
)
from vitviz.compute.rollout import RolloutOptions
from vitviz.errors import AnalysisError
from vitviz.vit import from_timm
from vitviz.vit.layout import TokenLayout

LAYOUT = TokenLayout(num_class=1, num_dist=1, num_reg=1, grid=(2, 3))


def random_pair(layout: TokenLayout, layers: int = 3, heads: int = 2, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    n = layout.num_tokens
    shape = (layers, heads, n, n)
    attention = (torch.randn(shape, generator=generator, dtype=torch.float64) * 2).softmax(-1)
    gradient = torch.randn(shape, generator=generator, dtype=torch.float64)
    return attention, gradient


def naive_weighted(attention, gradient, layer):
    heads, n, _ = attention.shape[1:]
    weighted = torch.zeros(heads, n, n, dtype=attention.dtype)
    for head in range(heads):
        for i in range(n):
            for j in range(n):
                value = float(attention[layer, head, i, j] * gradient[layer, head, i, j])
                weighted[head, i, j] = max(value, 0.0)
    return weighted


def naive_relevance(attention, gradient, start, end):
    n = attention.shape[-1]
    relevance = torch.eye(n, dtype=attention.dtype)
    for layer in range(start, end + 1):
        mean = naive_weighted(attention, gradient, layer).mean(0)
        relevance = relevance + mean @ relevance
    return relevance


def naive_grad_rollout(attention, gradient, residual_weight):
    n = attention.shape[-1]
    product = torch.eye(n, dtype=attention.dtype)
    for layer in range(attention.shape[0]):
        fused = naive_weighted(attention, gradient, layer).mean(0)
        factor = (1 - residual_weight) * fused + residual_weight * torch.eye(n, dtype=fused.dtype)
        for i in range(n):
            factor[i] = factor[i] / factor[i].sum()
        product = factor @ product
    return product


def test_relevance_matches_chefer_loop_for_every_query_and_layer_range():
    attention, gradient = random_pair(LAYOUT)
    for start, end in [(0, 2), (1, 2), (0, 0)]:
        expected = naive_relevance(attention, gradient, start, end)
        for query in range(LAYOUT.num_tokens):
            options = RolloutOptions(start_layer=start, end_layer=end)
            rows = class_rows(attention, gradient, LAYOUT, "relevance", options, query=query)
            torch.testing.assert_close(rows, expected[query])
    per_layer = class_rows(attention, gradient, LAYOUT, "relevance", every_layer=True)
    for end in range(3):
        torch.testing.assert_close(per_layer[end], naive_relevance(attention, gradient, 0, end)[0])


@pytest.mark.parametrize("residual_weight", [0.5, 0.9])
def test_grad_rollout_matches_loop(residual_weight):
    attention, gradient = random_pair(LAYOUT)
    expected = naive_grad_rollout(attention, gradient, residual_weight)
    options = RolloutOptions(residual=residual_weight)
    rows = class_rows(attention, gradient, LAYOUT, "grad_rollout", options)
    torch.testing.assert_close(rows, expected[0])


def test_mismatched_gradients_are_refused():
    attention, gradient = random_pair(LAYOUT)
    with pytest.raises(AnalysisError, match="gradient layers"):
        class_rows(attention, gradient[:2], LAYOUT)
    with pytest.raises(AnalysisError, match="does not match"):
        class_rows(attention, gradient[..., :-1], LAYOUT)


def tiny_timm(num_classes: int = 4):
    torch.manual_seed(0)
    model = timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        depth=2,
        embed_dim=32,
        num_heads=2,
        img_size=32,
        patch_size=8,
        num_classes=num_classes,
        dynamic_img_size=True,
    )
    if num_classes:
        # Random init leaves the head at zero: give every class its own scores.
        torch.nn.init.normal_(model.head.weight, std=1.0)
    for block in model.blocks:
        block.attn.fused_attn = False  # attention materialises, so a hook can perturb it
    return model.double().eval()


def finite_difference_gradients(timm_model, x, class_index, shape, eps=1e-6):
    """``∂y_c/∂A_l`` of every ``shape``-d attention entry by central differences, in timm."""
    perturbation: dict[str, object] = {}

    def hook(layer):
        def add(_module, _inputs, output):
            if perturbation.get("layer") == layer:
                output = output.clone()
                output[perturbation["index"]] += perturbation["delta"]
            return output

        return add

    handles = [
        block.attn.attn_drop.register_forward_hook(hook(layer))
        for layer, block in enumerate(timm_model.blocks)
    ]
    gradients = []
    try:
        with torch.no_grad():
            for layer in range(len(timm_model.blocks)):
                gradient = torch.zeros(shape, dtype=torch.float64)
                for index in torch.cartesian_prod(*(torch.arange(s) for s in shape)).tolist():
                    perturbation.update(layer=layer, index=tuple(index), delta=eps)
                    plus = float(timm_model(x)[0, class_index])
                    perturbation.update(delta=-eps)
                    minus = float(timm_model(x)[0, class_index])
                    gradient[tuple(index)] = (plus - minus) / (2 * eps)
                gradients.append(gradient)
    finally:
        for handle in handles:
            handle.remove()
    return gradients


@pytest.fixture(scope="module")
def tiny_models():
    timm_model = tiny_timm()
    return timm_model, from_timm(timm_model).double().eval()


def test_two_classes_differ_and_each_matches_finite_differences(tiny_models):
    timm_model, model = tiny_models
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(1, 3, 16, 24, generator=generator, dtype=torch.float64)  # 2 x 3 patches
    maps = class_maps(model, x, [0, 2])
    assert maps.shape == (1, 2, 2, 3)
    assert not torch.allclose(maps[0, 0], maps[0, 1], rtol=1e-3, atol=1e-6)
    rollout_maps = class_maps(model, x, [0, 2], method="grad_rollout")
    assert not torch.allclose(rollout_maps[0, 0], rollout_maps[0, 1], rtol=1e-6, atol=1e-9)
    with torch.no_grad():
        output = model(x)
    layout = output.layout
    assert layout.grid == (2, 3)
    shape = output.attentions[0].shape  # [1, H, N, N]
    for position, class_index in enumerate([0, 2]):
        gradients = finite_difference_gradients(timm_model, x, class_index, shape)
        # The network's own gradients, layer for layer, match the finite differences ...
        with torch.enable_grad():
            traced = model(x)
            autograd = torch.autograd.grad(traced.logits[0, class_index], traced.attentions)
        for fd, exact in zip(gradients, autograd, strict=True):
            torch.testing.assert_close(exact, fd, rtol=1e-5, atol=1e-7)
        # ... and so do the maps built from them.
        expected = class_rows(output.attentions, gradients, layout)[..., layout.num_prefix :]
        torch.testing.assert_close(maps[0, position].reshape(-1), expected[0], rtol=1e-5, atol=1e-8)
        rows = class_rows(output.attentions, gradients, layout, "grad_rollout")
        expected = rows[..., layout.num_prefix :]
        torch.testing.assert_close(
            rollout_maps[0, position].reshape(-1), expected[0], rtol=1e-5, atol=1e-8
        )


def test_class_map_of_one_image_and_batches(tiny_models):
    _, model = tiny_models
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 32, 16, generator=generator, dtype=torch.float64)  # 4 x 2 patches
    both = class_maps(model, x, [1, 3], renormalize=True)
    assert both.shape == (2, 2, 4, 2)
    torch.testing.assert_close(both.sum((-2, -1)), torch.ones(2, 2, dtype=torch.float64))
    single = class_map(model, x[1], 3, renormalize=True)
    assert single.shape == (4, 2)
    torch.testing.assert_close(single, both[1, 1], rtol=1e-5, atol=1e-7)
    assert class_map(model, x, 1).shape == (2, 4, 2)
    assert all(p.grad is None for p in model.parameters())
    with torch.inference_mode():
        inside = class_map(model, x[1].clone(), 3, renormalize=True)
    torch.testing.assert_close(inside, single)


def test_classes_that_cannot_exist_raise(tiny_models):
    _, model = tiny_models
    x = torch.randn(1, 3, 16, 16, dtype=torch.float64)
    with pytest.raises(AnalysisError, match="does not exist"):
        class_maps(model, x, [4])
    with pytest.raises(AnalysisError, match="method"):
        class_maps(model, x, [0], method="gradcam")
    headless = from_timm(tiny_timm(num_classes=0)).double().eval()
    with pytest.raises(AnalysisError, match="no classifier head"):
        class_map(headless, x, 0)
