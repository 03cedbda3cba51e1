"""``vitviz.vit.load``: any supported ViT, by name or file, as our network plus its spec."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from vitviz.errors import ModelLoadError
from vitviz.resources import DEMO_MODEL_PATH
from vitviz.vit.checkpoint_files import read_checkpoint
from vitviz.vit.described_checkpoint import from_described
from vitviz.vit.device import resolve_device, resolve_dtype
from vitviz.vit.model import VisionTransformer
from vitviz.vit.sources import DEMO_NAME, is_demo, is_hub_id, is_local_path
from vitviz.vit.spec import PretrainedSpec


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
    name, model, spec = _network(source, arch=arch, pretrained=pretrained)
    try:
        model = model.to(device=target_device, dtype=target_dtype)
    except RuntimeError as exc:
        raise ModelLoadError(
            f"Could not move {name} to {target_device} in {target_dtype} ({exc}); try "
            "the CPU or a smaller model."
        ) from exc
    return model.eval(), spec


def _network(
    source: str | os.PathLike[str], *, arch: str | None, pretrained: bool
) -> tuple[str, VisionTransformer, PretrainedSpec]:
    # timm (seconds to import) is imported only by the sources that need it: the bundled
    # demo model and every file save_checkpoint writes describe their network themselves.
    if is_demo(source):
        if not DEMO_MODEL_PATH.is_file():
            raise ModelLoadError(
                f"The bundled demo model is missing ({DEMO_MODEL_PATH}); reinstall vitviz "
                "or rebuild it with `python -m vitviz.demo.train`."
            )
        return DEMO_NAME, *_file_network(DEMO_NAME, DEMO_MODEL_PATH, arch=arch)
    if is_hub_id(source):
        from vitviz.vit.timm_load import hub_network

        return source, *hub_network(source, pretrained=pretrained)
    if is_local_path(source):
        path = Path(source).expanduser()
        if path.is_dir():
            from vitviz.vit.timm_load import folder_network

            return path.name, *folder_network(path, pretrained=pretrained)
        return path.name, *_file_network(path.name, path, arch=arch)
    if not isinstance(source, str) or not source.strip():
        raise ModelLoadError(
            "No model given; name a timm tag, an hf-hub: id, a checkpoint file or 'demo'."
        )
    from vitviz.vit.timm_load import tag_network

    tag = source.strip()
    return tag, *tag_network(tag, pretrained=pretrained)


def _file_network(
    name: str, path: Path, *, arch: str | None
) -> tuple[VisionTransformer, PretrainedSpec]:
    checkpoint = read_checkpoint(path)
    if checkpoint.info.describes_network and arch in (None, checkpoint.info.arch):
        return from_described(checkpoint, name)
    if checkpoint.state_dict is not None and checkpoint.info.arch is None:
        # Bare weights: the architecture is read from their names and shapes.
        from vitviz.vit.architectures import best_fit, network_for

        match = best_fit(checkpoint.state_dict, name, arch)
        if match is not None:
            return network_for(match, checkpoint.state_dict, name)
    from vitviz.vit.timm_load import checkpoint_network

    return checkpoint_network(name, checkpoint, arch=arch)
