"""The Hugging Face Hub: where a timm tag's or ``hf-hub:`` id's files are, the local cache,
one quick reachability decision (offline, an uncached model fails at once instead of after
the hub client's retries, about 25 s per file), and the download.
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
from vitviz.vit.checkpoints import StoredModelInfo

# Files a hub repository may keep its weights in, most preferred first (timm's order).
_HUB_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")


def hub_location(source: str) -> tuple[str, str | None, tuple[str, ...]] | None:
    """``(repo_id, revision, candidate files)`` of a timm tag's or ``hf-hub:`` id's weights;
    None for files, ``demo``, unknown names and tags without hub weights."""
    hub_id, files = source.removeprefix("hf-hub:"), _HUB_WEIGHT_FILES
    if hub_id == source:
        cfg = _pretrained_cfg(source)
        if cfg is None or not cfg.hf_hub_id:
            return None
        hub_id, files = cfg.hf_hub_id, (cfg.hf_hub_filename,) if cfg.hf_hub_filename else files
    repo_id, _, revision = hub_id.partition("@")
    return repo_id, revision or None, files


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers one request (no retries); ``HF_HUB_OFFLINE``,
    proxies and ``HF_ENDPOINT`` are honoured as the hub client honours them."""
    from huggingface_hub import constants, get_session

    if constants.HF_HUB_OFFLINE:
        return False
    try:
        get_session().head(constants.ENDPOINT, timeout=timeout)
    except Exception:  # DNS, refused, TLS, proxy: every failure means no
        return False
    return True


def require_hub(name: str) -> None:
    """Raise :class:`ModelLoadError`, in one line, when the hub is unreachable."""
    if not hub_reachable():
        raise _unreachable(name)


def _unreachable(name: str) -> ModelLoadError:
    return ModelLoadError(
        f"Could not download {name}: the Hugging Face Hub is unreachable (offline, or "
        "blocked by a proxy) and the weights are not in the local cache. Connect to the "
        "internet once to cache them, or load a local checkpoint file, or the bundled "
        "demo model ('demo')."
    )


def cached_hub_file(source: str, cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """A timm tag's or ``hf-hub:`` id's weights file in the local hub cache, if there."""
    from huggingface_hub import try_to_load_from_cache

    location = hub_location(source)
    if location is None:
        return None
    repo_id, revision, filenames = location
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir, revision=revision)
        if isinstance(found, str):
            return Path(found)
    return None


def download(source: str, tqdm_class: type | None = None) -> Path:
    """The weights file of a timm tag or ``hf-hub:`` id, from the cache or downloaded
    (``tqdm_class``: the progress bar the hub client reports to)."""
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
            with contextlib.suppress(RemoteEntryNotFoundError):  # then the next name
                return Path(
                    hf_hub_download(repo_id, filename, revision=revision, tqdm_class=tqdm_class)
                )
    raise ModelLoadError(f"The hub repository of {source} has no weights file timm can use.")


def _download_url(tag: str) -> Path:
    # A few tags (I-JEPA) have their weights at a URL instead of on the hub.
    from timm.models._hub import check_cached_file, download_cached_file

    url = _weights_url(tag)
    if url is None:
        raise ModelLoadError(f"timm has no pretrained weights for {tag}.")
    if not check_cached_file(url, check_hash=False):
        require_hub(tag)
    with hub_errors(tag):
        return Path(download_cached_file(url))


def _weights_url(tag: str) -> str | None:
    cfg = _pretrained_cfg(tag)
    hub_free = cfg is not None and not cfg.hf_hub_id and isinstance(cfg.url, str)
    return cfg.url if hub_free and cfg.url else None


def _pretrained_cfg(tag: str) -> Any:
    from timm.models import get_pretrained_cfg

    try:
        return get_pretrained_cfg(tag, allow_unregistered=False)
    except (RuntimeError, ValueError):
        return None


def hub_folder(hub_id: str) -> Path:
    """The local folder with an ``hf-hub:`` repository's ``config.json`` and weights."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    repo_id, revision, _ = hub_location(hub_id)
    config = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if not isinstance(config, str):
        require_hub(hub_id)
        with hub_errors(hub_id):
            config = hf_hub_download(repo_id, "config.json", revision=revision)
    download(hub_id)
    return Path(config).parent


def folder_files(folder: Path) -> tuple[StoredModelInfo, Path]:
    """What timm's ``config.json`` of a folder (``save_for_hf``, a hub download) says, as
    timm reads it, and the folder's weights file."""
    from timm.models._hub import load_model_config_from_path

    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ModelLoadError(
            f"{folder} is a folder without a config.json: give the checkpoint file inside "
            "it, or a folder saved by timm or downloaded from the Hugging Face Hub."
        )
    try:
        cfg, arch, model_args = load_model_config_from_path(folder)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelLoadError(
            f"{config_file} is not a timm model config (it needs an 'architecture' entry)."
        ) from exc
    weights = next((folder / n for n in _HUB_WEIGHT_FILES if (folder / n).is_file()), None)
    if weights is None:
        raise ModelLoadError(f"{folder} has a config.json but no model.safetensors weights.")
    labels = cfg.get("label_names")
    return StoredModelInfo(str(arch), model_args, cfg, tuple(labels) if labels else None), weights


def is_cached(source: str, cache_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether a model source's weights are on this machine (``demo``, a path, or in the
    hub cache or, for the few tags timm fetches by URL, torch's), never asking the network."""
    from vitviz.vit.loading import is_demo, is_local_path

    if is_demo(source) or is_local_path(source) or cached_hub_file(source, cache_dir):
        return True
    from timm.models._hub import check_cached_file

    url = _weights_url(source)
    return url is not None and check_cached_file(url, check_hash=False)


@contextlib.contextmanager
def hub_errors(name: str) -> Iterator[None]:
    """Turn download failures inside the block into :class:`ModelLoadError`."""
    from huggingface_hub import errors

    try:
        yield
    except errors.GatedRepoError as exc:
        raise ModelLoadError(
            f"The weights of {name} are gated on the Hugging Face Hub: accept their licence "
            "on the model page, then log in with `hf auth login`."
        ) from exc
    except errors.RepositoryNotFoundError as exc:
        raise ModelLoadError(
            f"The Hugging Face Hub has no repository for {name} (or it is private); check "
            "the id, or log in with `hf auth login` for a private one."
        ) from exc
    except Exception as exc:
        causes = [exc]
        while cause := causes[-1].__cause__ or causes[-1].__context__:
            causes.append(cause)
        offline = (errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled, ConnectionError)
        offline += (TimeoutError, socket.gaierror)
        if any(isinstance(c, offline) for c in causes):
            raise _unreachable(name) from exc
        if any(isinstance(c, errors.EntryNotFoundError) for c in causes):
            raise ModelLoadError(f"The hub repository of {name} has no weights file.") from exc
        if isinstance(exc, (OSError, RuntimeError, ValueError, KeyError, TypeError)):
            raise ModelLoadError(f"Could not load {name}: {exc}") from exc
        raise
