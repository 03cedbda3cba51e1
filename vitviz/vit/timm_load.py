"""Loading through timm: pretrained tags, hub ids, hub-style folders, and checkpoint files
that do not describe their own network.

Each function returns our network (with a copy of the weights timm loaded) and its spec.
This module imports timm; :mod:`vitviz.vit.load` imports it only when a source needs it.
"""

from __future__ import annotations

from pathlib import Path

from vitviz.vit.catalog import cached_hub_file, cached_hub_folder, require_hub
from vitviz.vit.checkpoint_files import CheckpointFile
from vitviz.vit.checkpoint_models import from_checkpoint, from_file
from vitviz.vit.from_timm import from_timm
from vitviz.vit.model import VisionTransformer
from vitviz.vit.pretrained import build_spec
from vitviz.vit.spec import PretrainedSpec
from vitviz.vit.timm_source import (
    LoadedTimm,
    check_arch,
    from_folder,
    from_hub,
    from_pretrained_tag,
)


def checkpoint_network(
    name: str, checkpoint: CheckpointFile, *, arch: str | None
) -> tuple[VisionTransformer, PretrainedSpec]:
    """A checkpoint file read by :func:`~vitviz.vit.checkpoint_files.read_checkpoint`.

    Parameters
    ----------
    name : str
        What the user loaded, for the spec.
    checkpoint : CheckpointFile
        The file's weights and metadata.
    arch : str, optional
        timm architecture (or tag) when the file does not say, or to override it.

    Returns
    -------
    tuple
        ``(VisionTransformer, PretrainedSpec)``; the network on the CPU, in train mode.
    """
    return _network(name, from_checkpoint(checkpoint, arch=arch))


def hub_network(hub_id: str, *, pretrained: bool) -> tuple[VisionTransformer, PretrainedSpec]:
    """An ``hf-hub:`` id: from the local hub cache when there, else through timm's download.

    Parameters
    ----------
    hub_id : str
        ``hf-hub:org/name`` (optionally ``@revision``).
    pretrained : bool
        False builds the architecture with random weights.

    Returns
    -------
    tuple
        ``(VisionTransformer, PretrainedSpec)``.
    """
    folder = cached_hub_folder(hub_id) if pretrained else None
    if folder is not None:
        return _network(hub_id, from_folder(folder))
    require_hub(hub_id)
    return _network(hub_id, from_hub(hub_id, pretrained=pretrained))


def folder_network(folder: Path, *, pretrained: bool) -> tuple[VisionTransformer, PretrainedSpec]:
    """A folder with timm's ``config.json`` and weights (a hub download, ``save_for_hf``).

    Parameters
    ----------
    folder : Path
        The folder.
    pretrained : bool
        False builds the architecture its config names with random weights.

    Returns
    -------
    tuple
        ``(VisionTransformer, PretrainedSpec)``.
    """
    return _network(folder.name, from_folder(folder, pretrained=pretrained))


def tag_network(tag: str, *, pretrained: bool) -> tuple[VisionTransformer, PretrainedSpec]:
    """A timm pretrained tag: cached weights load like a file, others are downloaded.

    Parameters
    ----------
    tag : str
        ``arch`` or ``arch.weights`` as timm names them.
    pretrained : bool
        False builds the architecture with random weights but keeps the tag's
        preprocessing and labels.

    Returns
    -------
    tuple
        ``(VisionTransformer, PretrainedSpec)``.
    """
    cached = cached_hub_file(tag) if pretrained else None
    if cached is not None:
        # Weights already downloaded load like a local file under the tag's config: no
        # hub round-trip (offline, timm's client retries the network for most of a
        # minute before it looks in its cache) and no random init of the architecture.
        return _network(tag, from_file(cached, arch=tag))
    if pretrained:
        check_arch(tag)  # an unknown or unsupported name says so before the hub's answer
        require_hub(tag)
    return _network(tag, from_pretrained_tag(tag, pretrained=pretrained))


def _network(name: str, loaded: LoadedTimm) -> tuple[VisionTransformer, PretrainedSpec]:
    model = from_timm(loaded.model)
    spec = build_spec(
        name=name,
        arch=loaded.arch,
        timm_model=loaded.model,
        vit_model=model,
        stored_labels=loaded.stored.labels,
    )
    return model, spec
