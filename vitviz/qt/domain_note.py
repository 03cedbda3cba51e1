"""A note that the demo model knows only its shapes, on images that are not its samples
(known from how the image was loaded, ``LoadedImage.generated``, not from its pixels)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QMainWindow, QToolBar

from vitviz.qt.model_card import card_section, demo_card
from vitviz.qt.shortcuts import SHORTCUTS
from vitviz.qt.widgets.bindings import listen
from vitviz.state import AppState
from vitviz.vit.loading import is_demo


def note_text(labels) -> str:
    """What the demo model knows (its card's limits, its classes) and how to load a real one."""
    keys = next(s.keys[0] for s in SHORTCUTS if s.name == "choose_model")
    return (  # three short lines: a toolbar does not give a word-wrapped label its height
        f"<b>The demo model knows only synthetic shapes:</b> {', '.join(labels or ())}.<br>"
        f"{card_section(demo_card(), 'Limits')} This image is not one of its samples.<br>"
        f"To see a real model's attention, load one with {keys} (File → Choose Model…)."
    )


class DomainNote(QToolBar):
    """A bar under the main toolbar of ``window``, shown while the demo model's result is
    for an image that is not a generated sample; dismissed, it stays hidden until the
    model changes."""

    def __init__(self, state: AppState, window: QMainWindow) -> None:
        super().__init__("Model note", window, objectName="domain_note", movable=False)
        self.state, self.dismissed = state, False
        self.toggleViewAction().setVisible(False)  # shown by the state, not the user
        self.setStyleSheet("QToolBar { background: #fff1b8; } QLabel { color: #3b3000; }")
        self.label = QLabel(self)
        self.addWidget(self.label)
        self.dismiss_action = self.addAction("✕", lambda: self.dismiss())
        self.dismiss_action.setToolTip("Hide this note")
        window.addToolBarBreak()
        window.addToolBar(self)
        listen(self, state.results.events.model, lambda _: self.dismiss(False))
        listen(self, state.results.events.image, self.refresh)
        self.refresh()

    def refresh(self, *_) -> None:
        """Show the note when it applies and was not dismissed."""
        model, image = self.state.results.model, self.state.results.image
        shown = bool(model and is_demo(model.source) and image and not image.generated)
        if shown and not self.dismissed:
            self.label.setText(note_text(model.spec.labels))
        self.setVisible(shown and not self.dismissed)

    def dismiss(self, dismissed: bool = True) -> None:
        """Hide the note until the model changes (or let it show again)."""
        self.dismissed = dismissed
        self.refresh()
