"""Runs the model and every analysis off the UI thread and puts the results into the state.

Each change of ``state.inputs`` becomes an immutable :class:`Request` with a new generation;
one worker thread runs one at a time (the model is cached): preprocessing, the forward pass
with attention, every derived analysis. New rollout options and a class map are requests on
the result on screen. A request waits while another runs, replacing an older waiting one of
its kind; a response no longer the newest of its kind is dropped, never shown. The worker
never touches the state or Qt objects; its frozen :class:`Response` reaches the UI thread by
a queued signal. Failures keep what is shown and put the inputs back; a GPU out-of-memory
error reruns on the CPU. ``synchronous=True`` (tests, benchmarks) runs requests at once.
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

import torch
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from vitviz.compute.analysis import analyse, rollout_maps
from vitviz.compute.class_maps import class_map
from vitviz.compute.inference import run_inference
from vitviz.compute.preprocess import PreprocessMode, prepare
from vitviz.compute.rollout import RolloutOptions
from vitviz.errors import VitvizError
from vitviz.qt.download import Progress, prefetch_weights
from vitviz.state import AppState, LoadedImage, LoadedModel
from vitviz.state.events import held_events
from vitviz.vit import is_cached, load
from vitviz.vit.checkpoints import read_checkpoint
from vitviz.vit.loading import is_demo, is_local_path

logger = logging.getLogger(__name__)

MODEL_CACHE_SIZE = 2
OOM_MESSAGE = "The GPU ran out of memory; running on the CPU instead."
ANALYSIS, ROLLOUT, CLASS_MAP = KINDS = ("analysis", "rollout", "class map")  # in running order
RESULT_FIELDS = ("model", "image", "prepared", "inference", "analysis", "rollout")


@dataclass(frozen=True)
class ModelKey:
    """What identifies a loaded model: the same key reuses the cached model."""

    source: str
    arch: str | None
    device: str
    precision: str


@dataclass(frozen=True)
class Request:
    """One job for the worker (immutable: threads share it): an ``analysis`` of ``inputs``
    (``state.inputs``' fields), or a ``rollout`` or ``class map`` of the result on screen."""

    kind: str
    generation: int = 0
    inputs: dict[str, Any] = field(default_factory=dict)
    rollout: Any = None  # vitviz.compute.rollout.RolloutOptions
    every_query: bool = False  # keep every query's rollout (it follows the selected query)
    inference: Any = None
    model: LoadedModel | None = None
    prepared: Any = None
    class_index: int | None = None
    method: str = ""
    cancelled: threading.Event = field(default_factory=threading.Event, compare=False)

    @property
    def model_key(self) -> ModelKey:
        get = self.inputs.get
        return ModelKey(get("model_source"), get("arch"), get("device"), get("precision"))


@dataclass(frozen=True)
class Response:
    """The worker's answer: values of :data:`RESULT_FIELDS` or a class map's ``grid_map``
    (with a ``notice`` when it succeeded otherwise than asked, on the CPU); or the ``error``;
    or only the ``choices`` of architecture a bare checkpoint leaves to the user."""

    request: Request
    results: dict[str, Any] = field(default_factory=dict)
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
    if error is None:
        return False
    said = isinstance(error, RuntimeError) and "out of memory" in str(error).lower()
    return isinstance(error, torch.OutOfMemoryError) or said or is_out_of_memory(error.__cause__)


class Pipeline:
    """The steps run in the worker thread, one method each (tests replace steps); none may
    touch the state or Qt widgets."""

    def architectures(self, source: str) -> None:
        """Raise :class:`ArchitectureChoiceError` unless ``source`` names its own architecture:
        a self-describing file or bare weights that fit one computation exactly pass; a Google
        ``.npz`` (whose weights cannot tell) or weights that fit several raise."""
        if is_demo(source) or not is_local_path(source) or Path(source).is_dir():
            return
        from vitviz.vit.architectures import exact_choices, rank_architectures  # imports timm

        checkpoint = read_checkpoint(source)
        if checkpoint.info.arch is not None:
            return
        if checkpoint.state_dict is None:
            raise ArchitectureChoiceError([])
        matches = exact_choices(rank_architectures(checkpoint.state_dict))
        if len(matches) > 1:
            raise ArchitectureChoiceError([match.arch for match in matches])

    def load_model(self, key: ModelKey, progress: Progress | None = None, cancelled=None):
        """Load ``key``'s model, downloading timm weights first (``progress(done, total)``
        hears the bytes; setting ``cancelled`` stops the download)."""
        if progress is not None and cancelled is not None and not is_cached(key.source):
            prefetch_weights(key.source, progress, cancelled)
        model, spec = load(key.source, arch=key.arch, device=key.device, dtype=key.precision)
        device = str(next(model.parameters()).device)
        return LoadedModel(model, spec, key.source, device, key.precision)

    def prepare(self, image: LoadedImage, loaded: LoadedModel, mode: str, max_tokens: int | None):
        return prepare(image.image, loaded.spec, PreprocessMode(mode), max_tokens=max_tokens)

    def infer(self, loaded: LoadedModel, prepared: Any) -> Any:
        return run_inference(loaded.model, prepared.tensor)

    def analyse(self, loaded: LoadedModel, inference: Any) -> Any:
        """Head statistics, high-norm flags, prefix mass and predictions of ``inference``."""
        return analyse(inference, loaded.spec.patch_size, loaded.spec.labels)

    def rollout(self, inference: Any, options: Any, every_query: bool) -> Any:
        """The rollout up to every selected layer (``RolloutMaps``), of every query or not."""
        return rollout_maps(inference, options, every_query)

    def class_map(self, request: Request) -> Any:
        """Class-specific map ``[rows, cols]`` (numpy) for one class."""
        model, tensor = request.model.model, request.prepared.tensor
        grid_map = class_map(model, tensor, request.class_index, method=request.method)
        return grid_map.detach().float().cpu().numpy()


class Controller(QObject):
    """Keeps ``state.results`` in step with ``state.inputs``, off the UI thread.

    It writes only ``state.results`` (and puts ``inputs`` back after a failure); ``pipeline``
    holds the worker's steps. Signals: ``download_progress(done, total)`` in bytes (total 0:
    unknown); ``architecture_needed(path, choices)`` for a checkpoint whose weights fit
    several architectures (empty: any), best first, the inputs back to those on screen.
    """

    download_progress = Signal(int, int)
    architecture_needed = Signal(str, list)
    _progress = Signal(int, int)
    _finished = Signal(object)

    def __init__(self, state: AppState, *, synchronous=False, pipeline: Pipeline | None = None):
        super().__init__()
        self.state, self.synchronous = state, synchronous
        self.pipeline = pipeline or Pipeline()
        self.generation, self._latest = 0, dict.fromkeys(KINDS, 0)  # newest of each kind
        self.dropped = 0  # stale responses dropped, for tests and the benchmark
        self._pending: dict[str, Request] = {}  # waiting: one of each kind at most
        self._running: Request | None = None
        self._future = self._shown = self._own_error = self._fallback = None
        self._restoring = False
        self._request_timer = QTimer(self, singleShot=True, timeout=self.request_analysis)
        self._models: OrderedDict[ModelKey, LoadedModel] = OrderedDict()  # worker thread's
        # Every core but one: OpenMP threads spin after each operation, and the UI thread
        # needs a core of its own to stay responsive while the worker runs.
        self.worker_threads = max(1, (os.cpu_count() or 1) - 1)
        self._executor = ThreadPoolExecutor(1, "vitviz-worker", self._start_worker_thread)
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
    def idle(self) -> bool:
        return not (self._running or self._pending or self._request_timer.isActive())

    def rollout_options(self):
        """The state's rollout options (fields of the same names) as one immutable value."""
        names = [option.name for option in fields(RolloutOptions)]
        return RolloutOptions(**{name: getattr(self.state.rollout, name) for name in names})

    def request_analysis(self) -> None:
        """Analyse the current inputs; older requests become stale."""
        inputs = {f.name: getattr(self.state.inputs, f.name) for f in fields(self.state.inputs)}
        image = inputs["image"].name if inputs["image"] else "no image"
        self.state.results.status = f"Running {inputs['model_source']} on {image}…"
        # The analysis brings its own rollout: a waiting rollout request is superseded.
        self._pending.pop(ROLLOUT, None)
        generation = self._next_generation(ANALYSIS, ROLLOUT)
        rollout = self.rollout_options(), self.state.rollout.follow_query
        self._submit(Request(ANALYSIS, generation, inputs, *rollout))

    def request_now(self) -> None:
        """Ask now for the input changes waiting for the event loop (at start-up, so that the
        worker loads the model while the window is built)."""
        if self._request_timer.isActive():
            self._request_timer.stop()
            self.request_analysis()

    def request_rollout(self, *_: object) -> None:
        """Roll out the result on screen again unless the newest rollout asked for (or else
        the one shown) has the state's options."""
        results, running = self.state.results, self._running
        options, every_query = self.rollout_options(), self.state.rollout.follow_query
        if results.inference is None or ANALYSIS in (*self._pending, running and running.kind):
            return  # applying the analysis asks again
        newest = self._pending.get(ROLLOUT) or running
        if newest and newest.kind == ROLLOUT and newest.generation == self._latest[ROLLOUT]:
            have = newest.rollout, newest.every_query
        else:
            shown = results.rollout
            have = (shown.options, shown.stack is not None) if shown is not None else (None, False)
        if have[0] != options or (every_query and not have[1]):
            request = Request(ROLLOUT, self._next_generation(ROLLOUT), rollout=options)
            self._submit(replace(request, every_query=every_query, inference=results.inference))

    def request_class_map(self, *_: object) -> None:
        """Compute the selected class's map unless it is cached or being computed."""
        results, running = self.state.results, self._running
        index, method = self.state.selection.class_index, self.state.view.class_method
        if index is None or results.inference is None or (index, method) in results.class_maps:
            return
        doing = running and (running.kind, running.class_index, running.method)
        if doing == (CLASS_MAP, index, method) and running.inference is results.inference:
            return
        request = Request(CLASS_MAP, inference=results.inference, model=results.model)
        self._submit(replace(request, prepared=results.prepared, class_index=index, method=method))

    def cancel(self) -> None:
        """Give up on the running and waiting requests; what is shown stays, and the inputs
        go back to it. A running job cannot be stopped: its result is dropped on arrival."""
        self._next_generation(ANALYSIS, ROLLOUT)
        self._request_timer.stop()
        if self._running is not None and self._running.kind == ANALYSIS:
            self._running.cancelled.set()  # stops a download
        self._pending.clear()
        self._restore_inputs()
        self.state.results.busy = False
        self.state.results.status = "Cancelled"
        self.request_rollout()  # the rollout must still follow its options

    def wait(self, msecs: int = 60_000) -> bool:
        """Block until the worker finishes its job (tests, shutdown); True when it did."""
        return self._future is None or not wait([self._future], msecs / 1000).not_done

    def _next_generation(self, *kinds: str) -> int:
        self.generation += 1
        self._latest.update(dict.fromkeys(kinds, self.generation))
        return self.generation

    def _on_input_changed(self, *_: object) -> None:
        # Several inputs often change together (a model and its arch, settings at start):
        # coalesce them into one request at the next turn of the event loop.
        if self._restoring:
            return
        if self.synchronous:
            self.request_analysis()
            return
        self.state.results.busy = True
        self._request_timer.start()

    def _submit(self, request: Request) -> None:
        self._pending[request.kind] = request  # replaces a waiting one of its kind
        self.state.results.busy = True
        self._pump()

    def _pump(self) -> None:
        """Start the first waiting job (in :data:`KINDS` order) if the worker is free."""
        if self._running is None and self._pending:
            self._running = job = self._pending.pop(next(k for k in KINDS if k in self._pending))
            if self.synchronous:
                self._on_finished(self._work(job))
            else:
                self._future = self._executor.submit(lambda: self._finished.emit(self._work(job)))

    # --- worker side (no state, no widgets) -----------------------------------------
    def _start_worker_thread(self) -> None:
        torch.set_num_threads(self.worker_threads)

    def _work(self, request: Request) -> Response:
        pipeline, started = self.pipeline, time.perf_counter()
        try:
            if request.kind == ROLLOUT:
                rollout = pipeline.rollout(request.inference, request.rollout, request.every_query)
                return Response(request, {"rollout": rollout})
            if request.kind == CLASS_MAP:
                return Response(request, grid_map=pipeline.class_map(request))
            try:
                return self._analyse(request, started, self._model_for(request))
            except Exception as error:
                key = request.model_key
                if not is_out_of_memory(error) or key.device == "cpu":
                    raise
                logger.warning("out of memory on %s, falling back to the CPU", key)
                self._models.pop(key, None)
                torch.cuda.empty_cache()  # give the GPU memory back
                # Half precision is GPU-only: the CPU copy is float32. It is cached under the
                # key asked for, so that later requests for that device stay on the CPU.
                cpu = pipeline.load_model(replace(key, device="cpu", precision="fp32"))
                self._models[key] = cpu
                return self._analyse(request, started, cpu, OOM_MESSAGE)
        except ArchitectureChoiceError as needed:
            return Response(request, choices=needed.choices)
        except VitvizError as error:
            return Response(request, error=str(error))
        except Exception as error:
            logger.exception("%s failed", request.kind)
            return Response(request, error=f"Unexpected error ({type(error).__name__}): {error}")

    def _model_for(self, request: Request) -> LoadedModel:
        key = request.model_key
        if key not in self._models:
            if key.arch is None:
                self.pipeline.architectures(key.source)
            progress = self.download_progress.emit if self.synchronous else self._progress.emit
            self._models[key] = self.pipeline.load_model(key, progress, request.cancelled)
        self._models.move_to_end(key)
        while len(self._models) > MODEL_CACHE_SIZE:
            self._models.popitem(last=False)
        return self._models[key]

    def _analyse(self, request: Request, started: float, loaded: LoadedModel, notice=None):
        found, inputs, pipeline = {"model": loaded}, request.inputs, self.pipeline
        if inputs["image"] is not None:
            found["image"] = image = inputs["image"]
            mode, max_tokens = inputs["preprocess_mode"], inputs["max_tokens"]
            found["prepared"] = prepared = pipeline.prepare(image, loaded, mode, max_tokens)
            found["inference"] = inference = pipeline.infer(loaded, prepared)
            found["analysis"] = pipeline.analyse(loaded, inference)
            found["rollout"] = pipeline.rollout(inference, request.rollout, request.every_query)
        return Response(request, found, notice=notice, seconds=time.perf_counter() - started)

    # --- UI side: apply responses ---------------------------------------------------
    def _on_finished(self, response: Response) -> None:
        self._running = None
        request, results = response.request, self.state.results
        try:
            if self._is_stale(request):
                self.dropped += 1
            elif response.choices is not None:
                self._restore_inputs()
                self.architecture_needed.emit(request.model_key.source, list(response.choices))
            elif response.error is not None:
                self._apply_error(response)
            elif request.kind == ANALYSIS:
                self._apply(response)
            elif request.kind == ROLLOUT:
                results.rollout = response.results["rollout"]
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
        request, state = response.request, self.state
        first = request.kind == ANALYSIS and self._shown is None
        if first and request.inputs["model_source"] != "demo":
            # Nothing on screen to keep: show the bundled demo model rather than nothing.
            self._fallback = f"{response.error}\nShowing the bundled demo model instead."
            with held_events(state.inputs):
                state.inputs.arch, state.inputs.model_source = None, "demo"
            return
        # Said once, in full, in the error bar; the status line keeps naming what is shown.
        state.results.error = self._own_error = response.error
        if request.kind == ANALYSIS:
            self._restore_inputs()
        elif request.kind == CLASS_MAP and state.selection.class_index == request.class_index:
            state.selection.class_index = None

    def _apply(self, response: Response) -> None:
        state, results, model = self.state, self.state.results, response.results["model"]
        new_model = results.model is not model
        notice, self._fallback = response.notice or self._fallback, None
        # Every field changes first and the events follow, selection before results, so
        # each listener reads the new result with a selection that fits it.
        with held_events(state.selection, state.rollout, results):
            for name in RESULT_FIELDS:
                setattr(results, name, response.results.get(name))
            results.class_maps = {}
            # A success clears the controller's own earlier message, not someone else's
            # (e.g. the window's "cannot read that image" for an image it kept out).
            if notice is not None or results.error == self._own_error:
                results.error = self._own_error = notice
            results.status = status_text(response)
            if results.inference is not None:
                layout = results.inference.layout
                state.fit_selection(layout, model.depth, model.num_heads, reset_query=new_model)
        self._shown = response
        self.request_rollout()  # fit_selection may have moved the rollout's layers
        self.request_class_map()

    def _restore_inputs(self) -> None:
        """Put the inputs and the status line back to those of the result on screen."""
        self.state.results.status = status_text(self._shown)
        self._restoring = True
        try:
            with held_events(self.state.inputs):
                for name, value in (self._shown.request.inputs if self._shown else {}).items():
                    setattr(self.state.inputs, name, value)
        finally:
            self._restoring = False


def status_text(response: Response | None) -> str:
    """The status line of an analysis: model, device, precision, tokens and time."""
    if response is None:
        return ""
    model, inference = response.results["model"], response.results.get("inference")
    parts = [model.spec.name if model.spec else model.source, model.device, model.dtype]
    if inference is not None:
        rows, cols = inference.layout.grid
        tokens = "+".join(inference.layout.prefix_labels) or "no prefix"
        parts += [f"{tokens} + {rows}×{cols} patches", f"{response.seconds * 1000:.0f} ms"]
    return " · ".join(parts)
