"""Getting a fully loaded timm model from a pretrained tag, a hub id or a hub-style folder.

timm builds the architecture and downloads and caches hub weights. Around it we add what a
desktop app needs: names checked before anything is downloaded, and network failures
turned into messages a user can act on. Nothing is returned until every weight is in
place. Checkpoint files go through :mod:`vitviz.vit.checkpoint_models`.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import timm
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
)
from timm.models import is_model_pretrained, list_pretrained, split_model_name_tag
from torch import nn

from vitviz.errors import ModelLoadError, UnsupportedModelError
from vitviz.vit.catalog import close_matches, is_supported_arch
from vitviz.vit.checkpoint_files import StoredModelInfo

_UNREACHABLE = (
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)


@dataclass
class LoadedTimm:
    """A timm model with all its weights, in eval mode, and what we know about it.

    Attributes
    ----------
    model : torch.nn.Module
        The timm model.
    arch : str
        timm architecture name.
    stored : StoredModelInfo
        What the checkpoint file said about itself (empty for hub weights).
    """

    model: nn.Module
    arch: str
    stored: StoredModelInfo = field(default_factory=StoredModelInfo)


def check_arch(arch: str) -> str:
    """Check that a timm architecture (or tag) exists and is a ViT vitviz supports.

    Parameters
    ----------
    arch : str
        timm architecture name or pretrained tag.

    Returns
    -------
    str
        The architecture name without its weights tag.

    Raises
    ------
    ModelLoadError
        For a name timm does not know (with close matches) or a weights tag the
        architecture does not have.
    UnsupportedModelError
        For a timm model outside the plain-patch-embedding ViT family.
    """
    name, weights = split_model_name_tag(arch)
    if not timm.is_model(name):
        raise ModelLoadError(f"Unknown model {arch!r}.{_suggest(arch)}")
    if weights and arch not in list_pretrained(f"{name}.*"):
        tags = list_pretrained(f"{name}.*")
        known = ", ".join(tags[:8]) if tags else "none"
        raise ModelLoadError(
            f"timm has no weights {weights!r} for {name}. Its pretrained tags: {known}."
        )
    if not is_supported_arch(name):
        raise UnsupportedModelError(
            f"{name} is not a model vitviz can show: vitviz supports timm's plain Vision "
            "Transformers (ViT, DeiT, CLIP/SigLIP/DINOv2 ViTs, ...), not hybrid CNN stems or "
            "other families. Run `vitviz models` to list the supported pretrained tags."
        )
    return name


def _suggest(name: str) -> str:
    matches = close_matches(name)
    return f" Did you mean: {', '.join(matches)}?" if matches else ""


def from_pretrained_tag(tag: str, *, pretrained: bool = True) -> LoadedTimm:
    """Build a timm pretrained tag, with its weights from timm's hub download and cache.

    Parameters
    ----------
    tag : str
        ``arch`` or ``arch.weights`` as timm names them.
    pretrained : bool
        False builds the architecture with random weights (no download) but keeps the
        tag's preprocessing and labels.

    Returns
    -------
    LoadedTimm

    Raises
    ------
    ModelLoadError
        Unknown name, no weights, or the hub could not be reached.
    UnsupportedModelError
        An architecture vitviz cannot represent.
    """
    arch = check_arch(tag)
    if pretrained and not is_model_pretrained(arch):
        raise ModelLoadError(
            f"timm has no pretrained weights for {arch}; open a checkpoint file trained with "
            "it instead."
        )
    with hub_errors(tag):
        model = timm.create_model(tag, pretrained=pretrained)
    return LoadedTimm(model.eval(), arch)


def from_hub(hub_id: str, *, pretrained: bool = True) -> LoadedTimm:
    """Build a model from a Hugging Face Hub repository (``hf-hub:org/name``).

    Parameters
    ----------
    hub_id : str
        ``hf-hub:`` followed by the repository id (optionally ``@revision``).
    pretrained : bool
        False skips the weights (the config is still fetched).

    Returns
    -------
    LoadedTimm

    Raises
    ------
    ModelLoadError
        Repository missing, gated or unreachable, or weights that do not fit.
    UnsupportedModelError
        The repository holds an architecture vitviz cannot represent.
    """
    with hub_errors(hub_id):
        model = timm.create_model(hub_id, pretrained=pretrained)
    arch = model.pretrained_cfg.get("architecture") or hub_id
    check_arch(arch)
    return LoadedTimm(model.eval(), split_model_name_tag(arch)[0])


def from_folder(folder: Path, *, pretrained: bool = True) -> LoadedTimm:
    """Build a model from a folder with timm's ``config.json`` and weights.

    Such folders come from ``timm.models.save_for_hf`` or a Hugging Face Hub download
    (``hf download timm/... --local-dir ...``): the way to take hub models offline.

    Parameters
    ----------
    folder : Path
        The folder holding ``config.json`` and ``model.safetensors`` (or a ``.pth``/``.bin``).
    pretrained : bool
        False builds the architecture the config names with random weights.

    Returns
    -------
    LoadedTimm

    Raises
    ------
    ModelLoadError
        No or unreadable config, or weights missing or not fitting it.
    UnsupportedModelError
        The config names an architecture vitviz cannot represent.
    """
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ModelLoadError(
            f"{folder} is a folder without a config.json: give the checkpoint file inside "
            "it, or a folder saved by timm or downloaded from the Hugging Face Hub."
        )
    try:
        arch = json.loads(config_file.read_text(encoding="utf-8"))["architecture"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelLoadError(
            f"{config_file} is not a timm model config (it needs an 'architecture' entry)."
        ) from exc
    arch_name = check_arch(str(arch))
    with hub_errors(folder.name):
        model = timm.create_model(f"local-dir:{folder}", pretrained=pretrained)
    return LoadedTimm(model.eval(), arch_name)


@contextlib.contextmanager
def hub_errors(name: str) -> Iterator[None]:
    """Turn download and build failures inside the block into :class:`ModelLoadError`."""
    try:
        yield
    except GatedRepoError as exc:
        raise ModelLoadError(
            f"The weights of {name} are gated on the Hugging Face Hub: accept their licence "
            "on the model page, then log in with `hf auth login`."
        ) from exc
    except RepositoryNotFoundError as exc:
        raise ModelLoadError(
            f"The Hugging Face Hub has no repository for {name} (or it is private); check "
            "the id, or log in with `hf auth login` for a private one."
        ) from exc
    except Exception as exc:
        if _caused_by(exc, _UNREACHABLE):
            raise ModelLoadError(
                f"Could not download {name}: the Hugging Face Hub is unreachable (offline, "
                "or blocked by a proxy) and the weights are not in the local cache. Connect "
                "to the internet once to cache them, or load a local checkpoint file, or the "
                "bundled demo model ('demo')."
            ) from exc
        if _caused_by(exc, (EntryNotFoundError,)):
            raise ModelLoadError(
                f"The hub repository of {name} has no weights file timm can use."
            ) from exc
        if isinstance(exc, (OSError, RuntimeError, ValueError, KeyError, TypeError)):
            raise ModelLoadError(f"Could not load {name}: {exc}") from exc
        raise


def _caused_by(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kinds):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
