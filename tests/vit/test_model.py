"""Our network on its own: the attention maths, the result object, sizes, dtypes, errors."""

from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

from vitviz.errors import AnalysisError, ModelLoadError, UnsupportedModelError
from vitviz.vit import TokenKind, VisionTransformer, ViTConfig, from_timm
from vitviz.vit.attention import Attention, attention_probabilities, diff_lambda
from vitviz.vit.checkpoints import check_fit

# DESIGN.md's hand-checkable case: 3 tokens, d = 4 -> 3, unscaled dot-product attention.
X = torch.tensor([[1.0, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1]])
W_Q = torch.tensor([[1.0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 1]])
W_K = torch.tensor([[0.0, 0, 1], [1, 1, 0], [0, 1, 0], [1, 1, 0]])
W_V = torch.tensor([[0.0, 2, 0], [0, 3, 0], [1, 0, 3], [1, 1, 0]])
SCORES = torch.tensor([[2.0, 4, 4], [4, 16, 12], [4, 12, 10]])
OUTPUTS = torch.tensor(
    [[1.9366, 6.6831, 1.5951], [2.0000, 7.9640, 0.0540], [1.9997, 7.7599, 0.3584]]
)

SMALL = {"embed_dim": 32, "num_heads": 4, "depth": 2, "img_size": (32, 48), "num_classes": 5}


def small_model(**overrides) -> VisionTransformer:
    torch.manual_seed(0)
    model = VisionTransformer(ViTConfig(**{**SMALL, **overrides})).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, 0.3)
    return model


def test_unscaled_attention_matches_the_hand_computed_example():
    q, k, v = X @ W_Q, X @ W_K, X @ W_V
    assert torch.equal(q @ k.T, SCORES)
    attn = attention_probabilities(q, k, scale=1.0)
    assert torch.allclose(attn[0], torch.tensor([0.0634, 0.4683, 0.4683]), atol=1e-4)
    assert torch.allclose(attn.sum(-1), torch.ones(3))
    assert torch.allclose(attn @ v, OUTPUTS, atol=1e-4)


def test_attention_module_scales_scores_by_inverse_sqrt_head_dim():
    # One head of width 4: the example's 4 -> 3 projections padded with a zero column.
    attention = Attention(ViTConfig(embed_dim=4, num_heads=1, qkv_bias=False))
    pad = torch.zeros(4, 1)
    with torch.no_grad():
        attention.qkv.weight.copy_(torch.cat([W_Q, pad, W_K, pad, W_V, pad], dim=1).T)
        attention.proj.weight.copy_(torch.eye(4))
        attention.proj.bias.zero_()
    out, attn = attention(X[None])
    expected_attn = torch.softmax(SCORES / 2.0, dim=-1)  # sqrt(head_dim = 4) = 2
    assert torch.allclose(attn[0, 0], expected_attn, atol=1e-6)
    assert torch.allclose(out[0, :, :3], expected_attn @ (X @ W_V), atol=1e-5)
    assert torch.all(out[0, :, 3] == 0)


def test_forward_returns_attention_norms_and_layout_of_the_actual_input():
    model = small_model(reg_tokens=4)
    image = torch.randn(2, 3, 48, 32)  # 3 x 2 patches: not the 2 x 3 it was built for
    result = model(image)
    layout = result.layout
    assert layout.grid == (3, 2)
    assert (layout.num_class, layout.num_reg, layout.num_tokens) == (1, 4, 11)
    assert layout.kind(1) is TokenKind.REGISTER
    assert result.logits.shape == (2, 5)
    assert result.embedding.shape == (2, 32)
    assert len(result.attentions) == len(result.token_norms) == 2
    for attn, norms in zip(result.attentions, result.token_norms, strict=True):
        assert attn.shape == (2, 4, 11, 11)
        assert torch.allclose(attn.sum(-1), torch.ones(2, 4, 11), atol=1e-6)
        assert norms.shape == (2, 11)
        assert torch.all(norms > 0)
    assert result.pool_attention is None


def test_token_norms_are_the_l2_norms_of_each_block_output():
    model = small_model(final_norm=False)
    image = torch.randn(1, 3, 32, 48)
    outputs = []
    model.blocks[-1].register_forward_hook(lambda _m, _i, out: outputs.append(out[0]))
    result = model(image)
    assert torch.allclose(result.token_norms[-1], outputs[0].norm(dim=-1))


@pytest.mark.parametrize(
    "structure",
    [
        {},
        {"attn_layer": "diff"},
        {"block_fn": "parallel", "qkv_bias": False},
        {"block_fn": "diff_parallel"},
        {"global_pool": "map", "class_token": False},
    ],
    ids=["block", "diff", "parallel", "diff_parallel", "map"],
)
def test_capture_off_gives_the_same_logits_through_the_fused_kernel(structure):
    model = small_model(**structure)
    image = torch.randn(2, 3, 32, 48)
    with torch.no_grad():
        captured = model(image)
        fused = model(image, capture=False)
    assert fused.attentions == ()
    assert fused.token_norms == ()
    assert fused.pool_attention is None
    scale = captured.logits.abs().max()
    assert torch.allclose(fused.logits, captured.logits, atol=1e-5 * scale)


def test_attention_is_in_the_autograd_graph_for_class_specific_maps():
    model = small_model()
    result = model(torch.randn(1, 3, 32, 48))
    grads = torch.autograd.grad(result.logits[0, 2], result.attentions)
    assert len(grads) == 2
    assert all(
        grad.shape == attn.shape for grad, attn in zip(grads, result.attentions, strict=True)
    )
    assert all(grad.abs().sum() > 0 for grad in grads)


def test_no_grad_keeps_attention_out_of_the_graph():
    model = small_model()
    with torch.no_grad():
        result = model(torch.randn(1, 3, 32, 48))
    assert not any(attn.requires_grad for attn in result.attentions)


def test_headless_model_returns_its_pooled_embedding_and_no_logits():
    model = small_model(num_classes=0, class_token=False, global_pool="avg")
    result = model(torch.randn(2, 3, 32, 48))
    assert result.logits is None
    assert result.embedding.shape == (2, 32)
    assert result.layout.class_index is None


def test_latent_query_pooling_returns_its_attention_over_the_whole_sequence():
    model = small_model(global_pool="map", class_token=False, reg_tokens=1)
    result = model(torch.randn(2, 3, 32, 48))
    assert result.layout.pool_query
    pool = result.pool_attention
    assert pool.shape == (2, 4, 1, result.layout.num_tokens)
    assert torch.all(pool[..., :1] == 0)  # the register token is not pooled
    assert torch.allclose(pool.sum(-1), torch.ones(2, 4, 1), atol=1e-6)


def test_differential_attention_returns_the_effective_map():
    model = small_model(attn_layer="diff", init_values=0.5)
    result = model(torch.randn(1, 3, 32, 48))
    attention = model.blocks[0].attn
    lam = diff_lambda(attention).item()
    # softmax1 - lambda * softmax2: every row sums to 1 - lambda.
    assert torch.allclose(result.attentions[0].sum(-1), torch.full((1, 4, 7), 1 - lam), atol=1e-5)


def test_distilled_logits_are_the_mean_of_both_heads():
    model = small_model(distilled=True)
    result = model(torch.randn(1, 3, 32, 48))
    assert result.layout.kind(1) is TokenKind.DISTILLATION
    outputs = {}
    model.norm.register_forward_hook(lambda _m, _i, out: outputs.setdefault("tokens", out))
    result = model(torch.randn(1, 3, 32, 48))
    tokens = outputs["tokens"]
    expected = (model.head(tokens[:, 0]) + model.head_dist(tokens[:, 1])) / 2
    assert torch.allclose(result.logits, expected)


def test_input_not_divisible_by_the_patch_is_refused_with_advice():
    model = small_model()
    with pytest.raises(AnalysisError, match="multiple of the patch size"):
        model(torch.randn(1, 3, 33, 48))
    with pytest.raises(AnalysisError, match="image tensor"):
        model(torch.randn(1, 1, 32, 48))


def test_layout_for_rows_first():
    model = small_model()
    assert model.layout_for(64, 32).grid == (4, 2)
    assert model.patch_size == (16, 16)


def test_bfloat16_forward_stays_close_to_float32():
    model = small_model()
    image = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        reference = model(image)
        low = model.to(torch.bfloat16)(image.to(torch.bfloat16))
    assert low.logits.dtype == torch.bfloat16
    assert torch.allclose(low.attentions[-1].float(), reference.attentions[-1], atol=0.05)
    assert torch.allclose(
        low.logits.float(), reference.logits, atol=0.1 * reference.logits.abs().max()
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (fp16 runs on GPU)")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_on_gpu(dtype):
    model = small_model().cuda()
    image = torch.randn(1, 3, 32, 48, device="cuda")
    with torch.no_grad():
        reference = model(image)
        low = model.to(dtype)(image.to(dtype))
    assert low.logits.dtype == dtype
    assert torch.allclose(
        low.logits.float(), reference.logits, atol=0.1 * reference.logits.abs().max()
    )


def test_config_round_trips_through_json_and_refuses_unknown_fields():
    config = ViTConfig(**SMALL, reg_tokens=4, global_pool="avg", fc_norm=True)
    assert ViTConfig.from_dict(config.to_dict()) == config
    with pytest.raises(UnsupportedModelError, match="bogus"):
        ViTConfig.from_dict({**config.to_dict(), "bogus": 1})
    with pytest.raises(UnsupportedModelError, match="act_layer"):
        ViTConfig(act_layer="relu6")
    with pytest.raises(UnsupportedModelError, match="class token"):
        ViTConfig(class_token=False, global_pool="token")
    with pytest.raises(UnsupportedModelError, match="register tokens"):
        ViTConfig(distilled=True, reg_tokens=4)


def test_from_timm_keeps_dtype_mode_and_copies_weights():
    reference = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=1, img_size=32)
    ours = from_timm(reference.eval())
    assert not ours.training
    assert ours.config.depth == 1
    assert ours.config.img_size == (32, 32)
    with torch.no_grad():
        reference.cls_token.add_(1.0)
    assert not torch.equal(ours.cls_token, reference.cls_token)


def test_from_timm_refuses_other_model_families_by_name():
    resnet = timm.create_model("resnet18", pretrained=False, device="meta")
    with pytest.raises(UnsupportedModelError, match="not a VisionTransformer"):
        from_timm(resnet)


def test_from_timm_refuses_unsupported_pooling():
    model = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, depth=1, global_pool="", device="meta"
    )
    with pytest.raises(UnsupportedModelError, match="global_pool"):
        from_timm(model)


def test_weights_that_do_not_fit_are_refused_with_the_keys():
    model = small_model()
    state = dict(model.state_dict())
    state["blocks.9.attn.qkv.weight"] = state.pop("blocks.1.attn.qkv.weight")
    state["head.weight"] = torch.zeros(7, 32)
    with pytest.raises(ModelLoadError) as error:
        check_fit(model.state_dict(), state, source="my.safetensors", target="it", advice="")
    message = str(error.value)
    assert "1 key missing from the file: blocks.1.attn.qkv.weight" in message
    assert "1 key not in the network: blocks.9.attn.qkv.weight" in message
    assert "head.weight (file (7, 32), network (5, 32))" in message


def test_disabled_parts_are_identity_modules():
    model = small_model(final_norm=False)
    assert isinstance(model.norm, nn.Identity)
    assert isinstance(model.blocks[0].ls1, nn.Identity)
    assert isinstance(model.blocks[0].attn.q_norm, nn.Identity)
