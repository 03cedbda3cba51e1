"""timm ``VisionTransformer`` → our :class:`~vitviz.vit.VisionTransformer`.

The config is read from the live timm module (not from its constructor arguments, which
timm does not keep), every structural choice we cannot represent is refused by name, and
the weights are copied under a strict key-and-shape check. Our modules carry timm's
state_dict names, so the mapping is the identity.
"""

from __future__ import annotations

import torch
from timm.layers import PatchEmbed as TimmPatchEmbed
from timm.models.deit import VisionTransformerDistilled
from timm.models.vision_transformer import (
    Block,
    DiffParallelScalingBlock,
    ParallelScalingBlock,
    ResPostBlock,
)
from timm.models.vision_transformer import VisionTransformer as TimmVisionTransformer
from torch import nn

from vitviz.errors import UnsupportedModelError
from vitviz.vit.attention import diff_lambda_init
from vitviz.vit.config import ViTConfig
from vitviz.vit.model import VisionTransformer
from vitviz.vit.weights import load_weights

HYBRID_MESSAGE = (
    "hybrid CNN-stem ViTs (ResNet r26/r50 hybrids, ViTamin, MobileCLIP) are not supported: "
    "their tokens come from a convolutional stem, not from a plain patch projection"
)
BLOCK_NAMES = {
    Block: "block",
    ResPostBlock: "res_post",
    ParallelScalingBlock: "parallel",
    DiffParallelScalingBlock: "diff_parallel",
}
ACTIVATION_NAMES = {
    "GELUTanh": "gelu_tanh",
    "QuickGELU": "quick_gelu",
    "SiLU": "silu",
    "Swish": "silu",
}
NORM_NAMES = {"LayerNorm": "layernorm", "RmsNorm": "rmsnorm"}
MLP_NAMES = {"Mlp": "mlp", "SwiGLU": "swiglu", "GluMlp": "glu"}
ATTN_NAMES = {"Attention": "attn", "DiffAttention": "diff"}


def from_timm(timm_model: nn.Module) -> VisionTransformer:
    """Our network with the structure and a copy of the weights of a timm ViT.

    Parameters
    ----------
    timm_model : torch.nn.Module
        A timm ``VisionTransformer`` or ``VisionTransformerDistilled`` with a plain
        patch embedding (any device and dtype).

    Returns
    -------
    VisionTransformer
        On the timm model's device, in its dtype and train/eval mode.

    Raises
    ------
    UnsupportedModelError
        For hybrid CNN stems and any other structure vitviz does not represent.
    ModelLoadError
        If the weights do not match the structure key for key and shape for shape.
    """
    config = config_from_timm(timm_model)
    with torch.device("meta"):
        model = VisionTransformer(config)
    load_weights(model, timm_model.state_dict(), source=_name_of(timm_model))
    return model.train(timm_model.training)


def config_from_timm(timm_model: nn.Module) -> ViTConfig:
    """Read a :class:`ViTConfig` off a live timm ViT.

    Raises
    ------
    UnsupportedModelError
        Naming the part vitviz cannot represent (hybrid stem, block type, pooling ...).
    """
    name = _name_of(timm_model)
    if type(timm_model) not in (TimmVisionTransformer, VisionTransformerDistilled):
        raise UnsupportedModelError(
            f"{name} is a timm {type(timm_model).__name__}, not a VisionTransformer; vitviz "
            "shows plain-patch ViTs (timm's VisionTransformer family) only."
        )
    patch_embed = timm_model.patch_embed
    if type(patch_embed) is not TimmPatchEmbed:
        raise UnsupportedModelError(
            f"{name}: {HYBRID_MESSAGE} (its embedding is a {type(patch_embed).__name__})."
        )
    _refuse_if(name, patch_embed.dynamic_img_pad, "dynamic image padding is not supported")
    _refuse_if(name, patch_embed.img_size is None, "the patch embedding has no image size")
    global_pool = timm_model.global_pool
    _refuse_if(
        name,
        global_pool not in ("token", "avg", "avgmax", "max", "map"),
        f"global_pool={global_pool!r} is not supported (token, avg, avgmax, max or map)",
    )
    _refuse_if(name, len(timm_model.blocks) == 0, "a ViT without blocks has no attention")
    first = timm_model.blocks[0]
    norm_layer, norm_eps = _norm_kind(name, _block_norm(first))
    embed_norm = patch_embed.norm
    embed_norm_layer, embed_norm_eps = (
        (None, 1e-6) if isinstance(embed_norm, nn.Identity) else _norm_kind(name, embed_norm)
    )
    config = ViTConfig(
        img_size=tuple(patch_embed.img_size),
        patch_size=tuple(patch_embed.patch_size),
        in_chans=patch_embed.proj.in_channels,
        num_classes=timm_model.num_classes,
        global_pool=global_pool,
        embed_dim=timm_model.embed_dim,
        depth=len(timm_model.blocks),
        init_values=_init_values(first),
        class_token=timm_model.cls_token is not None,
        distilled=isinstance(timm_model, VisionTransformerDistilled),
        reg_tokens=timm_model.num_reg_tokens,
        no_embed_class=timm_model.no_embed_class,
        pos_embed="learn" if timm_model.pos_embed is not None else "none",
        pre_norm=not isinstance(timm_model.norm_pre, nn.Identity),
        final_norm=not (
            isinstance(timm_model.norm, nn.Identity) and isinstance(timm_model.fc_norm, nn.Identity)
        ),
        fc_norm=not isinstance(timm_model.fc_norm, nn.Identity),
        pool_include_prefix=timm_model.pool_include_prefix,
        norm_layer=norm_layer,
        norm_eps=norm_eps,
        embed_norm_layer=embed_norm_layer,
        embed_norm_eps=embed_norm_eps,
        **_block_options(name, first, timm_model.embed_dim),
    )
    _check_uniform_norms(name, timm_model, norm_layer, norm_eps)
    _check_blocks(name, timm_model, config)
    if timm_model.attn_pool is not None:
        _check_attn_pool(name, timm_model.attn_pool, config)
    return config


def _block_options(name: str, block: nn.Module, dim: int) -> dict:
    """Config fields that come from the first block (all blocks are alike in timm)."""
    block_fn = BLOCK_NAMES.get(type(block))
    _refuse_if(name, block_fn is None, f"blocks of type {type(block).__name__} are not supported")
    if block_fn in ("parallel", "diff_parallel"):
        return {"block_fn": block_fn, **_parallel_options(name, block, block_fn, dim)}
    attn, mlp = block.attn, block.mlp
    attn_layer = ATTN_NAMES.get(type(attn).__name__)
    _refuse_if(name, attn_layer is None, f"attention {type(attn).__name__} is not supported")
    _refuse_if(name, getattr(attn, "gate", None) is not None, "gated attention is not supported")
    _refuse_if(
        name,
        attn.qkv.out_features != 3 * dim,
        "an attention width different from the embedding width is not supported",
    )
    mlp_layer = MLP_NAMES.get(type(mlp).__name__)
    _refuse_if(name, mlp_layer is None, f"MLP {type(mlp).__name__} is not supported")
    hidden = mlp.fc1_g.out_features if mlp_layer == "swiglu" else mlp.fc1.out_features
    return {
        "block_fn": block_fn,
        "num_heads": attn.num_heads,
        "mlp_ratio": mlp_ratio(hidden, dim),
        "qkv_bias": attn.qkv.bias is not None,
        "qk_norm": not isinstance(attn.q_norm, nn.Identity),
        "scale_attn_norm": not isinstance(attn.norm, nn.Identity),
        "scale_mlp_norm": not isinstance(mlp.norm, nn.Identity),
        "proj_bias": attn.proj.bias is not None,
        "act_layer": _activation_name(name, mlp.act),
        "mlp_layer": mlp_layer,
        "glu_gate_last": getattr(mlp, "gate_last", True),
        "attn_layer": attn_layer,
        "diff_dual_lambda": bool(getattr(attn, "dual_lambda", False)),
    }


def _parallel_options(name: str, block: nn.Module, block_fn: str, dim: int) -> dict:
    if block_fn == "parallel":
        _refuse_if(
            name,
            block.out_proj is not None,
            "the parallel block with a fused output projection is not supported",
        )
        proj_bias = block.attn_out_proj.bias is not None
    else:
        proj_bias = block.out_proj.bias is not None
    return {
        "num_heads": block.num_heads,
        "mlp_ratio": mlp_ratio(block.in_split[0], dim),
        "qkv_bias": block.in_proj.bias is not None,
        "qk_norm": not isinstance(block.q_norm, nn.Identity),
        "proj_bias": proj_bias,
        "act_layer": _activation_name(name, block.mlp_act),
        "attn_layer": "diff" if block_fn == "diff_parallel" else "attn",
        "diff_dual_lambda": bool(getattr(block, "dual_lambda", False)),
    }


def mlp_ratio(hidden: int, dim: int) -> float:
    """A ratio that reproduces ``hidden`` through timm's ``int(dim * ratio)``."""
    ratio = hidden / dim
    return ratio if int(dim * ratio) == hidden else (hidden + 0.5) / dim


def _init_values(block: nn.Module) -> float | None:
    if isinstance(block, ResPostBlock):
        return block.init_values
    scale = getattr(block, "ls1", None) or getattr(block, "ls", None)
    if scale is None or isinstance(scale, nn.Identity):
        return None
    return float(scale.init_values)


def _block_norm(block: nn.Module) -> nn.Module:
    return block.in_norm if hasattr(block, "in_norm") else block.norm1


def _norm_kind(name: str, norm: nn.Module) -> tuple[str, float]:
    kind = NORM_NAMES.get(type(norm).__name__)
    _refuse_if(name, kind is None, f"norm layer {type(norm).__name__} is not supported")
    return kind, float(norm.eps)


def _activation_name(name: str, act: nn.Module) -> str:
    kind = type(act).__name__
    if kind == "GELU":
        return "gelu_tanh" if getattr(act, "approximate", "none") == "tanh" else "gelu"
    _refuse_if(name, kind not in ACTIVATION_NAMES, f"activation {kind} is not supported")
    return ACTIVATION_NAMES[kind]


def _check_uniform_norms(name: str, timm_model: nn.Module, kind: str, eps: float) -> None:
    """All model-level norms must be of one kind and epsilon (we build them from one)."""
    for path, module in timm_model.named_modules():
        if path.startswith("patch_embed") or path.endswith("sub_norm"):
            continue
        if type(module).__name__ in NORM_NAMES or isinstance(module, nn.LayerNorm):
            found = _norm_kind(name, module)
            _refuse_if(
                name,
                found != (kind, eps),
                f"norm {path} is {found}, unlike the model's {(kind, eps)}",
            )


def _check_blocks(name: str, timm_model: nn.Module, config: ViTConfig) -> None:
    """Every block must look like the first one, and DiffAttention keep timm's lambda_init."""
    first = type(timm_model.blocks[0])
    for index, block in enumerate(timm_model.blocks):
        _refuse_if(name, type(block) is not first, f"block {index} differs in type from block 0")
        holder = block.attn if config.block_fn in ("block", "res_post") else block
        if config.attn_layer == "diff":
            _refuse_if(
                name,
                abs(holder.lambda_init - diff_lambda_init(index)) > 1e-12,
                f"block {index} has a non-standard DiffAttention lambda_init",
            )


def _check_attn_pool(name: str, pool: nn.Module, config: ViTConfig) -> None:
    _refuse_if(
        name,
        type(pool).__name__ != "AttentionPoolLatent"
        or pool.latent_len != 1
        or pool.pos_embed is not None
        or pool.pool != "token"
        or pool.mlp is None
        or not isinstance(pool.q_norm, nn.Identity)
        or pool.num_heads != config.num_heads,
        "only the standard single-query attention pool (SigLIP 'map') is supported",
    )


def _refuse_if(name: str, condition: bool, reason: str) -> None:
    if condition:
        raise UnsupportedModelError(f"{name}: {reason}.")


def _name_of(timm_model: nn.Module) -> str:
    cfg = getattr(timm_model, "pretrained_cfg", None) or {}
    return cfg.get("architecture") or type(timm_model).__name__
