"""Getting a fully loaded timm model from a checkpoint file, checked key by key.

timm builds the architecture and converts foreign key layouts (OpenAI CLIP, DINOv2,
DeiT-3, Google ``.npz``). Around it we add what one's own checkpoints need: the head size,
depth and native image size read from the weights, a strict key/shape check that lists
every difference, and no weights left at random: nothing is returned half-loaded.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
from timm.layers import to_2tuple
from timm.models import PretrainedCfg
from timm.models.vision_transformer import checkpoint_filter_fn
from torch import nn

from vitviz.errors import ModelLoadError
from vitviz.vit.checkpoint_files import (
    CheckpointFile,
    StoredModelInfo,
    first_line,
    read_checkpoint,
)
from vitviz.vit.timm_source import LoadedTimm, check_arch
from vitviz.vit.weights import check_fit, preview

_log = logging.getLogger(__name__)

# A key every timm ViT has, to recognise its state dict under a wrapper's prefix.
_ANCHOR_KEY = "patch_embed.proj.weight"


def from_file(path: str | Path, *, arch: str | None = None) -> LoadedTimm:
    """Build a timm model from a local checkpoint file.

    Parameters
    ----------
    path : str or Path
        ``.safetensors``, PyTorch pickle (``.pth``/``.pt``/``.bin``) or Google ``.npz``.
    arch : str, optional
        timm architecture (or tag, whose preprocessing is then used) when the file does
        not say which it is. The number of classes and the native image size are read
        from the weights unless the file's metadata gives them.

    Returns
    -------
    LoadedTimm

    Raises
    ------
    ModelLoadError
        Unreadable file, unknown architecture, or weights that do not fit it (missing,
        unexpected and mis-shaped keys are listed).
    UnsupportedModelError
        An architecture vitviz cannot represent.
    """
    return from_checkpoint(read_checkpoint(path), arch=arch)


def from_checkpoint(checkpoint: CheckpointFile, *, arch: str | None = None) -> LoadedTimm:
    """Build a timm model from a checkpoint file already read.

    Parameters
    ----------
    checkpoint : CheckpointFile
        From :func:`vitviz.vit.checkpoint_files.read_checkpoint`.
    arch : str, optional
        As for :func:`from_file`.

    Returns
    -------
    LoadedTimm

    Raises
    ------
    ModelLoadError, UnsupportedModelError
        As for :func:`from_file`.
    """
    arch = arch or checkpoint.info.arch
    if not arch:
        raise ModelLoadError(
            f"{checkpoint.path.name} does not say which architecture it holds; choose the timm "
            "architecture it was trained with (for example vit_base_patch16_224)."
        )
    arch_name = check_arch(arch)
    if checkpoint.format == "npz":
        model = _model_from_npz(checkpoint, arch)
    else:
        assert checkpoint.state_dict is not None  # torch and safetensors files carry weights
        plan = plan_model(checkpoint.state_dict, checkpoint.info, arch=arch, path=checkpoint.path)
        model = _materialize(plan.model, arch, plan.overlay, plan.kwargs)
        model.load_state_dict(plan.state_dict, strict=True)
    return LoadedTimm(model.eval(), arch_name, checkpoint.info)


@dataclass(frozen=True)
class ModelPlan:
    """The timm model a state dict fits, on the meta device, and the weights in its keys.

    Attributes
    ----------
    model : torch.nn.Module
        The timm model, built on the meta device (shapes only).
    state_dict : dict of str to torch.Tensor
        The weights in timm's key layout, checked to fit ``model`` key for key.
    overlay : dict
        Pretrained-config fields overlaid on the architecture's.
    kwargs : dict
        ``timm.create_model`` arguments, the ones read from the weights included.
    """

    model: nn.Module
    state_dict: dict[str, torch.Tensor]
    overlay: dict[str, Any]
    kwargs: dict[str, Any]


def _create(
    arch: str, overlay: Mapping[str, Any], kwargs: Mapping[str, Any], device: str = "meta"
) -> nn.Module:
    """Build the architecture; on the meta device by default (shapes only, no random init)."""
    overlay = dict(overlay)
    if "img_size" in kwargs and "input_size" not in overlay:
        # The preprocessing must follow the size the weights were built for, not the
        # architecture's default.
        overlay["input_size"] = (3, *to_2tuple(kwargs["img_size"]))
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


def _materialize(
    model: nn.Module, arch: str, overlay: Mapping[str, Any], kwargs: Mapping[str, Any]
) -> nn.Module:
    """Real, uninitialised CPU storage for a meta model whose every tensor will be loaded."""
    persistent = set(model.state_dict())
    if all(name in persistent for name, _ in model.named_buffers()):
        return model.to_empty(device="cpu")
    # Buffers outside the state dict are computed at init; only a real build has them.
    return _create(arch, overlay, kwargs, device="cpu")


def plan_model(
    raw_state_dict: Mapping[str, torch.Tensor],
    info: StoredModelInfo,
    *,
    arch: str,
    path: Path,
) -> ModelPlan:
    """Which timm model a state dict fits, checked key by key, without building its weights.

    Parameters
    ----------
    raw_state_dict : mapping of str to torch.Tensor
        The weights as a file holds them (a shared key prefix and foreign key layouts are
        converted to timm's).
    info : StoredModelInfo
        The file's own description: ``model_kwargs`` and ``pretrained_cfg`` are used.
    arch : str
        timm architecture or tag.
    path : Path
        The file, for messages.

    Returns
    -------
    ModelPlan

    Raises
    ------
    ModelLoadError
        When the model cannot be built or the weights do not fit it.
    """
    kwargs = dict(info.model_kwargs)
    overlay = _known_cfg_fields(info.pretrained_cfg, path)
    raw = _strip_common_prefix(raw_state_dict)
    model = _create(arch, overlay, kwargs)
    state_dict = _to_timm_keys(raw, model, path)
    # A fine-tuned head, another depth or another training resolution are common in one's
    # own checkpoints: take them from the weights unless the metadata says otherwise.
    inferred = {}
    if "num_classes" not in kwargs:
        classes = _head_classes(state_dict)
        if classes != model.num_classes:
            inferred["num_classes"] = classes
    if "depth" not in kwargs:
        depth = _depth(state_dict)
        if depth and depth != len(model.blocks):
            inferred["depth"] = depth
    if "img_size" not in kwargs:
        img_size = _native_img_size(raw, model)
        if img_size is not None and img_size != tuple(model.patch_embed.img_size):
            inferred["img_size"] = img_size
    if inferred:
        _log.info("%s: building %s with %s read from the weights", path, arch, inferred)
        model = _create(arch, overlay, {**kwargs, **inferred})
        state_dict = _to_timm_keys(raw, model, path)
    check_state_dict(state_dict, model, source=path.name, arch=arch)
    return ModelPlan(model, state_dict, overlay, {**kwargs, **inferred})


def _known_cfg_fields(cfg: Mapping[str, Any], path: Path) -> dict[str, Any]:
    known = {f.name for f in dataclasses.fields(PretrainedCfg)}
    ignored = sorted(set(cfg) - known)
    if ignored:
        _log.warning("%s: ignoring unknown pretrained_cfg fields %s", path.name, ignored)
    return {k: v for k, v in cfg.items() if k in known}


def _strip_common_prefix(state_dict: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
    """Drop a prefix every key shares (``model.`` of Lightning, ``backbone.`` ...)."""
    if _ANCHOR_KEY in state_dict:
        return state_dict
    prefix = next((k[: -len(_ANCHOR_KEY)] for k in state_dict if k.endswith(f".{_ANCHOR_KEY}")), "")
    if not prefix or not all(k.startswith(prefix) for k in state_dict):
        return state_dict
    _log.info("removing the prefix %r shared by every key", prefix)
    return {k[len(prefix) :]: v for k, v in state_dict.items()}


def _to_timm_keys(
    state_dict: Mapping[str, torch.Tensor], model: nn.Module, path: Path
) -> dict[str, torch.Tensor]:
    # timm's converter maps OpenAI CLIP / DINOv2 / DeiT-3 key names and resamples the
    # position embedding and patch projection to the model's sizes.
    try:
        return checkpoint_filter_fn(dict(state_dict), model, adapt_layer_scale=True)
    except (RuntimeError, ValueError, KeyError, IndexError) as exc:
        raise ModelLoadError(
            f"{path.name} could not be mapped onto {type(model).__name__} ({exc}); is the "
            "architecture right?"
        ) from exc


def _head_classes(state_dict: Mapping[str, torch.Tensor]) -> int:
    head = state_dict.get("head.weight")
    return int(head.shape[0]) if head is not None and head.ndim == 2 else 0


def _depth(state_dict: Mapping[str, torch.Tensor]) -> int:
    parts = (key.split(".") for key in state_dict)
    indices = {int(p[1]) for p in parts if p[0] == "blocks" and len(p) > 1 and p[1].isdigit()}
    return max(indices) + 1 if indices else 0


def _native_img_size(
    state_dict: Mapping[str, torch.Tensor], model: nn.Module
) -> tuple[int, int] | None:
    """Square image size whose patch grid matches the file's position embedding, if any.

    Read from the file's own ``pos_embed`` (timm key layout), before timm's converter
    resamples it to the model's default grid.
    """
    pos_embed = state_dict.get("pos_embed")
    if pos_embed is None or getattr(model, "pos_embed", None) is None or pos_embed.ndim != 3:
        return None
    prefix = 0 if getattr(model, "no_embed_class", False) else model.num_prefix_tokens
    side = math.isqrt(max(pos_embed.shape[1] - prefix, 0))  # pos_embed: [1, prefix + g*g, D]
    if side == 0 or side * side != pos_embed.shape[1] - prefix:
        return None
    patch_h, patch_w = model.patch_embed.patch_size
    return side * patch_h, side * patch_w


def check_state_dict(
    state_dict: Mapping[str, torch.Tensor], model: nn.Module, *, source: str, arch: str
) -> None:
    """Refuse weights that do not fit a model exactly, listing every difference.

    Parameters
    ----------
    state_dict : mapping of str to torch.Tensor
        Weights in timm key names.
    model : torch.nn.Module
        The timm model they are meant for.
    source, arch : str
        For the message.

    Raises
    ------
    ModelLoadError
        With the missing keys, unexpected keys and shape mismatches.
    """
    check_fit(
        model.state_dict(),
        state_dict,
        source=source,
        target=arch,
        advice="Choose the architecture the checkpoint was trained with.",
    )


def _model_from_npz(checkpoint: CheckpointFile, arch: str) -> nn.Module:
    """Load an original Google/big_vision ``.npz`` through timm's converter, checked."""
    path = checkpoint.path
    with np.load(path, allow_pickle=False) as archive:
        shapes = {key: archive[key].shape for key in archive.files}
    prefix = _npz_prefix(shapes, path)
    kwargs = _npz_model_kwargs(shapes, prefix, arch)
    model = _materialize(_create(arch, {}, kwargs), arch, {}, kwargs)
    with torch.no_grad():
        # Poison every parameter first: whatever the converter does not overwrite stays
        # NaN, so a partial load is caught instead of leaving garbage in place.
        for param in model.parameters():
            param.fill_(float("nan"))
        try:
            model.load_pretrained(str(path))
        except (KeyError, ValueError, RuntimeError, IndexError) as exc:
            raise ModelLoadError(
                f"The weights in {path.name} do not fit {arch} ({first_line(exc)}). Choose "
                "the architecture it was trained with."
            ) from exc
    untouched = [name for name, p in model.named_parameters() if torch.isnan(p).any()]
    if untouched:
        raise ModelLoadError(
            f"The weights in {path.name} do not fit {arch}.\n"
            f"{len(untouched)} keys missing from the file: {preview(untouched, 10)}"
        )
    return model


def _npz_model_kwargs(
    shapes: Mapping[str, tuple[int, ...]], prefix: str, arch: str
) -> dict[str, Any]:
    """Head size, depth and native image size of a Google ``.npz``, read from its arrays."""
    head_bias = shapes.get(f"{prefix}head/bias")
    kwargs: dict[str, Any] = {"num_classes": int(head_bias[-1]) if head_bias else 0}
    scanned = shapes.get(f"{prefix}Transformer/encoderblock/LayerNorm_0/scale")
    if scanned is not None:
        kwargs["depth"] = int(scanned[0])  # big_vision stacks the blocks: [depth, D]
    else:
        block = f"{prefix}Transformer/encoderblock_"
        indices = {int(k[len(block) :].split("/")[0]) for k in shapes if k.startswith(block)}
        kwargs["depth"] = len(indices)
    pos = shapes.get(f"{prefix}Transformer/posembed_input/pos_embedding")
    kernel = shapes[f"{prefix}embedding/kernel"]  # [ph, pw, 3, D]
    if pos is not None and len(pos) == 3 and len(kernel) == 4:
        tokens = pos[1] - (1 if f"{prefix}cls" in shapes else 0)  # pos: [1, prefix + g*g, D]
        side = math.isqrt(tokens)
        if side * side == tokens:
            kwargs["img_size"] = (side * kernel[0], side * kernel[1])
    _log.info("%s: building %s with %s read from the .npz", prefix or "npz", arch, kwargs)
    return kwargs


def _npz_prefix(shapes: Mapping[str, tuple[int, ...]], path: Path) -> str:
    for prefix in ("", "opt/target/", "params/", "params/img/"):
        if f"{prefix}embedding/kernel" in shapes:
            return prefix
    raise ModelLoadError(
        f"{path.name} is a NumPy archive but not a Google ViT checkpoint (no "
        "'embedding/kernel' entry)."
    )
