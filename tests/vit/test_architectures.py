"""Bare state dicts load with no architecture given: it is read from their names and shapes.

Each case saves a random-init timm model (2 blocks, a 10-class head) as a plain state dict,
in both file formats, with and without DDP's ``module.`` prefix, and checks that ``load``
finds a network computing timm's logits.
"""

from __future__ import annotations

import logging

import pytest
import timm
import torch
from safetensors.torch import save_file

from vitviz.errors import ModelLoadError
from vitviz.vit.architectures import exact_choices, rank_architectures
from vitviz.vit.loading import load

CASES = {
    "plain": ("vit_tiny_patch16_224", {}),
    "deit-distilled": ("deit_tiny_distilled_patch16_224", {}),
    "registers": ("vit_betwixt_patch16_reg4_gap_256", {}),
    "dinov2-no-embed-class": ("vit_small_patch14_dinov2", {}),
    "deit3-layer-scale": ("deit3_small_patch16_224", {}),
    "clip-pre-norm": ("vit_xsmall_patch16_clip_224", {}),
    "siglip-map-pool": ("vit_base_patch16_siglip_224", {}),
    "avg-pool-no-class-token": ("vit_medium_patch16_gap_256", {}),
    "qk-norm": ("vit_small_patch16_224", {"qk_norm": True}),
    "swiglu": ("aimv2_large_patch14_224", {}),
    "patch8": ("vit_small_patch8_224", {}),
    "patch32": ("vit_base_patch32_224", {}),
    "parallel-blocks": ("vit_pwee_patch16_reg1_gap_256", {}),
    "diff-attention": ("vit_dwee_patch16_reg1_gap_256", {}),
}
FILES = {
    "pth": lambda sd, path: torch.save(sd, path),
    "safetensors": lambda sd, path: save_file(sd, str(path)),
}


def random_model(arch: str, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    model = timm.create_model(arch, pretrained=False, depth=2, num_classes=10, **kwargs)
    with torch.no_grad():
        # Move norms and tokens off their init so a tensor loaded into the wrong place shows.
        for name, param in model.named_parameters():
            if "norm" in name or "token" in name or "gamma" in name:
                param.add_(torch.randn_like(param) * 0.1)
    return model.eval()


def save(model: torch.nn.Module, path, fmt: str, prefix: str) -> None:
    state = {prefix + key: value.contiguous() for key, value in model.state_dict().items()}
    FILES[fmt](state, path)


def logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = model(x)
    return out.logits if hasattr(out, "logits") else out


@pytest.mark.parametrize("case", list(CASES))
def test_bare_state_dict_loads_without_an_architecture(tmp_path, case):
    arch, kwargs = CASES[case]
    timm_model = random_model(arch, **kwargs)
    _, height, width = timm_model.pretrained_cfg["input_size"]
    x = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(1))
    expected = logits(timm_model, x)
    for fmt in FILES:
        for prefix in ("", "module."):
            path = tmp_path / f"mine-{prefix}.{fmt}"
            save(timm_model, path, fmt, prefix)
            model, spec = load(path, device="cpu")
            torch.testing.assert_close(logits(model, x), expected, msg=f"{fmt} {prefix!r}")
            assert spec.input_size == (3, height, width)
            assert spec.num_classes == 10


def test_weights_that_say_their_architecture_give_one_choice():
    weights = random_model("deit_tiny_distilled_patch16_224").state_dict()
    matches = rank_architectures(weights)
    assert matches[0].arch == "deit_tiny_distilled_patch16_224"
    assert matches[0].exact
    assert [m.arch for m in exact_choices(matches)] == ["deit_tiny_distilled_patch16_224"]


def test_weights_that_fit_networks_computing_differently_are_ambiguous(tmp_path, caplog):
    arch = "vit_base_patch16_clip_quickgelu_224"
    timm_model = random_model(arch)
    choices = [m.arch for m in exact_choices(rank_architectures(timm_model.state_dict()))]
    assert choices == ["vit_base_patch16_clip_224", arch]  # GELU or QuickGELU: shapes agree
    path = tmp_path / "clip.pth"
    save(timm_model, path, "pth", "")
    with caplog.at_level(logging.WARNING, logger="vitviz.vit.architectures"):
        model, spec = load(path, device="cpu")
    assert spec.arch == "vit_base_patch16_clip_224"
    assert arch in caplog.text
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    model, spec = load(path, arch=arch, device="cpu")
    assert spec.arch == arch
    torch.testing.assert_close(logits(model, x), logits(timm_model, x))


def test_weights_that_fit_nothing_are_refused_in_words(tmp_path):
    weights = random_model("vit_tiny_patch16_224").state_dict()
    weights["blocks.1.attn.qkv.weight"] = torch.zeros(5, 5)
    path = tmp_path / "broken.safetensors"
    save_file(weights, str(path))
    with pytest.raises(ModelLoadError, match="fit none") as info:
        load(path, device="cpu")
    assert "arch=" not in str(info.value)
