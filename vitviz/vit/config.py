"""The one dataclass that describes a :class:`~vitviz.vit.VisionTransformer`.

Field names follow the keyword arguments of timm's ``VisionTransformer`` so that a timm
``model_kwargs`` dict reads across directly; where timm passes a class (``norm_layer``,
``mlp_layer`` ...) we store a short name, because a config must survive a round trip
through JSON (checkpoint metadata).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from vitviz.errors import UnsupportedModelError

NORM_LAYERS = ("layernorm", "rmsnorm")
ACT_LAYERS = ("gelu", "gelu_tanh", "quick_gelu", "silu")
MLP_LAYERS = ("mlp", "swiglu", "glu")
ATTN_LAYERS = ("attn", "diff")
BLOCK_FNS = ("block", "res_post", "parallel", "diff_parallel")
GLOBAL_POOLS = ("token", "avg", "avgmax", "max", "map")
POS_EMBEDS = ("learn", "none")


@dataclass(frozen=True)
class ViTConfig:
    """Structure of a plain-patch-embedding Vision Transformer (timm's names).

    Attributes
    ----------
    img_size : tuple of int
        ``(height, width)`` the position embedding was trained for; other sizes resample it.
    patch_size : tuple of int
        ``(height, width)`` of one patch.
    in_chans : int
        Input channels.
    num_classes : int
        Classifier outputs; 0 for a headless model (``head`` is ``nn.Identity``).
    global_pool : str
        ``token`` (class token), ``avg``, ``avgmax``, ``max`` or ``map`` (latent-query
        attention pooling).
    embed_dim, depth, num_heads : int
        Width, number of blocks and attention heads.
    mlp_ratio : float
        MLP hidden width over ``embed_dim`` (timm takes ``int(embed_dim * mlp_ratio)``).
    qkv_bias, qk_norm, proj_bias : bool
        Bias of the qkv projection, norm on q and k per head, bias of the output
        projections (and of the MLP's linears).
    scale_attn_norm, scale_mlp_norm : bool
        Norm before the attention projection / after the MLP activation.
    init_values : float or None
        LayerScale is present when set (its value only matters for fresh weights).
    class_token, distilled : bool
        A class token; a DeiT distillation token with its second head.
    reg_tokens : int
        Register tokens after the class/distillation tokens.
    no_embed_class : bool
        Position embedding covers the patches only (DeiT-3, DINOv2).
    pos_embed : str
        ``learn`` or ``none``.
    pre_norm, final_norm : bool
        Norm before the blocks (CLIP); norm after the blocks.
    fc_norm : bool or None
        Final norm after pooling instead of before; None means timm's default (on for
        ``avg``/``avgmax``/``max``).
    pool_include_prefix : bool
        Pooling sees the prefix tokens too.
    norm_layer : str
        ``layernorm`` or ``rmsnorm``; ``norm_eps`` is its epsilon.
    embed_norm_layer : str or None
        Norm inside the patch embedding; ``embed_norm_eps`` is its epsilon.
    act_layer : str
        ``gelu``, ``gelu_tanh``, ``quick_gelu`` or ``silu``.
    mlp_layer : str
        ``mlp``, ``swiglu`` (split ``fc1_g``/``fc1_x``) or ``glu`` (packed ``fc1``, the
        gate in the second half when ``glu_gate_last``).
    attn_layer : str
        ``attn`` or ``diff`` (Differential attention; ``diff_dual_lambda`` picks its
        two-scalar lambda).
    block_fn : str
        ``block`` (pre-norm), ``res_post`` (norm after the branch), ``parallel`` (attention
        and MLP side by side, two output projections) or ``diff_parallel`` (the same with
        differential attention and one fused output projection).
    """

    img_size: tuple[int, int] = (224, 224)
    patch_size: tuple[int, int] = (16, 16)
    in_chans: int = 3
    num_classes: int = 1000
    global_pool: str = "token"
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    qk_norm: bool = False
    scale_attn_norm: bool = False
    scale_mlp_norm: bool = False
    proj_bias: bool = True
    init_values: float | None = None
    class_token: bool = True
    distilled: bool = False
    reg_tokens: int = 0
    no_embed_class: bool = False
    pos_embed: str = "learn"
    pre_norm: bool = False
    final_norm: bool = True
    fc_norm: bool | None = None
    pool_include_prefix: bool = False
    norm_layer: str = "layernorm"
    norm_eps: float = 1e-6
    embed_norm_layer: str | None = None
    embed_norm_eps: float = 1e-6
    act_layer: str = "gelu"
    mlp_layer: str = "mlp"
    glu_gate_last: bool = True
    attn_layer: str = "attn"
    diff_dual_lambda: bool = False
    block_fn: str = "block"

    def __post_init__(self) -> None:
        # JSON gives lists; the dataclass is frozen, hence object.__setattr__.
        object.__setattr__(self, "img_size", _pair(self.img_size))
        object.__setattr__(self, "patch_size", _pair(self.patch_size))
        for name, allowed in (
            ("norm_layer", NORM_LAYERS),
            ("act_layer", ACT_LAYERS),
            ("mlp_layer", MLP_LAYERS),
            ("attn_layer", ATTN_LAYERS),
            ("block_fn", BLOCK_FNS),
            ("global_pool", GLOBAL_POOLS),
            ("pos_embed", POS_EMBEDS),
        ):
            _check_choice(name, getattr(self, name), allowed)
        if self.embed_norm_layer is not None:
            _check_choice("embed_norm_layer", self.embed_norm_layer, NORM_LAYERS)
        if self.embed_dim % self.num_heads:
            raise UnsupportedModelError(
                f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}."
            )
        if self.global_pool == "token" and not self.class_token:
            raise UnsupportedModelError("global_pool='token' needs a class token.")
        if self.distilled and (not self.class_token or self.global_pool != "token"):
            raise UnsupportedModelError(
                "A distilled model reads its class and distillation tokens: it needs "
                "class_token=True and global_pool='token'."
            )
        if self.distilled and self.reg_tokens:
            raise UnsupportedModelError(
                "A distilled model with register tokens is not supported (timm ignores them)."
            )
        if self.distilled and self.use_fc_norm:
            raise UnsupportedModelError(
                "A distilled model's heads read unpooled tokens: it has no fc_norm."
            )

    @property
    def num_prefix_tokens(self) -> int:
        """Class + distillation + register tokens."""
        return int(self.class_token) + int(self.distilled) + self.reg_tokens

    @property
    def grid_size(self) -> tuple[int, int]:
        """Patch grid ``(rows, cols)`` at ``img_size``."""
        return (self.img_size[0] // self.patch_size[0], self.img_size[1] // self.patch_size[1])

    @property
    def use_fc_norm(self) -> bool:
        """Whether the final norm sits after pooling (timm's default rule when None)."""
        if self.fc_norm is None:
            return self.global_pool in ("avg", "avgmax", "max")
        return self.fc_norm

    @property
    def mlp_hidden_dim(self) -> int:
        """Hidden width of the MLP (timm's ``int(dim * mlp_ratio)``)."""
        return int(self.embed_dim * self.mlp_ratio)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ViTConfig:
        """Config from :meth:`to_dict` output; unknown keys are refused by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UnsupportedModelError(
                f"Unknown ViT config field(s) {unknown}; this vitviz knows {sorted(known)}."
            )
        return cls(**values)


def _pair(value: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    rows, cols = value
    return (int(rows), int(cols))


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise UnsupportedModelError(f"{name}={value!r} is not supported; use one of {allowed}.")
