"""What one forward pass of :class:`vitviz.vit.VisionTransformer` returns."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vitviz.vit.layout import TokenLayout


@dataclass
class ViTOutput:
    """Result of a forward pass.

    Attributes
    ----------
    logits : torch.Tensor or None
        ``[B, num_classes]`` class scores; None for a headless model. For distilled
        models, the mean of the class and distillation heads (as timm in eval mode).
    embedding : torch.Tensor
        ``[B, D]`` pooled features before the classifier head (after ``fc_norm``).
    attentions : tuple of torch.Tensor
        One ``[B, heads, N, N]`` attention-probability tensor per block, in block
        order; rows sum to 1 (DiffAttention: the effective map
        ``softmax1 - lambda * softmax2``). Part of the autograd graph when gradients
        are enabled. Empty when capture was turned off.
    token_norms : tuple of torch.Tensor
        One ``[B, N]`` tensor per block: the L2 norm of each token after the block.
        Empty when capture was turned off.
    pool_attention : torch.Tensor or None
        ``[B, heads, Q, N]`` attention of the latent pooling query (``global_pool='map'``)
        over the final tokens; None otherwise.
    layout : TokenLayout
        Token layout of this input (its grid follows the input size).
    """

    logits: torch.Tensor | None
    embedding: torch.Tensor
    attentions: tuple[torch.Tensor, ...]
    token_norms: tuple[torch.Tensor, ...]
    pool_attention: torch.Tensor | None
    layout: TokenLayout
