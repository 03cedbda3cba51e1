"""Building a :class:`PretrainedSpec`: preprocessing, class names and token layout.

timm is imported only where it is needed (a timm model's data config, ImageNet's class
names): a checkpoint that carries its own preprocessing and class names gets its spec
without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from vitviz.errors import ModelLoadError
from vitviz.vit.spec import PretrainedSpec


def class_labels(
    num_classes: int,
    pretrained_cfg: Mapping[str, Any],
    stored: Sequence[str] | None = None,
) -> tuple[tuple[str, ...] | None, str]:
    """Class names in logit order, and where they came from.

    Parameters
    ----------
    num_classes : int
        Outputs of the model's head (0 for a headless model).
    pretrained_cfg : mapping
        timm pretrained config of the weights (its ``label_names`` are used when present).
    stored : sequence of str, optional
        Names stored with the checkpoint; they win over everything else.

    Returns
    -------
    labels : tuple of str or None
        None only for a headless model.
    source : str
        ``checkpoint``, ``pretrained config``, an ImageNet subset name such as
        ``imagenet-1k``, ``embedding`` (a CLIP projection head: ``embedding dim i``),
        ``generic`` (``class 0`` ... ``class n-1``) or ``none``.

    Raises
    ------
    ModelLoadError
        If stored names do not match the number of classes.
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
        # A CLIP image tower's head projects into the image-text embedding space: its
        # outputs are embedding dimensions, not classes.
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
    """Describe a model from its resolved preprocessing, without timm.

    Parameters
    ----------
    name : str
        What the user loaded (tag, hub id, ``demo`` or file name).
    arch : str
        timm architecture name.
    data_config : mapping
        Resolved preprocessing, as timm's ``resolve_model_data_config`` gives it:
        ``input_size``, ``crop_pct``, ``interpolation``, ``mean``, ``std`` and optionally
        ``crop_mode`` (``center`` when absent).
    pretrained_cfg : mapping
        The weights' pretrained config, for class names (``label_names``) and the
        ``architecture`` (a CLIP tower's outputs are embedding dimensions).
    num_classes : int
        Outputs of the model's head.
    vit_model : vitviz.vit.VisionTransformer
        Our network; gives the patch size and token layout.
    stored_labels : sequence of str, optional
        Class names stored with the checkpoint.

    Returns
    -------
    PretrainedSpec
    """
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


def build_spec(
    *,
    name: str,
    arch: str,
    timm_model: nn.Module,
    vit_model: nn.Module,
    stored_labels: Sequence[str] | None = None,
) -> PretrainedSpec:
    """Describe how a loaded timm model wants its input and what its outputs mean.

    Parameters
    ----------
    name : str
        What the user loaded (tag, hub id, ``demo`` or file name).
    arch : str
        timm architecture name.
    timm_model : torch.nn.Module
        The timm model the weights were loaded into; its ``pretrained_cfg`` gives the
        preprocessing.
    vit_model : vitviz.vit.VisionTransformer
        Our network built from it; gives the patch size and token layout.
    stored_labels : sequence of str, optional
        Class names stored with the checkpoint.

    Returns
    -------
    PretrainedSpec
    """
    from timm.data import resolve_model_data_config

    return spec_from_data_config(
        name=name,
        arch=arch,
        data_config=resolve_model_data_config(timm_model),
        pretrained_cfg=dict(getattr(timm_model, "pretrained_cfg", None) or {}),
        num_classes=int(timm_model.num_classes),
        vit_model=vit_model,
        stored_labels=stored_labels,
    )
