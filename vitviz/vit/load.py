"""``vitviz.vit.load``: any supported ViT, by name or file, as our network plus its spec."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from vitviz.errors import ModelLoadError
from vitviz.resources import DEMO_MODEL_PATH
from vitviz.vit.catalog import cached_hub_file, cached_hub_folder
from vitviz.vit.checkpoint_models import from_file
from vitviz.vit.device import resolve_device, resolve_dtype
from vitviz.vit.from_timm import from_timm
from vitviz.vit.model import VisionTransformer
from vitviz.vit.pretrained import build_spec
from vitviz.vit.spec import PretrainedSpec
from vitviz.vit.timm_source import LoadedTimm, from_folder, from_hub, from_pretrained_tag

DEMO_NAME = "demo"
HUB_PREFIX = "hf-hub:"

# File names that mean "a local file" even when the file is missing, so that a typo in a
# path says "file not found" rather than "unknown model".
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
        through timm's hub download and cache), an ``hf-hub:org/name`` id, a local
        checkpoint file (``.safetensors``, ``.pth``/``.pt``/``.bin`` state dicts, Google
        ``.npz``), a folder with timm's ``config.json`` and weights (a hub download), or
        ``"demo"`` for the bundled model.
    arch : str, optional
        timm architecture (or tag) of a checkpoint file that does not say what it is.
    device : str or torch.device
        ``"auto"`` picks CUDA, then MPS, then the CPU.
    dtype : str or torch.dtype, optional
        float32 by default; ``"fp16"`` / ``"bf16"`` on a GPU.
    pretrained : bool
        For timm tags, hub ids and folders: False builds the architecture with random weights
        (no weight download) but keeps its preprocessing and labels.

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
    name, loaded = _load_timm(source, arch=arch, pretrained=pretrained)
    model = from_timm(loaded.model)
    spec = build_spec(
        name=name,
        arch=loaded.arch,
        timm_model=loaded.model,
        vit_model=model,
        stored_labels=loaded.stored.labels,
    )
    try:
        model = model.to(device=target_device, dtype=target_dtype)
    except RuntimeError as exc:
        raise ModelLoadError(
            f"Could not move {name} to {target_device} in {target_dtype} ({exc}); try "
            "device='cpu' or a smaller model."
        ) from exc
    return model.eval(), spec


def _load_timm(
    source: str | os.PathLike[str], *, arch: str | None, pretrained: bool
) -> tuple[str, LoadedTimm]:
    if isinstance(source, str) and source.strip() == DEMO_NAME:
        if not DEMO_MODEL_PATH.is_file():
            raise ModelLoadError(
                f"The bundled demo model is missing ({DEMO_MODEL_PATH}); reinstall vitviz "
                "or rebuild it with `python -m vitviz.demo.train`."
            )
        return DEMO_NAME, from_file(DEMO_MODEL_PATH, arch=arch)
    if isinstance(source, str) and source.startswith(HUB_PREFIX):
        folder = cached_hub_folder(source) if pretrained else None
        if folder is not None:
            return source, from_folder(folder)
        return source, from_hub(source, pretrained=pretrained)
    if _is_local_path(source):
        path = Path(source).expanduser()
        if path.is_dir():
            return path.name, from_folder(path, pretrained=pretrained)
        return path.name, from_file(path, arch=arch)
    if not isinstance(source, str) or not source.strip():
        raise ModelLoadError(
            "No model given; name a timm tag, an hf-hub: id, a checkpoint file or 'demo'."
        )
    tag = source.strip()
    cached = cached_hub_file(tag) if pretrained else None
    if cached is not None:
        # Weights already downloaded load like a local file under the tag's config: no
        # hub round-trip (offline, timm's client retries the network for most of a
        # minute before it looks in its cache) and no random init of the architecture.
        return tag, from_file(cached, arch=tag)
    return tag, from_pretrained_tag(tag, pretrained=pretrained)


def _is_local_path(source: str | os.PathLike[str]) -> bool:
    if not isinstance(source, str):
        return True
    path = Path(source).expanduser()
    return (
        path.exists()
        or path.suffix.lower() in _CHECKPOINT_SUFFIXES
        or any(sep in source for sep in ("/", "\\"))
        or source.startswith("~")
    )
