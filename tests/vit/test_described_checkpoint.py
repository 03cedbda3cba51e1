"""Checkpoints that describe their network (``vitviz.config``) load without timm, and give
exactly what loading them through timm gives.

Files are written by the tests from small random-init timm models; the old format (no
``vitviz.config``, preprocessing as given) is written with safetensors directly.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
import timm
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from vitviz.errors import ModelLoadError
from vitviz.resources import DEMO_MODEL_PATH
from vitviz.vit import loading
from vitviz.vit.checkpoints import META_CONFIG, read_checkpoint, save_checkpoint
from vitviz.vit.loading import load

ARCH = "vit_tiny_patch16_224"
SMALL = {"depth": 2, "img_size": (32, 48), "num_classes": 5}
CFG = {"crop_pct": 1.0, "interpolation": "bilinear", "mean": [0.1, 0.2, 0.3]}

# One per structural family the config must carry: plain, registers with patch-only
# position embedding and LayerScale (DINOv2), distillation token and head (DeiT), latent
# query pooling (SigLIP), and a headless model with timm's own preprocessing.
VARIANTS = {
    "plain": (ARCH, SMALL, CFG, ["a", "b", "c", "d", "e"]),
    "dinov2 registers": (
        "vit_small_patch14_reg4_dinov2",
        {"depth": 1, "img_size": 28, "num_classes": 3},
        None,
        ["x", "y", "z"],
    ),
    "deit distilled": (
        "deit_tiny_distilled_patch16_224",
        {"depth": 1, "img_size": 32, "num_classes": 4},
        {},
        None,
    ),
    "siglip map": (
        "vit_base_patch16_siglip_224",
        {"depth": 1, "img_size": 32, "num_classes": 2},
        {},
        ["yes", "no"],
    ),
    "headless": (ARCH, {"depth": 1, "img_size": 32, "num_classes": 0}, None, None),
}


def _timm_model(arch: str, kwargs: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    model = timm.create_model(arch, pretrained=False, **kwargs).eval()
    with torch.no_grad():
        # Move every parameter off its init so a weight in the wrong place shows.
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    return model


def _metadata(path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as handle:
        return handle.metadata()


def _old_format_copy(model, path, arch, kwargs, cfg, labels) -> None:
    """The file ``save_checkpoint`` wrote before ``vitviz.config``: timm builds it."""
    model_cfg = model.pretrained_cfg
    fields = ("input_size", "crop_pct", "crop_mode", "interpolation", "mean", "std", "num_classes")
    given = cfg if cfg is not None else {k: model_cfg[k] for k in fields if k in model_cfg}
    metadata = {
        "vitviz.arch": json.dumps(arch),
        "vitviz.model_kwargs": json.dumps(kwargs),
        "vitviz.pretrained_cfg": json.dumps(given),
    }
    if labels is not None:
        metadata["vitviz.labels"] = json.dumps(labels)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata=metadata)


def _run(model, x):
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_described_file_loads_as_through_timm_and_as_timm(tmp_path, monkeypatch, variant):
    arch, kwargs, cfg, labels = VARIANTS[variant]
    timm_model = _timm_model(arch, kwargs)
    (tmp_path / "new").mkdir()
    (tmp_path / "old").mkdir()
    described = save_checkpoint(
        timm_model,
        tmp_path / "new" / "m.safetensors",
        arch=arch,
        model_kwargs=kwargs,
        pretrained_cfg=cfg,
        labels=labels,
    )
    old = tmp_path / "old" / "m.safetensors"
    _old_format_copy(timm_model, old, arch, kwargs, cfg, labels)
    assert META_CONFIG in _metadata(described)
    assert read_checkpoint(described).info.describes_network
    assert not read_checkpoint(old).info.describes_network

    timm_imported = []
    monkeypatch.setattr(loading, "_described", _spy(loading._described, timm_imported))
    ours, spec = load(described, device="cpu")
    assert timm_imported == ["described"]
    through_timm, timm_spec = load(old, device="cpu")
    assert timm_imported == ["described"]  # the old file went through timm

    assert spec == timm_spec
    height, width = timm_model.patch_embed.img_size  # timm's model takes no other size
    x = torch.randn(2, 3, height, width, generator=torch.Generator().manual_seed(1))
    out, timm_out = _run(ours, x), _run(through_timm, x)
    assert len(out.attentions) == len(timm_model.blocks)
    for attention, timm_attention in zip(out.attentions, timm_out.attentions, strict=True):
        assert torch.equal(attention, timm_attention)
    if spec.num_classes:
        assert torch.equal(out.logits, timm_out.logits)
        torch.testing.assert_close(out.logits, _run(timm_model, x))
    else:
        assert out.logits is None
        torch.testing.assert_close(out.embedding, _run(timm_model, x))


def _spy(function, calls: list[str]):
    def spied(*args, **kwargs):
        calls.append("described")
        return function(*args, **kwargs)

    return spied


def test_described_file_keeps_the_preprocessing_given(tmp_path):
    path = save_checkpoint(
        _timm_model(ARCH, SMALL),
        tmp_path / "m.safetensors",
        arch=ARCH,
        model_kwargs=SMALL,
        pretrained_cfg=CFG,
    )
    stored = json.loads(_metadata(path)["vitviz.pretrained_cfg"])
    # What was given is kept; what was not is the architecture's own, resolved by timm.
    assert stored == {
        "input_size": [3, 32, 48],
        "crop_pct": 1.0,
        "crop_mode": "center",
        "interpolation": "bilinear",
        "mean": [0.1, 0.2, 0.3],
        "std": [0.5, 0.5, 0.5],
    }


def test_fp16_described_file_loads_as_fp32(tmp_path):
    timm_model = _timm_model(ARCH, SMALL)
    half = {k: v.half() for k, v in timm_model.state_dict().items()}
    path = save_checkpoint(half, tmp_path / "half.safetensors", arch=ARCH, model_kwargs=SMALL)
    assert META_CONFIG in _metadata(path)
    model, _ = load(path, device="cpu")
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert torch.equal(model.pos_embed, half["pos_embed"].float())


def test_an_explicit_other_arch_loads_through_timm(tmp_path, monkeypatch):
    path = save_checkpoint(
        _timm_model(ARCH, SMALL), tmp_path / "m.safetensors", arch=ARCH, model_kwargs=SMALL
    )

    def refuse(*_args, **_kwargs):
        raise AssertionError("the file's own description was used")

    monkeypatch.setattr(loading, "_described", refuse)
    _, spec = load(path, arch="vit_tiny_patch16_224.augreg_in21k", device="cpu")
    assert spec.arch == ARCH
    with pytest.raises(AssertionError, match="own description"):
        load(path, device="cpu")


# --- files that cannot describe their network ---------------------------------------------


def test_weights_that_do_not_fit_are_saved_without_a_config(tmp_path, caplog):
    state = _timm_model(ARCH, SMALL).state_dict()
    del state["norm.weight"]
    with caplog.at_level(logging.WARNING, logger="vitviz.vit.timm"):
        path = save_checkpoint(state, tmp_path / "m.safetensors", arch=ARCH, model_kwargs=SMALL)
    assert META_CONFIG not in _metadata(path)
    assert "norm.weight" in caplog.text
    with pytest.raises(ModelLoadError, match="1 key missing from the file"):
        load(path, device="cpu")


def test_weights_timm_converts_are_saved_without_a_config(tmp_path, caplog):
    timm_model = _timm_model(ARCH, SMALL)
    prefixed = {f"model.{k}": v for k, v in timm_model.state_dict().items()}
    with caplog.at_level(logging.WARNING, logger="vitviz.vit.timm"):
        path = save_checkpoint(prefixed, tmp_path / "m.safetensors", arch=ARCH, model_kwargs=SMALL)
    assert META_CONFIG not in _metadata(path)
    assert "timm converts these weights" in caplog.text
    model, _ = load(path, device="cpu")  # through timm, which strips the prefix
    x = torch.randn(1, 3, 32, 48, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(_run(model, x).logits, _run(timm_model, x))


# --- corrupt descriptions ------------------------------------------------------------------


def _with_config(tmp_path, text: str):
    """A good described file whose ``vitviz.config`` entry is replaced by ``text``."""
    good = save_checkpoint(
        _timm_model(ARCH, SMALL), tmp_path / "good.safetensors", arch=ARCH, model_kwargs=SMALL
    )
    checkpoint = read_checkpoint(good)
    metadata = {**_metadata(good), META_CONFIG: text}
    path = tmp_path / "bad.safetensors"
    save_file(checkpoint.state_dict, str(path), metadata=metadata)
    return path, json.loads(_metadata(good)[META_CONFIG])


def test_config_that_is_not_json_is_refused(tmp_path):
    path, _ = _with_config(tmp_path, '{"depth": 2,')
    with pytest.raises(ModelLoadError, match=r"'vitviz.config' is not valid JSON"):
        load(path, device="cpu")


def test_config_that_is_not_an_object_is_refused(tmp_path):
    path, _ = _with_config(tmp_path, "[1, 2]")
    with pytest.raises(ModelLoadError, match=r"'vitviz.config' should be a JSON dict"):
        load(path, device="cpu")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"colour": "red"}, "Unknown ViT config field"),
        ({"norm_layer": "batchnorm"}, "norm_layer='batchnorm' is not supported"),
        ({"depth": "two"}, "vitviz.config"),
        ({"num_heads": 0}, "vitviz.config"),
    ],
)
def test_config_vitviz_cannot_build_is_refused(tmp_path, change, reason):
    _, good = _with_config(tmp_path, "{}")
    path, _ = _with_config(tmp_path, json.dumps({**good, **change}))
    with pytest.raises(ModelLoadError, match="does not describe a network") as info:
        load(path, device="cpu")
    assert reason in str(info.value)
    assert "bad.safetensors" in str(info.value)


def test_config_that_disagrees_with_the_weights_is_refused(tmp_path):
    _, good = _with_config(tmp_path, "{}")
    path, _ = _with_config(tmp_path, json.dumps({**good, "depth": 3}))
    with pytest.raises(ModelLoadError, match=r"missing from the file: blocks\.2\.") as info:
        load(path, device="cpu")
    assert "re-export" in str(info.value)


# --- the bundled demo model ----------------------------------------------------------------


def test_bundled_demo_model_describes_its_network():
    if not DEMO_MODEL_PATH.is_file():
        pytest.skip("the demo weights are not built yet (python -m training.demo_model)")
    assert read_checkpoint(DEMO_MODEL_PATH).info.describes_network


def test_demo_model_loads_and_runs_without_importing_timm():
    if not DEMO_MODEL_PATH.is_file():
        pytest.skip("the demo weights are not built yet (python -m training.demo_model)")
    script = (
        "import sys\n"
        "import torch\n"
        "from vitviz.vit import load\n"
        "model, spec = load('demo', device='cpu')\n"
        "out = model(torch.zeros(1, 3, *spec.input_size[1:]))\n"
        "assert out.logits.shape == (1, len(spec.labels)), out.logits.shape\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded = set(result.stdout.split())
    assert "vitviz.vit.loading" in loaded
    assert not {"timm", "torchvision", "huggingface_hub"} & loaded
