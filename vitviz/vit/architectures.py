"""Which timm architectures a bare state dict fits, from its parameter names and shapes alone.

A researcher's own checkpoint is often a plain ``model.state_dict()``: no architecture
name, maybe a fine-tuned head, another depth or training resolution. Every supported timm
architecture with the file's patch size is compared with the weights: our network is
built on the meta device from the architecture's config, with the head size, depth and
position-embedding grid read from the weights, and its state dict compared key for key
and shape for shape. Architectures that fit exactly and compute the same function are one
answer; fits that compute differently (a CLIP tower with QuickGELU or GELU) are a choice
only the user can make.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from vitviz.errors import ModelLoadError
from vitviz.vit.config import ViTConfig
from vitviz.vit.from_timm import config_from_timm, mlp_ratio
from vitviz.vit.model import VisionTransformer
from vitviz.vit.pretrained import spec_from_data_config
from vitviz.vit.spec import PretrainedSpec
from vitviz.vit.weights import load_weights, state_dict_differences

_log = logging.getLogger(__name__)

PATCH_KEY = "patch_embed.proj.weight"


@dataclass(frozen=True)
class ArchMatch:
    """How well one timm architecture fits a state dict.

    Attributes
    ----------
    arch : str
        timm architecture name.
    differences : int
        Missing, unexpected and mis-shaped keys together; 0 is an exact fit.
    config : ViTConfig
        The network the weights would load into (the fields the shapes say read from
        them: head size, depth, grid, MLP width, heads and qk-norm, LayerScale, qkv bias).
    changes : int
        How many of those fields differ from the architecture's own (0: native fit).
    """

    arch: str
    differences: int
    config: ViTConfig
    changes: int

    @property
    def exact(self) -> bool:
        """Every key and shape fits."""
        return self.differences == 0


def strip_wrapper_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop a prefix every key shares (``module.`` of DDP, ``model.`` of Lightning ...)."""
    if PATCH_KEY in state_dict:
        return dict(state_dict)
    prefix = next((k[: -len(PATCH_KEY)] for k in state_dict if k.endswith(f".{PATCH_KEY}")), "")
    if not prefix or not all(k.startswith(prefix) for k in state_dict):
        return dict(state_dict)
    _log.info("removing the prefix %r shared by every key", prefix)
    return {k[len(prefix) :]: v for k, v in state_dict.items()}


def rank_architectures(state_dict: Mapping[str, torch.Tensor]) -> list[ArchMatch]:
    """Supported timm architectures ranked by how well ``state_dict`` fits them.

    Parameters
    ----------
    state_dict : mapping of str to torch.Tensor
        timm-keyed weights (a shared wrapper prefix is removed first).

    Returns
    -------
    list of ArchMatch
        Exact fits first; among those, fewer fields changed from the architecture's
        own, then shorter (more generic) names. Empty when the weights have no patch
        embedding of a plain ViT.
    """
    weights = strip_wrapper_prefix(state_dict)
    patch = weights.get(PATCH_KEY)
    if patch is None or patch.ndim != 4:
        return []
    patch_size = tuple(patch.shape[2:])  # proj.weight: [D, C, ph, pw]
    matches = [
        _match(arch, config, weights)
        for arch, config in _configs(patch_size).items()
        if config.embed_dim == patch.shape[0]
    ]
    return sorted(matches, key=lambda m: (m.differences, m.changes, len(m.arch), m.arch))


def exact_choices(matches: list[ArchMatch]) -> list[ArchMatch]:
    """The closest exact fits that compute differently, best first.

    One means the weights say which network they are (its name may vary: DeiT and ViT
    share one); more than one is a choice only the user can make.
    """
    exact = [m for m in matches if m.exact]
    seen: dict[ViTConfig, ArchMatch] = {}
    for match in exact:
        if match.changes == exact[0].changes:
            seen.setdefault(_computation(match.config), match)
    return list(seen.values())


def _computation(config: ViTConfig) -> ViTConfig:
    # The native image size only sets the default input; the grid is read from the weights.
    return dataclasses.replace(config, img_size=(0, 0))


@functools.cache
def _configs(patch_size: tuple[int, int]) -> dict[str, ViTConfig]:
    """Our config of every supported architecture that may have this patch size."""
    import timm

    from vitviz.vit.catalog import supported_pretrained_tags

    archs = sorted({tag.split(".")[0] for tag in supported_pretrained_tags()})
    configs = {}
    for arch in archs:
        named = re.search(r"patch(\d+)", arch)
        if named and int(named.group(1)) != patch_size[0]:
            continue  # about a third of the builds (2.5 s alone) are skipped by the name
        with torch.device("meta"):
            timm_model = timm.create_model(arch, pretrained=False, weight_init="skip")
        config = config_from_timm(timm_model)
        if config.patch_size == patch_size:
            configs[arch] = config
    return configs


def _match(arch: str, config: ViTConfig, weights: Mapping[str, torch.Tensor]) -> ArchMatch:
    read = _read_from_weights(config, weights)
    changes = sum(getattr(config, name) != value for name, value in read.items())
    try:
        fitted = dataclasses.replace(config, **read)
        with torch.device("meta"):
            expected = VisionTransformer(fitted).state_dict()
    except (ValueError, ArithmeticError):  # UnsupportedModelError included
        return ArchMatch(arch, len(weights), config, changes)
    missing, unexpected, mismatched = state_dict_differences(expected, weights)
    return ArchMatch(arch, len(missing) + len(unexpected) + len(mismatched), fitted, changes)


def _read_from_weights(config: ViTConfig, weights: Mapping[str, torch.Tensor]) -> dict:
    """The config fields that the weights' names and shapes say, for a block layout."""
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
    return found


def best_fit(
    state_dict: Mapping[str, torch.Tensor], name: str, arch: str | None = None
) -> ArchMatch | None:
    """The architecture to load bare weights into: the one asked for, or the best fit.

    Parameters
    ----------
    state_dict : mapping of str to torch.Tensor
        The file's weights.
    name : str
        The file's name, for messages.
    arch : str, optional
        The architecture (or tag) chosen by the user.

    Returns
    -------
    ArchMatch or None
        None when ``arch`` is given but the weights do not fit it exactly (timm's own
        key converters may still map them, and list what does not fit).

    Raises
    ------
    ModelLoadError
        When no ``arch`` is given and the weights fit no supported architecture.
    """
    matches = rank_architectures(state_dict)
    if arch is not None:
        wanted = arch.split(".", 1)[0]
        return next((m for m in matches if m.arch == wanted and m.exact), None)
    choices = exact_choices(matches)
    if not choices:
        closest = f" The closest is {matches[0].arch}." if matches else ""
        raise ModelLoadError(
            f"{name} does not say which architecture it holds, and its weights fit none of "
            f"the timm Vision Transformers vitviz supports.{closest} Choose the architecture "
            "it was trained with, or save it with vitviz's save_checkpoint."
        )
    if len(choices) > 1:
        _log.warning(
            "%s fits %s equally well; loading %s",
            name,
            ", ".join(m.arch for m in choices),
            choices[0].arch,
        )
    return choices[0]


def network_for(
    match: ArchMatch, state_dict: Mapping[str, torch.Tensor], name: str
) -> tuple[VisionTransformer, PretrainedSpec]:
    """Our network with ``state_dict`` assigned, and the spec of ``match``'s architecture.

    The network is built on the meta device and takes the file's tensors as they are
    (no copy, no random init); preprocessing comes from the architecture's default
    pretrained config, at the image size the weights were trained for.
    """
    from timm.data import resolve_data_config
    from timm.models import get_pretrained_cfg

    with torch.device("meta"):
        model = VisionTransformer(match.config)
    load_weights(model, strip_wrapper_prefix(state_dict), source=name, copy=False)
    pretrained_cfg = get_pretrained_cfg(match.arch).to_dict()
    pretrained_cfg["input_size"] = (3, *match.config.img_size)
    data_config = resolve_data_config({}, pretrained_cfg=pretrained_cfg)
    spec = spec_from_data_config(
        name=name,
        arch=match.arch,
        data_config=data_config,
        pretrained_cfg=pretrained_cfg,
        num_classes=match.config.num_classes,
        vit_model=model,
    )
    return model, spec
