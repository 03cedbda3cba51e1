"""The ``vitviz`` command: opens the window, or runs a command-line subcommand.

``vitviz [IMAGE] [--model SOURCE] [--device D]`` opens the main window on the image (a
generated demo sample when none is given) and the model (the bundled demo model by
default, else the last one used). ``vitviz predict|export|models …`` runs the command
line without a window (:mod:`vitviz.cli`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

CLI_COMMANDS = ("predict", "export", "models")


def build_parser() -> argparse.ArgumentParser:
    """Arguments of the window form of the command."""
    from vitviz.state.inputs import DEVICES, PRECISIONS, PREPROCESS_MODES

    parser = argparse.ArgumentParser(
        prog="vitviz",
        description="See inside Vision Transformers. Without a subcommand, opens the window. "
        f"Subcommands without a window: {', '.join(CLI_COMMANDS)} (vitviz predict --help).",
    )
    parser.add_argument("image", nargs="?", help="image to open (default: a demo sample)")
    parser.add_argument(
        "--model",
        help="'demo' (bundled), a timm tag, an hf-hub: id or a checkpoint file "
        "(default: the last model used, else demo)",
    )
    parser.add_argument("--arch", help="architecture of a checkpoint file that does not say")
    parser.add_argument("--device", choices=DEVICES, help="where the model runs")
    parser.add_argument("--precision", choices=PRECISIONS, help="weights precision (GPU only)")
    parser.add_argument("--mode", choices=PREPROCESS_MODES, help="preprocessing mode")
    parser.add_argument(
        "--presentation", action="store_true", help="start in presentation mode (F11)"
    )
    parser.add_argument("--settings", help="keep settings in this INI file instead")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run vitviz; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in CLI_COMMANDS:
        from vitviz import cli

        return cli.main(argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from vitviz.qt.platform_check import PlatformUnavailableError

    try:
        app, window = create_window(args)
    except PlatformUnavailableError as error:
        sys.stderr.write(f"{error}\n")
        return 2
    window.show()
    if args.presentation:  # after show(), which would leave full screen again
        window.state.view.presentation = True
    status = app.exec()
    window.controller.wait(10_000)
    return status


def create_window(args: argparse.Namespace):
    """The QApplication and a main window set up from parsed arguments.

    Returns
    -------
    tuple
        ``(QApplication, MainWindow)``; the window is not shown yet (and
        ``--presentation`` is applied by :func:`main` once it is).

    Raises
    ------
    vitviz.qt.platform_check.PlatformUnavailableError
        Qt cannot open a window here (missing system libraries, no display); checked
        before the QApplication exists, since Qt would abort the process.
    """
    from PySide6.QtWidgets import QApplication

    from vitviz.qt.platform_check import check_platform

    if QApplication.instance() is None:
        check_platform()
    import torch

    from vitviz.qt.controller import Controller, held_events
    from vitviz.qt.settings import Settings
    from vitviz.state import AppState

    # The UI thread's tensors are small: one torch thread, so that idle OpenMP workers do
    # not spin on the core Qt needs. The controller's worker uses every core.
    torch.set_num_threads(1)
    app = QApplication.instance() or QApplication(["vitviz"])
    app.setApplicationName("vitviz")
    app.setOrganizationName("vitviz")
    state = AppState()
    settings = Settings.at_path(args.settings) if args.settings else Settings()
    controller = Controller(state)
    inputs = state.inputs
    with held_events(inputs):
        inputs.model_source = args.model or settings.last_model()
        inputs.arch = args.arch or settings.checkpoint_arch(inputs.model_source)
        inputs.device = args.device or settings.choice("device")
        inputs.precision = args.precision or settings.choice("precision")
        inputs.preprocess_mode = args.mode or settings.choice("preprocess_mode")
        image, error = first_image(args.image)
        inputs.image = image
    # The worker loads the model and analyses the image while the window's modules are
    # imported and the window is built.
    controller.request_now()
    from vitviz.qt.main_window import MainWindow

    window = MainWindow(state, controller, settings)
    if error is not None:
        state.results.error = error
    elif args.image is not None:
        settings.add_recent_file(args.image)
    return app, window


def first_image(path: str | None):
    """The image to start with: ``path``, else (or when unreadable) demo sample 0.

    Returns
    -------
    tuple
        ``(LoadedImage, error message or None)``.
    """
    from vitviz.compute.images import open_image
    from vitviz.errors import ImageLoadError
    from vitviz.qt.samples import demo_sample
    from vitviz.state import LoadedImage

    if path is not None:
        try:
            return LoadedImage(open_image(path), Path(path).name, path), None
        except ImageLoadError as error:
            return demo_sample(0), str(error)
    return demo_sample(0), None
