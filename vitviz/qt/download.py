"""Downloading a timm tag's weights with progress the window can show, and a cancel.

The hub client reports download progress to a tqdm class: :func:`prefetch_weights` hands
it one that reports to the window and stops when asked, through the same download that
``vitviz.vit.load`` uses (:mod:`vitviz.vit.hub`). An unreachable hub is reported at once,
in one line, as on the command line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from vitviz.errors import VitvizError
from vitviz.vit.hub import download, hub_location

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
        True when the weights are now in the cache; False when there is nothing to fetch.

    Raises
    ------
    DownloadCancelledError
        When ``cancelled`` was set during the download.
    ModelLoadError
        When the hub cannot be reached, or refuses (gated, missing): the message the
        loader would give.
    """
    if hub_location(source) is None:
        return False
    download(source, tqdm_class=progress_bar_class(progress, cancelled))
    return True
