"""Our network straight from a checkpoint that describes it (``vitviz.config``), without timm.

``save_checkpoint`` stores the network's :class:`ViTConfig`, the resolved preprocessing
and the class names next to the weights, in timm's key layout. Such a file needs neither
timm's model registry nor its key converters: the demo model starts the app without
importing timm at all.
"""

from __future__ import annotations

import torch

from vitviz.errors import ModelLoadError, UnsupportedModelError
from vitviz.vit.checkpoint_files import META_CONFIG, CheckpointFile
from vitviz.vit.config import ViTConfig
from vitviz.vit.model import VisionTransformer
from vitviz.vit.pretrained import spec_from_data_config
from vitviz.vit.spec import PretrainedSpec
from vitviz.vit.weights import load_weights


def from_described(
    checkpoint: CheckpointFile, name: str
) -> tuple[VisionTransformer, PretrainedSpec]:
    """Build our network and its spec from a checkpoint's own description.

    Parameters
    ----------
    checkpoint : CheckpointFile
        A file whose ``info.describes_network`` is true.
    name : str
        What the user loaded (``demo`` or the file name), for the spec.

    Returns
    -------
    model : VisionTransformer
        On the CPU, in the file's dtype, in train mode.
    spec : PretrainedSpec

    Raises
    ------
    ModelLoadError
        If ``vitviz.config`` is not a valid config, or the weights do not fit it.
    """
    info = checkpoint.info
    assert info.describes_network
    assert checkpoint.state_dict is not None  # safetensors files carry their weights
    config = _config(checkpoint)
    try:
        with torch.device("meta"):
            model = VisionTransformer(config)
    except (TypeError, ValueError, ArithmeticError, RuntimeError) as exc:
        raise _invalid(checkpoint, exc) from exc
    load_weights(model, checkpoint.state_dict, source=checkpoint.path.name, copy=False)
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


def _config(checkpoint: CheckpointFile) -> ViTConfig:
    try:
        return ViTConfig.from_dict(checkpoint.info.config)
    except (UnsupportedModelError, TypeError, ValueError, ArithmeticError) as exc:
        raise _invalid(checkpoint, exc) from exc


def _invalid(checkpoint: CheckpointFile, exc: Exception) -> ModelLoadError:
    return ModelLoadError(
        f"{checkpoint.path.name}: metadata {META_CONFIG!r} does not describe a network vitviz "
        f"can build ({exc}). Re-export the file with save_checkpoint, or delete that entry to "
        "load it through timm."
    )
