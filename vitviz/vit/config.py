"""The one dataclass that describes a :class:`~vitviz.vit.VisionTransformer`.

Field names follow timm's ``VisionTransformer`` keyword arguments, so a timm
``model_kwargs`` dict reads across; where timm passes a class (``norm_layer`` ...) we store
a short name, because a config must survive a round trip through JSON (file metadata).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from vitviz.errors import UnsupportedModelError

# The names each string field accepts.
CHOICES = {
    "norm_layer": ("layernorm", "rmsnorm"),
    "embed_norm_layer": (None, "layernorm", "rmsnorm"),
    "act_layer": ("gelu", "gelu_tanh", "quick_gelu", "silu"),
    "mlp_layer": ("mlp", "swiglu", "glu"),
    "attn_layer": ("attn", "diff"),
    "block_fn": ("block", "res_post", "parallel", "diff_parallel"),
    "global_pool": ("token", "avg", "avgmax", "max", "map"),
    "pos_embed": ("learn", "none"),
}


@dataclass(frozen=True)
class ViTConfig:
    """Structure of a plain-patch-embedding Vision Transformer (timm's names).

    Attributes
    ----------
    img_size, patch_size : tuple of int
        ``(height, width)`` the position embedding was trained for, and of one patch.
    num_classes, global_pool
        Classifier outputs (0: headless); ``token``, ``avg``, ``avgmax``, ``max``, ``map``.
    qkv_bias, qk_norm, proj_bias, scale_attn_norm, scale_mlp_norm : bool
        Biases of the qkv and output projections (and MLP), per-head q/k norm, norm before
        the attention projection / after the MLP activation.
    init_values, class_token, distilled, reg_tokens, no_embed_class
        LayerScale when set; class token; DeiT distillation token; registers; position
        embedding over the patches only (DeiT-3, DINOv2).
    pre_norm, final_norm, fc_norm
        Norm before the blocks (CLIP); a final norm; after pooling instead of before
        (None: timm's default, on for ``avg``/``avgmax``/``max``).
    norm_layer, embed_norm_layer, act_layer, mlp_layer, attn_layer, block_fn : str
        Module kinds (see ``CHOICES``): ``glu`` is a packed ``fc1`` (gate in the second
        half when ``glu_gate_last``), ``swiglu`` split ``fc1_g``/``fc1_x``; ``diff`` is
        differential attention (``diff_dual_lambda``: its two-scalar lambda); ``res_post``
        puts the norm after the branch, ``parallel`` runs attention and MLP side by side.
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
        for name in ("img_size", "patch_size"):
            value = getattr(self, name)
            pair = (value, value) if isinstance(value, int) else tuple(map(int, value))
            object.__setattr__(self, name, pair)
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise UnsupportedModelError(
                    f"{name}={getattr(self, name)!r} is not supported; use one of {allowed}."
                )
        if self.embed_dim % self.num_heads:
            raise UnsupportedModelError(
                f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}."
            )
        if self.global_pool == "token" and not self.class_token:
            raise UnsupportedModelError("global_pool='token' needs a class token.")
        if self.distilled and (self.global_pool != "token" or self.reg_tokens or self.use_fc_norm):
            raise UnsupportedModelError(
                "A distilled model (DeiT) reads its class and distillation tokens unpooled: it "
                "needs global_pool='token', and has no register tokens and no fc_norm."
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
