"""The Hugging Face Hub: where a timm tag's or ``hf-hub:`` id's files are, whether they are
cached, whether the hub answers, and the download.

One quick reachability decision serves the window and the command line: offline, an
uncached model fails at once in one line instead of after the hub client's retries.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vitviz.errors import ModelLoadError

# Files a hub repository may keep its weights in, most preferred first (timm's order).
_HUB_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")


def hub_location(source: str) -> tuple[str, str | None, tuple[str, ...]] | None:
    """``(repo_id, revision, candidate files)`` holding a source's weights on the hub.

    Parameters
    ----------
    source : str
        A pretrained timm tag (a bare architecture means its default weights) or an
        ``hf-hub:org/name[@revision]`` id.

    Returns
    -------
    tuple or None
        None for files, ``demo``, unknown names and tags without hub weights.
    """
    from timm.models import get_pretrained_cfg

    if source.startswith("hf-hub:"):
        repo_id, _, revision = source.removeprefix("hf-hub:").partition("@")
        return repo_id, revision or None, _HUB_WEIGHT_FILES
    try:
        cfg = get_pretrained_cfg(source, allow_unregistered=False)
    except (RuntimeError, ValueError):
        return None
    if cfg is None or not cfg.hf_hub_id:
        return None
    repo_id, _, revision = cfg.hf_hub_id.partition("@")
    files = (cfg.hf_hub_filename,) if cfg.hf_hub_filename else _HUB_WEIGHT_FILES
    return repo_id, revision or None, files


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers one request, decided at once.

    The hub client retries a failed connection with back-off for about 25 s per file
    (timm asks for two files): the window and the command line ask this once instead.
    Offline mode (``HF_HUB_OFFLINE=1``) says no without asking; proxies and
    ``HF_ENDPOINT`` are honoured, as the hub client honours them.
    """
    from huggingface_hub import constants, get_session

    if constants.HF_HUB_OFFLINE:
        return False
    try:
        get_session().head(constants.ENDPOINT, timeout=timeout)
    except Exception:  # DNS, refused, TLS, proxy: every failure means no
        return False
    return True


def require_hub(name: str) -> None:
    """Refuse at once, in one line, to download ``name`` when the hub is unreachable.

    Raises
    ------
    ModelLoadError
        When :func:`hub_reachable` says no.
    """
    if not hub_reachable():
        raise ModelLoadError(
            f"Could not download {name}: the Hugging Face Hub is unreachable (offline, or "
            "blocked by a proxy) and the weights are not in the local cache. Connect to the "
            "internet once to cache them, or load a local checkpoint file, or the bundled "
            "demo model ('demo')."
        )


def cached_hub_file(tag: str, cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The weights file of a pretrained timm tag in the local Hugging Face cache, if any.

    Parameters
    ----------
    tag : str
        Pretrained tag; a bare architecture name means its default weights.
    cache_dir : str or path-like, optional
        Hugging Face hub cache to look in; the default cache when not given.

    Returns
    -------
    Path or None
        None for unknown tags, tags without hub weights, and weights not downloaded yet.
    """
    from huggingface_hub import try_to_load_from_cache

    location = hub_location(tag) if not tag.startswith("hf-hub:") else None
    if location is None:
        return None
    repo_id, revision, filenames = location
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir, revision=revision)
        if isinstance(found, str):
            return Path(found)
    return None


def cached_hub_folder(hub_id: str, cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The cached snapshot of a hub repository holding timm's config and weights, if any.

    Parameters
    ----------
    hub_id : str
        ``hf-hub:org/name`` (optionally ``@revision``), or the bare repository id.
    cache_dir : str or path-like, optional
        Hugging Face hub cache to look in; the default cache when not given.

    Returns
    -------
    Path or None
        The snapshot folder, or None when the config or the weights are not cached.
    """
    from huggingface_hub import try_to_load_from_cache

    repo_id, _, revision = hub_id.removeprefix("hf-hub:").partition("@")
    config = try_to_load_from_cache(
        repo_id, "config.json", cache_dir=cache_dir, revision=revision or None
    )
    if not isinstance(config, str):
        return None
    folder = Path(config).parent
    return folder if any((folder / name).is_file() for name in _HUB_WEIGHT_FILES) else None


def download(source: str, tqdm_class: type | None = None) -> Path:
    """The weights file of a timm tag, from the cache or downloaded into it.

    Parameters
    ----------
    source : str
        A pretrained timm tag (a bare architecture means its default weights).
    tqdm_class : type, optional
        Progress bar class handed to the hub client (the window's reports to it).

    Returns
    -------
    Path

    Raises
    ------
    ModelLoadError
        Tag without hub weights, hub unreachable, repository gated or missing.
    """
    cached = cached_hub_file(source)
    if cached is not None:
        return cached
    location = hub_location(source)
    if location is None:
        return _download_url(source)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RemoteEntryNotFoundError

    require_hub(source)
    repo_id, revision, filenames = location
    with hub_errors(source):
        for filename in filenames:
            try:
                return Path(
                    hf_hub_download(repo_id, filename, revision=revision, tqdm_class=tqdm_class)
                )
            except RemoteEntryNotFoundError:
                continue  # the repository keeps its weights under the next name
    raise ModelLoadError(f"The hub repository of {source} has no weights file timm can use.")


def _download_url(tag: str) -> Path:
    # A few tags (I-JEPA) have their weights at a URL instead of on the hub.
    from timm.models import get_pretrained_cfg
    from torch.hub import download_url_to_file, get_dir

    cfg = get_pretrained_cfg(tag, allow_unregistered=False)
    if cfg is None or not isinstance(cfg.url, str) or not cfg.url:
        raise ModelLoadError(f"timm has no pretrained weights for {tag}.")
    target = Path(get_dir()) / "checkpoints" / Path(cfg.url).name
    if not target.is_file():
        require_hub(tag)
        target.parent.mkdir(parents=True, exist_ok=True)
        with hub_errors(tag):
            download_url_to_file(cfg.url, str(target))
    return target


def hub_folder(hub_id: str) -> Path:
    """The local folder with an ``hf-hub:`` repository's ``config.json`` and weights.

    From the cache when there, else downloaded (config first: it says the architecture).
    """
    folder = cached_hub_folder(hub_id)
    if folder is not None:
        return folder
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RemoteEntryNotFoundError

    require_hub(hub_id)
    repo_id, _, revision = hub_id.removeprefix("hf-hub:").partition("@")
    with hub_errors(hub_id):
        config = Path(hf_hub_download(repo_id, "config.json", revision=revision or None))
        for filename in _HUB_WEIGHT_FILES:
            try:
                hf_hub_download(repo_id, filename, revision=revision or None)
                return config.parent
            except RemoteEntryNotFoundError:
                continue
    raise ModelLoadError(f"The hub repository of {hub_id} has no weights file timm can use.")


def folder_files(folder: Path) -> tuple[dict[str, Any], Path]:
    """timm's ``config.json`` of a folder (``save_for_hf``, a hub download) and its weights.

    Raises
    ------
    ModelLoadError
        No or unreadable config, or no weights file.
    """
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ModelLoadError(
            f"{folder} is a folder without a config.json: give the checkpoint file inside "
            "it, or a folder saved by timm or downloaded from the Hugging Face Hub."
        )
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
        str(config["architecture"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelLoadError(
            f"{config_file} is not a timm model config (it needs an 'architecture' entry)."
        ) from exc
    weights = next((folder / n for n in _HUB_WEIGHT_FILES if (folder / n).is_file()), None)
    if weights is None:
        raise ModelLoadError(f"{folder} has a config.json but no model.safetensors weights.")
    return config, weights


def is_cached(source: str, cache_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether a model source's weights are already on this machine (nothing to download).

    Looks only at the local Hugging Face cache (and, for the few tags timm fetches by
    URL, torch's checkpoint cache); never at the network.

    Parameters
    ----------
    source : str
        A pretrained tag, e.g. ``vit_base_patch16_224.augreg2_in21k_ft_in1k`` (a bare
        architecture name means its default weights); ``demo`` and local files and
        folders are always on this machine.
    cache_dir : str or path-like, optional
        Hugging Face hub cache to look in; the default cache when not given.

    Returns
    -------
    bool
        True for ``demo`` and local paths; False for unknown tags and tags without weights.
    """
    from vitviz.vit.loading import is_demo, is_local_path

    if is_demo(source) or is_local_path(source):
        return True
    if cached_hub_file(source, cache_dir) is not None:
        return True
    from timm.models import get_pretrained_cfg
    from torch.hub import get_dir

    try:
        cfg = get_pretrained_cfg(source, allow_unregistered=False)
    except RuntimeError:
        return False
    if not cfg.hf_hub_id and isinstance(cfg.url, str) and cfg.url:
        return (Path(get_dir()) / "checkpoints" / Path(cfg.url).name).is_file()
    return False


@contextlib.contextmanager
def hub_errors(name: str) -> Iterator[None]:
    """Turn download failures inside the block into :class:`ModelLoadError`."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    unreachable = (
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        ConnectionError,
        TimeoutError,
        socket.gaierror,
    )
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
        if _caused_by(exc, unreachable):
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
