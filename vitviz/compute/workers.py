"""Torch work shared among threads of our own, torch running on one thread in each.

The analyses read gigabytes in operations of a few megabytes each. Torch's intra-op
threads are woken, and synchronised, at every one of those operations: on a machine shared
with other busy processes that costs more CPU time than it saves, and with OpenMP's default
busy-waiting many times more (measured on a loaded 2-core machine: 1.7 to 3.3 s of CPU
for a DINOv2-L rollout by layer that takes 0.2 s on one thread). Splitting the work
ourselves into as many parts as the caller has torch threads keeps both cores busy with
no synchronisation inside a part; torch itself releases the GIL in its operations.

torch's thread count belongs to each thread, but a thread started later takes the count
last set by any thread, so every change here is undone before leaving.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import TypeVar

import torch

Item = TypeVar("Item")
Result = TypeVar("Result")


class SingleThreadWorkers:
    """A context in which the calling thread and ``count`` worker threads run torch on one thread.

    Parameters
    ----------
    count : int or None
        Worker threads; None: the calling thread's torch thread count. With one, the
        work runs in the calling thread.

    Examples
    --------
    >>> values = torch.arange(8.0)
    >>> with SingleThreadWorkers(2) as workers:
    ...     parts = workers.map(torch.sum, values.chunk(2))
    >>> [float(part) for part in parts]
    [6.0, 22.0]
    """

    def __init__(self, count: int | None = None) -> None:
        self.threads = torch.get_num_threads()
        self.count = max(1, self.threads if count is None else count)
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> SingleThreadWorkers:
        torch.set_num_threads(1)
        if self.count > 1:
            self._pool = ThreadPoolExecutor(self.count, thread_name_prefix="vitviz-compute")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        torch.set_num_threads(self.threads)

    def map(self, function: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
        """``[function(item) for item in items]``, the items shared among the workers.

        Exceptions raised by ``function`` propagate to the caller.
        """
        items = list(items)
        if self._pool is None or len(items) <= 1:
            return [function(item) for item in items]

        def on_one_thread(item: Item) -> Result:
            torch.set_num_threads(1)
            try:
                return function(item)
            finally:
                torch.set_num_threads(self.threads)

        return list(self._pool.map(on_one_thread, items))
