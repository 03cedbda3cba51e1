"""Runs the model off the UI thread and puts its results into the state.

The controller listens to the inputs of :class:`~vitviz.state.AppState` (image, model,
device, precision, preprocessing). Each change becomes an immutable request with a new
generation number; one worker thread (superqt) runs one request at a time: load the model
(cached), prepare the image, run the forward pass with attention capture. A request that
arrives while another runs waits, replacing any older waiting one; a response whose
generation is no longer the newest is dropped, never shown. Class-specific maps (a backward
pass per class) are requested the same way when the selected class or method changes and
are cached per class in ``results.class_maps``.

Failures never lose what is shown: the error message lands in ``results.error`` and the
inputs that caused it are put back to those of the result on screen. A GPU out-of-memory
error reruns the request on the CPU and says so. With ``synchronous=True`` (tests,
benchmarks) requests run at once in the calling thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal
from superqt.utils import create_worker

from vitviz.errors import VitvizError
from vitviz.qt.download import Progress, prefetch_weights
from vitviz.state import AppState, LoadedImage, LoadedModel
from vitviz.state.events import held_events

logger = logging.getLogger(__name__)

MODEL_CACHE_SIZE = 2
INPUT_FIELDS = (
    "image",
    "model_source",
    "arch",
    "device",
    "precision",
    "preprocess_mode",
    "max_tokens",
)
OOM_MESSAGE = "The GPU ran out of memory; running on the CPU instead."


@dataclass(frozen=True)
class ModelKey:
    """What identifies a loaded model: the same key reuses the cached model."""

    source: str
    arch: str | None
    device: str
    precision: str


@dataclass(frozen=True)
class AnalysisRequest:
    """Everything a worker needs to produce one result; immutable, so threads may share it."""

    generation: int
    image: LoadedImage | None
    model_key: ModelKey
    preprocess_mode: str
    max_tokens: int | None
    cancelled: threading.Event = field(default_factory=threading.Event, compare=False)


@dataclass(frozen=True)
class AnalysisResponse:
    """What a worker produced for one :class:`AnalysisRequest`.

    ``error`` is set (and the other results are None) when the request failed; ``notice``
    is a message for a request that succeeded differently than asked (CPU fallback).
    """

    request: AnalysisRequest
    model: LoadedModel | None = None
    prepared: Any = None
    inference: Any = None
    error: str | None = None
    notice: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class ClassMapRequest:
    """A class-specific map for the result on screen."""

    inference: Any
    model: LoadedModel
    prepared: Any
    class_index: int
    method: str


@dataclass(frozen=True)
class ClassMapResponse:
    """The map (``[rows, cols]`` numpy array) or the error of a :class:`ClassMapRequest`."""

    request: ClassMapRequest
    grid_map: Any = None
    error: str | None = None


def is_out_of_memory(error: BaseException | None) -> bool:
    """Whether ``error`` is (or was caused by) a device out-of-memory error."""
    import torch

    oom_type = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    while error is not None:
        if isinstance(error, oom_type) or (
            isinstance(error, RuntimeError) and "out of memory" in str(error).lower()
        ):
            return True
        error = error.__cause__
    return False


def user_message(error: BaseException) -> str:
    """The message shown for ``error``: vitviz errors speak for themselves."""
    if isinstance(error, VitvizError):
        return str(error)
    return f"Unexpected error ({type(error).__name__}): {error}"


class Pipeline:
    """The work done in the worker thread, one method per step.

    Tests replace steps to make a request slow or fail on purpose. Methods run in the
    worker thread and must not touch the state or Qt widgets.
    """

    def load_model(
        self,
        key: ModelKey,
        progress: Progress | None = None,
        cancelled: threading.Event | None = None,
    ) -> LoadedModel:
        """Load the model named by ``key``, downloading timm weights first when needed.

        ``progress(done, total)`` hears about download bytes; setting ``cancelled``
        stops a download with :class:`~vitviz.qt.download.DownloadCancelledError`.
        """
        from vitviz.vit import is_cached, load

        if progress is not None and cancelled is not None and not is_cached(key.source):
            prefetch_weights(key.source, progress, cancelled)
        model, spec = load(key.source, arch=key.arch, device=key.device, dtype=key.precision)
        parameter = next(model.parameters())
        return LoadedModel(
            model=model,
            spec=spec,
            source=key.source,
            device=str(parameter.device),
            dtype=key.precision,
        )

    def prepare(self, image: LoadedImage, loaded: LoadedModel, mode: str, max_tokens: int | None):
        """Preprocess ``image`` for ``loaded``'s checkpoint."""
        from vitviz.compute.preprocess import PreprocessMode, prepare

        return prepare(image.image, loaded.spec, PreprocessMode(mode), max_tokens=max_tokens)

    def infer(self, loaded: LoadedModel, prepared: Any) -> Any:
        """Forward pass with attention capture."""
        from vitviz.compute.inference import run_inference

        return run_inference(loaded.model, prepared.tensor)

    def class_map(self, request: ClassMapRequest) -> Any:
        """Class-specific map ``[rows, cols]`` (numpy) for one class."""
        from vitviz.compute.class_maps import class_map

        grid_map = class_map(
            request.model.model,
            request.prepared.tensor,
            request.class_index,
            method=request.method,
        )
        return grid_map.detach().float().cpu().numpy()


class Controller(QObject):
    """Keeps ``state.results`` in step with ``state.inputs``, off the UI thread.

    Signals
    -------
    download_progress(int, int)
        Bytes downloaded and the total (0 when unknown) while timm weights download.

    Parameters
    ----------
    state : AppState
        The application state; the controller writes only ``results`` (and puts back
        ``inputs`` after a failure).
    synchronous : bool
        Run each request at once in the calling thread (tests, benchmarks).
    pipeline : Pipeline, optional
        The steps run in the worker.
    """

    download_progress = Signal(int, int)

    def __init__(
        self,
        state: AppState,
        *,
        synchronous: bool = False,
        pipeline: Pipeline | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.synchronous = synchronous
        self.pipeline = pipeline or Pipeline()
        self._generation = 0
        self._shown: AnalysisRequest | None = None
        self._pending: AnalysisRequest | None = None
        self._pending_class: ClassMapRequest | None = None
        self._worker_running = False
        self._running_request: AnalysisRequest | None = None
        self._own_error: str | None = None
        self._restoring = False
        self._request_timer = QTimer(self)
        self._request_timer.setSingleShot(True)
        self._request_timer.setInterval(0)
        self._request_timer.timeout.connect(self.request_analysis)
        self._class_running: tuple[Any, int, str] | None = None
        self._models: OrderedDict[ModelKey, LoadedModel] = OrderedDict()
        self.dropped = 0  # stale responses dropped, for tests and the benchmark
        self.worker_threads = os.cpu_count() or 1
        for name in INPUT_FIELDS:
            getattr(state.inputs.events, name).connect(self._on_input_changed)
        state.selection.events.class_index.connect(self.request_class_map)
        state.view.events.class_method.connect(self.request_class_map)

    # --- public ---------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """Number of the newest analysis request."""
        return self._generation

    @property
    def idle(self) -> bool:
        """No work running or waiting."""
        return not (
            self._worker_running
            or self._pending
            or self._pending_class
            or self._request_timer.isActive()
        )

    def request_analysis(self) -> None:
        """Analyse the current inputs; older requests become stale."""
        self._generation += 1
        inputs = self.state.inputs
        request = AnalysisRequest(
            generation=self._generation,
            image=inputs.image,
            model_key=ModelKey(inputs.model_source, inputs.arch, inputs.device, inputs.precision),
            preprocess_mode=inputs.preprocess_mode,
            max_tokens=inputs.max_tokens,
        )
        self._pending = request
        self.state.results.busy = True
        self.state.results.status = self._busy_status(request)
        self._pump()

    def request_now(self) -> None:
        """Start the analysis of input changes waiting for the next event-loop turn now.

        At start-up this lets the worker load the model while the window is built.
        """
        if self._request_timer.isActive():
            self._request_timer.stop()
            self.request_analysis()

    def request_class_map(self, *_: object) -> None:
        """Compute the selected class's map unless it is cached or being computed."""
        results, selection = self.state.results, self.state.selection
        index, method = selection.class_index, self.state.view.class_method
        if index is None or results.inference is None or results.model is None:
            return
        if (index, method) in results.class_maps:
            return
        running = self._class_running
        if (
            running is not None
            and running[0] is results.inference
            and running[1:] == (index, method)
        ):
            return
        self._pending_class = ClassMapRequest(
            results.inference, results.model, results.prepared, index, method
        )
        self.state.results.busy = True
        self._pump()

    def cancel(self) -> None:
        """Give up on the running and waiting requests; what is shown stays.

        A thread cannot be stopped mid-computation, so its result is dropped when it
        arrives. The inputs are put back to those of the result on screen.
        """
        self._generation += 1
        self._request_timer.stop()
        if self._running_request is not None:
            self._running_request.cancelled.set()
        self._pending = None
        self._pending_class = None
        self._restore_inputs()
        self.state.results.busy = False
        self.state.results.status = "Cancelled"

    def wait(self, msecs: int = 60_000) -> bool:
        """Block until the worker threads finish (tests, shutdown); True when they did."""
        return QThreadPool.globalInstance().waitForDone(msecs)

    # --- scheduling -----------------------------------------------------------------
    def _on_input_changed(self, *_: object) -> None:
        if self._restoring:
            return
        if self.synchronous:
            self.request_analysis()
            return
        # Several inputs often change together (a model and its arch, settings at start):
        # coalesce them into one request at the next turn of the event loop.
        self.state.results.busy = True
        self._request_timer.start()

    def _pump(self) -> None:
        """Start the next waiting job if no worker runs (analysis before class maps)."""
        if self._worker_running:
            return
        if self._pending is not None:
            request, self._pending = self._pending, None
            self._running_request = request
            self._start(self._run_analysis, request, self._on_analysis)
        elif self._pending_class is not None:
            request, self._pending_class = self._pending_class, None
            self._class_running = (request.inference, request.class_index, request.method)
            self._start(self._run_class_map, request, self._on_class_map)

    def _start(self, work, request, done) -> None:
        self._worker_running = True
        if self.synchronous:
            done(self._with_worker_threads(work, request))
            return
        worker = create_worker(self._with_worker_threads, work, request)
        worker.returned.connect(done)
        worker.start()

    def _with_worker_threads(self, work, request):
        """Run ``work`` with all cores for torch, then give the calling thread its count back.

        torch's intra-op thread count belongs to the calling thread: the UI thread keeps
        one (its small tensors gain nothing from more, and idle OpenMP workers spinning
        after each op would take a core from Qt), the forward pass gets them all.
        """
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(self.worker_threads)
        try:
            return work(request)
        finally:
            torch.set_num_threads(previous)

    def _finish_job(self) -> None:
        self._worker_running = False
        self._running_request = None
        self._pump()
        if self.idle:
            self.state.results.busy = False

    # --- worker side (no state, no widgets) -----------------------------------------
    def _model_for(self, request: AnalysisRequest) -> LoadedModel:
        key = request.model_key
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        loaded = self.pipeline.load_model(key, self.download_progress.emit, request.cancelled)
        self._models[key] = loaded
        while len(self._models) > MODEL_CACHE_SIZE:
            self._models.popitem(last=False)
        return loaded

    def _release(self, key: ModelKey) -> None:
        """Forget the cached model for ``key`` and give its GPU memory back."""
        import torch

        self._models.pop(key, None)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _run_analysis(self, request: AnalysisRequest) -> AnalysisResponse:
        started = time.perf_counter()
        try:
            try:
                return self._analyse(request, started, notice=None)
            except Exception as error:
                if not is_out_of_memory(error) or request.model_key.device == "cpu":
                    raise
                logger.warning("out of memory on %s, falling back to the CPU", request.model_key)
                self._release(request.model_key)
                return self._analyse(request, started, notice=OOM_MESSAGE, force_cpu=True)
        except Exception as error:
            if not isinstance(error, VitvizError):
                logger.exception("analysis failed")
            return AnalysisResponse(request, error=user_message(error))

    def _analyse(
        self, request: AnalysisRequest, started: float, *, notice: str | None, force_cpu=False
    ) -> AnalysisResponse:
        key = request.model_key
        if force_cpu:
            # Half precision is GPU-only: the CPU copy is float32. It is cached under the
            # key asked for, so later requests for that device stay on the CPU.
            loaded = self.pipeline.load_model(replace(key, device="cpu", precision="fp32"))
            self._models[key] = loaded
        else:
            loaded = self._model_for(request)
        if request.image is None:
            return AnalysisResponse(request, model=loaded, notice=notice)
        prepared = self.pipeline.prepare(
            request.image, loaded, request.preprocess_mode, request.max_tokens
        )
        inference = self.pipeline.infer(loaded, prepared)
        return AnalysisResponse(
            request,
            model=loaded,
            prepared=prepared,
            inference=inference,
            notice=notice,
            seconds=time.perf_counter() - started,
        )

    def _run_class_map(self, request: ClassMapRequest) -> ClassMapResponse:
        try:
            return ClassMapResponse(request, grid_map=self.pipeline.class_map(request))
        except Exception as error:
            if not isinstance(error, VitvizError):
                logger.exception("class map failed")
            return ClassMapResponse(request, error=user_message(error))

    # --- UI side: apply responses ---------------------------------------------------
    def _on_analysis(self, response: AnalysisResponse) -> None:
        try:
            if response.request.generation != self._generation:
                self.dropped += 1
            elif response.error is not None:
                self._apply_error(response.error)
            else:
                self._apply(response)
        finally:
            self._finish_job()

    def _apply_error(self, message: str) -> None:
        results = self.state.results
        results.error = self._own_error = message
        results.status = f"Failed: {message.splitlines()[0] if message else ''}"
        self._restore_inputs()

    def _apply(self, response: AnalysisResponse) -> None:
        state, results = self.state, self.state.results
        new_model = results.model is not response.model
        # Every field changes first and the events follow, selection before results, so
        # each listener reads the new result with a selection that fits it.
        with held_events(state.selection, results):
            results.model = response.model
            results.image = response.request.image if response.inference is not None else None
            results.prepared = response.prepared
            results.class_maps = {}
            results.inference = response.inference
            # A success clears the controller's own earlier message, not someone else's
            # (e.g. the window's "cannot read that image" for an image it kept out).
            if response.notice is not None or results.error == self._own_error:
                results.error = self._own_error = response.notice
            results.status = self._result_status(response)
            if response.inference is not None:
                state.fit_selection(
                    response.inference.layout,
                    response.model.depth,
                    response.model.num_heads,
                    reset_query=new_model,
                )
        self._shown = response.request
        self._class_running = None
        self.request_class_map()

    def _on_class_map(self, response: ClassMapResponse) -> None:
        try:
            request, results = response.request, self.state.results
            self._class_running = None
            if request.inference is not results.inference:
                self.dropped += 1
            elif response.error is not None:
                results.error = self._own_error = response.error
                if self.state.selection.class_index == request.class_index:
                    self.state.selection.class_index = None
            else:
                key = (request.class_index, request.method)
                results.class_maps = {**results.class_maps, key: response.grid_map}
        finally:
            self._finish_job()

    def _restore_inputs(self) -> None:
        """Put the inputs back to those of the result on screen (after a failure)."""
        shown, inputs = self._shown, self.state.inputs
        if shown is None:
            return
        self._restoring = True
        try:
            inputs.image = shown.image
            inputs.model_source = shown.model_key.source
            inputs.arch = shown.model_key.arch
            inputs.device = shown.model_key.device
            inputs.precision = shown.model_key.precision
            inputs.preprocess_mode = shown.preprocess_mode
            inputs.max_tokens = shown.max_tokens
        finally:
            self._restoring = False

    # --- status lines ---------------------------------------------------------------
    @staticmethod
    def _busy_status(request: AnalysisRequest) -> str:
        image = request.image.name if request.image else "no image"
        return f"Running {request.model_key.source} on {image}…"

    @staticmethod
    def _result_status(response: AnalysisResponse) -> str:
        model = response.model
        parts = [model.spec.name if model.spec else model.source, model.device, model.dtype]
        if response.inference is not None:
            layout = response.inference.layout
            rows, cols = layout.grid
            tokens = "+".join(layout.prefix_labels) or "no prefix"
            parts.append(f"{tokens} + {rows}×{cols} patches")
            parts.append(f"{response.seconds * 1000:.0f} ms")
        return " · ".join(parts)
