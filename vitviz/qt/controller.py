"""Runs the model and every analysis off the UI thread and puts the results into the state.

Each change of ``state.inputs`` (image, model, device, precision, preprocessing) becomes an
immutable :class:`Request` with a new generation number; one worker thread runs one request
at a time: load the model (cached), prepare the image, run the forward pass with attention
capture, then derive every analysis the panels show. A change of rollout options is a
request of its own for the result on screen, and so is a class-specific map (a backward
pass per class, cached per class in ``results.class_maps``). A request that arrives while
another runs waits, replacing any older waiting one of its kind; a response whose
generation is no longer the newest of its kind is dropped, never shown.

Threads: the worker owns the model cache and never touches the state or Qt objects; its
frozen :class:`Response` crosses to the UI thread through a queued signal, and only the UI
thread writes the state. torch's thread count is set once per thread: the UI thread keeps
one (``vitviz.app``), the worker takes every core but one when it starts.

Failures never lose what is shown: the message lands in ``results.error`` and the inputs go
back to those of the result on screen. A GPU out-of-memory error reruns the request on the
CPU. A bare checkpoint whose weights fit several architectures that compute differently
comes back with the choices (:attr:`Controller.architecture_needed`) for the window to ask.
With ``synchronous=True`` (tests, benchmarks) requests run at once in the calling thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from vitviz.errors import VitvizError
from vitviz.qt.download import Progress, prefetch_weights
from vitviz.state import AppState, LoadedImage, LoadedModel
from vitviz.state.events import held_events

logger = logging.getLogger(__name__)

MODEL_CACHE_SIZE = 2
OOM_MESSAGE = "The GPU ran out of memory; running on the CPU instead."
ANALYSIS, ROLLOUT, CLASS_MAP = "analysis", "rollout", "class map"


@dataclass(frozen=True)
class ModelKey:
    """What identifies a loaded model: the same key reuses the cached model."""

    source: str
    arch: str | None
    device: str
    precision: str


@dataclass(frozen=True)
class Request:
    """One job for the worker, immutable so that threads may share it.

    An analysis of the inputs (image, model_key, preprocess_mode, max_tokens, rollout,
    every_query), the rollout of the result on screen for new options (inference, rollout,
    every_query), or a class map of it (inference, model, prepared, class_index, method).
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
    """What the worker produced for one :class:`Request`: ``error`` when it failed, a
    ``notice`` when it succeeded differently than asked (CPU fallback), or only the
    ``choices`` of architecture a bare checkpoint leaves to the user."""

    request: Request
    model: LoadedModel | None = None
    prepared: Any = None
    inference: Any = None
    analysis: Any = None
    rollout: Any = None
    grid_map: Any = None  # [rows, cols] numpy class map
    error: str | None = None
    notice: str | None = None
    choices: tuple[str, ...] | None = None
    seconds: float = 0.0


class ArchitectureChoiceError(VitvizError):
    """A checkpoint's weights do not say which of ``choices`` (empty: any) they belong to."""

    def __init__(self, choices: list[str]) -> None:
        super().__init__("Choose the architecture of the checkpoint.")
        self.choices = tuple(choices)


def is_out_of_memory(error: BaseException | None) -> bool:
    """Whether ``error`` is (or was caused by) a device out-of-memory error."""
    import torch

    while error is not None:
        if isinstance(error, torch.OutOfMemoryError) or (
            isinstance(error, RuntimeError) and "out of memory" in str(error).lower()
        ):
            return True
        error = error.__cause__
    return False


class Pipeline:
    """The work done in the worker thread, one method per step (tests replace steps).

    Methods run in the worker thread and must not touch the state or Qt widgets.
    """

    def architectures(self, source: str) -> None:
        """Raise :class:`ArchitectureChoiceError` unless ``source`` names its own architecture.

        A self-describing file, or bare weights that fit one computation exactly, pass; a
        Google ``.npz`` (whose weights cannot tell) or weights that fit several raise.
        """
        from vitviz.vit.loading import is_demo, is_local_path

        if is_demo(source) or not is_local_path(source) or Path(source).is_dir():
            return
        from vitviz.vit.architectures import exact_choices, rank_architectures
        from vitviz.vit.checkpoints import read_checkpoint

        checkpoint = read_checkpoint(source)
        if checkpoint.info.arch is not None:
            return
        if checkpoint.state_dict is None:
            raise ArchitectureChoiceError([])
        matches = exact_choices(rank_architectures(checkpoint.state_dict))
        if len(matches) > 1:
            raise ArchitectureChoiceError([match.arch for match in matches])

    def load_model(
        self, key: ModelKey, progress: Progress | None = None, cancelled=None
    ) -> LoadedModel:
        """Load ``key``'s model, downloading timm weights first (``progress(done, total)``
        hears the bytes; setting ``cancelled`` stops the download)."""
        from vitviz.vit import is_cached, load

        if progress is not None and cancelled is not None and not is_cached(key.source):
            prefetch_weights(key.source, progress, cancelled)
        model, spec = load(key.source, arch=key.arch, device=key.device, dtype=key.precision)
        device = str(next(model.parameters()).device)
        return LoadedModel(
            model=model, spec=spec, source=key.source, device=device, dtype=key.precision
        )

    def prepare(self, image: LoadedImage, loaded: LoadedModel, mode: str, max_tokens: int | None):
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
            request.model.model, request.prepared.tensor, request.class_index, method=request.method
        )
        return grid_map.detach().float().cpu().numpy()


class Controller(QObject):
    """Keeps ``state.results`` in step with ``state.inputs``, off the UI thread.

    The controller writes only ``state.results`` (and puts back ``inputs`` after a failure);
    ``pipeline`` holds the steps run in the worker; ``synchronous`` runs each request at once
    in the calling thread. Signals: ``download_progress(done, total)`` in bytes (total 0 when
    unknown) while timm weights download; ``architecture_needed(path, choices)`` for a
    checkpoint whose weights fit several architectures (empty: any), best first, while the
    inputs went back to the result on screen until the user chooses.
    """

    download_progress = Signal(int, int)
    architecture_needed = Signal(str, list)
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
        self.state, self.synchronous = state, synchronous
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
        self._request_timer = QTimer(self, singleShot=True, interval=0)
        self._request_timer.timeout.connect(self.request_analysis)
        self._models: OrderedDict[ModelKey, LoadedModel] = OrderedDict()  # worker thread's
        # Every core but one: OpenMP threads spin after each operation, and the UI thread
        # needs a core of its own to stay responsive while the worker runs.
        self.worker_threads = max(1, (os.cpu_count() or 1) - 1)
        self._executor = ThreadPoolExecutor(
            1, thread_name_prefix="vitviz-worker", initializer=self._start_worker_thread
        )
        self.dropped = 0  # stale responses dropped, for tests and the benchmark
        queued = Qt.ConnectionType.QueuedConnection
        self._finished.connect(self._on_finished, queued)
        self._progress.connect(self.download_progress.emit, queued)
        for signal in state.inputs.events.signals.values():  # every input asks for a new result
            signal.connect(self._on_input_changed)
        for signal in state.rollout.events.signals.values():
            signal.connect(self.request_rollout)
        state.selection.events.class_index.connect(self.request_class_map)
        state.view.events.class_method.connect(self.request_class_map)

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def idle(self) -> bool:
        return not (self._running or self._pending or self._request_timer.isActive())

    def rollout_options(self):
        """The state's rollout options (fields of the same names) as one immutable value."""
        from vitviz.compute.rollout import RolloutOptions

        names = [option.name for option in fields(RolloutOptions)]
        return RolloutOptions(**{name: getattr(self.state.rollout, name) for name in names})

    def request_analysis(self) -> None:
        """Analyse the current inputs; older requests become stale."""
        inputs = self.state.inputs
        key = ModelKey(inputs.model_source, inputs.arch, inputs.device, inputs.precision)
        request = Request(
            ANALYSIS,
            self._next_generation(ANALYSIS),
            inputs.image,
            key,
            inputs.preprocess_mode,
            inputs.max_tokens,
            self.rollout_options(),
            self.state.rollout.follow_query,
        )
        # The analysis brings its own rollout: a waiting rollout request is superseded.
        self._pending.pop(ROLLOUT, None)
        self._latest[ROLLOUT] = request.generation
        image = request.image.name if request.image else "no image"
        self.state.results.status = f"Running {key.source} on {image}…"
        self._submit(request)

    def request_now(self) -> None:
        """Start input changes waiting for the next event-loop turn now (at start-up the
        worker then loads the model while the window is built)."""
        if self._request_timer.isActive():
            self._request_timer.stop()
            self.request_analysis()

    def request_rollout(self, *_: object) -> None:
        """Roll out the result on screen again if the rollout options changed."""
        results, options = self.state.results, self.rollout_options()
        every_query = self.state.rollout.follow_query
        running = self._running.kind if self._running is not None else None
        pending = self._pending.get(ROLLOUT)
        if results.inference is None or running == ANALYSIS or ANALYSIS in self._pending:
            return  # applying an analysis asks again (see _apply)
        if pending and pending.rollout == options and (pending.every_query or not every_query):
            return
        shown = results.rollout
        served = shown is not None and shown.options == options
        served = served and (shown.stack is not None or not every_query)
        if served and pending is None and running != ROLLOUT:
            return
        request = Request(ROLLOUT, self._next_generation(ROLLOUT), inference=results.inference)
        self._submit(replace(request, rollout=options, every_query=every_query))

    def request_class_map(self, *_: object) -> None:
        """Compute the selected class's map unless it is cached or being computed."""
        results, index = self.state.results, self.state.selection.class_index
        method, running = self.state.view.class_method, self._running
        if index is None or results.inference is None or results.model is None:
            return
        if (index, method) in results.class_maps or (
            running is not None
            and running.kind == CLASS_MAP
            and running.inference is results.inference
            and (running.class_index, running.method) == (index, method)
        ):
            return
        request = Request(CLASS_MAP, inference=results.inference, model=results.model)
        self._submit(replace(request, prepared=results.prepared, class_index=index, method=method))

    def cancel(self) -> None:
        """Give up on the running and waiting requests; what is shown stays.

        A thread cannot be stopped mid-computation, so its result is dropped when it
        arrives. The inputs are put back to those of the result on screen.
        """
        self._next_generation(ANALYSIS)
        self._next_generation(ROLLOUT)
        self._request_timer.stop()
        if self._running is not None and self._running.kind == ANALYSIS:
            self._running.cancelled.set()
        self._pending.clear()
        self._restore_inputs()
        self.state.results.busy = False
        self.state.results.status = "Cancelled"
        self.request_rollout()  # the rollout must still follow its options

    def wait(self, msecs: int = 60_000) -> bool:
        """Block until the worker finishes its job (tests, shutdown); True when it did."""
        return self._future is None or not wait([self._future], msecs / 1000).not_done

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
        kind = next((k for k in (ANALYSIS, ROLLOUT, CLASS_MAP) if k in self._pending), None)
        if self._running is not None or kind is None:
            return
        self._running = self._pending.pop(kind)
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
                rollout = self.pipeline.rollout(
                    request.inference, request.rollout, request.every_query
                )
                return Response(request, rollout=rollout)
            if request.kind == CLASS_MAP:
                return Response(request, grid_map=self.pipeline.class_map(request))
            try:
                return self._analyse(request, started, self._model_for(request))
            except Exception as error:
                if not is_out_of_memory(error) or request.model_key.device == "cpu":
                    raise
                import torch

                logger.warning("out of memory on %s, falling back to the CPU", request.model_key)
                # Half precision is GPU-only: the CPU copy is float32. It is cached under the
                # key asked for, so later requests for that device stay on the CPU.
                self._models.pop(request.model_key, None)
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()  # give the GPU memory back
                key = replace(request.model_key, device="cpu", precision="fp32")
                loaded = self._models[request.model_key] = self.pipeline.load_model(key)
                return self._analyse(request, started, loaded, OOM_MESSAGE)
        except ArchitectureChoiceError as needed:
            return Response(request, choices=needed.choices)
        except Exception as error:
            if isinstance(error, VitvizError):
                return Response(request, error=str(error))
            logger.exception("%s failed", request.kind)
            return Response(request, error=f"Unexpected error ({type(error).__name__}): {error}")

    def _model_for(self, request: Request) -> LoadedModel:
        key = request.model_key
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        if key.arch is None:
            self.pipeline.architectures(key.source)
        progress = self.download_progress.emit if self.synchronous else self._progress.emit
        loaded = self._models[key] = self.pipeline.load_model(key, progress, request.cancelled)
        while len(self._models) > MODEL_CACHE_SIZE:
            self._models.popitem(last=False)
        return loaded

    def _analyse(self, request: Request, started: float, loaded: LoadedModel, notice=None):
        if request.image is None:
            return Response(request, model=loaded, notice=notice)
        pipeline = self.pipeline
        prepared = pipeline.prepare(
            request.image, loaded, request.preprocess_mode, request.max_tokens
        )
        inference = pipeline.infer(loaded, prepared)
        return Response(
            request,
            loaded,
            prepared,
            inference,
            pipeline.analyse(loaded, inference),
            pipeline.rollout(inference, request.rollout, request.every_query),
            notice=notice,
            seconds=time.perf_counter() - started,
        )

    # --- UI side: apply responses ---------------------------------------------------
    def _on_finished(self, response: Response) -> None:
        self._running = None
        request, results = response.request, self.state.results
        try:
            if self._is_stale(request):
                self.dropped += 1
            elif response.choices is not None:
                results.status = self._shown_status
                self._restore_inputs()
                self.architecture_needed.emit(request.model_key.source, list(response.choices))
            elif response.error is not None:
                self._apply_error(response)
            elif request.kind == ANALYSIS:
                self._apply(response)
            elif request.kind == ROLLOUT:
                results.rollout = response.rollout
            else:
                key = (request.class_index, request.method)
                results.class_maps = {**results.class_maps, key: response.grid_map}
        finally:
            # Options may have changed while a response that is now dropped was computed.
            self.request_rollout()
            self._pump()
            if self.idle:
                results.busy = False

    def _is_stale(self, request: Request) -> bool:
        if request.kind != CLASS_MAP and request.generation != self._latest[request.kind]:
            return True
        return request.kind != ANALYSIS and request.inference is not self.state.results.inference

    def _apply_error(self, response: Response) -> None:
        request, results = response.request, self.state.results
        if request.kind != ANALYSIS:
            results.error = self._own_error = response.error
            if (
                request.kind == CLASS_MAP
                and self.state.selection.class_index == request.class_index
            ):
                self.state.selection.class_index = None
            return
        if self._shown is None and response.model is None and request.model_key.source != "demo":
            # Nothing on screen to keep: show the bundled demo model rather than nothing.
            self._fallback = f"{response.error}\nShowing the bundled demo model instead."
            with held_events(self.state.inputs):
                self.state.inputs.arch = None
                self.state.inputs.model_source = "demo"
            return
        # Said once, in full, in the error bar; the status line keeps naming what is shown.
        results.error = self._own_error = response.error
        results.status = self._shown_status
        self._restore_inputs()

    def _apply(self, response: Response) -> None:
        state, results = self.state, self.state.results
        new_model = results.model is not response.model
        notice, self._fallback = response.notice or self._fallback, None
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
                model = response.model
                state.fit_selection(
                    response.inference.layout, model.depth, model.num_heads, reset_query=new_model
                )
        self._shown, self._shown_status = response.request, results.status
        self.request_rollout()  # fit_selection may have moved the rollout's layers
        self.request_class_map()

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

    @staticmethod
    def _result_status(response: Response) -> str:
        model = response.model
        parts = [model.spec.name if model.spec else model.source, model.device, model.dtype]
        if response.inference is not None:
            layout = response.inference.layout
            rows, cols = layout.grid
            tokens = "+".join(layout.prefix_labels) or "no prefix"
            parts += [f"{tokens} + {rows}×{cols} patches", f"{response.seconds * 1000:.0f} ms"]
        return " · ".join(parts)
