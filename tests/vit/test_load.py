"""Loading models: every file format round-trips through ``load``, every bad input is refused.

Checkpoints are written by the tests from small random-init timm models; nothing here
touches the network (the hub-unreachable cases force offline mode).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import zipfile
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub.constants
import numpy as np
import pytest
import timm
import torch
from huggingface_hub.errors import EntryNotFoundError, GatedRepoError, RepositoryNotFoundError
from safetensors.torch import save_file

from vitviz.errors import ModelLoadError, UnsupportedModelError
from vitviz.resources import DEMO_MODEL_PATH
from vitviz.vit import loading
from vitviz.vit.checkpoints import save_checkpoint
from vitviz.vit.hub import hub_errors
from vitviz.vit.loading import class_labels, load, resolve_device, resolve_dtype

ARCH = "vit_tiny_patch16_224"
# Small enough to build in milliseconds: 2 blocks, a 2 x 3 patch grid, 5 classes.
SMALL = {"depth": 2, "img_size": (32, 48), "num_classes": 5}
LABELS = ["cat", "dog", "owl", "fox", "elk"]
CFG = {
    "input_size": [3, 32, 48],
    "crop_pct": 1.0,
    "crop_mode": "squash",
    "interpolation": "bilinear",
    "mean": [0.1, 0.2, 0.3],
    "std": [0.4, 0.5, 0.6],
}


@pytest.fixture(scope="module")
def timm_model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = timm.create_model(ARCH, pretrained=False, **SMALL).eval()
    with torch.no_grad():
        # Move norms and tokens off their init so a key mapped to the wrong place shows.
        for name, param in model.named_parameters():
            if "norm" in name or "token" in name:
                param.add_(torch.randn_like(param) * 0.1)
    return model


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return torch.randn(2, 3, 32, 48, generator=torch.Generator().manual_seed(1))


def _logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = model(x)
    return out.logits if hasattr(out, "logits") else out


def _assert_same_model(model, timm_model, image) -> None:
    torch.testing.assert_close(_logits(model, image), _logits(timm_model, image))


def _square_model() -> torch.nn.Module:
    """A model with a square grid (the shape a raw file's position embedding can tell)."""
    torch.manual_seed(2)
    return timm.create_model(ARCH, pretrained=False, depth=2, img_size=32, num_classes=3).eval()


# --- round trips -------------------------------------------------------------------------


def test_self_describing_safetensors_round_trip(tmp_path, timm_model, image):
    path = save_checkpoint(
        timm_model,
        tmp_path / "mine.safetensors",
        arch=ARCH,
        model_kwargs=SMALL,
        pretrained_cfg=CFG,
        labels=LABELS,
    )
    model, spec = load(path, device="cpu")
    _assert_same_model(model, timm_model, image)
    assert spec.name == "mine.safetensors"
    assert spec.arch == ARCH
    assert spec.labels == tuple(LABELS)
    assert spec.label_source == "checkpoint"
    assert spec.input_size == (3, 32, 48)
    assert (spec.crop_pct, spec.crop_mode, spec.interpolation) == (1.0, "squash", "bilinear")
    assert spec.mean == pytest.approx((0.1, 0.2, 0.3))
    assert spec.std == pytest.approx((0.4, 0.5, 0.6))
    assert spec.patch_size == (16, 16)
    assert spec.layout.grid == (2, 3)
    assert (spec.layout.num_class, spec.layout.num_dist, spec.layout.num_reg) == (1, 0, 0)
    assert not any(p.requires_grad and p.grad is not None for p in model.parameters())
    assert not model.training


def test_save_checkpoint_writes_json_metadata(tmp_path, timm_model):
    from safetensors import safe_open

    path = save_checkpoint(
        timm_model.state_dict(), tmp_path / "m.safetensors", arch=ARCH, model_kwargs=SMALL
    )
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    assert json.loads(metadata["vitviz.arch"]) == ARCH
    assert json.loads(metadata["vitviz.model_kwargs"]) == {
        "depth": 2,
        "img_size": [32, 48],
        "num_classes": 5,
    }
    # The architecture's preprocessing, resolved as timm does for the saved size.
    assert json.loads(metadata["vitviz.pretrained_cfg"]) == {
        "input_size": [3, 32, 48],
        "crop_pct": 0.9,
        "crop_mode": "center",
        "interpolation": "bicubic",
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
    }
    config = json.loads(metadata["vitviz.config"])
    assert (config["depth"], config["img_size"], config["num_classes"]) == (2, [32, 48], 5)
    assert "vitviz.labels" not in metadata
    assert not list(tmp_path.glob(".m.safetensors.*"))  # no temporary file left behind


def test_saved_checkpoint_has_the_permissions_of_a_plain_write(tmp_path, timm_model):
    umask = os.umask(0o022)
    try:
        path = save_checkpoint(timm_model, tmp_path / "m.safetensors", arch=ARCH)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_unknown_pretrained_cfg_fields_are_ignored(tmp_path, timm_model):
    path = save_checkpoint(
        timm_model,
        tmp_path / "m.safetensors",
        arch=ARCH,
        model_kwargs=SMALL,
        pretrained_cfg={**CFG, "trained_by": "me"},
    )
    _, spec = load(path, device="cpu")
    assert spec.mean == pytest.approx((0.1, 0.2, 0.3))


def test_input_size_is_floored_to_whole_patches(tmp_path, timm_model):
    # As for SigLIP so400m/14 configured at 384 px: timm's convolution drops the remainder.
    cfg = {**CFG, "input_size": [3, 40, 56]}
    path = save_checkpoint(
        timm_model, tmp_path / "m.safetensors", arch=ARCH, model_kwargs=SMALL, pretrained_cfg=cfg
    )
    _, spec = load(path, device="cpu")
    assert spec.input_size == (3, 32, 48)
    assert spec.layout.grid == (2, 3)


def test_fp16_safetensors_loads_as_fp32(tmp_path, timm_model, image):
    half = {k: v.half() for k, v in timm_model.state_dict().items()}
    path = save_checkpoint(half, tmp_path / "half.safetensors", arch=ARCH, model_kwargs=SMALL)
    model, _ = load(path, device="cpu")
    assert all(p.dtype == torch.float32 for p in model.parameters())
    reference = timm.create_model(ARCH, pretrained=False, **SMALL).eval()
    reference.load_state_dict({k: v.float() for k, v in half.items()})
    _assert_same_model(model, reference, image)


def test_plain_safetensors_with_arch_infers_head_depth_and_size(tmp_path, image):
    timm_model = _square_model()
    save_file(timm_model.state_dict(), str(tmp_path / "plain.safetensors"))
    model, spec = load(tmp_path / "plain.safetensors", arch=ARCH, device="cpu")
    _assert_same_model(model, timm_model, image[..., :32])
    assert spec.input_size == (3, 32, 32)
    assert spec.labels == ("class 0", "class 1", "class 2")
    assert spec.label_source == "generic"


def test_pth_state_dict_round_trip(tmp_path, image):
    timm_model = _square_model()
    torch.save(timm_model.state_dict(), tmp_path / "weights.pth")
    model, _ = load(str(tmp_path / "weights.pth"), arch=ARCH, device="cpu")
    _assert_same_model(model, timm_model, image[..., :32])


def test_pt_with_model_wrapper_and_module_prefix(tmp_path, image):
    timm_model = _square_model()
    wrapped = {f"module.{k}": v for k, v in timm_model.state_dict().items()}
    torch.save({"model": wrapped, "epoch": 7}, tmp_path / "ddp.pt")
    model, _ = load(tmp_path / "ddp.pt", arch=ARCH, device="cpu")
    _assert_same_model(model, timm_model, image[..., :32])


def test_lightning_checkpoint_with_a_shared_key_prefix(tmp_path, image):
    timm_model = _square_model()
    prefixed = {f"model.backbone.{k}": v for k, v in timm_model.state_dict().items()}
    torch.save({"state_dict": prefixed, "global_step": 10}, tmp_path / "last.ckpt")
    model, _ = load(tmp_path / "last.ckpt", arch=ARCH, device="cpu")
    _assert_same_model(model, timm_model, image[..., :32])


def test_timm_training_checkpoint_gives_its_arch(tmp_path, image):
    timm_model = _square_model()
    checkpoint = {
        "epoch": 3,
        "arch": ARCH,
        "state_dict": timm_model.state_dict(),
        "args": argparse.Namespace(lr=0.1),
    }
    torch.save(checkpoint, tmp_path / "checkpoint-3.pth.tar")
    model, spec = load(tmp_path / "checkpoint-3.pth.tar", device="cpu")
    _assert_same_model(model, timm_model, image[..., :32])
    assert spec.arch == ARCH


def test_legacy_bin_round_trip(tmp_path, image):
    timm_model = _square_model()
    path = tmp_path / "pytorch_model.bin"
    torch.save(timm_model.state_dict(), path, _use_new_zipfile_serialization=False)
    model, _ = load(path, arch=ARCH, device="cpu")
    _assert_same_model(model, timm_model, image[..., :32])


def _to_google_npz(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """The layout of the original Google ViT ``.npz`` files (inverse of timm's converter)."""
    dim = model.embed_dim
    heads = model.blocks[0].attn.num_heads

    def t(x: torch.Tensor) -> np.ndarray:
        return x.detach().numpy().copy()

    w = {
        "embedding/kernel": t(model.patch_embed.proj.weight.permute(2, 3, 1, 0)),  # HWIO
        "embedding/bias": t(model.patch_embed.proj.bias),
        "cls": t(model.cls_token),
        "Transformer/posembed_input/pos_embedding": t(model.pos_embed),
        "Transformer/encoder_norm/scale": t(model.norm.weight),
        "Transformer/encoder_norm/bias": t(model.norm.bias),
        "head/kernel": t(model.head.weight.T),
        "head/bias": t(model.head.bias),
    }
    for i, block in enumerate(model.blocks):
        p = f"Transformer/encoderblock_{i}/"
        mha = p + "MultiHeadDotProductAttention_1/"
        w[p + "LayerNorm_0/scale"], w[p + "LayerNorm_0/bias"] = (
            t(block.norm1.weight),
            t(block.norm1.bias),
        )
        w[p + "LayerNorm_2/scale"], w[p + "LayerNorm_2/bias"] = (
            t(block.norm2.weight),
            t(block.norm2.bias),
        )
        qkv_w = block.attn.qkv.weight.chunk(3)  # 3 x [D, D]
        qkv_b = block.attn.qkv.bias.chunk(3)
        for n, name in enumerate(("query", "key", "value")):
            w[mha + f"{name}/kernel"] = t(qkv_w[n].T.reshape(dim, heads, dim // heads))
            w[mha + f"{name}/bias"] = t(qkv_b[n].reshape(heads, dim // heads))
        w[mha + "out/kernel"] = t(block.attn.proj.weight.reshape(dim, heads, -1).permute(1, 2, 0))
        w[mha + "out/bias"] = t(block.attn.proj.bias)
        for r, fc in enumerate((block.mlp.fc1, block.mlp.fc2)):
            w[p + f"MlpBlock_3/Dense_{r}/kernel"] = t(fc.weight.T)
            w[p + f"MlpBlock_3/Dense_{r}/bias"] = t(fc.bias)
    return w


def test_google_npz_round_trip(tmp_path, image):
    timm_model = _square_model()
    np.savez(tmp_path / "ViT-Ti_16.npz", **_to_google_npz(timm_model))
    model, spec = load(tmp_path / "ViT-Ti_16.npz", arch=ARCH, device="cpu")
    _assert_same_model(model, timm_model, image[..., :32])
    assert spec.input_size == (3, 32, 32)


def test_hub_style_folder_round_trip(tmp_path, timm_model, image):
    timm.models.save_for_hf(timm_model, tmp_path / "my-vit", safe_serialization=True)
    model, spec = load(tmp_path / "my-vit", device="cpu")
    _assert_same_model(model, timm_model, image)
    assert spec.name == "my-vit"
    assert spec.input_size == (3, 32, 48)


def _perturbed(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.02)
    return model.eval()


def test_original_dinov2_checkpoint_is_converted(tmp_path, image):
    torch.manual_seed(4)
    arch = "vit_small_patch14_dinov2"
    timm_model = _perturbed(timm.create_model(arch, pretrained=False, depth=2, img_size=28))
    # facebookresearch/dinov2 keeps the masked-modelling token in its state dict.
    original = dict(timm_model.state_dict(), mask_token=torch.zeros(1, 384))
    torch.save(original, tmp_path / "dinov2_vits14_pretrain.pth")
    model, spec = load(tmp_path / "dinov2_vits14_pretrain.pth", arch=arch, device="cpu")
    x = image[..., :28, :28]
    with torch.no_grad():
        torch.testing.assert_close(model(x).embedding, timm_model(x))
    assert spec.labels is None
    assert spec.label_source == "none"


def test_original_deit3_layer_scale_names_are_converted(tmp_path, image):
    torch.manual_seed(5)
    arch = "deit3_small_patch16_224"
    timm_model = _perturbed(timm.create_model(arch, pretrained=False, depth=2, img_size=32))
    original = {
        k.replace("ls1.gamma", "gamma_1").replace("ls2.gamma", "gamma_2"): v
        for k, v in timm_model.state_dict().items()
    }
    assert "blocks.0.gamma_1" in original
    torch.save({"model": original}, tmp_path / "deit_3_small_224_1k.pth")
    model, _ = load(tmp_path / "deit_3_small_224_1k.pth", arch=arch, device="cpu")
    _assert_same_model(model, timm_model, image[..., :32])


def _to_openai_clip(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The key layout of OpenAI's CLIP checkpoints (inverse of timm's converter)."""
    sd = model.state_dict()
    out = {
        "visual.class_embedding": sd["cls_token"][0, 0],
        "visual.positional_embedding": sd["pos_embed"][0],
        "visual.conv1.weight": sd["patch_embed.proj.weight"],
        "visual.proj": sd["head.weight"].T,
        # Text-tower entries, which the image model must ignore.
        "logit_scale": torch.tensor(4.6),
        "token_embedding.weight": torch.zeros(10, 8),
    }
    names = {"norm_pre": "ln_pre", "norm.": "ln_post.", "blocks.": "transformer.resblocks."}
    names |= {"norm1": "ln_1", "norm2": "ln_2", "attn.qkv.": "attn.in_proj_"}
    names |= {"attn.proj": "attn.out_proj", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj"}
    for key, value in sd.items():
        if key in ("cls_token", "pos_embed", "patch_embed.proj.weight") or key.startswith("head"):
            continue
        for ours, theirs in names.items():
            key = key.replace(ours, theirs)
        out[f"visual.{key}"] = value
    return out


def test_original_openai_clip_checkpoint_is_converted(tmp_path):
    torch.manual_seed(6)
    tag = "vit_base_patch32_clip_224.openai"
    timm_model = _perturbed(timm.create_model(tag, pretrained=False, depth=2))
    with torch.no_grad():
        timm_model.head.bias.zero_()  # CLIP's projection has no bias
    torch.save(_to_openai_clip(timm_model), tmp_path / "ViT-B-32.pt")
    model, spec = load(tmp_path / "ViT-B-32.pt", arch=tag, device="cpu")
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(7))
    _assert_same_model(model, timm_model, x)
    assert spec.mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    assert spec.label_source == "embedding"
    assert spec.labels[7] == "embedding dim 7"


def test_demo_source_loads_the_bundled_file(tmp_path, monkeypatch, timm_model, image):
    path = save_checkpoint(
        timm_model, tmp_path / "demo_vit.safetensors", arch=ARCH, model_kwargs=SMALL, labels=LABELS
    )
    monkeypatch.setattr(loading, "DEMO_MODEL_PATH", path)
    model, spec = load("demo", device="cpu")
    _assert_same_model(model, timm_model, image)
    assert spec.name == "demo"
    assert spec.labels == tuple(LABELS)


def test_bundled_demo_model_loads():
    if not DEMO_MODEL_PATH.is_file():
        pytest.skip("the demo weights are not built yet (python -m training.demo_model)")
    model, spec = load("demo", device="cpu")
    assert spec.labels[:3] == ("circle", "square", "triangle")
    assert spec.label_source == "checkpoint"
    height, width = spec.input_size[1:]
    assert _logits(model, torch.zeros(1, 3, height, width)).shape == (1, 10)


def test_timm_tag_without_download_keeps_its_preprocessing_and_labels():
    model, spec = load("vit_tiny_patch16_224.augreg_in21k_ft_in1k", pretrained=False, device="cpu")
    assert spec.name == "vit_tiny_patch16_224.augreg_in21k_ft_in1k"
    assert spec.input_size == (3, 224, 224)
    assert spec.mean == (0.5, 0.5, 0.5)
    assert spec.crop_pct == pytest.approx(0.9)
    assert spec.interpolation == "bicubic"
    assert spec.label_source == "imagenet-1k"
    assert len(spec.labels) == 1000
    assert spec.labels[0].startswith("tench")
    assert spec.layout.grid == (14, 14)
    assert _logits(model, torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


# --- class labels ------------------------------------------------------------------------


def test_labels_come_from_the_imagenet_subset_of_the_class_count():
    labels, source = class_labels(21843, {})
    assert source == "imagenet-21k-goog"
    assert len(labels) == 21843
    assert class_labels(11821, {})[1] == "imagenet-12k"


def test_labels_from_pretrained_config_names():
    assert class_labels(2, {"label_names": ["yes", "no"]}) == (("yes", "no"), "pretrained config")


def test_headless_model_has_no_labels():
    assert class_labels(0, {}) == (None, "none")


def test_stored_labels_must_match_the_head(tmp_path, timm_model):
    path = save_checkpoint(
        timm_model, tmp_path / "m.safetensors", arch=ARCH, model_kwargs=SMALL, labels=["a", "b"]
    )
    with pytest.raises(ModelLoadError, match="stores 2 class names but its head has 5"):
        load(path, device="cpu")


# --- device and precision ----------------------------------------------------------------


def test_auto_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


def test_auto_device_prefers_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_missing_gpu_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ModelLoadError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_unknown_device_name_is_refused():
    with pytest.raises(ModelLoadError, match="not a device name"):
        resolve_device("gpu-please")


def test_half_precision_is_offered_on_gpu_only():
    assert resolve_dtype(None, torch.device("cpu")) is torch.float32
    assert resolve_dtype("bf16", torch.device("cuda")) is torch.bfloat16
    assert resolve_dtype(torch.float16, torch.device("cuda")) is torch.float16
    with pytest.raises(ModelLoadError, match="GPUs only"):
        resolve_dtype("fp16", torch.device("cpu"))
    with pytest.raises(ModelLoadError, match="Unknown precision"):
        resolve_dtype("fp8", torch.device("cuda"))


# --- bad names ---------------------------------------------------------------------------


def test_unknown_tag_suggests_close_matches():
    with pytest.raises(ModelLoadError, match="Unknown model") as info:
        load("vit_bsae_patch16_224", device="cpu")
    assert "vit_base_patch16_224" in str(info.value)


def test_unknown_weights_tag_lists_the_real_ones():
    with pytest.raises(ModelLoadError, match="no weights 'nonexistent'") as info:
        load("vit_tiny_patch16_224.nonexistent", device="cpu")
    assert "augreg_in21k_ft_in1k" in str(info.value)


def test_unsupported_architecture_is_refused():
    with pytest.raises(UnsupportedModelError, match="resnet50 is not a model vitviz can show"):
        load("resnet50.a1_in1k", device="cpu")


def test_hybrid_vit_is_refused_before_download():
    with pytest.raises(UnsupportedModelError, match="vit_base_r50_s16_384"):
        load("vit_base_r50_s16_384.orig_in21k_ft_in1k", device="cpu")


def test_unsupported_architecture_in_file_metadata(tmp_path):
    path = tmp_path / "cnn.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"vitviz.arch": json.dumps("resnet18")})
    with pytest.raises(UnsupportedModelError, match="resnet18"):
        load(path, device="cpu")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network and an empty hub cache: every download fails fast."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))


@pytest.mark.usefixtures("offline")
def test_hub_unreachable_for_a_tag_says_so_and_suggests_a_local_file():
    with pytest.raises(ModelLoadError, match="Hugging Face Hub is unreachable") as info:
        load("vit_tiny_patch16_224.augreg_in21k_ft_in1k", device="cpu")
    assert "local checkpoint" in str(info.value)


@pytest.mark.usefixtures("offline")
def test_hub_unreachable_for_an_hf_hub_id():
    with pytest.raises(ModelLoadError, match="unreachable"):
        load("hf-hub:timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k", device="cpu")


def test_cached_tag_loads_offline_from_the_hub_cache(offline, image):
    tag = "vit_tiny_patch16_224.augreg_in21k_ft_in1k"
    torch.manual_seed(3)
    timm_model = timm.create_model(tag, pretrained=False).eval()
    # The layout huggingface_hub writes: refs/main names the snapshot holding the file.
    repo = Path(huggingface_hub.constants.HF_HUB_CACHE) / f"models--timm--{tag}"
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    save_file(timm_model.state_dict(), str(snapshot / "model.safetensors"))
    model, spec = load(tag, device="cpu")
    x = torch.nn.functional.interpolate(image, size=(224, 224))
    _assert_same_model(model, timm_model, x)
    assert spec.name == tag
    assert spec.label_source == "imagenet-1k"
    assert spec.mean == (0.5, 0.5, 0.5)


def test_cached_hf_hub_id_loads_offline(offline, timm_model, image):
    repo = Path(huggingface_hub.constants.HF_HUB_CACHE) / "models--someone--my-vit"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    timm.models.save_for_hf(timm_model, repo / "snapshots" / "abc123", safe_serialization=True)
    model, spec = load("hf-hub:someone/my-vit", device="cpu")
    _assert_same_model(model, timm_model, image)
    assert spec.name == "hf-hub:someone/my-vit"


def _hub_response() -> SimpleNamespace:
    url = "https://huggingface.co/someone/my-vit"
    return SimpleNamespace(headers={}, status_code=404, url=url, request=None)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (lambda: GatedRepoError("gated", response=_hub_response()), "gated"),
        (lambda: RepositoryNotFoundError("404", response=_hub_response()), "no repository"),
        (lambda: EntryNotFoundError("no file"), "no weights file"),
        (lambda: OSError("disk full"), "disk full"),
    ],
    ids=["gated", "no-repository", "no-weights-file", "other-os-error"],
)
def test_hub_failures_become_model_load_errors(error, message):
    with pytest.raises(ModelLoadError, match=message), hub_errors("hf-hub:someone/my-vit"):
        raise error()


def test_empty_source_is_refused():
    with pytest.raises(ModelLoadError, match="No model given"):
        load("  ", device="cpu")


# --- bad files ---------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load(tmp_path / "nope.pth", arch=ARCH, device="cpu")


def test_folder_without_config(tmp_path):
    (tmp_path / "weights").mkdir()
    with pytest.raises(ModelLoadError, match=r"folder without a config\.json"):
        load(tmp_path / "weights", arch=ARCH, device="cpu")


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty"):
        load(tmp_path / "empty.safetensors", device="cpu")


def test_truncated_safetensors(tmp_path, timm_model):
    path = save_checkpoint(timm_model, tmp_path / "t.safetensors", arch=ARCH, model_kwargs=SMALL)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="truncated or corrupt"):
        load(path, device="cpu")


def test_truncated_pth(tmp_path, timm_model):
    path = tmp_path / "t.pth"
    torch.save(timm_model.state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="truncated or corrupt"):
        load(path, arch=ARCH, device="cpu")


def test_truncated_legacy_pickle(tmp_path, timm_model):
    path = tmp_path / "t.bin"
    torch.save(timm_model.state_dict(), path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    path.write_bytes(data[:200])
    with pytest.raises(ModelLoadError, match="truncated or corrupt"):
        load(path, arch=ARCH, device="cpu")


def test_corrupt_bytes(tmp_path):
    path = tmp_path / "garbage.pth"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ModelLoadError, match="not a model checkpoint"):
        load(path, arch=ARCH, device="cpu")


def test_image_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "photo.pth"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ModelLoadError, match="PNG image"):
        load(path, arch=ARCH, device="cpu")


def test_text_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.bin"
    path.write_text("these are not weights\n")
    with pytest.raises(ModelLoadError, match="text file"):
        load(path, arch=ARCH, device="cpu")


def test_zip_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "bundle.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ModelLoadError, match="zip archive but not a checkpoint"):
        load(path, arch=ARCH, device="cpu")


def test_npz_that_is_not_a_vit(tmp_path):
    np.savez(tmp_path / "arrays.npz", a=np.zeros(3))
    with pytest.raises(ModelLoadError, match="not a Google ViT checkpoint"):
        load(tmp_path / "arrays.npz", arch=ARCH, device="cpu")


def test_pickle_without_tensors(tmp_path):
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "meta.pth")
    with pytest.raises(ModelLoadError, match="holds no tensors"):
        load(tmp_path / "meta.pth", arch=ARCH, device="cpu")


def test_file_without_architecture_is_read_from_its_weights(tmp_path, timm_model, image):
    torch.save(timm_model.state_dict(), tmp_path / "anon.pth")
    model, spec = load(tmp_path / "anon.pth", device="cpu")
    _assert_same_model(model, timm_model, image)
    assert spec.input_size == (3, 32, 48)  # the grid of its position embedding


def test_file_whose_weights_fit_nothing_asks_for_arch(tmp_path, timm_model):
    weights = dict(timm_model.state_dict())
    del weights["blocks.1.mlp.fc2.weight"]
    torch.save(weights, tmp_path / "anon.pth")
    with pytest.raises(ModelLoadError, match="Choose the architecture"):
        load(tmp_path / "anon.pth", device="cpu")


def test_corrupt_metadata_json(tmp_path, timm_model):
    path = tmp_path / "m.safetensors"
    save_file(timm_model.state_dict(), str(path), metadata={"vitviz.model_kwargs": "{depth: 2"})
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load(path, arch=ARCH, device="cpu")


class _Payload:
    """Unpickling this would run code: it must never happen."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_refused_by_weights_only_is_never_loaded_unsafely(tmp_path, timm_model):
    marker = tmp_path / "code-ran"
    path = tmp_path / "full_model.pth"
    torch.save({"model": timm_model.state_dict(), "hook": _Payload(str(marker))}, path)
    with pytest.raises(ModelLoadError, match="refused for safety") as info:
        load(path, arch=ARCH, device="cpu")
    assert any(name in str(info.value) for name in ("io.open", "builtins.open"))
    assert "safetensors" in str(info.value)
    assert not marker.exists()


def test_whole_pickled_module_is_refused_for_safety(tmp_path, timm_model):
    path = tmp_path / "model.pth"
    torch.save(timm_model, path)
    with pytest.raises(ModelLoadError, match="refused for safety") as info:
        load(path, arch=ARCH, device="cpu")
    assert "timm.models.vision_transformer.VisionTransformer" in str(info.value)
    assert "state_dict" in str(info.value)


def test_legacy_pickle_refused_for_safety(tmp_path, timm_model):
    marker = tmp_path / "code-ran"
    path = tmp_path / "legacy.pth"
    with path.open("wb") as stream:
        pickle.dump({"hook": _Payload(str(marker))}, stream, protocol=2)
    with pytest.raises(ModelLoadError, match="refused for safety"):
        load(path, arch=ARCH, device="cpu")
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol 4")
def test_protocol_4_pickle_refused_for_safety(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "p4.pth"
    with path.open("wb") as stream:
        pickle.dump({"w": [1.0], "hook": _Payload(str(marker))}, stream, protocol=4)
    # torch's safe unpickler stops at protocol 4's framing, before it names a global.
    with pytest.raises(ModelLoadError, match="refused for safety"):
        load(path, arch=ARCH, device="cpu")
    assert not marker.exists()


def test_missing_keys_are_listed(tmp_path, timm_model):
    state = timm_model.state_dict()
    del state["norm.weight"], state["blocks.1.attn.qkv.bias"]
    path = save_checkpoint(state, tmp_path / "m.safetensors", arch=ARCH, model_kwargs=SMALL)
    with pytest.raises(ModelLoadError, match="2 keys missing from the file") as info:
        load(path, device="cpu")
    assert "norm.weight" in str(info.value)
    assert "blocks.1.attn.qkv.bias" in str(info.value)


def test_unexpected_keys_are_listed(tmp_path, timm_model):
    state = dict(timm_model.state_dict(), **{"extra.proj.weight": torch.zeros(3, 3)})
    path = save_checkpoint(state, tmp_path / "m.safetensors", arch=ARCH, model_kwargs=SMALL)
    with pytest.raises(ModelLoadError, match=r"1 key not in the network: extra.proj.weight"):
        load(path, device="cpu")


def test_shape_mismatches_are_listed(tmp_path):
    state = _square_model().state_dict()
    torch.save(state, tmp_path / "tiny.pth")
    with pytest.raises(ModelLoadError, match="with another shape") as info:
        load(tmp_path / "tiny.pth", arch="vit_small_patch16_224", device="cpu")
    message = str(info.value)
    assert "cls_token (file (1, 1, 192), network (1, 1, 384))" in message
    assert "and " in message  # long lists are cut, with the count of the rest


def test_npz_for_the_wrong_architecture(tmp_path):
    np.savez(tmp_path / "ViT-Ti_16.npz", **_to_google_npz(_square_model()))
    with pytest.raises(ModelLoadError, match="do not fit vit_small_patch16_224"):
        load(tmp_path / "ViT-Ti_16.npz", arch="vit_small_patch16_224", device="cpu")


def test_npz_missing_arrays_never_leaves_random_weights(tmp_path):
    arrays = _to_google_npz(_square_model())
    del arrays["Transformer/encoder_norm/scale"]
    np.savez(tmp_path / "partial.npz", **arrays)
    with pytest.raises(ModelLoadError, match="do not fit"):
        load(tmp_path / "partial.npz", arch=ARCH, device="cpu")
