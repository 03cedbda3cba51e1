"""Starting the app on the bundled demo model does not import timm (seconds of start-up).

Checked in a fresh process, as ``vitviz`` starts: the window is built, the demo model is
loaded by the controller's worker and the first result is drawn; then the imported
modules are listed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from vitviz.resources import DEMO_MODEL_PATH

START_AND_LIST_MODULES = """
import sys, time
from vitviz.app import build_parser, create_window
app, window = create_window(build_parser().parse_args(["--settings", sys.argv[1]]))
window.show()
state = window.state
deadline = time.monotonic() + 120
while state.results.inference is None or state.results.busy:
    if state.results.error and state.results.model is None:
        raise SystemExit(state.results.error)
    if time.monotonic() > deadline:
        raise SystemExit("no result within two minutes")
    app.processEvents()
    time.sleep(0.005)
app.processEvents()
window.repaint()
window.controller.wait(10_000)
print("source", state.results.model.source)
print("modules", " ".join(sorted(sys.modules)))
"""


def test_window_on_the_demo_model_starts_without_timm(tmp_path):
    if not DEMO_MODEL_PATH.is_file():
        pytest.skip("the demo weights are not built yet (python -m training.demo_model)")
    result = subprocess.run(
        [sys.executable, "-c", START_AND_LIST_MODULES, str(tmp_path / "settings.ini")],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert lines["source"] == "demo"
    modules = set(lines["modules"].split())
    assert "vitviz.qt.main_window" in modules
    assert not {"timm", "torchvision", "torch._dynamo"} & modules
