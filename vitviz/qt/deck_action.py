"""File -> Export talk deck: the shown image and model as one multi-page PDF.

Self-contained: :func:`add_deck_action` puts the action in a menu; the deck itself is
:func:`vitviz.export.deck.save_deck` (what ``vitviz export --what deck`` writes), drawn
with the view's colormap, opacity and upsampling. Failures go to the error bar.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu

from vitviz.errors import VitvizError


def export_deck(window: QMainWindow, path: str | Path) -> Path | None:
    """Write the deck of ``window``'s image and model to ``path``; None when it cannot.

    Parameters
    ----------
    window : QMainWindow
        The main window (its ``state`` and status bar).
    path : str or Path
        Destination ``.pdf``.

    Returns
    -------
    Path or None
        The written file, or None (the reason is on the error bar).
    """
    from vitviz.export.deck import save_deck
    from vitviz.export.pictures import PictureOptions

    results, view = window.state.results, window.state.view
    if results.inference is None or results.prepared is None:
        results.error = "Nothing to export yet: open an image first."
        return None
    options = PictureOptions(cmap=view.colormap, alpha=view.opacity, upsampling=view.upsampling)
    try:
        saved = save_deck(
            path, results.model.model, results.model.spec, results.image.image,
            results.prepared, options=options, image_name=results.image.name,
        )  # fmt: skip
    except (OSError, VitvizError) as error:
        results.error = f"Could not export the talk deck: {error}"
        return None
    window.statusBar().showMessage(f"Saved {saved}", 5000)
    return saved


def add_deck_action(window: QMainWindow, menu: QMenu) -> QAction:
    """Add "Export talk deck…" to ``menu``: asks for a PDF file name, then writes it."""

    def ask() -> None:
        path, _ = QFileDialog.getSaveFileName(
            window, "Export talk deck", "vitviz-deck.pdf", "PDF document (*.pdf)"
        )
        if path:
            export_deck(window, path)

    action = menu.addAction("Export talk &deck…")
    action.setStatusTip("The image, rollout, layers, top-3 class maps and distances as a PDF")
    action.triggered.connect(ask)
    return action
