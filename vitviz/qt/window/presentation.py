"""Presentation mode: full screen with larger fonts (and, in the panels, bolder lines).

Leaving it restores the font and the window state (maximised or normal) from before.
"""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QMainWindow

PRESENTATION_FONT_SCALE = 1.6


class PresentationMode:
    """Switches ``window`` into and out of presentation mode.

    Parameters
    ----------
    window : QMainWindow
        Its font at construction is the normal font.
    """

    def __init__(self, window: QMainWindow) -> None:
        self._window = window
        self._normal_font = QFont(window.font())
        self._was_maximized = False

    def apply(self, on: bool) -> None:
        """Enter presentation mode when ``on``, else go back to how the window was."""
        window = self._window
        if on:
            self._was_maximized = window.isMaximized()
            font = QFont(self._normal_font)
            font.setPointSizeF(self._normal_font.pointSizeF() * PRESENTATION_FONT_SCALE)
            window.setFont(font)
            window.showFullScreen()
        else:
            window.setFont(self._normal_font)
            if self._was_maximized:
                window.showMaximized()
            else:
                window.showNormal()
