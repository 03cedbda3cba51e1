"""Parity with timm for every plain-patch ViT architecture that timm has weights for.

The architectures are enumerated from timm itself (pretrained tags → architectures whose
entrypoint builds ``VisionTransformer`` / ``VisionTransformerDistilled``), not listed by
hand. Each is shrunk to two blocks and a 2x3-patch image, its random timm weights are
pushed away from their init (norms, LayerScale, tokens, lambdas included, so a mapping
mistake cannot hide behind a constant), and our network must reproduce timm's logits and
every block's attention (timm's unfused path, read by hooks) to 1e-5.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass

import pytest
import timm
import torch
from timm.layers import GluMlp, PatchEmbed, SwiGLU
from timm.models import model_entrypoint, split_model_name_tag
from timm.models.deit import VisionTransformerDistilled
from timm.models.vision_transformer import ParallelScalingBlock
from timm.models.vision_transformer import VisionTransformer as TimmViT
from torch import nn

from vitviz.errors import UnsupportedModelError
from vitviz.vit import from_timm

# timm 1.0.31 has 333 pretrained tags over 161 such architectures; newer timm may add more.
EXPECTED_MIN_ARCHS = 161
EXPECTED_MIN_TAGS = 333
TOLERANCE = 1e-5
BATCH = 2


@dataclass(frozen=True)
class ArchInfo:
    """What the sweep needs to know about one timm architecture."""

    name: str
    tags: int
    num_classes: int
    patch_size: tuple[int, int]
    plain: bool


@functools.cache
def vit_family() -> dict[str, ArchInfo]:
    """Every pretrained architecture whose model is timm's (distilled) VisionTransformer."""
    tags_per_arch: dict[str, int] = {}
    for tag in timm.list_pretrained():
        arch = split_model_name_tag(tag)[0]
        tags_per_arch[arch] = tags_per_arch.get(arch, 0) + 1
    family = {}
    for arch, tags in sorted(tags_per_arch.items()):
        module = sys.modules[model_entrypoint(arch).__module__]
        if vars(module).get("VisionTransformer") is not TimmViT:
            continue  # the entrypoint's module cannot build timm's ViT at all
        model = timm.create_model(
            arch, pretrained=False, depth=1, device="meta", weight_init="skip"
        )
        if type(model) not in (TimmViT, VisionTransformerDistilled):
            continue
        family[arch] = ArchInfo(
            name=arch,
            tags=tags,
            num_classes=model.num_classes,
            patch_size=tuple(model.patch_embed.patch_size),
            plain=type(model.patch_embed) is PatchEmbed,
        )
    return family


def structure_only(arch: str) -> nn.Module:
    """One block of ``arch`` on the meta device: its structure, no memory, no init."""
    return timm.create_model(arch, pretrained=False, depth=1, device="meta", weight_init="skip")


def plain_archs() -> list[str]:
    return [name for name, info in vit_family().items() if info.plain]


def hybrid_archs() -> list[str]:
    return [name for name, info in vit_family().items() if not info.plain]


def test_sweep_covers_every_plain_pretrained_architecture():
    plain = [info for info in vit_family().values() if info.plain]
    assert len(plain) >= EXPECTED_MIN_ARCHS
    assert sum(info.tags for info in plain) >= EXPECTED_MIN_TAGS
    # Guard the enumeration itself: well-known members of each variant are in it.
    names = {info.name for info in plain}
    for arch in (
        "vit_base_patch16_224",
        "deit_base_distilled_patch16_224",
        "vit_small_patch14_reg4_dinov2",
        "vit_base_patch16_siglip_224",
        "vit_base_patch16_clip_224",
        "vit_dwee_patch16_reg1_gap_256",
        "vit_base_patch16_rpn_224",
    ):
        assert arch in names


@pytest.mark.parametrize("arch", hybrid_archs())
def test_hybrid_stems_are_refused_by_name(arch):
    model = structure_only(arch)
    with pytest.raises(UnsupportedModelError, match="hybrid CNN-stem ViTs"):
        from_timm(model)


@pytest.mark.slow
@pytest.mark.parametrize("arch", plain_archs())
def test_matches_timm(arch):
    assert_parity(shrunk_timm_model(vit_family()[arch]))


def _dual_lambda(model: nn.Module) -> nn.Module:
    """Switch every DiffAttention to timm's two-scalar lambda parameterisation."""
    for block in model.blocks:
        block.attn.dual_lambda = True
        for name in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
            setattr(block.attn, name, None)
        block.attn.lambda_a = nn.Parameter(torch.zeros(()))
        block.attn.lambda_b = nn.Parameter(torch.zeros(()))
    return model


# Variants our network supports that no pretrained tag uses (timm constructor kwargs).
UNUSED_VARIANTS = {
    "no_pos_embed": {"pos_embed": "none"},
    "qk_norm": {"qk_norm": True},
    "qk_rmsnorm": {"qk_norm": True, "norm_layer": "rmsnorm"},
    "avgmax_pool": {"class_token": False, "global_pool": "avgmax"},
    "max_pool_with_prefix": {"reg_tokens": 2, "global_pool": "max", "pool_include_prefix": True},
    "avg_no_fc_norm": {"global_pool": "avg", "fc_norm": False},
    "geglu": {"mlp_layer": GluMlp, "act_layer": "gelu", "mlp_ratio": 3.0},
    "swiglu_scale_norms": {
        "mlp_layer": SwiGLU,
        "act_layer": "silu",
        "scale_mlp_norm": True,
        "scale_attn_norm": True,
    },
    "parallel_no_qkv_bias": {"block_fn": ParallelScalingBlock, "qkv_bias": False},
    "diff_dual_lambda": {"attn_layer": "diff", "init_values": 0.1},
    "pre_norm_no_final_norm": {"pre_norm": True, "final_norm": False, "no_embed_class": True},
    "embed_norm_no_head": {"embed_norm_layer": "layernorm", "num_classes": 0},
}


@pytest.mark.parametrize("variant", sorted(UNUSED_VARIANTS))
def test_matches_timm_beyond_pretrained_variants(variant):
    kwargs = {"embed_dim": 64, "num_heads": 4, "depth": 2, "patch_size": 8, "num_classes": 7}
    kwargs |= {"img_size": (16, 24), "dynamic_img_size": True, **UNUSED_VARIANTS[variant]}
    model = TimmViT(**kwargs, device="meta", weight_init="skip")
    if variant == "diff_dual_lambda":
        model = _dual_lambda(model)
    assert_parity(prepare_reference(model))


def assert_parity(reference: nn.Module) -> None:
    """Our network from ``reference`` reproduces its outputs, attention and token norms."""
    ours = from_timm(reference).eval()
    patch_h, patch_w = reference.patch_embed.patch_size
    generator = torch.Generator().manual_seed(1)
    # The native non-square grid, then its transpose (position embedding resampled).
    for rows, cols in ((2, 3), (3, 2)):
        image = torch.randn(BATCH, 3, rows * patch_h, cols * patch_w, generator=generator)
        expected = run_timm(reference, image)
        with torch.no_grad():
            result = ours(image)
        num_tokens = result.layout.num_tokens
        assert result.layout.grid == (rows, cols)
        assert num_tokens == result.layout.num_prefix + rows * cols
        headless = reference.num_classes == 0
        assert (result.logits is None) == headless
        ours_output = result.embedding if headless else result.logits
        assert_close_to_scale(ours_output, expected.output, "logits")
        assert len(result.attentions) == len(expected.attentions) == 2
        for index, (ours_attn, timm_attn) in enumerate(
            zip(result.attentions, expected.attentions, strict=True)
        ):
            assert ours_attn.shape == (BATCH, timm_attn.shape[1], num_tokens, num_tokens)
            assert_close(ours_attn, timm_attn, TOLERANCE, f"attention of block {index}")
        for index, (ours_norm, block_out) in enumerate(
            zip(result.token_norms, expected.block_outputs, strict=True)
        ):
            timm_norm = torch.linalg.vector_norm(block_out, dim=-1)
            assert_close_to_scale(ours_norm, timm_norm, f"token norms of block {index}")
        if expected.pool_attention is None:
            assert result.pool_attention is None
        else:
            skipped = num_tokens - expected.pool_attention.shape[-1]
            assert result.pool_attention.shape == (BATCH, ours.config.num_heads, 1, num_tokens)
            assert torch.all(result.pool_attention[..., :skipped] == 0)
            assert_close(
                result.pool_attention[..., skipped:],
                expected.pool_attention,
                TOLERANCE,
                "attention of the pooling query",
            )


def shrunk_timm_model(info: ArchInfo) -> nn.Module:
    """timm model of ``info.name``: 2 blocks, a 2x3-patch image, random perturbed weights."""
    patch_h, patch_w = info.patch_size
    model = timm.create_model(
        info.name,
        pretrained=False,
        depth=2,
        img_size=(2 * patch_h, 3 * patch_w),
        dynamic_img_size=True,
        num_classes=min(info.num_classes, 11),
        device="meta",
        weight_init="skip",
    )
    return prepare_reference(model)


def prepare_reference(meta_model: nn.Module) -> nn.Module:
    """A meta-device timm model materialised with random weights, fused attention off."""
    model = meta_model.to_empty(device="cpu").eval()
    assert not list(model.buffers()), "buffers would keep uninitialised memory"
    randomize(model, torch.Generator().manual_seed(0))
    for module in model.modules():
        if hasattr(module, "fused_attn"):
            module.fused_attn = False  # timm's explicit softmax path, whose maps we hook
    return model


@torch.no_grad()
def randomize(model: nn.Module, generator: torch.Generator) -> None:
    """Fill every parameter with random values of a sensible scale, none at its init."""

    for name, param in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if param.ndim >= 2 and leaf == "weight":
            # Linear / conv weights: unit-variance outputs, so two blocks stay well scaled.
            mean, std = 0.0, param[0].numel() ** -0.5
        elif leaf in ("cls_token", "dist_token", "reg_token", "pos_embed", "latent"):
            mean, std = 0.0, 0.5
        elif leaf in ("weight", "gamma"):
            mean, std = 1.0, 0.3  # norm gains and LayerScale
        else:
            mean, std = 0.0, 0.2  # biases, DiffAttention lambdas, mlp_bias
        param.normal_(mean, std, generator=generator)


@dataclass
class TimmRun:
    output: torch.Tensor
    attentions: list[torch.Tensor]
    block_outputs: list[torch.Tensor]
    pool_attention: torch.Tensor | None


def run_timm(model: nn.Module, image: torch.Tensor) -> TimmRun:
    """timm's output, per-block attention (hooked) and block outputs."""
    attentions: list[torch.Tensor] = []
    block_outputs: list[torch.Tensor] = []
    pool_inputs: list[torch.Tensor] = []
    handles = []
    for block in model.blocks:
        attn_holder = block.attn if hasattr(block, "attn") else block
        handles.append(
            attn_holder.attn_drop.register_forward_hook(
                functools.partial(_keep_attention, attn_holder, attentions)
            )
        )
        handles.append(block.register_forward_hook(lambda _m, _i, out: block_outputs.append(out)))
    if model.attn_pool is not None:
        handles.append(
            model.attn_pool.register_forward_pre_hook(lambda _m, args: pool_inputs.append(args[0]))
        )
    try:
        with torch.no_grad():
            output = model(image)
    finally:
        for handle in handles:
            handle.remove()
    pool_attention = (
        latent_query_attention(model.attn_pool, pool_inputs[0]) if pool_inputs else None
    )
    return TimmRun(output, attentions, block_outputs, pool_attention)


def _keep_attention(holder: nn.Module, store: list, _module, _inputs, probs: torch.Tensor) -> None:
    """Hook on timm's ``attn_drop``: the softmax output; DiffAttention's effective map."""
    if hasattr(holder, "lambda_init"):
        batch, double_heads, tokens, _ = probs.shape
        pair = probs.view(batch, double_heads // 2, 2, tokens, tokens)
        probs = pair[:, :, 0] - holder._compute_lambda().type_as(probs) * pair[:, :, 1]
    store.append(probs)


def latent_query_attention(pool: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """timm's AttentionPoolLatent probabilities, recomputed with its own modules and weights."""
    batch, num_tokens, _ = tokens.shape
    heads, head_dim = pool.num_heads, pool.head_dim
    with torch.no_grad():
        latent = pool.latent.expand(batch, -1, -1)
        q = pool.q(latent).reshape(batch, pool.latent_len, heads, head_dim).transpose(1, 2)
        kv = pool.kv(tokens).reshape(batch, num_tokens, 2, heads, head_dim)
        k = kv.permute(2, 0, 3, 1, 4)[0]  # [B, H, N, hd]
        q, k = pool.q_norm(q), pool.k_norm(k)
        return ((q * pool.scale) @ k.transpose(-2, -1)).softmax(dim=-1)


def assert_close(ours: torch.Tensor, theirs: torch.Tensor, tolerance: float, what: str) -> None:
    assert ours.shape == theirs.shape, what
    error = (ours - theirs).abs().max().item()
    assert error <= tolerance, f"{what}: max error {error:.3g} > {tolerance:.3g}"


def assert_close_to_scale(ours: torch.Tensor, theirs: torch.Tensor, what: str) -> None:
    scale = max(theirs.abs().max().item(), math.ulp(1.0))
    assert_close(ours, theirs, TOLERANCE * scale, what)
