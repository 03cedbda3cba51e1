"""Fakes for the shell tests: small results without a model, and a scripted pipeline.

``fill_state`` builds a real preprocessing result (``prepare`` with a real spec, so the
patch grid maps onto the original image) and random row-stochastic attention shaped like
``InferenceResult``; ``FakePipeline`` replaces the model steps of the controller's worker
with recorded, scriptable fakes (slow, failing, out of memory).
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

from vitviz.errors import ModelLoadError
from vitviz.qt.controller import Controller, Pipeline, held_events
from vitviz.qt.download import DownloadCancelledError
from vitviz.qt.main_window import MainWindow
from vitviz.state import AppState, LoadedImage, LoadedModel
from vitviz.vit.layout import TokenLayout
from vitviz.vit.spec import PretrainedSpec

PATCH = 16
CLS_ONLY = TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(1, 1))


def make_spec(
    layout: TokenLayout, input_size: tuple[int, int], crop_pct: float = 0.875
) -> PretrainedSpec:
    """A checkpoint spec for a patch-16 model at ``input_size`` (height, width)."""
    rows, cols = input_size[0] // PATCH, input_size[1] // PATCH
    return PretrainedSpec(
        name="test-model",
        arch="vit_test",
        input_size=(3, *input_size),
        crop_pct=crop_pct,
        crop_mode="center",
        interpolation="bilinear",
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        labels=tuple(f"class {i}" for i in range(6)),
        layout=layout.with_grid((rows, cols)),
        patch_size=(PATCH, PATCH),
    )


def make_image(width: int = 160, height: int = 120, seed: int = 0) -> LoadedImage:
    """A random RGB picture wrapped as the state holds it."""
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    return LoadedImage(Image.fromarray(pixels), f"random-{seed}")


def fake_inference(layout: TokenLayout, depth: int, heads: int, seed: int = 0):
    """Random attention with the fields and shapes of ``InferenceResult`` (a batch of one)."""
    generator = torch.Generator().manual_seed(seed)
    n = layout.num_tokens
    scores = torch.randn(1, depth, heads, n, n, generator=generator) * 2  # [1, L, H, N, N]
    return SimpleNamespace(
        attentions=torch.softmax(scores, dim=-1).half(),  # [1, L, H, N, N]
        token_norms=torch.rand(1, depth, n, generator=generator) + 1,  # [1, L, N]
        pool_attention=None,
        layout=layout,
        logits=torch.randn(1, 6, generator=generator),  # [1, C]
        device="cpu",
        timings={},
    )


def fill_state(
    state: AppState,
    *,
    layout: TokenLayout | None = None,
    image: LoadedImage | None = None,
    depth: int = 3,
    heads: int = 4,
    seed: int = 0,
) -> AppState:
    """Put a result into ``state`` as the controller would, without a model."""
    from vitviz.compute.analysis import analyse, rollout_maps
    from vitviz.compute.preprocess import PreprocessMode, prepare
    from vitviz.compute.rollout import RolloutOptions

    layout = layout or TokenLayout(num_class=1, num_dist=0, num_reg=2, grid=(1, 1))
    image = image or make_image(seed=seed)
    spec = make_spec(layout, (64, 96))
    prepared = prepare(image.image, spec, PreprocessMode.CROP)
    config = SimpleNamespace(depth=depth, num_heads=heads)
    results = state.results
    with held_events(state.selection, results):  # as the controller does
        results.model = LoadedModel(SimpleNamespace(config=config), spec, "test", "cpu")
        results.image = image
        results.prepared = prepared
        results.class_maps = {}
        inference = fake_inference(prepared.grid.layout, depth, heads, seed)
        results.inference = inference
        results.analysis = analyse(inference, spec.patch_size, spec.labels)
        results.rollout = rollout_maps(inference, RolloutOptions())
        state.fit_selection(prepared.grid.layout, depth, heads, reset_query=True)
    return state


class FakePipeline(Pipeline):
    """Real preprocessing; models and forward passes replaced by recorded fakes."""

    def __init__(self):
        self.loads = []
        self.inferred = []
        self.class_requests = []
        self.analysed = []
        self.gate: threading.Event | None = None
        self.fail_sources = set()
        self.oom_on_device = None
        self.apply_threads = []

    def load_model(self, key, progress=None, cancelled=None):
        self.loads.append(key)
        if key.source.startswith("download:"):
            self.download(progress, cancelled)
        if key.source in self.fail_sources:
            raise ModelLoadError(f"cannot load {key.source}: offline")
        small = key.source == "small"  # one block, one head, a 2 x 2 grid
        config = SimpleNamespace(depth=1 if small else 3, num_heads=1 if small else 2)
        net = SimpleNamespace(config=config)
        device = "cuda:0" if key.device == "cuda" else "cpu"
        spec = make_spec(CLS_ONLY, (32, 32) if small else (64, 64))
        return LoadedModel(net, spec, key.source, device)

    def download(self, progress, cancelled):
        """Report 4 MB of 8 MB, then wait for a cancel (or the gate, when there is one)."""
        progress(4_000_000, 8_000_000)
        while not cancelled.is_set():
            if self.gate is not None and self.gate.is_set():
                progress(8_000_000, 8_000_000)
                return
            cancelled.wait(0.01)
        raise DownloadCancelledError("Download cancelled.")

    def infer(self, loaded, prepared):
        if self.gate is not None:
            assert self.gate.wait(10)
        if loaded.device == self.oom_on_device:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        self.inferred.append(prepared)
        config = loaded.model.config
        return fake_inference(prepared.grid.layout, config.depth, config.num_heads)

    def analyse(self, loaded, inference):
        self.analysed.append(inference)
        return super().analyse(loaded, inference)

    def class_map(self, request):
        self.class_requests.append((request.class_index, request.method))
        return np.full(request.inference.layout.grid, float(request.class_index))


def build_window(qtbot, settings, pipeline, state=None):
    """The main window on ``pipeline`` (synchronous controller), shown and exposed."""
    state = state or AppState()
    controller = Controller(state, synchronous=True, pipeline=pipeline)
    window = MainWindow(state, controller, settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window
