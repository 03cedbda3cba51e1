import timm
import torch

from vitviz.qt.model_picker import (
    CACHED_MARK,
    DEMO_LABEL,
    MORE_MODELS,
    OPEN_CHECKPOINT,
    ModelPicker,
    arch_dialog,
    describe_source,
    guess_arch,
    model_dialog,
    stored_arch,
    supported_archs,
    supported_tags,
)
from vitviz.state import AppState
from vitviz.vit import save_checkpoint


def test_describe_sources(tmp_path):
    path = tmp_path / "mine.safetensors"
    path.write_bytes(b"")
    assert describe_source("demo") == DEMO_LABEL
    assert describe_source(str(path)) == "File: mine.safetensors"
    assert describe_source("vit_base_patch16_224.augreg_in1k") == "vit_base_patch16_224.augreg_in1k"


def test_picker_lists_models_and_writes_the_source(qtbot):
    state = AppState()
    picker = ModelPicker(state)
    qtbot.addWidget(picker)
    texts = [picker.itemText(i) for i in range(picker.count())]
    assert texts[0] == DEMO_LABEL
    assert texts[-2:] == [MORE_MODELS, OPEN_CHECKPOINT]
    picker.remember("vit_small_patch16_224.augreg_in21k")
    index = picker.sources.index("vit_small_patch16_224.augreg_in21k")
    picker.setCurrentIndex(index)
    picker.activated.emit(index)
    assert state.inputs.model_source == "vit_small_patch16_224.augreg_in21k"
    state.inputs.model_source = "demo"  # put back by the controller after a failure
    assert picker.currentData() == "demo"


def test_picker_asks_for_dialogs_without_changing_the_model(qtbot):
    state = AppState()
    picker = ModelPicker(state)
    qtbot.addWidget(picker)
    for entry, signal in (
        (MORE_MODELS, picker.browse_requested),
        (OPEN_CHECKPOINT, picker.checkpoint_requested),
    ):
        index = picker.findData(entry)
        with qtbot.waitSignal(signal, timeout=1000):
            picker.setCurrentIndex(index)
            picker.activated.emit(index)
        assert picker.currentData() == "demo"
        assert state.inputs.model_source == "demo"


def test_model_dialog_filters_and_marks_cached_tags(qtbot, monkeypatch):
    from vitviz.vit import catalog

    monkeypatch.setattr(catalog, "is_cached", lambda tag: tag.endswith("augreg_in21k"))
    dialog = model_dialog()
    qtbot.addWidget(dialog)
    assert dialog.visible_count() == len(supported_tags()) > 100
    dialog.search.setText("vit_tiny_patch16_224.")
    assert dialog.visible_count() == 2
    assert dialog.selected() == "vit_tiny_patch16_224.augreg_in21k"
    labels = [dialog.view.model().index(r, 0).data() for r in range(dialog.visible_count())]
    assert labels[0].endswith(CACHED_MARK)
    dialog.search.setText("no such model")
    assert dialog.visible_count() == 0
    assert dialog.selected() is None


def test_checkpoint_arch_from_metadata_or_asked(qtbot, tmp_path):
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=1, num_classes=3)
    described = save_checkpoint(
        model,
        tmp_path / "run.safetensors",
        arch="vit_tiny_patch16_224",
        model_kwargs={"depth": 1, "num_classes": 3},
    )
    assert stored_arch(described) == "vit_tiny_patch16_224"
    bare = tmp_path / "vit_small_patch16_224_finetuned.pth"
    torch.save(model.state_dict(), bare)
    assert stored_arch(bare) is None
    assert stored_arch(tmp_path / "missing.safetensors") is None
    archs = supported_archs()
    assert "vit_small_patch16_224" in archs
    assert guess_arch(bare, archs) == "vit_small_patch16_224"
    dialog = arch_dialog(bare)
    qtbot.addWidget(dialog)
    assert dialog.selected() == "vit_small_patch16_224"
