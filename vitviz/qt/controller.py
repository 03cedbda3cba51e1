"""Runs the model and every analysis off the UI thread and puts the results into the state.

The controller listens to the inputs of :class:`~vitviz.state.AppState` (image, model,
device, precision, preprocessing) and to the rollout options. Each change becomes an
immutable request with a new generation number; one worker thread runs one request at a
time: load the model (cached), prepare the image, run the forward pass with attention
capture, then derive every analysis the panels show (:func:`vitviz.compute.analysis.analyse`
and the rollout for the current options). A change of rollout options is a request of
its own, for the result on screen. A request that arrives while another runs waits,
replacing any older waiting one of its kind; a response whose generation is no longer the
newest of its kind is dropped, never shown. Class-specific maps (a backward pass per class)
are requested the same way when the selected class or method changes and are cached per
class in ``results.class_maps``.

Threads: the worker is a plain Python thread that owns the model cache; it never touches
the state or Qt objects. What it produces is a frozen response whose tensors nothing
writes to again, and it crosses to the UI thread as the argument of a signal connected with
``Qt.QueuedConnection`` (download progress too); only the UI thread writes the state.
torch's thread count belongs to each thread and is set once per thread, never per
request: the UI thread keeps one (``vitviz.app``: its reads are small, and idle OpenMP
workers spinning after each read would take a core from Qt), the worker thread sets
every core but one for itself when it starts.

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
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields, replace
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

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


ANALYSIS, ROLLOUT, CLASS_MAP = "analysis", "rollout", "class map"


@dataclass(frozen=True)
class Request:
    """One job for the worker, immutable so that threads may share it.

    ``kind`` says which fields are set: an analysis of the inputs (image, model_key,
    preprocess_mode, max_tokens, rollout, every_query), the rollout of the result on screen
    for new options (inference, rollout, every_query), or a class map of the result on
    screen (inference, model, prepared, class_index, method).
    """

    kind: str
    generation: int = 0
    image: LoadedImage | None = None
    model_key: ModelKey | None = None
    preprocess_mode: str = "crop"
    max_tokens: int | None = None
    rollout: Any = None  # vitviz.compute.rollout.RolloutOptions
    every_query: bool = False  # keep every query's rollout (it follows the selected query)
    inference: Any = None
    model: LoadedModel | None = None
    prepared: Any = None
    class_index: int | None = None
    method: str = ""
    cancelled: threading.Event = field(default_factory=threading.Event, compare=False)


@dataclass(frozen=True)
class Response:
    """What the worker produced for one :class:`Request`.

    ``error`` is set (and the results are None) when the request failed; ``notice`` is a
    message for a request that succeeded differently than asked (CPU fallback).
    """

    request: Request
    model: LoadedModel | None = None
    prepared: Any = None
    inference: Any = None
    analysis: Any = None
    rollout: Any = None
    grid_map: Any = None  # [rows, cols] numpy class map
    error: str | None = None
    notice: str | None = None
    seconds: float = 0.0


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
        from vitviz.compute.inference import run_inference

        return run_inference(loaded.model, prepared.tensor)

    def analyse(self, loaded: LoadedModel, inference: Any) -> Any:
        """Head statistics, high-norm flags, prefix mass and predictions of ``inference``."""
        from vitviz.compute.analysis import analyse

        return analyse(inference, loaded.spec.patch_size, loaded.spec.labels)

    def rollout(self, inference: Any, options: Any, every_query: bool) -> Any:
        """The rollout up to every selected layer (``RolloutMaps``), of every query or not."""
        from vitviz.compute.analysis import rollout_maps

        return rollout_maps(inference, options, every_query)

    def class_map(self, request: Request) -> Any:
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
        Bytes downloaded and the total (0 when unknown) while timm weights download;
        emitted on the UI thread.

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
    _progress = Signal(int, int)
    _finished = Signal(object)

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
        self._latest = {ANALYSIS: 0, ROLLOUT: 0}
        self._shown: Request | None = None
        self._pending: dict[str, Request] = {}
        self._running: Request | None = None
        self._future = None
        self._own_error: str | None = None
        self._shown_status = ""
        self._fallback: str | None = None
        self._restoring = False
        self._request_timer = QTimer(self)
        self._request_timer.setSingleShot(True)
        self._request_timer.setInterval(0)
        self._request_timer.timeout.connect(self.request_analysis)
        # Owned by the worker thread alone: the UI thread never reads or writes it.
        self._models: OrderedDict[ModelKey, LoadedModel] = OrderedDict()
        # Every core but one: OpenMP threads spin after each operation, and the UI thread
        # needs a core of its own to stay responsive while the worker runs.
        self.worker_threads = max(1, (os.cpu_count() or 1) - 1)
        self._executor = ThreadPoolExecutor(
            1, thread_name_prefix="vitviz-worker", initializer=self._start_worker_thread
        )
        self.dropped = 0  # stale responses dropped, for tests and the benchmark
        connection = Qt.ConnectionType.QueuedConnection
        self._finished.connect(self._on_finished, connection)
        self._progress.connect(self.download_progress.emit, connection)
        for name in INPUT_FIELDS:
            getattr(state.inputs.events, name).connect(self._on_input_changed)
        for signal in state.rollout.events.signals.values():
            signal.connect(self.request_rollout)
        state.selection.events.class_index.connect(self.request_class_map)
        state.view.events.class_method.connect(self.request_class_map)

    # --- public ---------------------------------------------------------------------
    @property
    def generation(self) -> int:
        return self._generation

    @property
    def idle(self) -> bool:
        return not (self._running or self._pending or self._request_timer.isActive())

    def rollout_options(self):
        """The state's rollout options as one immutable value for the worker."""
        from vitviz.compute.rollout import RolloutOptions

        # The state's rollout fields carry the same names as RolloutOptions'.
        names = [option.name for option in fields(RolloutOptions)]
        return RolloutOptions(**{name: getattr(self.state.rollout, name) for name in names})

    def request_analysis(self) -> None:
        """Analyse the current inputs; older requests become stale."""
        inputs = self.state.inputs
        request = Request(
            ANALYSIS,
            generation=self._next_generation(ANALYSIS),
            image=inputs.image,
            model_key=ModelKey(inputs.model_source, inputs.arch, inputs.device, inputs.precision),
            preprocess_mode=inputs.preprocess_mode,
            max_tokens=inputs.max_tokens,
            rollout=self.rollout_options(),
            every_query=self.state.rollout.follow_query,
        )
        # The analysis brings its own rollout: a waiting rollout request is superseded.
        self._pending.pop(ROLLOUT, None)
        self._latest[ROLLOUT] = request.generation
        self.state.results.status = self._busy_status(request)
        self._submit(request)

    def request_now(self) -> None:
        """Start the analysis of input changes waiting for the next event-loop turn now.

        At start-up this lets the worker load the model while the window is built.
        """
        if self._request_timer.isActive():
            self._request_timer.stop()
            self.request_analysis()

    def request_rollout(self, *_: object) -> None:
        """Roll out the result on screen again if the rollout options changed."""
        results, options = self.state.results, self.rollout_options()
        every_query = self.state.rollout.follow_query
        running, pending = self._running_kind(), self._pending.get(ROLLOUT)
        if results.inference is None or running == ANALYSIS:
            return  # applying an analysis asks again (see _apply)
        if ANALYSIS in self._pending or (pending and self._serves(pending, options)):
            return
        shown = results.rollout
        served = shown is not None and shown.options == options
        served = served and (shown.stack is not None or not every_query)
        if served and pending is None and running != ROLLOUT:
            return
        generation = self._next_generation(ROLLOUT)
        request = Request(ROLLOUT, generation, inference=results.inference, rollout=options)
        self._submit(replace(request, every_query=every_query))

    def _serves(self, request: Request, options: Any) -> bool:
        """Whether ``request`` computes what the rollout options ask for now."""
        every_query = self.state.rollout.follow_query
        return request.rollout == options and (request.every_query or not every_query)

    def _running_kind(self) -> str | None:
        return self._running.kind if self._running is not None else None

    def request_class_map(self, *_: object) -> None:
        """Compute the selected class's map unless it is cached or being computed."""
        results, selection = self.state.results, self.state.selection
        index, method = selection.class_index, self.state.view.class_method
        if index is None or results.inference is None or results.model is None:
            return
        if (index, method) in results.class_maps:
            return
        running = self._running
        if (
            running is not None
            and running.kind == CLASS_MAP
            and running.inference is results.inference
            and (running.class_index, running.method) == (index, method)
        ):
            return
        self._submit(
            Request(
                CLASS_MAP,
                inference=results.inference,
                model=results.model,
                prepared=results.prepared,
                class_index=index,
                method=method,
            )
        )

    def cancel(self) -> None:
        """Give up on the running and waiting requests; what is shown stays.

        A thread cannot be stopped mid-computation, so its result is dropped when it
        arrives. The inputs are put back to those of the result on screen.
        """
        self._next_generation(ANALYSIS)
        self._next_generation(ROLLOUT)
        self._request_timer.stop()
        if self._running_kind() == ANALYSIS:
            self._running.cancelled.set()
        self._pending.clear()
        self._restore_inputs()
        self.state.results.busy = False
        self.state.results.status = "Cancelled"
        self.request_rollout()  # the rollout must still follow its options

    def wait(self, msecs: int = 60_000) -> bool:
        """Block until the worker finishes its job (tests, shutdown); True when it did."""
        future = self._future
        return future is None or not wait([future], msecs / 1000).not_done

    # --- scheduling -----------------------------------------------------------------
    def _next_generation(self, kind: str) -> int:
        self._generation += 1
        self._latest[kind] = self._generation
        return self._generation

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

    def _submit(self, request: Request) -> None:
        """Queue ``request`` (replacing a waiting one of its kind) and start the worker."""
        self._pending[request.kind] = request
        self.state.results.busy = True
        self._pump()

    def _pump(self) -> None:
        """Start the next waiting job if the worker is free (analysis, rollout, class map)."""
        if self._running is not None:
            return
        for kind in (ANALYSIS, ROLLOUT, CLASS_MAP):
            if kind in self._pending:
                self._running = self._pending.pop(kind)
                break
        else:
            return
        if self.synchronous:
            self._on_finished(self._work(self._running))
        else:
            self._future = self._executor.submit(self._work_and_send, self._running)

    def _work_and_send(self, request: Request) -> None:
        self._finished.emit(self._work(request))

    # --- worker side (no state, no widgets) -----------------------------------------
    def _start_worker_thread(self) -> None:
        import torch

        torch.set_num_threads(self.worker_threads)

    def _work(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            if request.kind == ROLLOUT:
                pipeline = self.pipeline
                rollout = pipeline.rollout(request.inference, request.rollout, request.every_query)
                return Response(request, rollout=rollout)
            if request.kind == CLASS_MAP:
                return Response(request, grid_map=self.pipeline.class_map(request))
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
                logger.exception("%s failed", request.kind)
            return Response(request, error=user_message(error))

    def _model_for(self, request: Request) -> LoadedModel:
        key = request.model_key
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        progress = self.download_progress.emit if self.synchronous else self._progress.emit
        loaded = self.pipeline.load_model(key, progress, request.cancelled)
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

    def _analyse(
        self, request: Request, started: float, *, notice: str | None, force_cpu=False
    ) -> Response:
        key = request.model_key
        if force_cpu:
            # Half precision is GPU-only: the CPU copy is float32. It is cached under the
            # key asked for, so later requests for that device stay on the CPU.
            loaded = self.pipeline.load_model(replace(key, device="cpu", precision="fp32"))
            self._models[key] = loaded
        else:
            loaded = self._model_for(request)
        if request.image is None:
            return Response(request, model=loaded, notice=notice)
        prepared = self.pipeline.prepare(
            request.image, loaded, request.preprocess_mode, request.max_tokens
        )
        inference = self.pipeline.infer(loaded, prepared)
        return Response(
            request,
            model=loaded,
            prepared=prepared,
            inference=inference,
            analysis=self.pipeline.analyse(loaded, inference),
            rollout=self.pipeline.rollout(inference, request.rollout, request.every_query),
            notice=notice,
            seconds=time.perf_counter() - started,
        )

    # --- UI side: apply responses ---------------------------------------------------
    def _on_finished(self, response: Any) -> None:
        self._running = None
        try:
            request = response.request
            if request.kind == CLASS_MAP:
                self._apply_class_map(response)
            elif request.generation != self._latest[request.kind]:
                self.dropped += 1
            elif request.kind == ROLLOUT:
                self._apply_rollout(response)
            elif response.error is not None:
                self._apply_error(response)
            else:
                self._apply(response)
        finally:
            # Options may have changed while a response that is now dropped was computed.
            self.request_rollout()
            self._pump()
            if self.idle:
                self.state.results.busy = False

    def _apply_error(self, response: Response) -> None:
        results, source = self.state.results, response.request.model_key.source
        message = response.error
        if self._shown is None and response.model is None and source != "demo":
            # Nothing on screen to keep: show the bundled demo model rather than nothing.
            self._fallback = f"{message}\nShowing the bundled demo model instead."
            with held_events(self.state.inputs):
                self.state.inputs.arch = None
                self.state.inputs.model_source = "demo"
            return
        # Said once, in full, in the error bar; the status line keeps naming what is shown.
        results.error = self._own_error = message
        results.status = self._shown_status
        self._restore_inputs()

    def _apply(self, response: Response) -> None:
        state, results = self.state, self.state.results
        new_model = results.model is not response.model
        notice = response.notice or self._fallback
        self._fallback = None
        # Every field changes first and the events follow, selection before results, so
        # each listener reads the new result with a selection that fits it.
        with held_events(state.selection, state.rollout, results):
            results.model = response.model
            results.image = response.request.image if response.inference is not None else None
            results.prepared = response.prepared
            results.class_maps = {}
            results.inference = response.inference
            results.analysis = response.analysis
            results.rollout = response.rollout
            # A success clears the controller's own earlier message, not someone else's
            # (e.g. the window's "cannot read that image" for an image it kept out).
            if notice is not None or results.error == self._own_error:
                results.error = self._own_error = notice
            results.status = self._result_status(response)
            if response.inference is not None:
                state.fit_selection(
                    response.inference.layout,
                    response.model.depth,
                    response.model.num_heads,
                    reset_query=new_model,
                )
        self._shown, self._shown_status = response.request, results.status
        self.request_rollout()  # fit_selection may have moved the rollout's layers
        self.request_class_map()

    def _apply_rollout(self, response: Response) -> None:
        results = self.state.results
        if response.request.inference is not results.inference:
            self.dropped += 1
        elif response.error is not None:
            results.error = self._own_error = response.error
        else:
            results.rollout = response.rollout

    def _apply_class_map(self, response: Response) -> None:
        request, results = response.request, self.state.results
        if request.inference is not results.inference:
            self.dropped += 1
        elif response.error is not None:
            results.error = self._own_error = response.error
            if self.state.selection.class_index == request.class_index:
                self.state.selection.class_index = None
        else:
            key = (request.class_index, request.method)
            results.class_maps = {**results.class_maps, key: response.grid_map}

    def _restore_inputs(self) -> None:
        """Put the inputs back to those of the result on screen (after a failure)."""
        shown, inputs = self._shown, self.state.inputs
        if shown is None:
            return
        self._restoring = True
        try:
            with held_events(inputs):
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
    def _busy_status(request: Request) -> str:
        image = request.image.name if request.image else "no image"
        return f"Running {request.model_key.source} on {image}…"

    @staticmethod
    def _result_status(response: Response) -> str:
        model = response.model
        parts = [model.spec.name if model.spec else model.source, model.device, model.dtype]
        if response.inference is not None:
            layout = response.inference.layout
            rows, cols = layout.grid
            tokens = "+".join(layout.prefix_labels) or "no prefix"
            parts.append(f"{tokens} + {rows}×{cols} patches")
            parts.append(f"{response.seconds * 1000:.0f} ms")
        return " · ".join(parts)
