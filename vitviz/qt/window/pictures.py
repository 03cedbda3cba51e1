"""Pictures out: a panel or the window as PNG / SVG / PDF, titled figures, the talk deck.

Widget pictures replay the widget's painting; figures and the deck are drawn by
``vitviz.export``'s matplotlib renderer from the state, so they match the batch export and
``vitviz export --what deck``. Failures go to the error bar, successes to the status bar.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF, QPoint, QSizeF
from PySide6.QtGui import QGuiApplication, QPageLayout, QPageSize, QPainter, QPdfWriter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QWidget

from vitviz.errors import VitvizError
from vitviz.qt.overlay import describe_overlay, overlay_map
from vitviz.qt.settings import Settings
from vitviz.state import AppState

EXPORT_FILTER = "PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)"
NOTHING_YET = "Nothing to export yet: open an image first."
# The figure each panel exports (Ctrl+E): the heads grid, or a map on the image (the
# overlay named; "map" is the image panel's own overlay).
PANEL_FIGURES = {
    "dock_heads_grid": "grid",
    "dock_rollout_panel": "rollout",
    "dock_class_map": "class",
    "dock_selected_head": "head",
}


def save_widget(widget: QWidget, path: str | Path) -> Path:
    """Save what ``widget`` shows as PNG, SVG or PDF (chosen by the file's suffix).

    PNG is the widget's pixels; SVG and PDF replay its painting as vector drawing (the
    maps inside stay images).
    """
    path = Path(path)
    suffix, size = path.suffix.lower(), widget.size()
    if suffix == ".svg":
        device = QSvgGenerator()
        device.setFileName(str(path))
        device.setSize(size)
        device.setViewBox(widget.rect())
        device.setTitle(widget.windowTitle() or "vitviz")
    elif suffix == ".pdf":
        device = QPdfWriter(str(path))
        device.setResolution(72)  # one widget pixel per point: the page fits the widget
        device.setPageSize(QPageSize(QSizeF(size), QPageSize.Unit.Point))
        device.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Point)
    else:
        path = path.with_suffix(".png")
        if not widget.grab().save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        return path
    painter = QPainter(device)
    widget.render(painter, QPoint(0, 0))
    painter.end()
    return path


class PicturesOut:
    """Exporting and copying what ``state`` shows; ``window`` parents the dialogs and its
    status bar says what was saved; the dialogs start in ``settings``' last folder."""

    def __init__(self, state: AppState, settings: Settings, window: QMainWindow) -> None:
        self.state, self.settings, self.window = state, settings, window

    def _save(self, what: str, write, path: str | Path) -> Path | None:
        """``write(path)``, saying where it went, or why not in the error bar."""
        try:
            saved = write(path)
        except (OSError, ValueError, VitvizError) as error:
            self.state.results.error = f"Could not export {what}: {error}"
            return None
        self.state.results.error = None
        self.window.statusBar().showMessage(f"Saved {saved}", 5000)
        return saved

    def _picture_options(self):
        """The view's colormap, opacity and upsampling, as the exported figures take them."""
        from vitviz.export.pictures import PictureOptions

        view = self.state.view
        return PictureOptions(cmap=view.colormap, alpha=view.opacity, upsampling=view.upsampling)

    def _ask(self, title: str, name: str, filters: str = EXPORT_FILTER) -> str:
        start = str(Path(self.settings.folder()) / name)
        return self.settings.remember_folder(
            QFileDialog.getSaveFileName(self.window, title, start, filters)[0]
        )

    def _without_errors(self, grab):
        """``grab()`` with the error bar hidden: a message is no part of a picture."""
        status = self.window.status
        status.show_error(None)
        try:
            return grab()
        finally:
            status.show_error(self.state.results.error)

    def export_widget(self, widget: QWidget, path: str | Path) -> Path | None:
        """Save ``widget`` to ``path`` (PNG / SVG / PDF)."""

        def write(p):
            return self._without_errors(lambda: save_widget(widget, p))

        return self._save("the picture", write, path)

    def export_dialog(self, widget: QWidget) -> None:
        """Ask for a file name and save ``widget`` there."""
        name = "window" if widget is self.window else widget.objectName() or "panel"
        if path := self._ask("Export", f"vitviz-{name}.png"):
            self.export_widget(widget, path)

    def figure(self, kind: str):
        """A titled matplotlib figure of what is shown, or None before any result: ``kind``
        "map" is the image panel's map on the image, "grid" every head of every layer for
        the query with a fused column, another the overlay of that name on the image."""
        from vitviz.export.map_figures import heads_grid_figure, map_image_figure

        state, results = self.state, self.state.results
        analysis = results.analysis
        if analysis is None:
            return None
        layout, sel, view = analysis.layout, state.selection, state.view
        model = results.model.spec.name
        if kind == "grid":
            maps = analysis.cells(sel.query, renormalize=view.drop_prefix)[:, :-1]  # [L, H, r, c]
            return heads_grid_figure(
                maps,
                title=f"{model} · query {layout.label(sel.query)}",
                cmap=view.colormap,
                fusion=view.fusion,
                shared_scale=view.scale == "shared",
            )
        shown = view.overlay
        with view.events.blocked():  # the panels keep what they show
            view.overlay = shown if kind == "map" else kind
            grid_map, described = overlay_map(state), describe_overlay(state)
            view.overlay = shown
        if grid_map is None:
            return None
        return map_image_figure(
            grid_map,
            results.prepared.grid,
            results.image.image,
            title=f"{model} · {described}",
            options=self._picture_options(),
        )

    def export_figure(self, kind: str, path: str | Path) -> Path | None:
        """Save :meth:`figure` ``kind`` to ``path`` (PNG / SVG / PDF by suffix)."""
        from vitviz.export.saving import save_figure

        figure = self.figure(kind)
        if figure is None:
            self.state.results.error = NOTHING_YET
            return None
        return self._save("the figure", lambda p: save_figure(figure, p), path)

    def export_figure_dialog(self, dock: QDockWidget) -> None:
        """Ask for a file name and save the figure of the panel in ``dock`` there."""
        kind = PANEL_FIGURES.get(dock.objectName(), "map")
        if path := self._ask("Export figure", f"vitviz-{kind}.png"):
            self.export_figure(kind, path)

    def export_deck(self, path: str | Path) -> Path | None:
        """Write the talk deck of the shown image and model (a multi-page PDF) to ``path``,
        drawn with the view's colormap, opacity and upsampling."""
        from vitviz.export.deck import save_deck

        results = self.state.results
        if results.inference is None or results.prepared is None:
            results.error = NOTHING_YET
            return None
        model, image = results.model, results.image

        def write(p):
            return save_deck(
                p,
                model.model,
                model.spec,
                image.image,
                results.prepared,
                options=self._picture_options(),
                image_name=image.name,
            )

        return self._save("the talk deck", write, path)

    def export_deck_dialog(self) -> None:
        """Ask for a PDF file name and write the talk deck there."""
        if path := self._ask("Export talk deck", "vitviz-deck.pdf", "PDF document (*.pdf)"):
            self.export_deck(path)

    def copy_to_clipboard(self, widget: QWidget) -> None:
        """Put ``widget``'s picture on the clipboard."""
        QGuiApplication.clipboard().setPixmap(self._without_errors(widget.grab))
        self.state.results.error = None
        self.window.statusBar().showMessage("Copied to the clipboard", 3000)
