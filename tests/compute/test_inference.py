"""Inference: compact storage of attention, logits and norms from one forward pass."""

from __future__ import annotations

import pytest
import timm
import torch

from vitviz.compute.inference import run_inference
from vitviz.vit import from_timm


def tiny_timm(**kwargs):
    options = {
        "pretrained": False,
        "depth": 2,
        "embed_dim": 32,
        "num_heads": 2,
        "img_size": 32,
        "patch_size": 8,
        "num_classes": 5,
        "dynamic_img_size": True,
    }
    options.update(kwargs)
    name = options.pop("name", "vit_tiny_patch16_224")
    torch.manual_seed(0)
    return timm.create_model(name, **options).eval()


@pytest.fixture(scope="module")
def reference():
    model = tiny_timm(reg_tokens=2)
    return model, from_timm(model).eval()


def test_stores_every_layer_in_half_precision_on_the_cpu(reference):
    timm_model, model = reference
    x = torch.randn(2, 3, 16, 40)  # non-square: a 2 x 5 grid
    result = run_inference(model, x)
    assert result.attentions.shape == (2, 2, 2, 3 + 10, 3 + 10)
    assert result.attentions.dtype == torch.float16
    assert result.attentions.device.type == "cpu"
    assert result.layout.grid == (2, 5)
    with torch.no_grad():
        output = model(x)
        expected_logits = timm_model(x)
    exact = torch.stack(output.attentions, 1)  # [B, L, H, N, N]
    torch.testing.assert_close(result.attentions.float(), exact, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(result.logits, expected_logits, atol=1e-5, rtol=1e-5)
    assert result.token_norms.shape == (2, 2, 13)
    assert result.pool_attention is None
    assert not result.attentions.requires_grad
    assert not result.attentions.is_inference()
    assert set(result.timings) == {"forward", "store", "total"}
    assert all(value >= 0 for value in result.timings.values())


def test_single_image_and_full_precision_storage(reference):
    _, model = reference
    result = run_inference(model, torch.randn(3, 32, 32), attention_dtype=torch.float32)
    assert result.attentions.shape == (1, 2, 2, 19, 19)
    assert result.attentions.dtype == torch.float32
    torch.testing.assert_close(result.attentions.sum(-1), torch.ones(1, 2, 2, 19))


def test_headless_and_latent_pooling_models():
    headless = from_timm(tiny_timm(num_classes=0)).eval()
    result = run_inference(headless, torch.randn(1, 3, 32, 32))
    assert result.logits is None
    pooled = from_timm(tiny_timm(class_token=False, global_pool="map")).eval()
    result = run_inference(pooled, torch.randn(1, 3, 32, 32))
    assert result.layout.pool_query
    assert result.layout.num_prefix == 0
    assert result.pool_attention.shape[-1] == 16
    assert result.pool_attention.dtype == torch.float32
