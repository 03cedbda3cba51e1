"""``vitviz.vit.load``: any supported ViT, by name or file, as our network plus its spec.

One path for every source: read the weights, build the network from a config on the meta
device, assign the weights after one strict check, move it to the device and dtype.
Self-describing files (the demo model, ``save_checkpoint``'s) load without timm.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from vitviz.errors import ModelLoadError, UnsupportedModelError
from vitviz.resources import DEMO_MODEL_PATH
from vitviz.vit import hub
from vitviz.vit.checkpoints import (
    META_CONFIG,
    StoredModelInfo,
    assemble,
    read_checkpoint,
)
from vitviz.vit.config import ViTConfig
from vitviz.vit.model import VisionTransformer
from vitviz.vit.spec import PretrainedSpec

DEMO_NAME = "demo"
HUB_PREFIX = "hf-hub:"
# File names that mean "a local file" even when the file is missing (unless timm knows
# the name: it has tags ending in .pt), so that a typo in a path says "file not found".
_CHECKPOINT_SUFFIXES = frozenset({".safetensors", ".pth", ".pt", ".bin", ".npz", ".ckpt", ".tar"})


def load(
    source: str | os.PathLike[str],
    *,
    arch: str | None = None,
    device: str | torch.device = "auto",
    dtype: str | torch.dtype | None = None,
    pretrained: bool = True,
) -> tuple[VisionTransformer, PretrainedSpec]:
    """Load a Vision Transformer and describe how to use it.

    Parameters
    ----------
    source : str or path-like
        A timm tag, an ``hf-hub:org/name`` id, a checkpoint file (``.safetensors``,
        ``.pth``/``.pt``/``.bin``, Google ``.npz``), a timm folder, or ``"demo"``.
    arch : str, optional
        timm architecture (or tag) of a checkpoint file; bare state dicts need none
        unless their weights fit networks that compute differently.
    device, dtype
        ``"auto"`` picks CUDA, then MPS, then the CPU; float32 unless ``"fp16"`` /
        ``"bf16"`` (on a GPU).
    pretrained : bool
        False: tags, hub ids and folders get random weights (no download), their
        preprocessing and labels kept.

    Returns
    -------
    tuple of VisionTransformer and PretrainedSpec
        The network in eval mode; its preprocessing, labels and token layout.

    Raises
    ------
    ModelLoadError
        For anything that stops the model from loading; nothing is half-loaded.
    """
    target_device = resolve_device(device)
    target_dtype = resolve_dtype(dtype, target_device)
    model, spec = _network(source, arch=arch, pretrained=pretrained)
    try:
        model = model.to(device=target_device, dtype=target_dtype)
    except RuntimeError as exc:
        raise ModelLoadError(
            f"Could not move {spec.name} to {target_device} in {target_dtype} ({exc}); try "
            "the CPU or a smaller model."
        ) from exc
    return model.eval(), spec


def _network(
    source: str | os.PathLike[str], *, arch: str | None, pretrained: bool
) -> tuple[VisionTransformer, PretrainedSpec]:
    if is_demo(source):
        if not DEMO_MODEL_PATH.is_file():
            raise ModelLoadError(
                f"The bundled demo model is missing ({DEMO_MODEL_PATH}); reinstall vitviz "
                "or rebuild it with `python -m training.demo_model`."
            )
        return _file_network(DEMO_NAME, DEMO_MODEL_PATH, arch=arch)
    if not isinstance(source, (str, os.PathLike)) or not os.fspath(source).strip():
        raise ModelLoadError(
            "No model given; name a timm tag, an hf-hub: id, a checkpoint file or 'demo'."
        )
    hub_id = is_hub_id(source)
    path = None if hub_id or not is_local_path(source) else Path(source).expanduser()
    if path is not None and not path.is_dir():
        return _file_network(path.name, path, arch=arch)
    # timm (seconds to import) is imported only by the sources that need it.
    from vitviz.vit.timm import check_arch, timm_network

    if hub_id or path is not None:  # a timm folder: downloaded, or local
        name = path.name if path else source
        info, weights_file = hub.folder_files(path or hub.hub_folder(source))
    else:
        name = str(source).strip()
        check_arch(name)  # an unknown or unsupported name says so before any download
        info, weights_file = StoredModelInfo(arch=name), hub.download(name) if pretrained else None
    weights = read_checkpoint(weights_file).state_dict if pretrained else None
    return timm_network(name, info, weights)


def _file_network(
    name: str, path: Path, *, arch: str | None
) -> tuple[VisionTransformer, PretrainedSpec]:
    checkpoint = read_checkpoint(path)
    info, weights = checkpoint.info, checkpoint.state_dict
    if info.describes_network and arch in (None, info.arch):
        return _described(name, info, weights)
    from vitviz.vit.architectures import best_fit, fit_kwargs
    from vitviz.vit.timm import timm_network

    arch = arch or info.arch
    if weights is None:  # a Google .npz: timm's converter reads it
        if not arch:
            raise ModelLoadError(
                f"{name} does not say which architecture it holds; choose the timm "
                "architecture it was trained with (for example vit_base_patch16_224)."
            )
        return timm_network(name, replace(info, arch=arch), None, npz=path)
    if arch:
        kwargs = info.model_kwargs or fit_kwargs(arch, weights)
    else:  # bare weights: the architecture is read from their names and shapes
        match = best_fit(weights, name)
        arch, kwargs = match.arch, match.kwargs
    return timm_network(name, replace(info, arch=arch, model_kwargs=kwargs), weights)


def _described(
    name: str, info: StoredModelInfo, weights: dict[str, torch.Tensor]
) -> tuple[VisionTransformer, PretrainedSpec]:
    """Our network straight from a file's ``vitviz.config``, without timm."""
    target = "the network its metadata describes"
    advice = "The checkpoint and its architecture description disagree; re-export it."
    try:
        config = ViTConfig.from_dict(info.config)
        model = assemble(config, weights, source=name, target=target, advice=advice)
    except (UnsupportedModelError, TypeError, ValueError, ArithmeticError, RuntimeError) as exc:
        raise ModelLoadError(
            f"{name}: metadata {META_CONFIG!r} does not describe a network vitviz can build "
            f"({exc}). Re-export the file with save_checkpoint, or delete that entry to load "
            "it through timm."
        ) from exc
    arch = info.arch.split(".", 1)[0]  # the architecture without its weights tag
    return model, spec_from_config(
        name, model, {**info.pretrained_cfg, "architecture": arch}, info.labels
    )


def is_demo(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names the bundled demo model."""
    return isinstance(source, str) and source.strip() == DEMO_NAME


def is_hub_id(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` is a Hugging Face Hub id (``hf-hub:org/name``)."""
    return isinstance(source, str) and source.startswith(HUB_PREFIX)


def is_local_path(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names a local file or folder (existing or not), not a timm tag:
    it exists, has a directory part or ``~``, or has a checkpoint suffix and is not a timm
    tag (``beit3_base_patch16_224.pt`` is one)."""
    if not isinstance(source, str):
        return True
    path = Path(source).expanduser()
    if path.exists() or any(sep in source for sep in ("/", "\\")) or source.startswith("~"):
        return True
    if path.suffix.lower() not in _CHECKPOINT_SUFFIXES:
        return False
    import timm  # only names with a checkpoint suffix pay for asking timm

    return not timm.is_model(source.strip())


def class_labels(
    num_classes: int, pretrained_cfg: Mapping[str, Any], stored: Sequence[str] | None = None
) -> tuple[tuple[str, ...] | None, str]:
    """Class names in logit order (None when headless) and their source: ``checkpoint``
    (``stored``), ``pretrained config``, an ImageNet subset of that class count
    (``imagenet-1k`` ...), ``embedding`` (a CLIP tower), ``generic`` or ``none``."""
    if num_classes <= 0:
        return None, "none"
    if stored is not None:
        if len(stored) != num_classes:
            raise ModelLoadError(
                f"The checkpoint stores {len(stored)} class names but its head has "
                f"{num_classes} outputs; fix the 'vitviz.labels' metadata."
            )
        return tuple(stored), "checkpoint"
    cfg_names = pretrained_cfg.get("label_names")
    if cfg_names and len(cfg_names) == num_classes:
        return tuple(str(name) for name in cfg_names), "pretrained config"
    from timm.data import ImageNetInfo, infer_imagenet_subset

    subset = infer_imagenet_subset({"num_classes": num_classes})
    if subset:
        return tuple(ImageNetInfo(subset).label_descriptions()), subset
    if "clip" in str(pretrained_cfg.get("architecture", "")):
        # A CLIP tower's head projects into the image-text embedding space.
        return tuple(f"embedding dim {i}" for i in range(num_classes)), "embedding"
    return tuple(f"class {i}" for i in range(num_classes)), "generic"


def spec_from_config(
    name: str,
    model: VisionTransformer,
    cfg: Mapping[str, Any],
    stored_labels: Sequence[str] | None = None,
) -> PretrainedSpec:
    """The spec of ``model`` from resolved preprocessing (timm's data config fields),
    ``architecture`` and ``label_names`` in ``cfg``."""
    _, height, width = (int(v) for v in cfg["input_size"])
    labels, source = class_labels(model.config.num_classes, cfg, stored_labels)
    patch_h, patch_w = model.patch_size
    # A few weight sets (SigLIP so400m/14 at 384) are configured for a size the patches do
    # not divide; timm's convolution drops the remainder, so the grid is the floor.
    height, width = height - height % patch_h, width - width % patch_w
    return PretrainedSpec(
        name=name,
        arch=str(cfg["architecture"]),
        input_size=(3, height, width),
        crop_pct=float(cfg["crop_pct"]),
        crop_mode=str(cfg.get("crop_mode", "center")),
        interpolation=str(cfg["interpolation"]),
        mean=tuple(float(v) for v in cfg["mean"]),
        std=tuple(float(v) for v in cfg["std"]),
        labels=labels,
        layout=model.layout_for(height, width),
        patch_size=(patch_h, patch_w),
        label_source=source,
    )


_DTYPE_NAMES = {
    **dict.fromkeys(("fp32", "float32", "float"), torch.float32),
    **dict.fromkeys(("fp16", "float16", "half"), torch.float16),
    **dict.fromkeys(("bf16", "bfloat16"), torch.bfloat16),
}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """A device this machine has: ``"auto"`` picks CUDA, then Apple MPS, then the CPU;
    :class:`ModelLoadError` for a name that is not a device or one that is missing."""
    if isinstance(device, str) and device.strip().lower() == "auto":
        return torch.accelerator.current_accelerator(check_available=True) or torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ModelLoadError(
            f"{device!r} is not a device name; use auto, cpu, cuda, cuda:N or mps."
        ) from exc
    missing, gpus = None, torch.cuda.device_count()
    if resolved.type == "cuda" and (resolved.index or 0) >= gpus:
        missing = f"this machine has {gpus or 'no'} CUDA GPU(s)"
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        missing = "Apple MPS is not available here"
    if missing:
        raise ModelLoadError(f"Device {device!r} was asked for, but {missing}; choose auto or cpu.")
    return resolved


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """A float dtype for ``device`` (None: float32); :class:`ModelLoadError` for an unknown
    name, a non-float dtype, or half precision on the CPU (slow, and less accurate)."""
    if dtype is None:
        return torch.float32
    resolved = _DTYPE_NAMES.get(dtype.strip().lower()) if isinstance(dtype, str) else dtype
    if resolved not in (torch.float32, torch.float16, torch.bfloat16):
        raise ModelLoadError(f"Unknown precision {dtype!r}; use fp32 (default), fp16 or bf16.")
    if resolved is not torch.float32 and device.type == "cpu":
        raise ModelLoadError(
            f"{resolved} was asked for on the CPU; half precision is offered on GPUs only. "
            "Use the default (fp32) on the CPU."
        )
    return resolved
