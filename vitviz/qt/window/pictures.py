"""Pictures out: a panel or the window as PNG / SVG / PDF, titled figures, the clipboard.

Widget pictures replay the widget's painting; figures are drawn by ``vitviz.export``'s
matplotlib renderer from the state, so they match the batch export. Failures go to the
error bar, successes to the status bar.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF, QPoint, QSizeF
from PySide6.QtGui import QGuiApplication, QPageLayout, QPageSize, QPainter, QPdfWriter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QFileDialog, QMainWindow, QWidget

from vitviz.qt.overlay import describe_overlay, overlay_map
from vitviz.state import AppState

EXPORT_FILTER = "PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)"


def save_widget(widget: QWidget, path: str | Path) -> Path:
    """Save what ``widget`` shows as PNG, SVG or PDF (chosen by the file's suffix).

    PNG is the widget's pixels; SVG and PDF replay its painting as vector drawing (the
    maps inside stay images).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    size = widget.size()
    if suffix == ".svg":
        generator = QSvgGenerator()
        generator.setFileName(str(path))
        generator.setSize(size)
        generator.setViewBox(widget.rect())
        generator.setTitle(widget.windowTitle() or "vitviz")
        painter = QPainter(generator)
        widget.render(painter, QPoint(0, 0))
        painter.end()
    elif suffix == ".pdf":
        writer = QPdfWriter(str(path))
        writer.setResolution(72)  # one widget pixel per point: the page fits the widget
        writer.setPageSize(QPageSize(QSizeF(size), QPageSize.Unit.Point))
        writer.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Point)
        painter = QPainter(writer)
        widget.render(painter, QPoint(0, 0))
        painter.end()
    else:
        if suffix != ".png":
            path = path.with_suffix(".png")
        if not widget.grab().save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
    return path


class PicturesOut:
    """Exporting and copying what is shown.

    Parameters
    ----------
    state : AppState
        What the figures show; errors go to ``state.results.error``.
    window : QMainWindow
        Parent of the dialogs; its status bar says what was saved.
    """

    def __init__(self, state: AppState, window: QMainWindow) -> None:
        self.state, self.window = state, window

    def export_widget(self, widget: QWidget, path: str | Path) -> Path | None:
        """Save ``widget`` to ``path`` (PNG / SVG / PDF); errors go to the error bar."""
        try:
            saved = save_widget(widget, path)
        except OSError as error:
            self.state.results.error = f"Could not export: {error}"
            return None
        self.window.statusBar().showMessage(f"Saved {saved}", 5000)
        return saved

    def export_dialog(self, widget: QWidget) -> None:
        """Ask for a file name and save ``widget`` there."""
        name = (
            "vitviz-window" if widget is self.window else f"vitviz-{widget.objectName() or 'panel'}"
        )
        path, _ = QFileDialog.getSaveFileName(self.window, "Export", f"{name}.png", EXPORT_FILTER)
        if path:
            self.export_widget(widget, path)

    def figure(self, kind: str):
        """A titled matplotlib figure of what is shown (``vitviz.export``'s renderer).

        Parameters
        ----------
        kind : {"map", "grid"}
            The image panel's map on the image, or every head of every layer for the
            query with a fused column.

        Returns
        -------
        matplotlib.figure.Figure or None
            None when there is nothing to export yet.
        """
        from vitviz.export.map_figures import heads_grid_figure, map_image_figure
        from vitviz.export.pictures import PictureOptions

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
        grid_map = overlay_map(state)
        if grid_map is None:
            return None
        options = PictureOptions(cmap=view.colormap, alpha=view.opacity, upsampling=view.upsampling)
        return map_image_figure(
            grid_map,
            results.prepared.grid,
            results.image.image,
            title=f"{model} · {describe_overlay(state)}",
            options=options,
        )

    def export_figure(self, kind: str, path: str | Path) -> Path | None:
        """Save :meth:`figure` ``kind`` to ``path`` (PNG / SVG / PDF by suffix)."""
        from vitviz.export.saving import save_figure

        figure = self.figure(kind)
        if figure is None:
            self.state.results.error = "Nothing to export yet: open an image first."
            return None
        try:
            saved = save_figure(figure, path)
        except (OSError, ValueError) as error:
            self.state.results.error = f"Could not export: {error}"
            return None
        self.window.statusBar().showMessage(f"Saved {saved}", 5000)
        return saved

    def export_figure_dialog(self, kind: str) -> None:
        """Ask for a file name and save a figure there."""
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Export figure", f"vitviz-{kind}.png", EXPORT_FILTER
        )
        if path:
            self.export_figure(kind, path)

    def copy_to_clipboard(self, widget: QWidget) -> None:
        """Put ``widget``'s picture on the clipboard."""
        QGuiApplication.clipboard().setPixmap(widget.grab())
        self.window.statusBar().showMessage("Copied to the clipboard", 3000)
