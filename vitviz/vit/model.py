"""Our Vision Transformer: timm's structure, with attention returned by the forward pass.

Modules carry timm's state_dict names (``patch_embed.proj``, ``blocks.3.attn.qkv``,
``attn_pool.latent`` ...), so timm weights map 1:1 (see :func:`vitviz.vit.timm.from_timm`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vitviz.errors import AnalysisError
from vitviz.vit.attention import AttentionPoolLatent
from vitviz.vit.blocks import make_block
from vitviz.vit.config import ViTConfig
from vitviz.vit.layers import PatchEmbed, config_norm
from vitviz.vit.layout import TokenLayout


@dataclass
class ViTOutput:
    """Result of a forward pass.

    Attributes
    ----------
    logits, embedding : torch.Tensor
        ``[B, num_classes]`` scores (None when headless; distilled: the mean of both
        heads, as timm in eval mode) and ``[B, D]`` pooled features (after ``fc_norm``).
    attentions, token_norms : tuple of torch.Tensor
        Per block, ``[B, heads, N, N]`` attention probabilities (rows sum to 1; diff
        attention: ``softmax1 - λ softmax2``; in the autograd graph when gradients are on)
        and ``[B, N]`` token L2 norms after the block.
    pool_attention : torch.Tensor or None
        ``[B, heads, Q, N]`` attention of the latent pooling query (``global_pool='map'``).
    layout : TokenLayout
        Token layout of this input (its grid follows the input size).
    """

    logits: torch.Tensor | None
    embedding: torch.Tensor
    attentions: tuple[torch.Tensor, ...]
    token_norms: tuple[torch.Tensor, ...]
    pool_attention: torch.Tensor | None
    layout: TokenLayout


class VisionTransformer(nn.Module):
    """Vision Transformer of ``config`` whose forward pass returns every block's attention.

    Parameters start at constants (load weights with :func:`vitviz.vit.load` or
    :func:`vitviz.vit.from_timm`). Any input whose sides are multiples of the patch works:
    the position embedding is resampled to its grid (as timm's ``dynamic_img_size``).
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.embed_dim
        self.patch_embed = PatchEmbed(config)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if config.class_token else None
        self.dist_token = nn.Parameter(torch.zeros(1, 1, dim)) if config.distilled else None
        self.reg_token = (
            nn.Parameter(torch.zeros(1, config.reg_tokens, dim)) if config.reg_tokens else None
        )
        rows, cols = config.grid_size
        covered = 0 if config.no_embed_class else config.num_prefix_tokens
        self.pos_embed = (
            nn.Parameter(torch.zeros(1, covered + rows * cols, dim))
            if config.pos_embed == "learn"
            else None
        )
        self.norm_pre = config_norm(config, dim, config.pre_norm)
        self.blocks = nn.ModuleList(make_block(config, index) for index in range(config.depth))
        self.norm = config_norm(config, dim, config.final_norm and not config.use_fc_norm)
        self.attn_pool = AttentionPoolLatent(config) if config.global_pool == "map" else None
        self.fc_norm = config_norm(config, dim, config.final_norm and config.use_fc_norm)
        self.head = _head(config)
        self.head_dist = _head(config) if config.distilled else None

    @property
    def patch_size(self) -> tuple[int, int]:
        """``(height, width)`` of one patch in input pixels."""
        return self.config.patch_size

    @property
    def num_prefix_tokens(self) -> int:
        """Class + distillation + register tokens in front of the patches."""
        return self.config.num_prefix_tokens

    def layout_for(self, height: int, width: int) -> TokenLayout:
        """Token layout of a ``height x width`` input; AnalysisError unless whole patches."""
        patch_h, patch_w = self.patch_size
        if height < patch_h or width < patch_w or height % patch_h or width % patch_w:
            raise AnalysisError(
                f"Input of {height}x{width} pixels does not split into {patch_h}x{patch_w} "
                "patches; resize or crop it to a multiple of the patch size."
            )
        config = self.config
        return TokenLayout(
            num_class=int(config.class_token),
            num_dist=int(config.distilled),
            num_reg=config.reg_tokens,
            grid=(height // patch_h, width // patch_w),
            pool_query=config.global_pool == "map",
        )

    def forward(self, x: torch.Tensor, *, capture: bool = True) -> ViTOutput:
        """Classify ``[B, C, H, W]`` normalised images and return what happened inside.

        With ``capture`` off, attention runs through the fused kernel and the output's
        ``attentions`` and ``token_norms`` are empty, ``pool_attention`` None.
        """
        if x.ndim != 4 or x.shape[1] != self.config.in_chans:
            raise AnalysisError(
                f"Expected a [batch, {self.config.in_chans}, height, width] image tensor, "
                f"got shape {tuple(x.shape)}."
            )
        layout = self.layout_for(x.shape[-2], x.shape[-1])
        tokens = self.norm_pre(self._embed(self.patch_embed(x), layout.grid))
        attentions, token_norms = [], []
        for block in self.blocks:
            tokens, attn = block(tokens, capture)
            if capture:
                attentions.append(attn)
                token_norms.append(torch.linalg.vector_norm(tokens, dim=-1))  # [B, N]
        tokens = self.norm(tokens)
        embedding, logits, pool_attention = self._head_forward(tokens, capture)
        return ViTOutput(
            logits=logits,
            embedding=embedding,
            attentions=tuple(attentions),
            token_norms=tuple(token_norms),
            pool_attention=pool_attention,
            layout=layout,
        )

    def _embed(self, patches: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Prepend the prefix tokens, add the position embedding (resampled to ``grid``)."""
        batch = patches.shape[0]
        prefix = [
            token.expand(batch, -1, -1)
            for token in (self.cls_token, self.dist_token, self.reg_token)
            if token is not None
        ]
        if self.pos_embed is None:
            return torch.cat([*prefix, patches], dim=1)
        config = self.config
        pos_embed = self.pos_embed  # [1, (prefix +) rows * cols, D]
        if grid != config.grid_size:
            # Imported here: timm is heavy, and at the trained grid (the demo model's start
            # path) timm's resampling returns the embedding unchanged anyway.
            from timm.layers import resample_abs_pos_embed

            pos_embed = resample_abs_pos_embed(
                pos_embed,
                new_size=grid,
                old_size=config.grid_size,
                num_prefix_tokens=0 if config.no_embed_class else config.num_prefix_tokens,
            )  # [1, (prefix +) rows * cols, D]
        if config.no_embed_class:
            # DeiT-3 / DINOv2: positions cover the patches only; add, then prepend.
            return torch.cat([*prefix, patches + pos_embed], dim=1)
        return torch.cat([*prefix, patches], dim=1) + pos_embed

    def _head_forward(
        self, tokens: torch.Tensor, capture: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Pooled embedding, logits (None when headless) and pooling attention."""
        config = self.config
        if config.distilled:
            # DeiT: the class and distillation heads vote with equal weight.
            embedding = (tokens[:, 0] + tokens[:, 1]) / 2
            logits = (self.head(tokens[:, 0]) + self.head_dist(tokens[:, 1])) / 2
            return embedding, logits if config.num_classes else None, None
        pooled, pool_attention = self._pool(tokens, capture)
        embedding = self.fc_norm(pooled)
        logits = self.head(embedding) if config.num_classes else None
        return embedding, logits, pool_attention

    def _pool(
        self, tokens: torch.Tensor, capture: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        config = self.config
        if config.global_pool == "token":
            return tokens[:, 0], None
        skipped = 0 if config.pool_include_prefix else config.num_prefix_tokens
        if self.attn_pool is None:
            kept = tokens[:, skipped:]  # timm's rule for avg / max / avgmax
            if config.global_pool == "max":
                return kept.amax(dim=1), None
            if config.global_pool == "avgmax":
                return 0.5 * (kept.amax(dim=1) + kept.mean(dim=1)), None
            return kept.mean(dim=1), None
        pooled, attn = self.attn_pool(tokens[:, skipped:], capture)
        if attn is not None:
            # The query never sees skipped prefix tokens: zero columns keep N = layout's.
            attn = F.pad(attn, (skipped, 0))  # [B, H, 1, N]
        return pooled, attn


def _head(config: ViTConfig) -> nn.Module:
    if config.num_classes > 0:
        return nn.Linear(config.embed_dim, config.num_classes)
    return nn.Identity()
