"""Mean attention distance and entropy of many heads, each read once in blocks of rows.

The definitions are those of :mod:`vitviz.compute.head_stats`; this module is how they
are computed fast for a whole stack (DINOv2-L: 384 heads of 1374 x 1374). Each head is
visited a block of :data:`ROWS_PER_BLOCK` rows at a time, and every intermediate of a
block (float16 bit patterns as indices, ``-a ln a`` terms, float32 patch weights) is
written into buffers allocated once per thread, so that a block's intermediates stay in
the cache between the operations on them and no head costs fresh pages.

- **Entropy** of float16 storage goes through a table of ``-v ln v`` for all 65536 bit
  patterns (exact for the stored values; ``index_select`` beats a logarithm per entry);
  other dtypes use :func:`torch.special.entr`.
- **Distance**: per patch row, the patch-column mass and the distance-weighted sum, in
  float32 (float64 kept), from which the head's mean is taken.

On the CPU the heads are shared among :class:`~vitviz.compute.workers.SingleThreadWorkers`,
as many as the calling thread's torch thread count: the table lookup is a serial loop in
torch anyway, and torch's own threads, woken for every operation on a block of a few
hundred rows, cost more CPU time than they save (measured on a busy 2-core machine: 2.4 to
2.6 ms of CPU per head on two intra-op threads, 1.9 ms on one thread; with OpenMP's
default busy-waiting, 5.3 s instead of 0.9 s for DINOv2-L's 384 heads).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch

from vitviz.compute.workers import SingleThreadWorkers

ROWS_PER_BLOCK = 256
"""Rows of a head processed together. Measured on a 2-core CPU with 1 MB of L2 per core
(DINOv2-L heads, float16): 256 rows took 1.85 ms per head, against 2.46 ms for whole
heads and 2.55 ms for 32 rows (where the per-operation overhead dominates)."""


@functools.cache
def half_entropy_table(device: torch.device) -> torch.Tensor:
    """``-v ln v`` for every float16 bit pattern read as uint16; negatives, inf, NaN give 0.

    Returns
    -------
    torch.Tensor
        ``[65536]`` float32 on ``device``.
    """
    bits = torch.arange(65536, dtype=torch.int32).to(torch.uint16)  # [65536]
    values = bits.view(torch.float16).float()  # [65536]
    return torch.special.entr(values.clamp_min(0)).nan_to_num(0.0, 0.0, 0.0).to(device)


class HeadScanner:
    """One thread's buffers for the blocked pass over ``[N, N]`` heads of one storage dtype.

    Parameters
    ----------
    num_tokens : int
        ``N``.
    num_prefix : int
        Prefix tokens (their rows and columns are left out of the distance).
    first_row : int
        First query row of the entropy, ``0 … num_prefix`` (all rows or patch rows).
    distances : torch.Tensor
        ``[P, P]`` patch-centre distances, ``P = num_tokens - num_prefix``.
    storage : torch.dtype
        Dtype of the heads this scanner reads.
    device : torch.device
        Where the heads (and the buffers) are.
    rows_per_block : int
        Rows per block; ``num_tokens`` or more reads each head in one block.
    """

    def __init__(
        self,
        num_tokens: int,
        num_prefix: int,
        first_row: int,
        distances: torch.Tensor,
        storage: torch.dtype,
        device: torch.device,
        rows_per_block: int = ROWS_PER_BLOCK,
    ) -> None:
        n, block = num_tokens, min(rows_per_block, num_tokens)
        dtype = torch.promote_types(storage, torch.float32)
        self.num_tokens, self.start, self.first_row, self.block = n, num_prefix, first_row, block
        self.distances = distances.to(device=device, dtype=dtype)  # [P, P]
        self.half = storage == torch.float16
        self.patches = torch.empty((block, n - num_prefix), dtype=dtype, device=device)
        self.mass = torch.empty(n - num_prefix, dtype=dtype, device=device)  # [P]
        self.weighted = torch.empty_like(self.mass)  # [P]
        blocks = -(-(n - first_row) // block)
        self.entropy_parts = torch.empty(blocks, dtype=dtype, device=device)
        self.terms = torch.empty((block, n), dtype=dtype, device=device)
        if self.half:
            self.table = half_entropy_table(device)  # [65536]
            self.index = torch.empty((block, n), dtype=torch.int32, device=device)

    def head(self, attention: torch.Tensor) -> torch.Tensor:
        """Mean distance and mean row entropy of one ``[N, N]`` head.

        Returns
        -------
        torch.Tensor
            ``[2]``: distance in pixels, entropy in nats.
        """
        n, start = self.num_tokens, self.start
        for part, top in enumerate(range(self.first_row, n, self.block)):
            bottom = min(top + self.block, n)
            rows = attention[top:bottom]  # [m, N]
            self._entropy_block(rows, self.entropy_parts[part])
            patch_top = max(top, start)
            if patch_top < bottom:
                self._distance_block(attention[patch_top:bottom, start:], patch_top - start)
        mass = self.mass.clamp_min(torch.finfo(self.mass.dtype).tiny)
        distance = (self.weighted / mass).mean()
        entropy = self.entropy_parts.sum() / (n - self.first_row)
        return torch.stack((distance, entropy))

    def _entropy_block(self, rows: torch.Tensor, out: torch.Tensor) -> None:
        """``Σ -a ln a`` over ``rows`` (``[m, N]``) into the 0-d ``out``."""
        terms = self.terms[: rows.shape[0]]  # [m, N]
        if self.half:
            index = self.index[: rows.shape[0]]  # [m, N]
            index.copy_(rows.view(torch.uint16))
            torch.index_select(self.table, 0, index.view(-1), out=terms.view(-1))
        else:
            torch.special.entr(terms.copy_(rows).clamp_min_(0), out=terms)
        torch.sum(terms, (0, 1), out=out)

    def _distance_block(self, patches: torch.Tensor, first: int) -> None:
        """Mass and distance-weighted sum of patch rows ``first …`` (``[m, P]`` patches)."""
        rows = slice(first, first + patches.shape[0])
        weights = self.patches[: patches.shape[0]].copy_(patches)  # [m, P]
        torch.sum(weights, -1, out=self.mass[rows])
        weights.mul_(self.distances[rows])
        torch.sum(weights, -1, out=self.weighted[rows])


def scan_heads(
    heads: Sequence[torch.Tensor],
    num_prefix: int,
    distances: torch.Tensor,
    *,
    first_row: int = 0,
    workers: int | None = None,
    rows_per_block: int | None = None,
) -> list[torch.Tensor]:
    """Mean distance and mean row entropy of every head (see :class:`HeadScanner`).

    Parameters
    ----------
    heads : sequence of torch.Tensor
        ``[N, N]`` heads, any float dtype (the first head's device decides on threads and
        blocks).
    num_prefix : int
        Prefix tokens of the sequence.
    distances : torch.Tensor
        ``[P, P]`` patch-centre distances.
    first_row : int
        First query row of the entropy, ``0 … num_prefix``.
    workers : int or None
        Threads sharing the heads on the CPU; None: the calling thread's torch thread
        count. Elsewhere the heads are read whole, one after the other.
    rows_per_block : int or None
        Rows per block; None: :data:`ROWS_PER_BLOCK` on the CPU, whole heads elsewhere
        (where every operation is a kernel launch).

    Returns
    -------
    list of torch.Tensor
        ``[2]`` (distance, entropy) per head, in at least single precision.
    """
    if not heads:
        return []
    n, device = heads[0].shape[-1], heads[0].device
    on_cpu = device.type == "cpu"
    if rows_per_block is None:
        rows_per_block = ROWS_PER_BLOCK if on_cpu else n
    count = min(workers or torch.get_num_threads(), len(heads)) if on_cpu else 1
    results: list[torch.Tensor] = [torch.empty(0)] * len(heads)

    def scan(first: int) -> None:
        scanners: dict[tuple[torch.dtype, torch.device], HeadScanner] = {}
        for index in range(first, len(heads), count):
            head = heads[index]
            key = (head.dtype, head.device)
            if key not in scanners:
                scanners[key] = HeadScanner(
                    n, num_prefix, first_row, distances, *key, rows_per_block
                )
            results[index] = scanners[key].head(head)

    if not on_cpu:
        scan(0)
        return results
    with SingleThreadWorkers(count) as pool:
        pool.map(scan, range(count))
    return results
