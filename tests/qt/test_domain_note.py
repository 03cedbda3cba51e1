"""Out-of-domain honesty on the real demo model: the note on foreign images, the model card."""

import pytest
import timm
from PySide6.QtWidgets import QDialog, QTextBrowser

from vitviz.qt.controller import Controller
from vitviz.qt.main_window import MainWindow
from vitviz.qt.model_card import card_section, demo_card
from vitviz.qt.samples import demo_sample
from vitviz.resources import DEMO_MODEL_PATH
from vitviz.state import AppState
from vitviz.vit import save_checkpoint

pytestmark = pytest.mark.skipif(
    not DEMO_MODEL_PATH.exists(), reason="the demo model has not been built yet"
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A random-init timm model written with save_checkpoint, with three named classes."""
    kwargs = {"depth": 1, "num_classes": 3}
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, **kwargs)
    path = tmp_path_factory.mktemp("ckpt") / "tiny-abc.safetensors"
    return save_checkpoint(model, path, model_kwargs=kwargs, labels=["ant", "bee", "cat"])


@pytest.fixture
def window(qtbot, settings):
    state = AppState()
    window = MainWindow(state, Controller(state, synchronous=True), settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.images.set_image(demo_sample(1))
    assert state.results.model.source == "demo"
    return window


def plain(text: str) -> str:
    return " ".join(text.split())


def about_text(window, qtbot) -> str:
    """Help → About this model, as plain text."""
    window.actions_by_name["about_model"].trigger()
    (dialog,) = [d for d in window.findChildren(QDialog) if d.windowTitle() == "About this model"]
    qtbot.addWidget(dialog)
    text = plain(dialog.findChild(QTextBrowser, "model_card").toPlainText())
    dialog.close()
    return text


def test_the_note_says_what_the_demo_model_knows_on_a_photo(window):
    note = window.domain_note
    assert not note.isVisible()  # a generated sample: the model's own domain
    assert window.images.open_grace_hopper()
    assert note.isVisible()
    text = plain(note.label.text())
    labels = window.state.results.model.spec.labels
    assert len(labels) == 10
    assert all(label in text for label in labels)
    assert card_section(demo_card(), "Limits") in text
    assert "Ctrl+L" in text
    assert "Choose Model" in text
    window.images.new_sample()
    assert not note.isVisible()


def test_dismissed_the_note_stays_hidden_until_another_model(window, checkpoint):
    note = window.domain_note
    window.images.open_grace_hopper()
    note.dismiss_action.trigger()
    assert not note.isVisible()
    window.images.open_grace_hopper()  # another photo, same model: still dismissed
    assert not note.isVisible()
    window.models.load_model_source(str(checkpoint))
    assert window.state.results.model.source == str(checkpoint)
    assert not note.isVisible()  # not the demo model
    window.models.load_model_source("demo")
    assert note.isVisible()


def test_about_shows_the_demo_models_card(window, qtbot):
    text = about_text(window, qtbot)
    card = demo_card()
    for heading in ("Data", "Training", "Metrics", "Limits"):
        assert heading in text
    for label in window.state.results.model.spec.labels:
        assert label in text
    metrics = [plain(line) for line in card.splitlines() if line.startswith("    ") and "%" in line]
    assert len(metrics) >= 3
    assert all(line in text for line in metrics)


def test_about_shows_a_checkpoints_metadata(window, qtbot, checkpoint):
    window.models.load_model_source(str(checkpoint))
    model = window.state.results.model
    assert model.source == str(checkpoint)
    text = about_text(window, qtbot)
    assert "Metrics" not in text
    assert str(checkpoint) in text
    assert "arch vit_tiny_patch16_224" in text
    assert "classes 3: ant, bee, cat" in text
    assert f"crop_pct {model.spec.crop_pct}" in text
    assert "interpolation bicubic" in text
    assert f"network depth {model.model.config.depth} network num_heads 3" in text
    assert 'file vitviz.model_kwargs {"depth": 1, "num_classes": 3}' in text
