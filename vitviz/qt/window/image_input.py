"""Images in: open, recent files, samples, paste and drag and drop.

Every way in ends in ``state.inputs.image``; the controller analyses what lands there. A
file that cannot be read leaves the current image and says why in the error bar.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from PIL import Image, ImageQt
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from vitviz.errors import ImageLoadError
from vitviz.qt.samples import demo_sample, grace_hopper_path
from vitviz.qt.settings import Settings
from vitviz.state import AppState, LoadedImage

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp *.ppm);;All files (*)"


def pil_from_qimage(image: QImage) -> Image.Image:
    """A QImage (e.g. from the clipboard) as an RGB PIL image."""
    return ImageQt.fromqimage(image).convert("RGB")


class ImageInput:
    """Every way of getting an image into ``state.inputs`` (errors go to
    ``state.results.error``); ``settings`` remembers the recent files; ``window`` parents
    the file dialog."""

    def __init__(self, state: AppState, settings: Settings, window: QWidget) -> None:
        self.state, self.settings, self.window = state, settings, window
        self._sample_index = itertools.count(1)  # sample 0 is the start-up image

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
        folder = self.settings.folder()
        path, _ = QFileDialog.getOpenFileName(self.window, "Open image", folder, IMAGE_FILTER)
        if self.settings.remember_folder(path):
            self.open_path(path)

    def paste_image(self) -> bool:
        """Use the clipboard's image (or the image file it names)."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and self.drop(mime, "pasted image"):
            return True
        self.state.results.error = "The clipboard holds no image."
        return False

    def new_sample(self) -> None:
        """A new generated demo image (one of the demo model's ten shapes)."""
        self.set_image(demo_sample(next(self._sample_index)))

    def open_grace_hopper(self) -> bool:
        """matplotlib's bundled photograph of Grace Hopper."""
        return self.open_path(grace_hopper_path())

    def fill_recent_menu(self, menu: QMenu) -> None:
        """List the recent files in ``menu`` (called as it opens)."""
        menu.clear()
        recent = self.settings.recent_files()
        for path in recent:
            action = menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _c=False, p=path: self.open_path(p))
        if recent:
            menu.addSeparator()
            menu.addAction("Clear", self.settings.clear_recent_files)
        else:
            menu.addAction("(none)").setEnabled(False)

    @staticmethod
    def accepts(mime: QMimeData) -> bool:
        """Whether a drag carries an image or a local file."""
        return mime.hasImage() or any(u.isLocalFile() for u in mime.urls())

    def drop(self, mime: QMimeData, name: str = "dropped image") -> bool:
        """Open the dropped (or pasted) file, or use the image; False when there is neither.

        A file comes first: an image beside it is a file manager's thumbnail of it.
        """
        local = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if local:
            return self.open_path(local[0])
        image = QImage(mime.imageData()) if mime.hasImage() else QImage()
        if not image.isNull():
            self.set_image(LoadedImage(pil_from_qimage(image), name))
        return not image.isNull()
