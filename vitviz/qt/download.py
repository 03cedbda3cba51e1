"""Downloading a timm tag's weights with progress the window can show, and a cancel.

timm downloads pretrained weights itself (through the Hugging Face hub) without telling
anyone how far it got. Before a tag is loaded, :func:`prefetch_weights` fetches the same
file into the same cache with ``hf_hub_download``, reporting bytes through a callback and
stopping when asked; timm then finds the weights cached. Anything that stops the prefetch
other than a cancel or an unreachable hub (an unknown tag, a repository laid out
differently) is left to ``vitviz.vit.load``, which reports it in its own words. Where
the weights are and whether the hub answers are decided by :mod:`vitviz.vit.catalog`,
as for the command line: an unreachable hub is reported at once, in one line.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from vitviz.errors import VitvizError
from vitviz.vit.catalog import hub_location, require_hub

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class DownloadCancelledError(VitvizError):
    """The user cancelled a download."""


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
    location = hub_location(source)
    if location is None:
        return False
    require_hub(source)
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
