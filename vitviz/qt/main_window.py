"""The main window: dock panels, menus, toolbar, status bar, files in and pictures out.

The window owns no analysis: panels read the state and write selections back, the
controller turns input changes into results. The window only gets images and models into
``state.inputs`` (files, drag and drop, clipboard, samples, the model picker), offers the
view options and shortcuts, and exports what is on screen.
"""

from __future__ import annotations

import importlib
import itertools
import logging
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QByteArray, QEvent, QMarginsF, QObject, QPoint, QSize, QSizeF, Qt
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QFont,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
)
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QToolBar,
    QWidget,
)
from superqt import QLabeledDoubleSlider

from vitviz.errors import ImageLoadError
from vitviz.qt.controller import Controller, held_events
from vitviz.qt.model_picker import ModelPicker, arch_dialog, model_dialog, stored_arch
from vitviz.qt.samples import demo_sample, grace_hopper_path
from vitviz.qt.settings import Settings
from vitviz.qt.shortcuts import SHORTCUTS, ShortcutSheet, make_action
from vitviz.qt.widgets.bindings import bind_combo, bind_value, listen
from vitviz.state import AppState, LoadedImage
from vitviz.state.inputs import DEVICES, PRECISIONS, PREPROCESS_MODES
from vitviz.state.view import CLASS_METHODS, FUSIONS

logger = logging.getLogger(__name__)

# (module under vitviz.qt.panels, class name, placement, anchor module). Placements, in
# order: "left" / "right" start a dock area, "below" / "beside" split the anchor's place
# vertically / horizontally, "tab" shares the anchor's place as a tab. Three columns:
# image over rollout / class map / tokens; heads grid over selected head; predictions over
# head statistics. Only one place holds tabs: with two, Qt 6 leaves a stray copy of the
# second tab bar on screen.
PANELS = (
    ("image_panel", "ImagePanel", "left", None),
    ("rollout_panel", "RolloutPanel", "below", "image_panel"),
    ("class_map", "ClassMapPanel", "tab", "rollout_panel"),
    ("heads_grid", "HeadsGridPanel", "right", None),
    ("predictions", "PredictionsPanel", "beside", "heads_grid"),
    ("selected_head", "SelectedHeadPanel", "below", "heads_grid"),
    ("head_stats_plot", "HeadStatsPlotPanel", "below", "predictions"),
    ("tokens", "TokensPanel", "tab", "rollout_panel"),
)
COLORMAPS = ("inferno", "viridis", "magma", "plasma", "cividis", "turbo", "jet", "hot", "gray")
MODE_LABELS = ("Checkpoint crop", "Whole image", "Native aspect")
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp *.ppm);;All files (*)"
CHECKPOINT_FILTER = "Checkpoints (*.safetensors *.pth *.pt *.bin *.npz);;All files (*)"
EXPORT_FILTER = "PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)"
PRESENTATION_FONT_SCALE = 1.6


def load_panel(module: str, class_name: str):
    """The panel class ``vitviz.qt.panels.<module>.<class_name>``."""
    return getattr(importlib.import_module(f"vitviz.qt.panels.{module}"), class_name)


def pil_from_qimage(image: QImage) -> Image.Image:
    """A QImage (e.g. from the clipboard) as an RGB PIL image."""
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = rgba.width(), rgba.height()
    buffer = np.frombuffer(rgba.constBits(), dtype=np.uint8, count=rgba.sizeInBytes())
    rows = buffer.reshape(height, rgba.bytesPerLine())[:, : width * 4]  # [h, w*4]
    return Image.fromarray(rows.reshape(height, width, 4).copy(), "RGBA").convert("RGB")


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


class MainWindow(QMainWindow):
    """The vitviz window.

    Parameters
    ----------
    state : AppState
        The shared state.
    controller : Controller
        Runs the model; cancelled from the busy indicator.
    settings : Settings, optional
        Where recent files, the last model and the layout are kept.
    """

    def __init__(
        self,
        state: AppState,
        controller: Controller,
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.controller = controller
        self.settings = settings or Settings()
        self.panels: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        self.current_dock: QDockWidget | None = None
        self._sample_index = itertools.count(1)  # sample 0 is the start-up image
        self._normal_font = QFont(self.font())
        self._was_maximized = False
        self.setObjectName("vitviz_main_window")
        self.setWindowTitle("vitviz")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.setDockOptions(
            QMainWindow.DockOption.AllowTabbedDocks
            | QMainWindow.DockOption.AllowNestedDocks
            | QMainWindow.DockOption.AnimatedDocks
        )
        placeholder = QWidget(self)
        placeholder.setMaximumSize(0, 0)
        self.setCentralWidget(placeholder)
        self.actions_by_name: dict[str, QAction] = {}
        self._build_panels()
        self._default_layout = self.saveState()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        listen(self, state.results.events.error, self._show_error)
        listen(self, state.results.events.status, self._show_status)
        listen(self, state.results.events.busy, self._show_busy)
        listen(self, state.results.events.model, self._on_model_shown)
        listen(self, state.results.events.image, lambda *_: self._update_title())
        listen(self, state.view.events.presentation, self._apply_presentation)
        listen(self, state.view.events.colormap, self.settings.set_colormap)
        QApplication.instance().focusChanged.connect(self._on_focus_changed)
        self._restore_settings()
        self._show_busy(state.results.busy)
        self._update_title()

    # --- construction ---------------------------------------------------------------
    def _build_panels(self) -> None:
        areas = {
            "left": Qt.DockWidgetArea.LeftDockWidgetArea,
            "right": Qt.DockWidgetArea.RightDockWidgetArea,
        }
        for module, class_name, placement, anchor in PANELS:
            panel = load_panel(module, class_name)(self.state)
            panel.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            dock = QDockWidget(panel.title, self)
            dock.setObjectName(f"dock_{module}")
            dock.setWidget(panel)
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                | QDockWidget.DockWidgetFeature.DockWidgetClosable
            )
            if placement in areas:
                self.addDockWidget(areas[placement], dock)
            elif placement == "tab":
                self.tabifyDockWidget(self.docks[anchor], dock)
            else:
                orientation = (
                    Qt.Orientation.Vertical if placement == "below" else Qt.Orientation.Horizontal
                )
                self.splitDockWidget(self.docks[anchor], dock, orientation)
            self.panels[module] = panel
            self.docks[module] = dock
        for _module, _class_name, placement, anchor in PANELS:
            if placement == "tab":
                self.docks[anchor].raise_()
        self.resizeDocks(
            [self.docks[m] for m in ("image_panel", "heads_grid", "predictions")],
            [560, 560, 420],
            Qt.Orientation.Horizontal,
        )
        self.resizeDocks(
            [self.docks[m] for m in ("image_panel", "rollout_panel")],
            [560, 380],
            Qt.Orientation.Vertical,
        )
        self.resizeDocks(
            [self.docks[m] for m in ("predictions", "head_stats_plot")],
            [260, 680],
            Qt.Orientation.Vertical,
        )
        self.current_dock = self.docks["image_panel"]

    def _build_actions(self) -> None:
        state = self.state
        slots = {
            "open_image": self.open_image_dialog,
            "paste_image": self.paste_image,
            "new_sample": self.new_sample,
            "choose_model": self.choose_model_dialog,
            "open_checkpoint": self.open_checkpoint_dialog,
            "export_panel": lambda: self.export_dialog(self.current_panel()),
            "export_window": lambda: self.export_dialog(self),
            "export_figure": lambda: self.export_figure_dialog("map"),
            "export_grid_figure": lambda: self.export_figure_dialog("grid"),
            "copy_panel": lambda: self.copy_to_clipboard(self.current_panel()),
            "copy_window": lambda: self.copy_to_clipboard(self),
            "quit": self.close,
            "query_left": lambda: state.move_query(0, -1),
            "query_right": lambda: state.move_query(0, 1),
            "query_up": lambda: state.move_query(-1, 0),
            "query_down": lambda: state.move_query(1, 0),
            "query_default": self.query_default,
            "layer_prev": lambda: state.step_layer(-1),
            "layer_next": lambda: state.step_layer(1),
            "head_prev": lambda: state.step_head(-1),
            "head_next": lambda: state.step_head(1),
            "class_1": lambda: self.select_top_class(0),
            "class_2": lambda: self.select_top_class(1),
            "class_3": lambda: self.select_top_class(2),
            "class_none": lambda: setattr(state.selection, "class_index", None),
            "toggle_grid": lambda: setattr(state.view, "show_grid", not state.view.show_grid),
            "next_colormap": lambda: self._cycle(state.view, "colormap", COLORMAPS),
            "next_overlay": self.next_overlay,
            "next_fusion": lambda: self._cycle(state.view, "fusion", FUSIONS),
            "next_class_method": lambda: self._cycle(state.view, "class_method", CLASS_METHODS),
            "opacity_up": lambda: self._step_opacity(0.1),
            "opacity_down": lambda: self._step_opacity(-0.1),
            "presentation": lambda: setattr(
                state.view, "presentation", not state.view.presentation
            ),
            "leave_presentation": lambda: setattr(state.view, "presentation", False),
            "reset_layout": self.reset_layout,
            "help": self.show_shortcuts,
        }
        for entry in SHORTCUTS:
            self.actions_by_name[entry.name] = make_action(self, entry.name, slots[entry.name])
        grid_action = self.actions_by_name["toggle_grid"]
        grid_action.setCheckable(True)
        grid_action.setChecked(state.view.show_grid)
        listen(self, state.view.events.show_grid, lambda on: grid_action.setChecked(bool(on)))
        presentation = self.actions_by_name["presentation"]
        presentation.setCheckable(True)
        listen(self, state.view.events.presentation, lambda on: presentation.setChecked(bool(on)))

    def _build_menus(self) -> None:
        act = self.actions_by_name
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(act["open_image"])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        samples = file_menu.addMenu("Sa&mples")
        samples.addAction(act["new_sample"])
        hopper = samples.addAction("Grace Hopper (matplotlib)")
        hopper.triggered.connect(self.open_grace_hopper)
        file_menu.addAction(act["paste_image"])
        file_menu.addSeparator()
        file_menu.addAction(act["choose_model"])
        file_menu.addAction(act["open_checkpoint"])
        file_menu.addSeparator()
        for name in (
            "export_panel",
            "export_window",
            "export_figure",
            "export_grid_figure",
            "copy_panel",
            "copy_window",
        ):
            file_menu.addAction(act[name])
        file_menu.addSeparator()
        file_menu.addAction(act["quit"])
        select_menu = bar.addMenu("&Select")
        for entry in SHORTCUTS:
            if entry.group == "Selection":
                select_menu.addAction(act[entry.name])
        view_menu = bar.addMenu("&View")
        view_actions = (
            "toggle_grid",
            "next_colormap",
            "next_overlay",
            "next_fusion",
            "next_class_method",
            "opacity_up",
            "opacity_down",
            "presentation",
        )
        for name in view_actions:
            view_menu.addAction(act[name])
        view_menu.addSeparator()
        panels_menu = view_menu.addMenu("&Panels")
        for dock in self.docks.values():
            panels_menu.addAction(dock.toggleViewAction())
        view_menu.addAction(act["reset_layout"])
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(act["help"])

    def _build_toolbar(self) -> None:
        state = self.state
        bar = QToolBar("Main", self)
        bar.setObjectName("main_toolbar")
        bar.setMovable(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.model_picker = ModelPicker(state, bar)
        self.model_picker.browse_requested.connect(self.choose_model_dialog)
        self.model_picker.checkpoint_requested.connect(self.open_checkpoint_dialog)
        bar.addWidget(QLabel(" Model ", bar))
        bar.addWidget(self.model_picker)
        self.device_combo = self._combo(
            bar, "device_combo", "Device", state.inputs, "device", DEVICES
        )
        self.precision_combo = self._combo(
            bar, "precision_combo", "Precision", state.inputs, "precision", PRECISIONS
        )
        bar.addSeparator()
        self.mode_combo = self._combo(
            bar,
            "mode_combo",
            "Preprocess",
            state.inputs,
            "preprocess_mode",
            PREPROCESS_MODES,
            MODE_LABELS,
        )
        bar.addSeparator()
        self.colormap_combo = self._combo(
            bar, "colormap_combo", "Colormap", state.view, "colormap", COLORMAPS
        )
        self.opacity_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal, bar)
        self.opacity_slider.setObjectName("toolbar_opacity")
        self.opacity_slider.setRange(0.0, 1.0)
        self.opacity_slider.setDecimals(2)
        self.opacity_slider.setMaximumWidth(180)
        bind_value(self.opacity_slider, state.view, "opacity")
        bar.addWidget(QLabel(" Opacity ", bar))
        bar.addWidget(self.opacity_slider)
        self.toolbar = bar

    def _combo(self, bar, name, label, owner, field, values, labels=None) -> QComboBox:
        combo = QComboBox(bar)
        combo.setObjectName(name)
        combo.setToolTip(label)
        bind_combo(combo, owner, field, values, labels)
        bar.addWidget(QLabel(f" {label} ", bar))
        bar.addWidget(combo)
        return combo

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.error_label = QLabel(self)
        self.error_label.setObjectName("error_label")
        self.error_label.setStyleSheet(
            "QLabel { background: #7a1f1f; color: white; padding: 2px 8px; border-radius: 3px; }"
        )
        self.error_label.setWordWrap(False)
        self.error_label.setCursor(Qt.CursorShape.PointingHandCursor)
        self.error_label.installEventFilter(self)
        self.error_label.hide()
        self.status_label = QLabel(self)
        self.status_label.setObjectName("status_label")
        self.busy_bar = QProgressBar(self)
        self.busy_bar.setObjectName("busy_bar")
        self.busy_bar.setRange(0, 0)  # indeterminate: a forward pass has no progress
        self.busy_bar.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("cancel_button")
        self.cancel_button.setToolTip("Stop waiting for the model and keep what is shown")
        self.cancel_button.clicked.connect(self.controller.cancel)
        self.controller.download_progress.connect(self._show_download)
        status.addWidget(self.error_label)
        status.addPermanentWidget(self.status_label)
        status.addPermanentWidget(self.busy_bar)
        status.addPermanentWidget(self.cancel_button)

    # --- state → window -------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is self.error_label and event.type() == QEvent.Type.MouseButtonPress:
            self.state.results.error = None  # a click dismisses the message
            return True
        return super().eventFilter(watched, event)

    def _show_error(self, message: str | None) -> None:
        if message:
            self.error_label.setText(message.splitlines()[0] + "   ✕")
            self.error_label.setToolTip(f"{message}\n\n(click to dismiss)")
            self.error_label.show()
        else:
            self.error_label.hide()

    def _show_status(self, text: str) -> None:
        self.status_label.setText(text)

    def _show_download(self, done: int, total: int) -> None:
        """Turn the busy indicator into a download bar (in MB: Qt's bar counts in int)."""
        if total <= 0:
            return
        self.busy_bar.setRange(0, max(1, total // 1_000_000))
        self.busy_bar.setValue(done // 1_000_000)
        self.busy_bar.setFormat("Downloading %v / %m MB")
        self.busy_bar.setTextVisible(True)

    def _show_busy(self, busy: bool) -> None:
        if not busy:
            self.busy_bar.setRange(0, 0)
            self.busy_bar.setTextVisible(False)
        self.busy_bar.setVisible(bool(busy))
        self.cancel_button.setVisible(bool(busy))
        if busy:
            QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        else:
            while QApplication.overrideCursor() is not None:
                QApplication.restoreOverrideCursor()

    def _on_model_shown(self, model) -> None:
        if model is not None:
            self.settings.set_last_model(model.source)
        self._update_title()

    def _update_title(self) -> None:
        results = self.state.results
        parts = ["vitviz"]
        if results.model is not None:
            parts.append(results.model.spec.name)
        if results.image is not None:
            parts.append(results.image.name)
        self.setWindowTitle(" — ".join(parts))

    def _apply_presentation(self, on: bool) -> None:
        if on:
            self._was_maximized = self.isMaximized()
            font = QFont(self._normal_font)
            font.setPointSizeF(self._normal_font.pointSizeF() * PRESENTATION_FONT_SCALE)
            self.setFont(font)
            self.showFullScreen()
        else:
            self.setFont(self._normal_font)
            if self._was_maximized:
                self.showMaximized()
            else:
                self.showNormal()

    # --- images in ------------------------------------------------------------------
    def open_path(self, path: str | Path) -> bool:
        """Open the image at ``path``; on failure say why and keep the current image."""
        from vitviz.compute.images import open_image

        path = str(path)
        try:
            image = open_image(path)
        except ImageLoadError as error:
            self.state.results.error = str(error)
            return False
        self.settings.add_recent_file(path)
        self.set_image(LoadedImage(image, Path(path).name, path))
        return True

    def set_image(self, image: LoadedImage) -> None:
        """Show ``image`` (the controller analyses it)."""
        self.state.results.error = None
        self.state.inputs.image = image

    def open_image_dialog(self) -> None:
        """File → Open Image…"""
        path, _ = QFileDialog.getOpenFileName(self, "Open image", "", IMAGE_FILTER)
        if path:
            self.open_path(path)

    def paste_image(self) -> bool:
        """Use the clipboard's image (or the image file it names)."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and mime.hasImage():
            image = QImage(mime.imageData())
            if not image.isNull():
                self.set_image(LoadedImage(pil_from_qimage(image), "pasted image"))
                return True
        if mime is not None and mime.hasUrls():
            local = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            if local:
                return self.open_path(local[0])
        self.state.results.error = "The clipboard holds no image."
        return False

    def new_sample(self) -> None:
        """A new generated demo image (one of the demo model's ten shapes)."""
        self.set_image(demo_sample(next(self._sample_index)))

    def open_grace_hopper(self) -> bool:
        """matplotlib's bundled photograph of Grace Hopper."""
        return self.open_path(grace_hopper_path())

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files()
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _c=False, p=path: self.open_path(p))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear", self.settings.clear_recent_files)
        else:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        mime = event.mimeData()
        if mime.hasImage() or any(u.isLocalFile() for u in mime.urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt API)
        mime = event.mimeData()
        local = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if local:
            self.open_path(local[0])
        elif mime.hasImage():
            self.set_image(LoadedImage(pil_from_qimage(QImage(mime.imageData())), "dropped image"))
        event.acceptProposedAction()

    # --- models in ------------------------------------------------------------------
    def load_model_source(self, source: str, arch: str | None = None) -> None:
        """Switch to the model ``source`` (``arch`` for files that do not name theirs)."""
        inputs = self.state.inputs
        if source == inputs.model_source and arch == inputs.arch:
            return
        with held_events(inputs):
            inputs.arch = arch
            inputs.model_source = source

    def choose_model_dialog(self) -> None:
        """The searchable list of timm models."""
        dialog = model_dialog(self)
        if dialog.exec() and dialog.selected():
            self.load_model_source(dialog.selected())

    def open_checkpoint_dialog(self) -> None:
        """Open Checkpoint…: a file, and its architecture when the file does not say."""
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", "", CHECKPOINT_FILTER)
        if not path:
            return
        arch = None
        if stored_arch(path) is None:
            dialog = arch_dialog(path, self)
            if not dialog.exec() or not dialog.selected():
                return
            arch = dialog.selected()
        self.load_model_source(path, arch)

    # --- selection helpers ----------------------------------------------------------
    def query_default(self) -> None:
        """Query the class token (the centre patch for models without one)."""
        from vitviz.state.app_state import default_query

        layout = self.state.layout
        if layout is not None:
            self.state.select_token(default_query(layout))

    def select_top_class(self, rank: int) -> None:
        """Select the class predicted at ``rank`` (0 = top-1)."""
        inference = self.state.results.inference
        logits = None if inference is None else inference.logits
        if logits is None or logits.shape[-1] <= rank:
            return
        order = logits.reshape(-1).float().argsort(descending=True)
        self.state.selection.class_index = int(order[rank])

    def next_overlay(self) -> None:
        """Cycle the map the image panel lays over the image."""
        from vitviz.qt.panels.image_panel import OVERLAYS

        panel = self.panels["image_panel"]
        index = OVERLAYS.index(panel.overlay_source)
        panel.set_overlay_source(OVERLAYS[(index + 1) % len(OVERLAYS)])

    @staticmethod
    def _cycle(owner, field: str, values: tuple[str, ...]) -> None:
        current = getattr(owner, field)
        index = values.index(current) if current in values else -1
        setattr(owner, field, values[(index + 1) % len(values)])

    def _step_opacity(self, delta: float) -> None:
        view = self.state.view
        view.opacity = round(min(max(view.opacity + delta, 0.0), 1.0), 2)

    # --- pictures out ---------------------------------------------------------------
    def _on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        widget = new
        while widget is not None:
            if isinstance(widget, QDockWidget) and widget in self.docks.values():
                self.current_dock = widget
                return
            widget = widget.parentWidget()

    def current_panel(self) -> QWidget:
        """The panel last clicked or focused (the image panel at first)."""
        dock = self.current_dock or self.docks["image_panel"]
        return dock.widget()

    def export_widget(self, widget: QWidget, path: str | Path) -> Path | None:
        """Save ``widget`` to ``path`` (PNG / SVG / PDF); errors go to the error bar."""
        try:
            saved = save_widget(widget, path)
        except OSError as error:
            self.state.results.error = f"Could not export: {error}"
            return None
        self.statusBar().showMessage(f"Saved {saved}", 5000)
        return saved

    def export_dialog(self, widget: QWidget) -> None:
        """Ask for a file name and save ``widget`` there."""
        name = "vitviz-window" if widget is self else f"vitviz-{widget.objectName() or 'panel'}"
        path, _ = QFileDialog.getSaveFileName(self, "Export", f"{name}.png", EXPORT_FILTER)
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
        from vitviz.compute.attention_maps import query_maps
        from vitviz.export.map_figures import heads_grid_figure, map_image_figure
        from vitviz.export.pictures import PictureOptions

        state, results = self.state, self.state.results
        if results.inference is None:
            return None
        layout, sel, view = results.inference.layout, state.selection, state.view
        model = results.model.spec.name
        if kind == "grid":
            maps = query_maps(
                results.inference.attentions, layout, sel.query, renormalize=view.drop_prefix
            )[0]
            return heads_grid_figure(
                maps,
                title=f"{model} · query {layout.label(sel.query)}",
                cmap=view.colormap,
                fusion=view.fusion,
                shared_scale=view.scale == "shared",
            )
        panel = self.panels["image_panel"]
        if panel.current_map is None:
            return None
        options = PictureOptions(cmap=view.colormap, alpha=view.opacity, upsampling=view.upsampling)
        return map_image_figure(
            panel.current_map,
            results.prepared.grid,
            results.image.image,
            title=f"{model} · {panel.overlay_description()}",
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
        self.statusBar().showMessage(f"Saved {saved}", 5000)
        return saved

    def export_figure_dialog(self, kind: str) -> None:
        """Ask for a file name and save a figure there."""
        path, _ = QFileDialog.getSaveFileName(
            self, "Export figure", f"vitviz-{kind}.png", EXPORT_FILTER
        )
        if path:
            self.export_figure(kind, path)

    def copy_to_clipboard(self, widget: QWidget) -> None:
        """Put ``widget``'s picture on the clipboard."""
        QGuiApplication.clipboard().setPixmap(widget.grab())
        self.statusBar().showMessage("Copied to the clipboard", 3000)

    def show_shortcuts(self) -> None:
        """The keyboard shortcut sheet (``?``)."""
        sheet = ShortcutSheet(self)
        sheet.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        sheet.show()

    # --- layout and settings --------------------------------------------------------
    def reset_layout(self) -> None:
        """Put every panel back where it started."""
        for dock in self.docks.values():
            dock.show()
        self.restoreState(self._default_layout)

    def _restore_settings(self) -> None:
        # The inputs (model, device, precision, mode) are the start-up's business
        # (vitviz.app), where command-line arguments override them.
        settings, view = self.settings, self.state.view
        colormap = settings.colormap(view.colormap)
        if colormap in COLORMAPS:
            view.colormap = colormap
        view.opacity = settings.opacity(view.opacity)
        geometry, layout = settings.window_geometry(), settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(QSize(1500, 950))
        if layout is not None:
            self.restoreState(layout)
        self.model_picker.remember(settings.last_model())

    def save_settings(self) -> None:
        """Remember layout, options and the model for the next run."""
        settings, inputs = self.settings, self.state.inputs
        settings.set_window_layout(
            self.saveGeometry() if not self.isFullScreen() else QByteArray(), self.saveState()
        )
        settings.set_colormap(self.state.view.colormap)
        settings.set_opacity(self.state.view.opacity)
        settings.set_device(inputs.device)
        settings.set_precision(inputs.precision)
        settings.set_preprocess_mode(inputs.preprocess_mode)
        if self.state.results.model is not None:
            settings.set_last_model(self.state.results.model.source)
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        self.save_settings()
        QApplication.instance().focusChanged.disconnect(self._on_focus_changed)
        self._show_busy(False)
        self.controller.cancel()
        super().closeEvent(event)
