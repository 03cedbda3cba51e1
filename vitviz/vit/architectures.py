"""Which timm architectures a bare state dict fits, from its parameter names and shapes alone.

Every supported architecture with the file's patch size is built on the meta device, with
the fields the weights say (head size, depth, grid ...) read from them, and compared key
for key and shape for shape. Exact fits that compute the same function are one answer;
fits that compute differently (CLIP with QuickGELU or GELU) are the user's choice.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from vitviz.errors import ModelLoadError
from vitviz.vit.checkpoints import PATCH_KEY, state_dict_differences
from vitviz.vit.config import ViTConfig
from vitviz.vit.model import VisionTransformer
from vitviz.vit.timm import build_timm, config_from_timm, convert, mlp_ratio, supported_archs

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchMatch:
    """How well timm architecture ``arch`` fits a state dict: ``differences`` (missing,
    unexpected and mis-shaped keys), the ``config`` the weights would load into, and
    ``kwargs``: its fields read from the weights that differ from the architecture's own,
    as ``timm.create_model`` arguments."""

    arch: str
    differences: int
    config: ViTConfig
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        """Every key and shape fits."""
        return self.differences == 0


def rank_architectures(state_dict: Mapping[str, torch.Tensor]) -> list[ArchMatch]:
    """Supported timm architectures ranked by how well timm-keyed weights fit them: exact
    fits first, then fewer fields changed, then shorter (more generic) names. Empty when
    the weights have no patch embedding of a plain ViT."""
    patch = state_dict.get(PATCH_KEY)
    if patch is None or patch.ndim != 4:
        return []
    patch_size = tuple(patch.shape[2:])  # proj.weight: [D, C, ph, pw]
    matches = [
        _match(arch, config, state_dict)
        for arch, config in _configs(patch_size).items()
        if config.embed_dim == patch.shape[0]
    ]
    return sorted(matches, key=lambda m: (m.differences, len(m.kwargs), len(m.arch), m.arch))


def exact_choices(matches: list[ArchMatch]) -> list[ArchMatch]:
    """The closest exact fits that compute differently, best first: one means the weights
    say which network they are; more than one is a choice only the user can make."""
    exact = [m for m in matches if m.exact]
    seen: dict[ViTConfig, ArchMatch] = {}
    for match in exact:
        if len(match.kwargs) == len(exact[0].kwargs):
            seen.setdefault(_computation(match.config), match)
    return list(seen.values())


def _computation(config: ViTConfig) -> ViTConfig:
    # The native image size only sets the default input; the grid is read from the weights.
    return dataclasses.replace(config, img_size=(0, 0))


@functools.cache
def _configs(patch_size: tuple[int, int]) -> dict[str, ViTConfig]:
    configs = {}
    for arch in supported_archs():
        named = re.search(r"patch(\d+)", arch)
        if named and int(named.group(1)) != patch_size[0]:
            continue  # about a third of the builds (2.5 s alone) are skipped by the name
        config = config_from_timm(build_timm(arch))
        if config.patch_size == patch_size:
            configs[arch] = config
    return configs


def _match(arch: str, config: ViTConfig, weights: Mapping[str, torch.Tensor]) -> ArchMatch:
    kwargs = _read_from_weights(config, weights)
    try:
        fitted = dataclasses.replace(config, **kwargs)
        with torch.device("meta"):
            expected = VisionTransformer(fitted).state_dict()
    except (ValueError, ArithmeticError):  # UnsupportedModelError included
        return ArchMatch(arch, len(weights), config, kwargs)
    missing, unexpected, mismatched = state_dict_differences(expected, weights)
    return ArchMatch(arch, len(missing) + len(unexpected) + len(mismatched), fitted, kwargs)


def fit_kwargs(arch: str, state_dict: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """What the weights (after timm's converter) say that differs from ``arch``'s config."""
    timm_model = build_timm(arch)
    config = config_from_timm(timm_model)
    if PATCH_KEY not in state_dict:
        state_dict = convert(state_dict, timm_model, arch)
    return _read_from_weights(config, state_dict)


def _read_from_weights(config: ViTConfig, weights: Mapping[str, torch.Tensor]) -> dict:
    """The config fields that the weights' names and shapes say and that differ."""
    found: dict = {}
    if config.block_fn in ("block", "res_post"):
        found["qkv_bias"] = "blocks.0.attn.qkv.bias" in weights
        q_norm = weights.get("blocks.0.attn.q_norm.weight")  # [head_dim]
        found["qk_norm"] = q_norm is not None
        if q_norm is not None and config.embed_dim % q_norm.shape[0] == 0:
            found["num_heads"] = config.embed_dim // q_norm.shape[0]
        if config.block_fn == "block":
            has_scale = "blocks.0.ls1.gamma" in weights
            if has_scale != (config.init_values is not None):
                found["init_values"] = 1e-5 if has_scale else None
        fc1_name = "fc1_g" if config.mlp_layer == "swiglu" else "fc1"
        fc1 = weights.get(f"blocks.0.mlp.{fc1_name}.weight")  # [hidden, D]
        if fc1 is not None and fc1.ndim == 2 and fc1.shape[0] != config.mlp_hidden_dim:
            found["mlp_ratio"] = mlp_ratio(fc1.shape[0], config.embed_dim)
    head = weights.get("head.weight")
    found["num_classes"] = int(head.shape[0]) if head is not None and head.ndim == 2 else 0
    blocks = {int(k.split(".")[1]) for k in weights if re.match(r"blocks\.\d+\.", k)}
    if blocks:
        found["depth"] = max(blocks) + 1
    pos_embed = weights.get("pos_embed")
    if pos_embed is not None and pos_embed.ndim == 3 and config.pos_embed == "learn":
        prefix = 0 if config.no_embed_class else config.num_prefix_tokens
        tokens = pos_embed.shape[1] - prefix  # pos_embed: [1, prefix + rows * cols, D]
        # A flat embedding does not say its grid: the squarest one, wide rather than tall.
        rows = max(
            (r for r in range(1, math.isqrt(max(tokens, 0)) + 1) if tokens % r == 0), default=0
        )
        if rows:
            cols = tokens // rows
            found["img_size"] = (rows * config.patch_size[0], cols * config.patch_size[1])
    return {name: value for name, value in found.items() if getattr(config, name) != value}


def best_fit(state_dict: Mapping[str, torch.Tensor], name: str) -> ArchMatch:
    """The architecture that the weights of file ``name`` fit best (of several that compute
    differently, the first, with a warning; the window asks instead); a
    :class:`ModelLoadError` when they fit none."""
    matches = rank_architectures(state_dict)
    choices = exact_choices(matches)
    if not choices:
        closest = f" The closest is {matches[0].arch}." if matches else ""
        raise ModelLoadError(
            f"{name} does not say which architecture it holds, and its weights fit none of "
            f"the timm Vision Transformers vitviz supports.{closest} Choose the architecture "
            "it was trained with, or save it with vitviz's save_checkpoint."
        )
    if len(choices) > 1:
        others = ", ".join(m.arch for m in choices)
        _log.warning("%s fits %s equally well; loading %s", name, others, choices[0].arch)
    return choices[0]
