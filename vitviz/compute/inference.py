"""One forward pass with attention capture, stored compactly for the panels to re-read.

The GUI re-renders every map from this result without another forward pass, so the
attention of all layers is kept, as one ``[B, L, H, N, N]`` tensor in half precision on
the CPU by default: half the memory of float32 (DINOv2-L/14 with registers at 518 px:
1.45 GB instead of 2.9 GB), and attention probabilities lose nothing visible in float16
(relative error below 1e-3). The maths in :mod:`vitviz.compute` upcasts one head at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout


@dataclass(frozen=True, eq=False)
class InferenceResult:
    """What the panels need from one forward pass, detached and off the accelerator.

    ``logits``: ``[B, C]`` float32 class scores (distilled models: the heads' mean), None
    for a headless model; ``attentions``: ``[B, L, H, N, N]`` of every block, in
    ``attention_dtype``; ``token_norms``: ``[B, L, N]`` float32 norm of every token after
    every block; ``pool_attention``: ``[B, H, Q, N]`` float32 attention of the latent
    pooling query, or None; ``layout``: the input's tokens; ``timings``: seconds of the
    ``forward`` pass (synchronised on accelerators), the ``store`` and the ``total``.
    """

    logits: torch.Tensor | None
    attentions: torch.Tensor
    token_norms: torch.Tensor
    pool_attention: torch.Tensor | None
    layout: TokenLayout
    timings: dict[str, float] = field(default_factory=dict)


def _synchronize(device: torch.device) -> None:
    if device.type != "cpu":
        torch.accelerator.synchronize(device)


def run_inference(
    model: torch.nn.Module, x: torch.Tensor, *, attention_dtype: torch.dtype = torch.float16
) -> InferenceResult:
    """Run ``model`` (in eval mode) on ``[B, 3, H, W]`` (or ``[3, H, W]``) preprocessed
    images ``x`` without gradients and keep what the panels show, on the CPU; the attention
    in ``attention_dtype`` (float32 keeps it exact).
    """
    if x.dim() == 3:
        x = x.unsqueeze(0)  # [1, 3, H, W]
    if x.dim() != 4:
        raise AnalysisError(f"expected images shaped [B, 3, H, W], got {tuple(x.shape)}")
    parameter = next(model.parameters())

    def store(tensor: torch.Tensor | None) -> torch.Tensor | None:
        return None if tensor is None else tensor.detach().to("cpu", torch.float32)

    started = time.perf_counter()
    # no_grad rather than inference_mode: the stored tensors stay ordinary tensors, which
    # callers may modify in place or feed to autograd later.
    with torch.no_grad():
        output = model(x.to(device=parameter.device, dtype=parameter.dtype))
        _synchronize(parameter.device)
        forwarded = time.perf_counter()
        if not output.attentions:
            raise AnalysisError("the model returned no attention; run it with capture=True")
        first = output.attentions[0]  # [B, H, N, N]
        shape = (first.shape[0], len(output.attentions), *first.shape[1:])  # [B, L, H, N, N]
        attentions = torch.empty(shape, dtype=attention_dtype)
        for index, attention in enumerate(output.attentions):
            attentions[:, index].copy_(attention)
        if output.token_norms:
            norms = torch.stack([n.detach().float() for n in output.token_norms], 1)  # [B, L, N]
        else:
            norms = torch.empty((first.shape[0], 0, first.shape[-1]))  # [B, 0, N]
        result = InferenceResult(
            logits=store(output.logits),
            attentions=attentions,
            token_norms=norms.cpu(),
            pool_attention=store(output.pool_attention),
            layout=output.layout,
        )
        _synchronize(parameter.device)
    stored = time.perf_counter()
    result.timings.update(
        forward=forwarded - started, store=stored - forwarded, total=stored - started
    )
    return result
