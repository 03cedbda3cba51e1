"""Whole-window responsiveness: query change → every panel repainted, and cold start.

1. **Query latency.** The main window (all eight panels visible: tabbed ones are floated)
   shows a result of a random-weight ViT-B/16 at 224 px (12 × 12 = 144 heads) and ViT-L/16
   (24 × 16 = 384 heads), computed by the real controller (synchronous mode). Then, many
   times: a random patch becomes the query (as a click does, through the state) and the
   event loop runs until no paint is pending. The time covers every panel's slot, map
   computation, rendering and the paint itself. Panels that repainted are counted from
   the Paint events they received. Target p95 <= 16 ms (one frame at 60 Hz).
2. **A new image, UI-thread stalls.** The same window on ViT-B/16 with the controller in
   its ordinary asynchronous mode: a new image is chosen and the event loop runs until
   the result (forward pass and every derived analysis, computed in the worker) is on
   screen. Printed: the longest single turn of the event loop (the longest time the UI
   thread was unavailable: handling events, applying the result, redrawing every panel,
   waiting for the GIL or for a core), the most UI-thread CPU time one turn took (what
   the app itself spends; steadier on a shared machine), and the time to the result.
   Target: longest stall <= 50 ms.
3. **Cold start.** A fresh Python process: import, window, the bundled demo model loaded,
   a sample analysed, and the window painted with the result. Measured from before the
   process starts to its report. Target <= 4 s. Also printed: the CPU time the process
   used (steadier than wall time on a shared machine) and whether it imported timm (it
   should not: the demo model describes its own network).

Run: ``QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py [--repeats 200]``; the
cold start alone: ``... bench_gui.py --models``.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget

MODELS = {"ViT-B/16": "vit_base_patch16_224", "ViT-L/16": "vit_large_patch16_224"}
COLD_START_SCRIPT = """
import os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from vitviz.app import build_parser, create_window
from PySide6.QtWidgets import QApplication
app, window = create_window(build_parser().parse_args(["--settings", sys.argv[1]]))
window.resize(1600, 1000)
window.show()
state = window.state
while state.results.inference is None or state.results.busy:
    if state.results.error and state.results.model is None:
        raise SystemExit(state.results.error)
    app.processEvents()
    time.sleep(0.002)
app.processEvents()
window.repaint()
print("ready", time.time(), "timm" in sys.modules, flush=True)
window.controller.wait(10_000)
"""


class PaintCounter(QObject):
    """Records which panels received a Paint event (for any widget inside them)."""

    def __init__(self, panels: dict[str, QWidget]) -> None:
        super().__init__()
        self.panels = panels
        self.painted: set[str] = set()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Paint and isinstance(watched, QWidget):
            for name, panel in self.panels.items():
                if watched is panel or panel.isAncestorOf(watched):
                    self.painted.add(name)
                    break
        return False


def build_window(arch: str, synchronous: bool = True):
    """The main window on a random-weight ``arch`` and the Grace Hopper photo."""
    from vitviz.qt.controller import Controller, Pipeline
    from vitviz.qt.main_window import MainWindow
    from vitviz.qt.settings import Settings
    from vitviz.state import AppState, LoadedModel
    from vitviz.vit import load

    model, spec = load(arch, device="cpu", pretrained=False)
    loaded = LoadedModel(model, spec, arch, "cpu")
    pipeline = Pipeline()
    pipeline.load_model = lambda key, *_: loaded
    state = AppState()
    controller = Controller(state, synchronous=synchronous, pipeline=pipeline)
    settings = Settings.at_path(os.path.join(os.environ.get("TMPDIR", "/tmp"), "bench_gui.ini"))
    window = MainWindow(state, controller, settings)
    window.presets.reset()  # Explore: every panel
    for dock in window.docks.values():
        if window.tabifiedDockWidgets(dock) and not dock.isFloating():
            dock.setFloating(True)  # every panel on screen at once
            dock.resize(520, 420)
    window.show()
    window.resize(1600, 1000)  # after show(), which fits the window to the (offscreen) screen
    window.images.open_grace_hopper()
    state.rollout.follow_query = True  # the rollout panel redraws on every query change too
    return window


def settle(app: QApplication) -> None:
    """Run the event loop until nothing is left to do (pending paints included)."""
    for _ in range(3):
        app.processEvents()


def query_latency(app: QApplication, arch: str, repeats: int, seed: int = 0) -> dict:
    """Milliseconds from a query change until every panel has repainted."""
    window = build_window(arch)
    settle(app)
    state = window.state
    rows, cols = state.layout.grid
    rng = random.Random(seed)

    def change_query() -> None:
        state.select_token(state.layout.patch_index(rng.randrange(rows), rng.randrange(cols)))
        settle(app)

    times, cpu_times = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        change_query()
        times.append((time.perf_counter() - start) * 1000)
        cpu_times.append((time.process_time() - cpu_start) * 1000)
    # Which panels repaint, counted in a separate pass: a Python event filter on every
    # event would slow the timed one.
    counter = PaintCounter(window.panels)
    app.installEventFilter(counter)
    painted_counts = []
    for _ in range(20):
        counter.painted.clear()
        change_query()
        painted_counts.append(len(counter.painted))
    app.removeEventFilter(counter)
    never = set(window.panels) - counter.painted
    depth, heads = state.depth, state.num_heads
    window.close()
    window.deleteLater()
    settle(app)
    times.sort()
    cpu_times.sort()
    return {
        "cpu_p50": statistics.median(cpu_times),
        "cpu_p95": cpu_times[int(0.95 * (len(cpu_times) - 1))],
        "heads": depth * heads,
        "p50": statistics.median(times),
        "p95": times[int(0.95 * (len(times) - 1))],
        "max": times[-1],
        "panels_painted": statistics.median(painted_counts),
        "not_painted_last": sorted(never),
    }


def new_image_stalls(app: QApplication, arch: str, repeats: int) -> dict:
    """Longest event-loop turn (ms) while the worker analyses a new image, per repeat."""
    window = build_window(arch, synchronous=False)
    state, controller = window.state, window.controller

    def turn(longest: list[float]) -> None:
        """One turn of the event loop; keeps the longest wall and UI-thread CPU times."""
        wall, cpu = time.perf_counter(), time.thread_time()
        app.processEvents()
        longest[0] = max(longest[0], time.perf_counter() - wall)
        longest[1] = max(longest[1], time.thread_time() - cpu)

    def run_until_shown() -> tuple[float, float, float]:
        longest, start = [0.0, 0.0], time.perf_counter()
        while state.results.image is not state.inputs.image or not controller.idle:
            turn(longest)
            time.sleep(0.001)  # the loop's own idle turn, as an event loop waits for events
        for _ in range(3):  # the paints of the new result, one event-loop turn at a time
            turn(longest)
        return longest[0] * 1000, longest[1] * 1000, (time.perf_counter() - start) * 1000

    run_until_shown()
    stalls, cpus, totals = [], [], []
    for _ in range(repeats):
        window.images.new_sample()
        stall, cpu, total = run_until_shown()
        stalls.append(stall)
        cpus.append(cpu)
        totals.append(total)
    window.close()
    window.deleteLater()
    settle(app)
    return {
        "stall_max": max(stalls),
        "stall_p50": statistics.median(stalls),
        "cpu_max": max(cpus),
        "total": totals,
    }


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cold_start(settings_path: str) -> tuple[float, float, bool]:
    """One cold start with the demo model.

    Returns
    -------
    tuple
        Seconds from process start to the first drawn result; CPU seconds the whole
        process used (user + system, all threads, until it exited); whether timm was
        imported by then.
    """
    start, cpu_start = time.time(), _children_cpu_seconds()
    done = subprocess.run(
        [sys.executable, "-c", COLD_START_SCRIPT, settings_path],
        capture_output=True,
        text=True,
        check=True,
    )
    ready = [line for line in done.stdout.splitlines() if line.startswith("ready")]
    _, when, timm_loaded = ready[-1].split()
    return float(when) - start, _children_cpu_seconds() - cpu_start, timm_loaded == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument(
        "--models", nargs="*", default=list(MODELS), help="give none to time only the cold start"
    )
    parser.add_argument("--cold-starts", type=int, default=3)
    parser.add_argument("--new-images", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the UI thread, as vitviz.app sets it
    app = QApplication.instance() or QApplication([])
    print(f"UI-thread torch threads: {torch.get_num_threads()}, platform: {app.platformName()}")
    if args.models:
        print("Query change -> every panel repainted (target p95 <= 16 ms)")
    for name in args.models:
        figures = query_latency(app, MODELS[name], args.repeats)
        print(
            f"  {name:9s} {figures['heads']:4d} heads: p50 {figures['p50']:6.1f} ms  "
            f"p95 {figures['p95']:6.1f} ms  max {figures['max']:6.1f} ms  "
            f"[CPU time of the process: p50 {figures['cpu_p50']:.1f} ms, "
            f"p95 {figures['cpu_p95']:.1f} ms]  "
            f"(panels repainted per change: {figures['panels_painted']:.0f} of 8; "
            f"never repainted: {', '.join(figures['not_painted_last']) or 'none'})"
        )
    if args.new_images:
        figures = new_image_stalls(app, MODELS["ViT-B/16"], args.new_images)
        print(
            "A new image on ViT-B/16, analysed in the worker (target: longest UI-thread stall "
            f"<= 50 ms): longest stall {figures['stall_max']:.1f} ms (median of the "
            f"{args.new_images} images' longest: {figures['stall_p50']:.1f} ms; the longest "
            f"turn's UI-thread CPU time: {figures['cpu_max']:.1f} ms); "
            f"image to result on screen: median {statistics.median(figures['total']):.0f} ms"
        )
    settings_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "bench_gui_cold.ini")
    runs = [cold_start(settings_path) for _ in range(args.cold_starts)]
    if runs:
        starts = [wall for wall, _, _ in runs]
        cpu = [cpu for _, cpu, _ in runs]
        print(
            f"Cold start to first drawn result, demo model (target <= 4 s): "
            f"median {statistics.median(starts):.2f} s  best {min(starts):.2f} s  "
            f"(runs: {', '.join(f'{s:.2f}' for s in starts)})  "
            f"[CPU time of the process: median {statistics.median(cpu):.2f} s]  "
            f"timm imported: {'yes' if any(t for _, _, t in runs) else 'no'}"
        )


if __name__ == "__main__":
    main()
