"""Help → About this model: the demo model's card, or what another model's checkpoint says."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget
from safetensors import safe_open

from vitviz.resources import DEMO_MODEL_CARD
from vitviz.state import LoadedModel
from vitviz.vit.checkpoints import META_CONFIG, META_LABELS, preview
from vitviz.vit.loading import is_demo


def demo_card() -> str:
    """The bundled demo model's card (Markdown), or a line that says where it should be."""
    if DEMO_MODEL_CARD.is_file():
        return DEMO_MODEL_CARD.read_text(encoding="utf-8")
    return f"The demo model's card is missing ({DEMO_MODEL_CARD}); reinstall vitviz."


def card_section(card: str, heading: str) -> str:
    """The text under ``## heading`` of a Markdown card, on one line ("" when absent)."""
    _, found, rest = card.partition(f"\n## {heading}\n")
    return " ".join(rest.split("\n## ")[0].split()) if found else ""


def stored_metadata(source: str) -> dict[str, str]:
    """A ``.safetensors`` checkpoint's header metadata, less labels and config (shown apart)."""
    path = Path(source).expanduser()
    if path.suffix.lower() != ".safetensors" or not path.is_file():
        return {}
    with safe_open(str(path), framework="pt") as handle:
        stored = handle.metadata() or {}
    return {k: v for k, v in stored.items() if k not in (META_LABELS, META_CONFIG)}


def model_card(model: LoadedModel | None) -> str:
    """Markdown about ``model``: the demo's card, or its spec, config and stored metadata."""
    if model is None:
        return "No model is loaded yet."
    if is_demo(model.source):
        return demo_card()
    spec = model.spec
    rows = {"source": model.source, "device": f"{model.device} · {model.dtype}"}
    rows |= {k: v for k, v in vars(spec).items() if k not in ("name", "layout", "labels")}
    rows["classes"] = f"{spec.num_classes}: {preview(list(spec.labels or ()), 10)}"
    rows["prefix tokens"] = ", ".join(spec.layout.prefix_labels) or "none"
    rows |= {f"network {k}": v for k, v in model.model.config.to_dict().items()}
    rows |= {f"file {k}": v for k, v in stored_metadata(model.source).items()}
    table = "\n".join(f"| {k} | {v} |".replace("\n", " ") for k, v in rows.items())
    return f"# {spec.name}\n\n| field | value |\n|---|---|\n{table}\n"


def show_model_card(model: LoadedModel | None, parent: QWidget) -> QDialog:
    """Open the "About this model" dialog (not modal) and return it."""
    dialog = QDialog(parent, windowTitle="About this model")
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, rejected=dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(QTextBrowser(objectName="model_card", markdown=model_card(model)))
    layout.addWidget(buttons)
    dialog.resize(720, 640)
    dialog.show()
    return dialog
