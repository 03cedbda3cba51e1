"""Structured starting weights of the demo ViT."""

import timm
import torch

from training.demo_model.initialization import (
    dct_patch_filters,
    mimetic_attention_,
    structured_init_,
)


def test_dct_filters_are_orthonormal_and_start_with_the_colour_means():
    filters = dct_patch_filters(48, 8)
    assert filters.shape == (48, 3, 8, 8)
    flat = filters.flatten(1)
    assert torch.allclose(flat @ flat.T, torch.eye(48), atol=1e-5)
    # The first filter is the constant luminance patch: it measures mean brightness.
    assert torch.allclose(filters[0], torch.full((3, 8, 8), filters[0, 0, 0, 0].item()))


def _tiny_vit():
    return timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, num_classes=10, depth=2, img_size=64
    )


def test_mimetic_attention_makes_query_key_near_identity_and_value_output_near_minus():
    model = _tiny_vit()
    mimetic_attention_(model.blocks, torch.Generator().manual_seed(0))
    dim = model.embed_dim
    attn = model.blocks[1].attn
    w_q, w_k, w_v = attn.qkv.weight.split(dim)
    scores = w_q.T @ w_k  # [D, D]
    values = w_v.T @ attn.proj.weight.T  # [D, D]
    assert abs(scores.diagonal().mean().item() - 0.7) < 0.05
    assert abs(values.diagonal().mean().item() + 0.4) < 0.05
    assert (scores - torch.diag(scores.diagonal())).abs().mean() < 0.1


def test_structured_init_is_seeded_and_runs():
    a, b = _tiny_vit(), _tiny_vit()
    structured_init_(a, (4, 4), seed=3)
    structured_init_(b, (4, 4), seed=3)
    assert torch.equal(a.blocks[0].attn.qkv.weight, b.blocks[0].attn.qkv.weight)
    assert torch.equal(a.pos_embed[:, 1:], b.pos_embed[:, 1:])  # the class row stays random
    assert a(torch.zeros(1, 3, 64, 64)).isfinite().all()
