import pytest
import timm
import torch
from PySide6.QtWidgets import QComboBox

from vitviz.qt.controller import ArchitectureChoiceError, Pipeline
from vitviz.qt.model_picker import (
    CACHED_MARK,
    DEMO_LABEL,
    MORE_MODELS,
    OPEN_CHECKPOINT,
    ModelPicker,
    arch_dialog,
    describe_source,
    model_dialog,
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


def test_model_dialog_filters_as_one_types_and_marks_cached_tags(qtbot, monkeypatch):
    from vitviz.vit import hub

    monkeypatch.setattr(hub, "is_cached", lambda tag: tag.endswith("augreg_in21k"))
    dialog = model_dialog()
    qtbot.addWidget(dialog)
    assert dialog.names == list(supported_tags())
    assert len(dialog.names) > 100
    assert dialog.selected() == dialog.names[0]
    typed = dialog.findChild(QComboBox).lineEdit()
    typed.clear()
    assert dialog.visible_count() == len(supported_tags())
    qtbot.keyClicks(typed, "VIT_TINY_patch16_224.")  # any case, anywhere in the name
    assert dialog.visible_count() == 2
    assert dialog.selected() == "vit_tiny_patch16_224.augreg_in21k"  # the first match
    completions = dialog.completer.completionModel()
    labels = [completions.index(row, 0).data() for row in range(2)]
    assert labels[0] == "vit_tiny_patch16_224.augreg_in21k" + CACHED_MARK
    assert not labels[1].endswith(CACHED_MARK)
    dialog.setTextValue(labels[1])  # chosen from the list
    assert dialog.selected() == "vit_tiny_patch16_224.augreg_in21k_ft_in1k"
    typed.clear()
    qtbot.keyClicks(typed, "no such model")
    assert dialog.visible_count() == 0
    assert dialog.selected() is None


def test_picker_shows_the_model_given_at_start_and_keeps_a_files_arch(qtbot, tmp_path):
    path = tmp_path / "mine.safetensors"
    path.write_bytes(b"")
    state = AppState()
    state.inputs.model_source = str(path)
    state.inputs.arch = "vit_base_patch16_clip_quickgelu_224"
    picker = ModelPicker(state)
    qtbot.addWidget(picker)
    assert picker.currentText() == "File: mine.safetensors"
    assert str(path) in picker.toolTip()
    state.inputs.model_source = "demo"
    state.inputs.arch = None
    index = picker.findData(str(path))
    picker.setCurrentIndex(index)
    picker.activated.emit(index)
    assert state.inputs.model_source == str(path)
    assert state.inputs.arch == "vit_base_patch16_clip_quickgelu_224"  # as it was opened
    state.inputs.model_source = "demo"  # a failure puts back the source, then the arch
    state.inputs.arch = None
    state.inputs.model_source = str(path)
    state.inputs.arch = "vit_base_patch16_clip_224"
    state.inputs.model_source = "demo"
    state.inputs.arch = None
    picker.activated.emit(picker.findData(str(path)))
    assert state.inputs.arch == "vit_base_patch16_clip_224"


def _bare(tmp_path, arch, name):
    torch.manual_seed(0)
    model = timm.create_model(arch, pretrained=False, depth=1, num_classes=3)
    path = tmp_path / name
    torch.save(model.state_dict(), path)
    return path


def test_the_worker_asks_for_an_architecture_only_when_the_weights_cannot_say(
    tmp_path, monkeypatch
):
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=1, num_classes=3)
    described = save_checkpoint(
        model,
        tmp_path / "run.safetensors",
        arch="vit_tiny_patch16_224",
        model_kwargs={"depth": 1, "num_classes": 3},
    )
    pipeline = Pipeline()
    pipeline.architectures(str(described))  # the file says
    pipeline.architectures(str(_bare(tmp_path, "vit_tiny_patch16_224", "finetuned.pth")))
    pipeline.architectures("vit_tiny_patch16_224.augreg_in21k")  # a tag, not a file
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").write_text("a file called demo")
    pipeline.architectures("demo")  # the bundled model, whatever lies in the folder
    clip = _bare(tmp_path, "vit_base_patch16_clip_quickgelu_224", "clip.pth")
    with pytest.raises(ArchitectureChoiceError) as raised:
        pipeline.architectures(str(clip))
    assert raised.value.choices == (
        "vit_base_patch16_clip_224",
        "vit_base_patch16_clip_quickgelu_224",
    )


def test_arch_dialog_lists_only_the_choices_best_first(qtbot, tmp_path):
    dialog = arch_dialog(tmp_path / "clip.pth", ["vit_b_clip", "vit_b_clip_quickgelu"])
    qtbot.addWidget(dialog)
    assert dialog.findChild(QComboBox).count() == 2
    assert dialog.selected() == "vit_b_clip"
    everything = arch_dialog(tmp_path / "weights.npz", [])
    qtbot.addWidget(everything)
    assert everything.findChild(QComboBox).count() == len(supported_archs())
