"""The UI thread and the worker thread together: no refcount corruption, no crash, no stale panel.

PySide6 6.12.0 updates the reference counts of None, True and False without holding the
GIL while another Python thread runs: the app died with "Fatal Python error:
none_dealloc" as soon as the worker computed while the UI pumped events (issue 21).
pyproject.toml pins PySide6 below 6.12 and names this module, whose checks run in child
processes so that a crash fails a test instead of ending the test run:

- the installed PySide6 itself, with a spinning Python thread (fails on 6.12.0: None
  loses hundreds of references in two seconds, then the process aborts);
- the issue's reproducer (the app's own ``create_window``, events pumped while the first
  result is computed), on the bundled demo model and on a random-init ViT-B/16;
- a stress run changing image, model and query while results are in flight
  (``tests/qt/threading_stress.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vitviz.resources import DEMO_MODEL_PATH

REPOSITORY = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 300
# Loss of references to None tolerated in the probe: a correct PySide6 moves it by a
# handful; 6.12.0 lost 780 to 2440 in three runs of two seconds (and then aborted).
MAX_NONE_LOSS = 200

PROBE = """
import sys, threading, time
from PySide6.QtWidgets import QApplication, QWidget

app = QApplication(sys.argv[:1])
widget = QWidget()
widget.show()
running = True

def spin():
    # Python code that keeps taking and dropping references to None, True and False.
    count = 0
    while running:
        value = None
        flag = count > 5
        count = (count + 1) % 10 if value is None and flag is not None else 0

thread = threading.Thread(target=spin)
before = sys.getrefcount(None)
thread.start()
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    widget.update()
    app.processEvents()
running = False
thread.join()
print("refcount", before, sys.getrefcount(None))
print("survived")
"""

# The reproducer of issue 21, with a model and a duration; it pumps at least until the
# first result is shown, so that the whole computation runs beside the busy UI thread.
REPRODUCER = """
import sys, time
from vitviz.app import build_parser, create_window

settings, model, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
app, window = create_window(build_parser().parse_args(["--settings", settings, "--model", model]))
window.resize(1024, 700)
window.show()
results = window.state.results
start = time.monotonic()
while time.monotonic() - start < seconds or results.inference is None:
    if time.monotonic() - start > 240:
        raise SystemExit(f"no result within four minutes: {results.error}")
    app.processEvents()
window.controller.wait(60_000)
print("shown", results.model.source, "error", results.error)
print("survived")
"""


def child_env(tmp_path: Path) -> dict[str, str]:
    """Offscreen, a fresh settings folder, and this checkout first on the path."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")]))
    return env


def start(args: list[str], tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=REPOSITORY,
        env=child_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> tuple[str, str]:
    """Wait for ``process``; fail with its output unless it exited 0 and survived."""
    try:
        out, err = process.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    assert process.returncode == 0, f"exit status {process.returncode}\n{out}\n{err[-4000:]}"
    assert "survived" in out.split(), out
    return out, err


def test_the_installed_pyside6_keeps_reference_counts_beside_a_python_thread(tmp_path):
    out, _ = finish(start(["-c", PROBE, "2"], tmp_path))
    before, after = (int(n) for n in out.split("refcount", 1)[1].split()[:2])
    assert after > before - MAX_NONE_LOSS, (
        f"None lost {before - after} references: this PySide6 changes reference counts "
        "without the GIL (see the PySide6 pin in pyproject.toml)"
    )


@pytest.fixture(scope="module")
def vit_b16_file(tmp_path_factory) -> str:
    """A random-init ViT-B/16 checkpoint file (346 MB), as the app opens one."""
    import timm
    import torch

    from vitviz.vit import save_checkpoint

    torch.manual_seed(0)
    model = timm.create_model("vit_base_patch16_224", pretrained=False)
    path = tmp_path_factory.mktemp("vit_b16") / "vit_b16_random.safetensors"
    save_checkpoint(model, path, arch="vit_base_patch16_224")
    return str(path)


@pytest.fixture(scope="module")
def reproducers(vit_b16_file, tmp_path_factory) -> dict[str, list[subprocess.Popen]]:
    """Two reproducers per model, all started at once: the cores stay busy, as on the
    issue's two-core machine, and the module takes the time of one run, not of four."""
    tmp_path = tmp_path_factory.mktemp("reproducers")
    models = [vit_b16_file] + (["demo"] if DEMO_MODEL_PATH.is_file() else [])
    return {
        model: [
            start(["-c", REPRODUCER, str(tmp_path / f"{i}.ini"), model, "6"], tmp_path)
            for i in range(2)
        ]
        for model in models
    }


def check_reproducers(processes: list[subprocess.Popen], model: str) -> None:
    for process in processes:
        out, _ = finish(process)
        assert f"shown {model} error None" in out


@pytest.mark.skipif(not DEMO_MODEL_PATH.is_file(), reason="the demo model has not been built")
def test_the_reproducer_survives_on_the_demo_model(reproducers):
    check_reproducers(reproducers["demo"], "demo")


def test_the_reproducer_survives_on_a_random_vit_b16(reproducers, vit_b16_file):
    check_reproducers(reproducers[vit_b16_file], vit_b16_file)


@pytest.mark.skipif(not DEMO_MODEL_PATH.is_file(), reason="the demo model has not been built")
def test_changes_while_results_are_in_flight_leave_no_stale_panel(tmp_path):
    import timm
    import torch

    from vitviz.vit import save_checkpoint

    # Another token layout and grid than the demo model's: registers, no class token,
    # 32-pixel patches (7 x 7), so that a stale panel cannot pass for a current one.
    torch.manual_seed(0)
    kwargs = {
        "depth": 2,
        "patch_size": 32,
        "reg_tokens": 4,
        "class_token": False,
        "global_pool": "avg",
        "num_classes": 5,
    }
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, **kwargs)
    other = tmp_path / "registers.safetensors"
    save_checkpoint(model, other, arch="vit_tiny_patch16_224", model_kwargs=kwargs)
    script = ["-m", "tests.qt.threading_stress", str(tmp_path / "s.ini"), str(other), "7", "150"]
    process = start(script, tmp_path)
    out, err = process.communicate(timeout=RUN_TIMEOUT_S)
    assert process.returncode == 0, f"exit status {process.returncode}\n{out}\n{err[-4000:]}"
    assert "stress ok" in out
    in_flight = int(out.split("changes, ")[1].split()[0])
    assert in_flight >= 10, out  # the changes did land while the worker computed
