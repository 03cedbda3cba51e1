"""Writing a self-describing checkpoint: weights, their timm architecture, and our network.

Besides the timm architecture and ``model_kwargs`` (enough to rebuild the model through
timm), the file stores the :class:`~vitviz.vit.ViTConfig` of the network the weights fit
(``vitviz.config``) and the fully resolved preprocessing, so that ``load`` builds it
without importing timm. Both are derived here through the same timm path that loading
takes, so the two ways of loading the file give the same network and spec.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from timm.data import resolve_model_data_config

from vitviz.errors import ModelLoadError
from vitviz.vit.checkpoint_files import (
    META_ARCH,
    META_CONFIG,
    META_LABELS,
    META_MODEL_KWARGS,
    META_PRETRAINED_CFG,
    PREPROCESSING_FIELDS,
    StoredModelInfo,
    write_safetensors,
)
from vitviz.vit.checkpoint_models import plan_model
from vitviz.vit.config import ViTConfig
from vitviz.vit.from_timm import config_from_timm
from vitviz.vit.timm_source import check_arch

_log = logging.getLogger(__name__)

# What a timm model's own pretrained config contributes when no preprocessing is given.
_MODEL_CFG_FIELDS = (*PREPROCESSING_FIELDS, "num_classes")


def save_checkpoint(
    weights: torch.nn.Module | Mapping[str, torch.Tensor],
    path: str | os.PathLike[str],
    *,
    arch: str | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    pretrained_cfg: Mapping[str, Any] | None = None,
    labels: list[str] | tuple[str, ...] | None = None,
) -> Path:
    """Write a self-describing ``.safetensors`` checkpoint that ``load(path)`` reads alone.

    When the weights fit the architecture, the file also stores our network's config
    (``vitviz.config``) and the resolved preprocessing (every field, timm's defaults
    filled in), and then loads without timm. Weights that do not fit are still written
    (``load`` then lists what is wrong), without ``vitviz.config``.

    Parameters
    ----------
    weights : torch.nn.Module or mapping of str to torch.Tensor
        A timm model or its state dict (timm key names).
    path : str or path-like
        Where to write; written to a temporary file first and then renamed, so an
        interrupted save never leaves a truncated checkpoint behind.
    arch : str, optional
        timm architecture or tag (``vit_tiny_patch16_224``). Taken from a timm model's
        ``pretrained_cfg`` when not given.
    model_kwargs : mapping, optional
        Keyword arguments for ``timm.create_model`` (``depth``, ``num_classes``, ``img_size``
        ...); JSON-serialisable.
    pretrained_cfg : mapping, optional
        Preprocessing: ``input_size``, ``crop_pct``, ``crop_mode``, ``interpolation``,
        ``mean``, ``std``. Taken from a timm model's ``pretrained_cfg`` when not given;
        fields left out get the architecture's values.
    labels : sequence of str, optional
        Class names in logit order.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ModelLoadError
        If no architecture is given, a field is not JSON-serialisable, or the weights are
        not tensors.
    """
    model_cfg = getattr(weights, "pretrained_cfg", None) or {}
    arch = arch or model_cfg.get("architecture")
    if not arch:
        raise ModelLoadError("save_checkpoint needs arch= (the timm architecture name).")
    if pretrained_cfg is None:
        pretrained_cfg = {k: model_cfg[k] for k in _MODEL_CFG_FIELDS if k in model_cfg}
    state = weights.state_dict() if isinstance(weights, torch.nn.Module) else weights
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadError("save_checkpoint needs a model or a non-empty dict of tensors.")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    target = Path(path).expanduser()
    stored_cfg = dict(pretrained_cfg)
    described = _describe(tensors, arch, model_kwargs, stored_cfg, target)
    if described is not None:
        config, stored_cfg = described
    try:
        metadata = {
            META_ARCH: json.dumps(arch),
            META_MODEL_KWARGS: json.dumps(dict(model_kwargs or {})),
            META_PRETRAINED_CFG: json.dumps(stored_cfg),
        }
        if labels is not None:
            metadata[META_LABELS] = json.dumps([str(label) for label in labels])
    except TypeError as exc:
        raise ModelLoadError(f"Checkpoint metadata must be JSON-serialisable: {exc}") from exc
    if described is not None:
        metadata[META_CONFIG] = json.dumps(config.to_dict())
    return write_safetensors(tensors, target, metadata)


def _describe(
    tensors: Mapping[str, torch.Tensor],
    arch: str,
    model_kwargs: Mapping[str, Any] | None,
    pretrained_cfg: Mapping[str, Any],
    target: Path,
) -> tuple[ViTConfig, dict[str, Any]] | None:
    """Our network's config and the resolved preprocessing, or None when timm must load it."""
    info = StoredModelInfo(arch, dict(model_kwargs or {}), dict(pretrained_cfg))
    try:
        check_arch(arch)
        plan = plan_model(tensors, info, arch=arch, path=target)
        config = config_from_timm(plan.model)
    except ModelLoadError as exc:  # UnsupportedModelError included
        _log.warning("%s: saved without %r: %s", target.name, META_CONFIG, exc)
        return None
    # Without timm, loading cannot convert key layouts or resample: the stored tensors
    # must be the model's weights as they are.
    if not _same_tensors(plan.state_dict, tensors):
        _log.warning(
            "%s: saved without %r: timm converts these weights when loading (foreign key "
            "names or resampled shapes); save a timm model's own state dict instead.",
            target.name,
            META_CONFIG,
        )
        return None
    return config, _resolved_cfg(plan.model, pretrained_cfg)


def _same_tensors(
    converted: Mapping[str, torch.Tensor], stored: Mapping[str, torch.Tensor]
) -> bool:
    if converted.keys() != stored.keys():
        return False
    return all(
        value is stored[key]
        or (value.dtype == stored[key].dtype and torch.equal(value, stored[key]))
        for key, value in converted.items()
    )


def _resolved_cfg(timm_model: torch.nn.Module, given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` with every preprocessing field as timm resolves it for ``timm_model``.

    Overlaying resolved values changes nothing for timm's own loading path, and lets
    loading without timm read them straight from the file.
    """
    data = resolve_model_data_config(timm_model)
    resolved = {**given, **{k: data[k] for k in PREPROCESSING_FIELDS if k in data}}
    resolved.setdefault("crop_mode", "center")
    label_names = timm_model.pretrained_cfg.get("label_names")
    if label_names:
        resolved["label_names"] = [str(name) for name in label_names]
    return resolved
