"""Make the README's screenshot: the main window on the demo model and a generated sample.

Runs the real app (``vitviz.app.create_window``) offscreen, waits for the analysis and
the top class's map, points at a patch of the object, and saves the window.

Usage::

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" \
        python scripts/screenshot.py [--out resources/screenshot.png] [--preset present]

(offscreen works too, but its 800 x 800 screen caps the window size)
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtWidgets import QApplication

from vitviz.app import build_parser, create_window
from vitviz.qt.samples import demo_sample

logger = logging.getLogger("screenshot")


def wait_for(app: QApplication, condition, timeout_s: float = 300) -> None:
    """Run the event loop until ``condition()`` holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the analysis did not finish")
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="resources/screenshot.png")
    parser.add_argument("--sample", type=int, default=22, help="demo sample index")
    parser.add_argument("--image", help="an image file instead of a generated sample")
    parser.add_argument("--layer", type=int, default=3)
    parser.add_argument("--head", type=int, default=1)
    parser.add_argument("--overlay", default="rollout", help="map over the image")
    parser.add_argument("--threshold", type=float, help="DINO's mass threshold (Keep top mass)")
    parser.add_argument("--size", type=int, nargs=2, default=(1600, 1000))
    parser.add_argument(
        "--preset", default="explore", choices=("explore", "present", "inspect"), help="layout"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as folder:
        settings = str(Path(folder) / "vitviz.ini")
        app, window = create_window(build_parser().parse_args(["--settings", settings]))
        window.resize(*args.size)
        window.show()
        state, controller = window.state, window.controller
        if args.image:
            window.images.open_path(args.image)
        else:
            window.images.set_image(demo_sample(args.sample))
        wait_for(app, lambda: controller.idle and state.results.image is not None)
        state.show_top_class(0)
        wait_for(app, lambda: controller.idle)
        # Point at the centre of mass of the top class's map: on the object.
        class_map = state.results.class_maps[(state.selection.class_index, "relevance")]
        weights = np.clip(class_map, 0, None)
        rows, cols = np.indices(weights.shape)
        row = round(float((rows * weights).sum() / weights.sum()))
        col = round(float((cols * weights).sum() / weights.sum()))
        state.select_token(state.layout.patch_index(row, col))
        state.selection.layer = min(args.layer, state.depth - 1)
        state.selection.head = min(args.head, state.num_heads - 1)
        state.view.overlay = args.overlay
        state.view.mass_threshold = args.threshold
        window.docks["class_map"].raise_()
        window.presets.show(args.preset)  # Present fills the screen: size Xvfb's to --size
        for _ in range(30):
            app.processEvents()
            time.sleep(0.02)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(args.out)
        logger.info("saved %s: %s", args.out, state.results.status)
        window.close()
        controller.wait()


if __name__ == "__main__":
    main()
