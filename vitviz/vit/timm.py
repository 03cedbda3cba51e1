"""timm's side of loading: its architecture names, its models read into our config (a timm
model is only a shape description on the meta device), and weights in its key layouts
(its converters map CLIP, original DINOv2 and DeiT-3, Google ``.npz``) put into ours.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
from timm.data import resolve_model_data_config
from timm.layers import PatchEmbed as TimmPatchEmbed
from timm.models import PretrainedCfg, get_arch_name, split_model_name_tag
from timm.models.deit import VisionTransformerDistilled
from timm.models.vision_transformer import (
    Block,
    DiffParallelScalingBlock,
    ParallelScalingBlock,
    ResPostBlock,
    checkpoint_filter_fn,
)
from timm.models.vision_transformer import VisionTransformer as TimmVisionTransformer
from torch import nn

from vitviz.errors import ModelLoadError, UnsupportedModelError
from vitviz.vit.attention import diff_lambda_init
from vitviz.vit.checkpoints import (
    PREPROCESSING_FIELDS,
    StoredModelInfo,
    assemble,
    check_fit,
    first_line,
)
from vitviz.vit.config import ViTConfig
from vitviz.vit.model import VisionTransformer
from vitviz.vit.spec import PretrainedSpec

_log = logging.getLogger(__name__)

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

_CHOOSE = "Choose the architecture the checkpoint was trained with."
# timm modules whose entrypoints build VisionTransformer / VisionTransformerDistilled with
# a plain patch embedding; hybrids, ViTamin, EVA and the rest live in other modules.
_SUPPORTED_MODULES = frozenset({"vision_transformer", "deit"})


def is_supported_arch(arch: str) -> bool:
    """Whether vitviz's network can represent a timm architecture (or tag)."""
    return timm.models.is_model_in_modules(arch, _SUPPORTED_MODULES)


@functools.cache
def supported_pretrained_tags() -> tuple[str, ...]:
    """Pretrained timm tags (``arch.weights``) of architectures vitviz supports (offline)."""
    return tuple(tag for tag in timm.list_pretrained() if is_supported_arch(tag))


def supported_archs() -> list[str]:
    """Supported architecture names (tags without their weights), sorted."""
    return sorted({get_arch_name(tag) for tag in supported_pretrained_tags()})


def close_matches(name: str, count: int = 5) -> list[str]:
    """timm model or tag names closest to a mistyped one, supported ones first."""
    supported = [*supported_pretrained_tags(), *supported_archs()]
    matches = difflib.get_close_matches(name, supported, n=count, cutoff=0.6)
    if len(matches) < count:
        others = timm.list_pretrained() + timm.list_models()
        extra = difflib.get_close_matches(name, others, n=count, cutoff=0.6)
        matches += [m for m in extra if m not in matches][: count - len(matches)]
    return matches


def check_arch(arch: str) -> str:
    """The architecture of a timm tag that exists and is a ViT vitviz supports; else a
    :class:`ModelLoadError` (with close matches) or :class:`UnsupportedModelError`."""
    name, weights = split_model_name_tag(arch)
    if not timm.is_model(name):
        matches = close_matches(arch)
        suggestion = f" Did you mean: {', '.join(matches)}?" if matches else ""
        raise ModelLoadError(f"Unknown model {arch!r}.{suggestion}")
    tags = timm.list_pretrained(f"{name}.*")
    if weights and arch not in tags:
        known = ", ".join(tags[:8]) or "none"
        raise ModelLoadError(f"timm has no weights {weights!r} for {name}; its tags: {known}.")
    if not is_supported_arch(name):
        raise UnsupportedModelError(
            f"{name} is not a model vitviz can show: vitviz supports timm's plain Vision "
            "Transformers (ViT, DeiT, CLIP/SigLIP/DINOv2 ViTs, ...), not hybrid CNN stems or "
            "other families. Run `vitviz models` to list the supported pretrained tags."
        )
    return name


def build_timm(
    arch: str,
    kwargs: Mapping[str, Any] | None = None,
    overlay: Mapping[str, Any] | None = None,
    *,
    device: str = "meta",
) -> nn.Module:
    """A supported timm model, on the meta device by default (shapes only, no init);
    ``kwargs`` go to ``timm.create_model``, ``overlay`` holds pretrained-config fields."""
    check_arch(arch)
    kwargs = dict(kwargs or {})
    known = {f.name for f in dataclasses.fields(PretrainedCfg)}
    overlay = {k: v for k, v in (overlay or {}).items() if k in known}
    if "img_size" in kwargs and "input_size" not in overlay:
        # The preprocessing follows the size the weights were built for.
        overlay["input_size"] = (3, *timm.layers.to_2tuple(kwargs["img_size"]))
    if device == "meta":
        kwargs.setdefault("weight_init", "skip")  # init on the meta device is wasted time
    try:
        with torch.device(device):
            return timm.create_model(
                arch, pretrained=False, pretrained_cfg_overlay=overlay, **kwargs
            )
    except (TypeError, ValueError, AssertionError, RuntimeError) as exc:
        raise ModelLoadError(
            f"Could not build {arch} with the settings {dict(kwargs)}: {exc}. Check the "
            "architecture, and the settings stored in the file's metadata."
        ) from exc


def timm_network(
    name: str,
    info: StoredModelInfo,
    state_dict: Mapping[str, torch.Tensor] | None,
    *,
    npz: Path | None = None,
) -> tuple[VisionTransformer, PretrainedSpec]:
    """Our network for the timm architecture or tag ``info.arch`` (built with its
    ``model_kwargs`` and ``pretrained_cfg``; ``name``: what the user loaded) holding
    ``state_dict`` (timm's or a foreign key layout; None: random, or the Google ``npz``
    file), and its spec."""
    if npz is not None:
        state_dict, kwargs = _npz_weights(npz, info.arch, info.model_kwargs, info.pretrained_cfg)
        info = dataclasses.replace(info, model_kwargs=kwargs)
    timm_model, config, resolved = _timm_description(info)
    if state_dict is None:
        random = build_timm(info.arch, info.model_kwargs, info.pretrained_cfg, device="cpu")
        state_dict = random.state_dict()
    elif npz is None:
        state_dict = convert(state_dict, timm_model, name)
    arch = get_arch_name(info.arch)
    model = assemble(config, state_dict, source=name, target=arch, advice=_CHOOSE)
    from vitviz.vit.loading import spec_from_config

    return model, spec_from_config(name, model, {**resolved, "architecture": arch}, info.labels)


def _timm_description(info: StoredModelInfo) -> tuple[nn.Module, ViTConfig, dict[str, Any]]:
    """The timm model (meta device) of ``info``, our config of it, and its resolved
    preprocessing (``PREPROCESSING_FIELDS`` over the stored fields) and class names."""
    timm_model = build_timm(info.arch, info.model_kwargs, info.pretrained_cfg)
    data = resolve_model_data_config(timm_model)
    resolved = {**info.pretrained_cfg, **{k: data[k] for k in PREPROCESSING_FIELDS if k in data}}
    resolved.setdefault("crop_mode", "center")
    label_names = timm_model.pretrained_cfg.get("label_names")
    if label_names:
        resolved["label_names"] = [str(label) for label in label_names]
    return timm_model, config_from_timm(timm_model), resolved


def convert(
    state_dict: Mapping[str, torch.Tensor], timm_model: nn.Module, name: str
) -> dict[str, torch.Tensor]:
    """Weights in timm's key layout for ``timm_model``, by timm's ``checkpoint_filter_fn``."""
    try:
        return checkpoint_filter_fn(dict(state_dict), timm_model, adapt_layer_scale=True)
    except (RuntimeError, ValueError, KeyError, IndexError) as exc:
        raise ModelLoadError(
            f"{name} could not be mapped onto {_name_of(timm_model)} ({first_line(exc)}). {_CHOOSE}"
        ) from exc


def _npz_weights(path: Path, arch: str, kwargs, overlay) -> tuple[dict[str, torch.Tensor], dict]:
    """An original Google/big_vision ``.npz`` read by timm's converter, every weight checked."""
    with np.load(path, allow_pickle=False) as archive:
        shapes = {key: archive[key].shape for key in archive.files}
    found = [
        p for p in ("", "opt/target/", "params/", "params/img/") if f"{p}embedding/kernel" in shapes
    ]
    if not found:
        raise ModelLoadError(
            f"{path.name} is a NumPy archive but not a Google ViT checkpoint (no "
            "'embedding/kernel' entry)."
        )
    prefix, kernel = found[0], shapes[f"{found[0]}embedding/kernel"]  # kernel: [ph, pw, 3, D]
    head = shapes.get(f"{prefix}head/bias")
    kwargs = {"num_classes": int(head[-1]) if head else 0, **dict(kwargs or {})}
    # big_vision stacks the blocks ([depth, D]); the original files number them.
    block = f"{prefix}Transformer/encoderblock"
    scanned = shapes.get(f"{block}/LayerNorm_0/scale")
    numbered = {k[len(block) :].split("/")[0] for k in shapes if k.startswith(f"{block}_")}
    kwargs.setdefault("depth", int(scanned[0] if scanned else len(numbered)))
    pos = shapes.get(f"{prefix}Transformer/posembed_input/pos_embedding")  # [1, prefix + g*g, D]
    if pos is not None and len(pos) == 3 and len(kernel) == 4 and "img_size" not in kwargs:
        tokens = pos[1] - (1 if f"{prefix}cls" in shapes else 0)
        side = math.isqrt(tokens)
        if side * side == tokens:
            kwargs["img_size"] = (side * kernel[0], side * kernel[1])
    model = build_timm(arch, kwargs, overlay, device="cpu")
    with torch.no_grad():
        # Poison every parameter first: whatever the converter does not overwrite stays
        # NaN, so a partial load is caught instead of leaving random weights in place.
        for param in model.parameters():
            param.fill_(float("nan"))
        try:
            model.load_pretrained(str(path))
        except (KeyError, ValueError, RuntimeError, IndexError) as exc:
            raise ModelLoadError(
                f"The weights in {path.name} do not fit {arch} ({first_line(exc)}). {_CHOOSE}"
            ) from exc
    untouched = {name: p for name, p in model.named_parameters() if torch.isnan(p).any()}
    check_fit(untouched, {}, source=path.name, target=arch, advice=_CHOOSE)
    return model.state_dict(), kwargs


def describe(
    tensors: Mapping[str, torch.Tensor], info: StoredModelInfo, name: str
) -> tuple[ViTConfig, dict[str, Any]] | None:
    """Our network's config and the resolved preprocessing of weights being saved; None
    (with a warning) when they do not fit it as they are (only timm can convert them)."""
    try:
        _, config, resolved = _timm_description(info)
        with torch.device("meta"):
            expected = VisionTransformer(config).state_dict()
        advice = "timm converts these weights when loading, if it can."
        check_fit(expected, tensors, source=name, target=info.arch, advice=advice)
    except ModelLoadError as exc:  # UnsupportedModelError included
        _log.warning("%s: saved without %r: %s", name, "vitviz.config", exc)
        return None
    return config, resolved


def from_timm(timm_model: nn.Module) -> VisionTransformer:
    """Our network with the structure and a copy of the weights of a timm ViT (on its
    device, in its dtype and train/eval mode); :class:`UnsupportedModelError` for
    structures vitviz does not represent."""
    tensors = {key: value.detach().clone() for key, value in timm_model.state_dict().items()}
    model = assemble(
        config_from_timm(timm_model), tensors, source=_name_of(timm_model), target="our network"
    )
    return model.train(timm_model.training)


def config_from_timm(timm_model: nn.Module) -> ViTConfig:
    """Read a :class:`ViTConfig` off a timm ViT; :class:`UnsupportedModelError` names the
    part vitviz cannot represent (hybrid stem, block type, pooling ...)."""
    name = _name_of(timm_model)
    if type(timm_model) not in (TimmVisionTransformer, VisionTransformerDistilled):
        raise UnsupportedModelError(
            f"{name} is a timm {type(timm_model).__name__}, not a VisionTransformer; vitviz "
            "shows plain-patch ViTs (timm's VisionTransformer family) only."
        )
    patch_embed = timm_model.patch_embed
    if type(patch_embed) is not TimmPatchEmbed:
        raise UnsupportedModelError(
            f"{name}: hybrid CNN-stem ViTs (ResNet hybrids, ViTamin, MobileCLIP) are not "
            f"supported (its embedding is a {type(patch_embed).__name__}, not a patch projection)."
        )
    _refuse_if(name, patch_embed.dynamic_img_pad, "dynamic image padding is not supported")
    _refuse_if(name, patch_embed.img_size is None, "the patch embedding has no image size")
    _refuse_if(name, len(timm_model.blocks) == 0, "a ViT without blocks has no attention")
    first = timm_model.blocks[0]
    norm_layer, norm_eps = _norm_kind(name, getattr(first, "in_norm", None) or first.norm1)
    embed_norm = patch_embed.norm
    embed_norm_layer, embed_norm_eps = (
        (None, 1e-6) if isinstance(embed_norm, nn.Identity) else _norm_kind(name, embed_norm)
    )
    config = ViTConfig(
        img_size=tuple(patch_embed.img_size),
        patch_size=tuple(patch_embed.patch_size),
        in_chans=patch_embed.proj.in_channels,
        num_classes=timm_model.num_classes,
        global_pool=timm_model.global_pool,  # ViTConfig refuses others
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
    _check_structure(name, timm_model, config)
    return config


def _block_options(name: str, block: nn.Module, dim: int) -> dict:
    block_fn = BLOCK_NAMES.get(type(block))
    _refuse_if(name, block_fn is None, f"blocks of type {type(block).__name__} are not supported")
    if block_fn in ("parallel", "diff_parallel"):
        fused = block_fn == "parallel" and block.out_proj is not None
        _refuse_if(name, fused, "the parallel block with a fused output projection is unsupported")
        attn, mlp, qkv, act, hidden = block, None, block.in_proj, block.mlp_act, block.in_split[0]
        out_proj = block.out_proj if block_fn == "diff_parallel" else block.attn_out_proj
        attn_layer, mlp_layer = ("diff" if block_fn == "diff_parallel" else "attn"), "mlp"
    else:
        attn, mlp = block.attn, block.mlp
        attn_layer = ATTN_NAMES.get(type(attn).__name__)
        mlp_layer = MLP_NAMES.get(type(mlp).__name__)
        _refuse_if(name, attn_layer is None, f"attention {type(attn).__name__} is not supported")
        _refuse_if(name, getattr(attn, "gate", None) is not None, "gated attention is unsupported")
        _refuse_if(name, attn.qkv.out_features != 3 * dim, "attention and embedding widths differ")
        _refuse_if(name, mlp_layer is None, f"MLP {type(mlp).__name__} is not supported")
        qkv, out_proj, act = attn.qkv, attn.proj, mlp.act
        hidden = mlp.fc1_g.out_features if mlp_layer == "swiglu" else mlp.fc1.out_features
    return {
        "block_fn": block_fn,
        "num_heads": attn.num_heads,
        "mlp_ratio": mlp_ratio(hidden, dim),
        "qkv_bias": qkv.bias is not None,
        "qk_norm": not isinstance(attn.q_norm, nn.Identity),
        "scale_attn_norm": mlp is not None and not isinstance(attn.norm, nn.Identity),
        "scale_mlp_norm": mlp is not None and not isinstance(mlp.norm, nn.Identity),
        "proj_bias": out_proj.bias is not None,
        "act_layer": _activation_name(name, act),
        "mlp_layer": mlp_layer,
        "glu_gate_last": getattr(mlp, "gate_last", True),
        "attn_layer": attn_layer,
        "diff_dual_lambda": bool(getattr(attn, "dual_lambda", False)),
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


def _check_structure(name: str, timm_model: nn.Module, config: ViTConfig) -> None:
    """What the config cannot say is as it assumes: one norm kind, all blocks alike."""
    for path, module in timm_model.named_modules():
        if path.startswith("patch_embed") or path.endswith("sub_norm"):
            continue
        if type(module).__name__ in NORM_NAMES or isinstance(module, nn.LayerNorm):
            found, wanted = _norm_kind(name, module), (config.norm_layer, config.norm_eps)
            _refuse_if(name, found != wanted, f"norm {path} is {found}, not {wanted}")
    for index, block in enumerate(timm_model.blocks):
        _refuse_if(name, type(block) is not type(timm_model.blocks[0]), f"block {index} differs")
        holder = block.attn if config.block_fn in ("block", "res_post") else block
        off = config.attn_layer == "diff" and abs(holder.lambda_init - diff_lambda_init(index))
        _refuse_if(name, bool(off and off > 1e-12), f"block {index} has another lambda_init")
    pool = timm_model.attn_pool
    standard = pool is None or (
        type(pool).__name__ == "AttentionPoolLatent"
        and (pool.latent_len, pool.pool, pool.num_heads) == (1, "token", config.num_heads)
        and pool.pos_embed is None
        and pool.mlp is not None
        and isinstance(pool.q_norm, nn.Identity)
    )
    reason = "only the standard single-query attention pool (SigLIP 'map') is supported"
    _refuse_if(name, not standard, reason)


def _refuse_if(name: str, condition: bool, reason: str) -> None:
    if condition:
        raise UnsupportedModelError(f"{name}: {reason}.")


def _name_of(timm_model: nn.Module) -> str:
    cfg = getattr(timm_model, "pretrained_cfg", None) or {}
    return cfg.get("architecture") or type(timm_model).__name__
