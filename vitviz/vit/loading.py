"""``vitviz.vit.load``: any supported ViT, by name or file, as our network plus its spec.

One path for every source: the weights are read (a file, the hub cache, a download), the
network is built from a config on the meta device and takes the weights with
``assign=True`` after one strict check, then moves to the device and dtype asked for.
Files that describe their network (the bundled demo model, every ``save_checkpoint``
file) load without importing timm; everything else goes through :mod:`vitviz.vit.timm`,
bare state dicts after :mod:`vitviz.vit.architectures` has read their architecture.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vitviz.errors import ModelLoadError, UnsupportedModelError
from vitviz.resources import DEMO_MODEL_PATH
from vitviz.vit.checkpoints import META_CONFIG, CheckpointFile, assemble, read_checkpoint
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
        One of: a timm tag (``vit_base_patch16_224.augreg2_in21k_ft_in1k``; weights come
        from the Hugging Face cache or are downloaded into it), an ``hf-hub:org/name``
        id, a local checkpoint file (``.safetensors``, ``.pth``/``.pt``/``.bin`` state
        dicts, Google ``.npz``), a folder with timm's ``config.json`` and weights, or
        ``"demo"`` for the bundled model.
    arch : str, optional
        timm architecture (or tag) of a checkpoint file; bare state dicts need none
        unless their weights fit networks that compute differently.
    device : str or torch.device
        ``"auto"`` picks CUDA, then MPS, then the CPU.
    dtype : str or torch.dtype, optional
        float32 by default; ``"fp16"`` / ``"bf16"`` on a GPU.
    pretrained : bool
        For timm tags, hub ids and folders: False builds the architecture with random
        weights (no download) but keeps its preprocessing and labels.

    Returns
    -------
    model : VisionTransformer
        In eval mode, on ``device`` in ``dtype``.
    spec : PretrainedSpec
        Preprocessing, class labels (and where they came from) and token layout.

    Raises
    ------
    ModelLoadError
        For anything that stops the model from loading; nothing is half-loaded.
    UnsupportedModelError
        For an architecture vitviz cannot represent.
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
    # timm (seconds to import) is imported only by the sources that need it.
    from vitviz.vit import hub

    if is_hub_id(source):
        return _folder_network(source, hub.hub_folder(source), pretrained=pretrained)
    if is_local_path(source):
        path = Path(source).expanduser()
        if path.is_dir():
            return _folder_network(path.name, path, pretrained=pretrained)
        return _file_network(path.name, path, arch=arch)
    from vitviz.vit.timm import check_arch, timm_network

    tag = str(source).strip()
    check_arch(tag)  # an unknown or unsupported name says so before any download
    weights = read_checkpoint(hub.download(tag)).state_dict if pretrained else None
    return timm_network(tag, tag, weights)


def _folder_network(
    name: str, folder: Path, *, pretrained: bool
) -> tuple[VisionTransformer, PretrainedSpec]:
    from vitviz.vit.hub import folder_files
    from vitviz.vit.timm import timm_network

    config, weights_file = folder_files(folder)
    kwargs = dict(config.get("model_args") or {})
    if "num_classes" in config:
        kwargs.setdefault("num_classes", config["num_classes"])
    weights = read_checkpoint(weights_file).state_dict if pretrained else None
    return timm_network(
        name,
        str(config["architecture"]),
        weights,
        kwargs=kwargs,
        overlay=config.get("pretrained_cfg"),
        labels=config.get("label_names"),
    )


def _file_network(
    name: str, path: Path, *, arch: str | None
) -> tuple[VisionTransformer, PretrainedSpec]:
    checkpoint = read_checkpoint(path)
    info = checkpoint.info
    if info.describes_network and arch in (None, info.arch):
        return _described(checkpoint, name)
    from vitviz.vit.timm import timm_network

    if checkpoint.state_dict is None:  # a Google .npz: timm's converter reads it
        if not arch:
            raise ModelLoadError(
                f"{name} does not say which architecture it holds; choose the timm "
                "architecture it was trained with (for example vit_base_patch16_224)."
            )
        return timm_network(name, arch, None, npz=path)
    kwargs = info.model_kwargs
    if not (arch or info.arch):
        # Bare weights: the architecture is read from their names and shapes.
        from vitviz.vit.architectures import best_fit

        match = best_fit(checkpoint.state_dict, name)
        arch, kwargs = match.arch, match.kwargs
    elif not kwargs:
        from vitviz.vit.architectures import fit_kwargs

        kwargs = fit_kwargs(arch or info.arch, checkpoint.state_dict)
    return timm_network(
        name,
        arch or info.arch,
        checkpoint.state_dict,
        kwargs=kwargs,
        overlay=info.pretrained_cfg,
        labels=info.labels,
    )


def _described(checkpoint: CheckpointFile, name: str) -> tuple[VisionTransformer, PretrainedSpec]:
    """Our network straight from a file's ``vitviz.config``, without timm."""
    info = checkpoint.info
    try:
        config = ViTConfig.from_dict(info.config)
        model = assemble(
            config,
            checkpoint.state_dict,
            source=name,
            target="the network its metadata describes",
            advice="The checkpoint and its architecture description disagree; re-export it.",
        )
    except (UnsupportedModelError, TypeError, ValueError, ArithmeticError, RuntimeError) as exc:
        raise ModelLoadError(
            f"{name}: metadata {META_CONFIG!r} does not describe a network vitviz can build "
            f"({exc}). Re-export the file with save_checkpoint, or delete that entry to load "
            "it through timm."
        ) from exc
    arch = info.arch.split(".", 1)[0]  # the architecture without its weights tag
    spec = spec_from_data_config(
        name=name,
        arch=arch,
        data_config=info.pretrained_cfg,
        pretrained_cfg={**info.pretrained_cfg, "architecture": arch},
        num_classes=config.num_classes,
        vit_model=model,
        stored_labels=info.labels,
    )
    return model, spec


def is_demo(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names the bundled demo model."""
    return isinstance(source, str) and source.strip() == DEMO_NAME


def is_hub_id(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` is a Hugging Face Hub id (``hf-hub:org/name``)."""
    return isinstance(source, str) and source.startswith(HUB_PREFIX)


def is_local_path(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names a local file or folder (existing or not), not a timm tag.

    A string does when it exists, has a directory part or starts with ``~``, or has a
    checkpoint suffix and is not a timm tag (``beit3_base_patch16_224.pt`` is one).
    """
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
    """Class names in logit order, and where they came from.

    Parameters
    ----------
    num_classes : int
        Outputs of the model's head (0 for a headless model).
    pretrained_cfg : mapping
        timm pretrained config of the weights (``label_names``, ``architecture``).
    stored : sequence of str, optional
        Names stored with the checkpoint; they win over everything else.

    Returns
    -------
    labels : tuple of str or None
        None only for a headless model.
    source : str
        ``checkpoint``, ``pretrained config``, an ImageNet subset (``imagenet-1k`` ...),
        ``embedding`` (a CLIP tower's outputs), ``generic`` (``class i``) or ``none``.
    """
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


def spec_from_data_config(
    *,
    name: str,
    arch: str,
    data_config: Mapping[str, Any],
    pretrained_cfg: Mapping[str, Any],
    num_classes: int,
    vit_model: nn.Module,
    stored_labels: Sequence[str] | None = None,
) -> PretrainedSpec:
    """The spec of ``vit_model`` from resolved preprocessing (timm's data config fields)."""
    _, height, width = (int(v) for v in data_config["input_size"])
    labels, source = class_labels(num_classes, pretrained_cfg, stored_labels)
    patch_h, patch_w = (int(v) for v in vit_model.patch_size)
    # A few weight sets (SigLIP so400m/14 at 384) are configured for a size the patches do
    # not divide; timm's convolution drops the remainder, so the grid is the floor.
    height, width = height - height % patch_h, width - width % patch_w
    return PretrainedSpec(
        name=name,
        arch=arch,
        input_size=(3, height, width),
        crop_pct=float(data_config["crop_pct"]),
        crop_mode=str(data_config.get("crop_mode", "center")),
        interpolation=str(data_config["interpolation"]),
        mean=tuple(float(v) for v in data_config["mean"]),
        std=tuple(float(v) for v in data_config["std"]),
        labels=labels,
        layout=vit_model.layout_for(height, width),
        patch_size=(patch_h, patch_w),
        label_source=source,
    )


_DTYPE_NAMES = {
    **dict.fromkeys(("fp32", "float32", "float"), torch.float32),
    **dict.fromkeys(("fp16", "float16", "half"), torch.float16),
    **dict.fromkeys(("bf16", "bfloat16"), torch.bfloat16),
}


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn a device request into a device this machine has.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks CUDA, then Apple MPS, then the CPU; else a torch device name.

    Raises
    ------
    ModelLoadError
        If the name is not a device, or names an accelerator this machine does not have.
    """
    if isinstance(device, str) and device.strip().lower() == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ModelLoadError(
            f"{device!r} is not a device name; use auto, cpu, cuda, cuda:N or mps."
        ) from exc
    missing = None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        missing = "PyTorch sees no CUDA GPU on this machine"
    elif resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        missing = f"this machine has only {torch.cuda.device_count()} CUDA GPU(s)"
    elif resolved.type == "mps" and not _mps_available():
        missing = "Apple MPS is not available here"
    if missing:
        raise ModelLoadError(f"Device {device!r} was asked for, but {missing}; choose auto or cpu.")
    return resolved


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """Turn a precision request (None: float32, a name or a dtype) into a dtype for ``device``.

    Raises
    ------
    ModelLoadError
        For an unknown name, a non-floating dtype, or half precision on the CPU (slow,
        and less accurate for nothing).
    """
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
