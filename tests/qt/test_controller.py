import threading

import numpy as np
import pytest
import torch
from PySide6.QtCore import QThread

from tests.qt.shell_fakes import FakePipeline, make_image
from vitviz.errors import ModelLoadError
from vitviz.qt.controller import (
    OOM_MESSAGE,
    Controller,
    Pipeline,
    held_events,
    is_out_of_memory,
)
from vitviz.state import AppState


@pytest.fixture
def pipeline():
    return FakePipeline()


@pytest.fixture
def state():
    return AppState()


@pytest.fixture
def sync(state, pipeline):
    return Controller(state, synchronous=True, pipeline=pipeline)


def test_an_image_produces_a_result(sync, state, pipeline):
    image = make_image()
    state.inputs.image = image
    results = state.results
    assert results.image is image
    assert results.inference.layout.grid == (4, 4)
    assert results.model.source == "demo"
    assert not results.busy
    assert "1 ms" in results.status or "ms" in results.status
    assert "CLS + 4×4 patches" in results.status


def test_the_model_is_loaded_once_and_reused(sync, state, pipeline):
    state.inputs.image = make_image(seed=1)
    state.inputs.image = make_image(seed=2)
    state.inputs.preprocess_mode = "whole"
    assert len(pipeline.loads) == 1
    assert len(pipeline.inferred) == 3
    state.inputs.model_source = "other"
    assert [k.source for k in pipeline.loads] == ["demo", "other"]
    state.inputs.model_source = "demo"
    assert len(pipeline.loads) == 2  # both still cached


def test_a_new_model_resets_the_query_and_fits_the_selection(sync, state):
    state.inputs.image = make_image()
    state.selection.layer = 2
    state.select_token(7)
    state.inputs.image = make_image(seed=5)
    assert state.selection.query == 7  # same model, same layout: the query stays
    state.inputs.model_source = "other"
    assert state.selection.query == 0
    assert state.selection.layer == 2


def test_a_failed_model_keeps_what_is_shown_and_puts_the_input_back(sync, state, pipeline):
    state.inputs.image = make_image()
    shown_model, shown_inference = state.results.model, state.results.inference
    pipeline.fail_sources.add("vit_offline")
    state.inputs.model_source = "vit_offline"
    assert state.results.error == "cannot load vit_offline: offline"
    assert state.results.model is shown_model
    assert state.results.inference is shown_inference
    assert state.inputs.model_source == "demo"
    assert not state.results.busy


def test_a_failed_first_model_reports_and_is_not_busy(sync, state, pipeline):
    pipeline.fail_sources.add("demo")
    state.inputs.image = make_image()
    assert "offline" in state.results.error
    assert state.results.model is None
    assert not state.results.busy


def test_unexpected_errors_become_messages(sync, state, pipeline):
    pipeline.infer = lambda loaded, prepared: 1 / 0
    state.inputs.image = make_image()
    assert state.results.error.startswith("Unexpected error (ZeroDivisionError)")
    assert state.results.inference is None
    assert not state.results.busy


def test_gpu_out_of_memory_falls_back_to_the_cpu(sync, state, pipeline):
    pipeline.oom_on_device = "cuda:0"
    state.inputs.device = "cuda"
    state.inputs.precision = "fp16"
    state.inputs.image = make_image()
    assert pipeline.loads[-1].device == "cpu"
    assert pipeline.loads[-1].precision == "fp32"  # half precision is GPU-only
    assert state.results.model.device == "cpu"
    assert state.results.error == OOM_MESSAGE
    assert state.results.inference is not None
    assert state.inputs.device == "cuda"


def test_out_of_memory_is_recognised_through_the_cause_chain():
    wrapped = ModelLoadError("Could not move the model to cuda")
    wrapped.__cause__ = torch.OutOfMemoryError("CUDA out of memory")
    assert is_out_of_memory(wrapped)
    assert not is_out_of_memory(ModelLoadError("offline"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory"))


def test_a_success_clears_the_previous_error(sync, state, pipeline):
    pipeline.fail_sources.add("bad")
    state.inputs.image = make_image()
    state.inputs.model_source = "bad"
    assert state.results.error
    state.inputs.image = make_image(seed=4)
    assert state.results.error is None


def test_class_maps_are_computed_on_selection_and_cached(sync, state, pipeline):
    state.inputs.image = make_image()
    state.selection.class_index = 3
    np.testing.assert_array_equal(state.results.class_maps[(3, "relevance")], np.full((4, 4), 3))
    state.selection.class_index = 1
    state.selection.class_index = 3
    state.view.class_method = "grad_rollout"
    state.view.class_method = "relevance"
    assert pipeline.class_requests == [(3, "relevance"), (1, "relevance"), (3, "grad_rollout")]
    assert set(state.results.class_maps) == {
        (3, "relevance"),
        (1, "relevance"),
        (3, "grad_rollout"),
    }


def test_a_new_result_recomputes_the_selected_class(sync, state, pipeline):
    state.inputs.image = make_image()
    state.selection.class_index = 2
    state.inputs.image = make_image(seed=9)
    assert list(state.results.class_maps) == [(2, "relevance")]
    assert len(pipeline.class_requests) == 2


def test_inputs_changed_together_make_one_request(qtbot, state, pipeline):
    controller = Controller(state, pipeline=pipeline)
    state.inputs.image = make_image()
    state.inputs.preprocess_mode = "whole"
    state.inputs.model_source = "other"
    qtbot.waitUntil(lambda: controller.idle, timeout=10_000)
    assert controller.generation == 1
    assert [k.source for k in pipeline.loads] == ["other"]


def test_worker_results_arrive_on_the_ui_thread(qtbot, state, pipeline):
    controller = Controller(state, pipeline=pipeline)
    applied_in = []
    for signal in state.results.events.signals.values():
        signal.connect(lambda *_: applied_in.append(QThread.currentThread()))
    state.inputs.image = make_image()
    assert state.results.busy
    qtbot.waitUntil(lambda: not state.results.busy, timeout=10_000)
    assert set(applied_in) == {QThread.currentThread()}  # the worker never writes state
    assert state.results.inference is not None
    assert state.results.analysis is not None
    assert state.results.rollout.default_rows is not None
    assert controller.idle


def test_stale_results_are_dropped_and_waiting_requests_superseded(qtbot, state, pipeline):
    controller = Controller(state, pipeline=pipeline)
    pipeline.gate = threading.Event()
    images = [make_image(seed=s) for s in range(4)]
    shown = []
    state.results.events.image.connect(shown.append)
    for image in images:
        state.inputs.image = image
        qtbot.waitUntil(
            lambda: controller.generation > 0 and not controller._request_timer.isActive()
        )
    assert state.results.busy
    pipeline.gate.set()
    qtbot.waitUntil(lambda: not state.results.busy, timeout=10_000)
    # the first ran and was dropped; the 2nd and 3rd were superseded while waiting
    assert shown == [images[-1]]
    assert len(pipeline.inferred) == 2
    assert controller.dropped == 1
    assert state.inputs.image is images[-1]


def test_cancel_drops_the_running_request_and_restores_inputs(qtbot, state, pipeline):
    controller = Controller(state, pipeline=pipeline)
    state.inputs.image = make_image()
    qtbot.waitUntil(lambda: not state.results.busy, timeout=10_000)
    pipeline.gate = threading.Event()
    state.inputs.model_source = "slow_download"
    assert state.results.busy
    qtbot.waitUntil(lambda: not controller._request_timer.isActive())
    controller.cancel()
    assert not state.results.busy
    assert state.inputs.model_source == "demo"
    pipeline.gate.set()
    assert controller.wait()
    qtbot.waitUntil(lambda: controller.idle, timeout=10_000)
    assert state.results.model.source == "demo"
    assert controller.dropped == 1
    assert not state.results.busy


def test_real_model_end_to_end_in_sync_mode(state, tiny_model):
    pipeline = Pipeline()
    pipeline.load_model = lambda key, *_: tiny_model
    controller = Controller(state, synchronous=True, pipeline=pipeline)
    state.inputs.image = make_image(300, 200)
    inference = state.results.inference
    assert inference.layout.grid == (14, 14)
    assert inference.attentions.shape[:3] == (1, 2, 3)  # [B, L, H, N, N]
    state.selection.class_index = 4
    grid_map = state.results.class_maps[(4, "relevance")]
    assert grid_map.shape == (14, 14)
    assert np.isfinite(grid_map).all()
    assert controller.idle


def test_download_progress_and_cancel(qtbot, state, pipeline):
    controller = Controller(state, pipeline=pipeline)
    state.inputs.image = make_image()
    qtbot.waitUntil(lambda: controller.idle, timeout=10_000)
    reports = []
    controller.download_progress.connect(lambda done, total: reports.append((done, total)))
    state.inputs.model_source = "download:vit_huge"
    qtbot.waitUntil(lambda: reports == [(4_000_000, 8_000_000)], timeout=10_000)
    controller.cancel()  # the worker's download stops instead of running on
    qtbot.waitUntil(lambda: controller.idle, timeout=10_000)
    assert state.results.model.source == "demo"
    assert state.inputs.model_source == "demo"
    assert not state.results.busy
    assert controller.dropped == 1


def test_the_worker_uses_every_core_and_the_ui_thread_keeps_its_count(qtbot, state, pipeline):
    # Each thread's count is set once (the worker's when it starts), never per request:
    # changing it while another thread runs torch is one of the races a worker must avoid.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        controller = Controller(state, pipeline=pipeline)
        controller.worker_threads = 2
        seen = []
        infer = pipeline.infer
        pipeline.infer = lambda loaded, prepared: (
            seen.append(torch.get_num_threads()) or infer(loaded, prepared)
        )
        for seed in range(2):
            state.inputs.image = make_image(seed=seed)
            qtbot.waitUntil(lambda: controller.idle, timeout=10_000)
        assert seen == [2, 2]
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_held_events_emit_once_each_after_the_block_selection_first(state):
    seen = []
    state.selection.events.query.connect(lambda q: seen.append(("query", q, state.results.status)))
    state.selection.events.layer.connect(lambda v: seen.append(("layer", v, state.selection.query)))
    state.results.events.status.connect(lambda v: seen.append(("status", v, state.selection.layer)))
    with held_events(state.selection, state.results):
        state.results.status = "new"
        state.selection.query = 5
        state.selection.layer = 2
        state.selection.query = 7
        assert seen == []
    # each field once, with its last value; the selection's before the results'
    assert sorted(seen[:2]) == [("layer", 2, 7), ("query", 7, "new")]
    assert seen[2:] == [("status", "new", 2)]


def test_listeners_of_a_new_result_never_see_a_selection_that_does_not_fit(sync, state):
    """A listener reading the selection on any event must find it inside the new result."""
    seen = []

    def check(*_):
        layout, sel = state.layout, state.selection
        if layout is not None:
            seen.append(sel.query < layout.num_tokens and sel.layer < state.depth)

    for signal in (
        *state.selection.events.signals.values(),
        *state.results.events.signals.values(),
    ):
        signal.connect(check)
    state.inputs.image = make_image()
    state.select_token(15)  # the last patch of the 4 x 4 grid
    state.selection.layer = 2
    state.inputs.model_source = "small"  # one block, a 2 x 2 grid
    assert (state.layout.num_tokens, state.depth) == (5, 1)
    assert seen
    assert all(seen)


def test_the_rollout_of_every_query_is_computed_only_to_follow_the_query(sync, state):
    state.inputs.image = make_image()
    assert state.results.rollout.stack is None  # the default query alone
    shown = state.results.rollout.maps()
    state.rollout.follow_query = True
    assert state.results.rollout.stack is not None
    np.testing.assert_allclose(state.results.rollout.maps(), shown, rtol=1e-5)
    assert state.results.rollout.maps(5) is not None
    state.rollout.discard_ratio = 0.3
    assert state.results.rollout.options.discard_ratio == 0.3
    assert state.results.rollout.stack is not None
