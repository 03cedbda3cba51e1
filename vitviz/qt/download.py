"""Downloading a timm tag's weights with progress the window can show, and a cancel.

timm downloads pretrained weights itself (through the Hugging Face hub) without telling
anyone how far it got. Before a tag is loaded, :func:`prefetch_weights` fetches the same
file into the same cache with ``hf_hub_download``, reporting bytes through a callback and
stopping when asked; timm then finds the weights cached. Anything that stops the prefetch
other than a cancel or an unreachable hub (an unknown tag, a repository laid out
differently) is left to ``vitviz.vit.load``, which reports it in its own words. An
unreachable hub is found with one quick connection attempt and reported at once, rather
than after the hub client's retries (a minute and a half, twice).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from urllib.parse import urlparse

from vitviz.errors import ModelLoadError, VitvizError

logger = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # timm's order of preference
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
Progress = Callable[[int, int], None]


class DownloadCancelledError(VitvizError):
    """The user cancelled a download."""


def hub_weights(source: str) -> tuple[str, str | None, tuple[str, ...]] | None:
    """``(repo_id, revision, candidate files)`` holding a source's weights, or None.

    Only timm tags with hub weights and ``hf-hub:`` ids have them; files, ``demo`` and
    unknown names give None.
    """
    from timm.models import get_pretrained_cfg

    if source.startswith("hf-hub:"):
        repo_id, _, revision = source.removeprefix("hf-hub:").partition("@")
        return repo_id, revision or None, WEIGHT_FILES
    try:
        cfg = get_pretrained_cfg(source, allow_unregistered=False)
    except (RuntimeError, ValueError):
        return None
    if cfg is None or not cfg.hf_hub_id:
        return None
    repo_id, _, revision = cfg.hf_hub_id.partition("@")
    files = (cfg.hf_hub_filename,) if cfg.hf_hub_filename else WEIGHT_FILES
    return repo_id, revision or None, files


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub's host accepts a connection.

    Offline mode says no; behind a proxy the answer is left to the hub client (yes).
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return True
    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def progress_bar_class(progress: Progress, cancelled: threading.Event) -> type:
    """A tqdm class that reports to ``progress`` and raises when ``cancelled`` is set."""
    from tqdm.auto import tqdm

    class WindowProgress(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True  # drawn in the window, not on the terminal
            super().__init__(*args, **kwargs)
            self.done = int(kwargs.get("initial") or 0)

        def update(self, n=1):
            self.done += int(n or 0)
            progress(self.done, int(self.total or 0))
            if cancelled.is_set():
                raise DownloadCancelledError("Download cancelled.")

    return WindowProgress


def prefetch_weights(source: str, progress: Progress, cancelled: threading.Event) -> bool:
    """Download ``source``'s weights into the hub cache, reporting progress.

    Parameters
    ----------
    source : str
        A timm tag or an ``hf-hub:`` id (anything else is left alone).
    progress : callable
        Called with ``(bytes_done, bytes_total)``; ``bytes_total`` is 0 when unknown.
    cancelled : threading.Event
        Set by the UI to stop the download.

    Returns
    -------
    bool
        True when a file was downloaded (or found cached by the hub client).

    Raises
    ------
    DownloadCancelledError
        When ``cancelled`` was set during the download.
    ModelLoadError
        When the hub cannot be reached.
    """
    location = hub_weights(source)
    if location is None:
        return False
    if not hub_reachable():
        raise ModelLoadError(
            f"Could not download {source}: the Hugging Face Hub is unreachable (offline, or "
            "blocked by a proxy) and its weights are not in the local cache. Connect to the "
            "internet once to cache them, or open a local checkpoint file, or use the "
            "bundled demo model."
        )
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RemoteEntryNotFoundError

    repo_id, revision, files = location
    bar = progress_bar_class(progress, cancelled)
    for filename in files:
        if cancelled.is_set():
            raise DownloadCancelledError("Download cancelled.")
        try:
            hf_hub_download(repo_id, filename, revision=revision, tqdm_class=bar)
        except RemoteEntryNotFoundError:
            continue  # the repository keeps its weights under the next name
        except DownloadCancelledError:
            raise
        except Exception as error:  # gated, revision missing ...: load() will explain
            logger.info("prefetch of %s/%s stopped: %s", repo_id, filename, error)
            return False
        return True
    return False
