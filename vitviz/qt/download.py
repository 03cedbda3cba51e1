"""Downloading a timm tag's weights with progress the window can show, and a cancel.

The hub client reports progress to a tqdm class: :func:`prefetch_weights` hands it one that
tells the window and stops when asked, through the download ``vitviz.vit.load`` uses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from vitviz.errors import VitvizError
from vitviz.vit.hub import download, hub_location

Progress = Callable[[int, int], None]


class DownloadCancelledError(VitvizError):
    """The user cancelled a download."""


def prefetch_weights(source: str, progress: Progress, cancelled: threading.Event) -> bool:
    """Download the weights of ``source`` (a timm tag or an ``hf-hub:`` id) into the hub cache.

    ``progress(bytes_done, bytes_total)`` hears about it (``bytes_total`` 0 when unknown);
    setting ``cancelled`` stops it with :class:`DownloadCancelledError`. Returns False when
    there is nothing to fetch; an unreachable or refusing hub raises the loader's
    :class:`~vitviz.errors.ModelLoadError` at once.
    """
    from tqdm.auto import tqdm

    if hub_location(source) is None:
        return False

    class WindowProgress(tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "disable": True})  # drawn in the window
            self.done = int(kwargs.get("initial") or 0)

        def update(self, n=1):
            self.done += int(n or 0)
            progress(self.done, int(self.total or 0))
            if cancelled.is_set():
                raise DownloadCancelledError("Download cancelled.")

    download(source, tqdm_class=WindowProgress)
    return True
