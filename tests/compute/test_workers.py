"""SingleThreadWorkers: results in order, errors propagate, thread counts restored."""

from __future__ import annotations

import threading

import pytest
import torch

from vitviz.compute.workers import SingleThreadWorkers


def thread_count_of_a_new_thread() -> int:
    seen = []
    later = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    later.start()
    later.join()
    return seen[0]


@pytest.mark.parametrize("count", [None, 1, 3])
def test_map_keeps_order_and_runs_torch_on_one_thread(count):
    before = torch.get_num_threads()
    with SingleThreadWorkers(count) as workers:
        assert torch.get_num_threads() == 1
        seen = workers.map(lambda item: (item * item, torch.get_num_threads()), range(7))
    assert [value for value, _ in seen] == [item * item for item in range(7)]
    assert {threads for _, threads in seen} == {1}
    assert torch.get_num_threads() == before
    assert thread_count_of_a_new_thread() == before


def test_errors_propagate_and_counts_are_restored():
    before = torch.get_num_threads()

    def fail(item):
        if item == 2:
            raise ValueError("part 2 failed")
        return item

    with pytest.raises(ValueError, match="part 2"), SingleThreadWorkers(2) as workers:
        workers.map(fail, range(4))
    assert torch.get_num_threads() == before
    assert thread_count_of_a_new_thread() == before


def test_parts_of_a_tensor_are_written_in_place():
    values = torch.arange(12.0).view(6, 2)
    out = torch.empty(6, 2)
    with SingleThreadWorkers(3) as workers:
        workers.map(
            lambda rows: torch.mul(values[rows], 2, out=out[rows]), [slice(0, 2), slice(2, 6)]
        )
    torch.testing.assert_close(out, values * 2)
