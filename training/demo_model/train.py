"""Train the bundled demo ViT: ``python -m training.demo_model``.

Reproduces ``resources/models/demo_vit.safetensors`` from a seed on a 2-core CPU. A timm
ViT (patch 16, class token) is trained on freshly generated images, so it cannot memorise:

- most steps at low resolution on crops that keep the objects' 224 px pixel size (a
  patch sees the same detail as at test time; only the grid is smaller), then a short
  fine-tune on whole 224 px images with the position embedding resampled (progressive
  resizing / FixRes);
- token labelling (Jiang et al. 2021, "All Tokens Matter"): an auxiliary linear head, used
  only during training, predicts for every patch token which class covers it (or
  background) from the generator's masks, a dense signal that makes a small ViT learn
  fast; the shipped model is a plain timm ViT without it;
- a figure/ground head, also used only during training: every patch token predicts which
  of its 8 x 8 cells (2 x 2 pixels each) the objects cover, a dense, local signal for the
  colour- and clutter-invariant edges the patch embedding has to learn;
- a share of two-object images with half the class target on each object (CutMix-like),
  so the model ranks both objects in its top 2;
- a structured start (:mod:`training.demo_model.initialization`: sin-cos position embedding,
  DCT patch filters, mimetic attention) and a clutter curriculum (plain backgrounds
  first);
- Muon (Jordan et al. 2024; timm's implementation) for the blocks' weight matrices: the
  orthogonalised momentum update learns these shapes in about a third of AdamW's steps;
  AdamW for embeddings, heads, norms and biases; warm-up + cosine decay, label smoothing,
  gradient clipping.

One process trains (one thread) while one worker process generates the next batch, which
keeps both cores busy. The script then saves the weights (fp16, self-describing
safetensors), reloads them like the app does, measures the quality bars on held-out
images, writes the model card and prints the metrics.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import timm
import torch
import torch.nn.functional as F
from timm.layers import resample_abs_pos_embed
from timm.optim import Muon
from torch import nn
from tqdm import tqdm

from training.demo_model.initialization import structured_init_
from training.demo_model.quality import QualityReport, evaluate
from vitviz.demo.dataset import IMAGE_SIZE, generate_batch
from vitviz.demo.shapes import CLASS_NAMES
from vitviz.resources import DEMO_MODEL_PATH
from vitviz.vit import load, save_checkpoint

ARCH = "vit_tiny_patch16_224"
PATCH = 16
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
NUM_CLASSES = len(CLASS_NAMES)
BACKGROUND = NUM_CLASSES  # token label of patches no object covers


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines the shipped weights.

    Attributes
    ----------
    seed : int
        Seeds the initialisation and names the training image streams.
    depth, embed_dim, num_heads : int
        ViT shape (timm ``vit_tiny_patch16_224`` with these blocks, width and heads;
        width 128 with 2 heads of 64 learns about as much per step as width 192 and
        takes 55 % of the CPU time, so more steps fit in the 30 minutes).
    low_res : int
        Image side of the first training phase (a multiple of 16).
    low_res_zoom : float
        Object magnification in the first phase: ``224 / low_res`` draws the objects at
        their 224 px size (crops of a 224 px scene); 1 draws whole scenes at ``low_res``.
    low_res_steps, high_res_steps : int
        Optimiser steps at ``low_res`` and at 224 px.
    batch_size, high_res_batch_size : int
        Images per step in each phase.
    lr, high_res_lr : float
        Peak AdamW learning rate of each phase (cosine decay after warm-up).
    muon_lr_scale : float
        Peak Muon learning rate of the blocks' weight matrices relative to ``lr`` (Muon's
        steps are scaled to AdamW's update size first, the Moonlight convention).
    warmup_steps : int
        Linear warm-up steps of the first phase.
    weight_decay : float
        Weight decay of Muon and AdamW (not on norms, biases, tokens and position embedding).
    label_smoothing : float
        Mass moved from the target classes to all classes.
    token_label_weight : float
        Weight of the per-patch token-labelling loss.
    figure_weight : float
        Weight of the per-patch figure/ground loss (mean binary cross-entropy over the
        cells of every patch).
    two_object_fraction : float
        Share of each batch that shows two objects, with half the target on each.
    clutter_ramp : float
        Share of the low-resolution steps over which background clutter rises from none
        to full (curriculum).
    threads : int
        Torch threads of the training process (the data worker takes another core).
    precision : str
        ``"bf16"`` runs the forward pass under CPU bfloat16 autocast (about twice the
        steps per minute on CPUs with AVX-512 BF16; weights and optimiser stay float32),
        ``"fp32"`` does not.
    eval_images : int
        Held-out images per quality bar.
    """

    seed: int = 0
    depth: int = 6
    embed_dim: int = 128
    num_heads: int = 2
    low_res: int = 112
    low_res_zoom: float = 2.0
    low_res_steps: int = 6000
    high_res_steps: int = 1200
    batch_size: int = 64
    high_res_batch_size: int = 32
    lr: float = 1e-3
    high_res_lr: float = 4e-4
    muon_lr_scale: float = 3.0
    warmup_steps: int = 50
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    token_label_weight: float = 0.5
    figure_weight: float = 4.0
    two_object_fraction: float = 0.25
    clutter_ramp: float = 0.3
    threads: int = 1
    precision: str = "bf16"
    eval_images: int = 1000


def model_kwargs(config: TrainConfig) -> dict:
    """timm ``create_model`` keyword arguments of the shipped model."""
    return {
        "num_classes": NUM_CLASSES,
        "depth": config.depth,
        "embed_dim": config.embed_dim,
        "num_heads": config.num_heads,
        "img_size": IMAGE_SIZE,
    }


def pretrained_cfg() -> dict:
    """Preprocessing the shipped model expects (timm ``pretrained_cfg`` keys)."""
    return {
        "input_size": [3, IMAGE_SIZE, IMAGE_SIZE],
        "crop_pct": 1.0,
        "crop_mode": "center",
        "interpolation": "bilinear",
        "mean": list(MEAN),
        "std": list(STD),
        "num_classes": NUM_CLASSES,
    }


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """``uint8 [B, H, W, 3]`` images to normalised ``float32 [B, 3, H, W]``."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)  # [B, 3, H, W]
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


def token_targets(labels: np.ndarray, masks: np.ndarray) -> torch.Tensor:
    """Soft per-patch targets: each class by the share of the patch its object covers.

    Parameters
    ----------
    labels : ndarray
        ``int [B, K]`` class of each object.
    masks : ndarray
        ``bool [B, K, H, W]`` object pixels.

    Returns
    -------
    torch.Tensor
        ``[B, rows*cols, C+1]``; the last column is background (the uncovered share).
    """
    b, k, height, width = masks.shape
    rows, cols = height // PATCH, width // PATCH
    cover = masks.reshape(b, k, rows, PATCH, cols, PATCH).mean(axis=(3, 5))  # [B, K, rows, cols]
    cover = torch.from_numpy(cover.reshape(b, k, rows * cols)).float()  # [B, K, P]
    onehot = F.one_hot(torch.from_numpy(labels), NUM_CLASSES + 1).float()  # [B, K, C+1]
    targets = torch.einsum("bkp,bkc->bpc", cover, onehot)  # [B, P, C+1]
    targets[..., BACKGROUND] = 1.0 - targets.sum(-1)
    return targets


FIGURE_CELLS = 8  # figure/ground cells per patch side


def figure_targets(masks: np.ndarray) -> torch.Tensor:
    """Share of each cell of each patch that any object covers.

    Parameters
    ----------
    masks : ndarray
        ``bool [B, K, H, W]`` object pixels.

    Returns
    -------
    torch.Tensor
        ``[B, rows*cols, FIGURE_CELLS**2]``, cells in row-major order within the patch.
    """
    b, _, height, width = masks.shape
    rows, cols, cell = height // PATCH, width // PATCH, PATCH // FIGURE_CELLS
    union = masks.any(axis=1)  # [B, H, W]
    cover = union.reshape(b, rows, FIGURE_CELLS, cell, cols, FIGURE_CELLS, cell).mean(
        axis=(3, 6)
    )  # [B, rows, n, cols, n]
    cover = cover.transpose(0, 1, 3, 2, 4)  # [B, rows, cols, n, n]
    return torch.from_numpy(cover.reshape(b, rows * cols, FIGURE_CELLS**2)).float()


class AuxiliaryHeads(nn.Module):
    """Per-patch heads used only in training: token labels and figure/ground cells."""

    def __init__(self, embed_dim: int):
        super().__init__()
        self.tokens = nn.Linear(embed_dim, NUM_CLASSES + 1)
        self.figure = nn.Linear(embed_dim, FIGURE_CELLS**2)


class BatchStream(torch.utils.data.IterableDataset):
    """Training batches ``0 .. steps-1`` of one phase, each a pure function of its step.

    Parameters
    ----------
    seed : int
        Names the image streams of this phase.
    steps, batch_size, size : int
        Number of batches, images per batch, image side.
    two_object_fraction : float
        Share of each batch drawn from the two-object stream.
    label_smoothing : float
        Smoothing of the class targets.
    zoom : float
        Object magnification (:func:`vitviz.demo.dataset.generate`).
    clutter_ramp : int
        Steps over which background clutter rises linearly from none to full (a
        curriculum: shapes are learnt on plain backgrounds first); 0 for full clutter.
    """

    def __init__(
        self,
        seed: int,
        steps: int,
        batch_size: int,
        size: int,
        two_object_fraction: float,
        label_smoothing: float,
        zoom: float = 1.0,
        clutter_ramp: int = 0,
    ):
        super().__init__()
        self.seed, self.steps, self.batch_size, self.size = seed, steps, batch_size, size
        self.zoom, self.clutter_ramp = zoom, clutter_ramp
        self.num_two = round(batch_size * two_object_fraction)
        self.label_smoothing = label_smoothing

    def _part(self, step: int, count: int, num_objects: int):
        clutter = min(1.0, step / self.clutter_ramp) if self.clutter_ramp else 1.0
        images, labels, masks = generate_batch(
            self.seed,
            step * count,
            count,
            size=self.size,
            num_objects=num_objects,
            zoom=self.zoom,
            clutter=clutter,
        )
        # Half the class target on each object of a two-object image.
        targets = F.one_hot(torch.from_numpy(labels), NUM_CLASSES).float().mean(1)  # [b, C]
        return images, targets, token_targets(labels, masks), figure_targets(masks)

    def batch(self, step: int) -> tuple[torch.Tensor, ...]:
        """Images ``[B, 3, H, W]``, class targets ``[B, C]``, token targets ``[B, P, C+1]``
        and figure/ground targets ``[B, P, FIGURE_CELLS**2]``."""
        parts = [self._part(step, self.batch_size - self.num_two, 1)]
        if self.num_two:
            parts.append(self._part(step, self.num_two, 2))
        images = np.concatenate([p[0] for p in parts])
        targets = torch.cat([p[1] for p in parts])  # [B, C]
        eps = self.label_smoothing
        targets = targets * (1 - eps) + eps / NUM_CLASSES
        tokens = torch.cat([p[2] for p in parts])  # [B, P, C+1]
        figure = torch.cat([p[3] for p in parts])  # [B, P, cells]
        return to_tensor(images), targets, tokens, figure

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        first, stride = (0, 1) if info is None else (info.id, info.num_workers)
        for step in range(first, self.steps, stride):
            yield self.batch(step)


def _lr_factor(step: int, steps: int, warmup: int) -> float:
    """Learning rate of ``step`` relative to the peak: linear warm-up, then cosine to 0."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.5 * (1 + math.cos(math.pi * progress))


def _soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return torch.sum(-targets * F.log_softmax(logits, dim=-1), dim=-1).mean()


def build_optimizer(
    model: nn.Module, heads: AuxiliaryHeads, config: TrainConfig, lr: float
) -> torch.optim.Optimizer:
    """timm's Muon over the blocks' weight matrices, its AdamW fallback over the rest.

    Muon orthogonalises each matrix's momentum, which suits the weights that mix features
    (attention and MLP); the embeddings, tokens, heads, norms and biases are not such
    matrices and take AdamW. No weight decay on norms, biases, tokens and positions.

    Parameters
    ----------
    model, heads : torch.nn.Module
        The timm ViT and its per-patch training heads (:class:`AuxiliaryHeads`).
    config : TrainConfig
        Weight decay and the Muon learning-rate scale.
    lr : float
        Peak AdamW learning rate; Muon's is ``lr * config.muon_lr_scale``.

    Returns
    -------
    torch.optim.Optimizer
        One optimiser; each group's ``lr`` is its peak.
    """
    named = [*model.named_parameters(), *heads.named_parameters(prefix="heads")]
    matrices = [p for n, p in named if n.startswith("blocks.") and p.ndim == 2]
    chosen = {id(p) for p in matrices}
    rest = [(n, p) for n, p in named if id(p) not in chosen]
    decay = [p for n, p in rest if p.ndim > 1 and "pos_embed" not in n]
    no_decay = [p for n, p in rest if p.ndim <= 1 or "pos_embed" in n]
    fallback = {"use_fallback": True, "nesterov": False}
    return Muon(
        [
            {"params": matrices, "lr": lr * config.muon_lr_scale, "nesterov": True},
            {"params": decay, **fallback},
            {"params": no_decay, "weight_decay": 0.0, **fallback},
        ],
        lr=lr,
        weight_decay=config.weight_decay,
        betas=(0.9, 0.999),
        adjust_lr_fn="match_rms_adamw",
    )


def training_step(
    model: nn.Module,
    heads: AuxiliaryHeads,
    optimizer: torch.optim.Optimizer,
    batch: tuple[torch.Tensor, ...],
    config: TrainConfig,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One optimiser step on ``batch`` (as :meth:`BatchStream.batch` returns it).

    Parameters
    ----------
    model : torch.nn.Module
        The timm ViT, in train mode.
    heads : AuxiliaryHeads
        The per-patch training heads.
    optimizer : torch.optim.Optimizer
        Over model and heads (:func:`build_optimizer`), learning rate already set.
    batch : tuple of torch.Tensor
        Images, class targets, token targets and figure/ground targets.
    config : TrainConfig
        Precision and auxiliary loss weights.

    Returns
    -------
    logits : torch.Tensor
        ``[B, C]`` class logits of the batch, before the step.
    losses : dict of str to torch.Tensor
        The class (``"cls"``), token-labelling (``"tok"``) and figure/ground (``"fig"``)
        losses.
    """
    images, targets, tokens, figure = batch
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.precision == "bf16"):
        features = model.forward_features(images)  # [B, 1+P, D]
        logits = model.forward_head(features).float()  # [B, C]
        patches = features[:, model.num_prefix_tokens :]  # [B, P, D]
        token_logits = heads.tokens(patches).float()  # [B, P, C+1]
        figure_logits = heads.figure(patches).float()  # [B, P, cells]
    losses = {
        "cls": _soft_cross_entropy(logits, targets),
        "tok": _soft_cross_entropy(token_logits.flatten(0, 1), tokens.flatten(0, 1)),
        "fig": F.binary_cross_entropy_with_logits(figure_logits, figure),
    }
    loss = (
        losses["cls"]
        + config.token_label_weight * losses["tok"]
        + config.figure_weight * losses["fig"]
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_([*model.parameters(), *heads.parameters()], 1.0)
    optimizer.step()
    return logits, losses


def train_phase(
    model: nn.Module,
    heads: AuxiliaryHeads,
    stream: BatchStream,
    config: TrainConfig,
    *,
    peak_lr: float,
    warmup: int,
    description: str,
) -> list[tuple[int, float]]:
    """One phase of Muon + AdamW with warm-up + cosine decay over ``stream``, in place.

    Parameters
    ----------
    model : torch.nn.Module
        The timm ViT.
    heads : AuxiliaryHeads
        The per-patch training heads.
    stream : BatchStream
        The phase's batches.
    config : TrainConfig
        Weight decay, Muon scale and auxiliary loss weights.
    peak_lr : float
        Peak AdamW learning rate.
    warmup : int
        Linear warm-up steps.
    description : str
        Progress bar label.

    Returns
    -------
    list of (int, float)
        The learning curve: training accuracy on the batches' one-object images
        (exponential moving average over about 20 steps) after every tenth of the steps.
    """
    optimizer = build_optimizer(model, heads, config, peak_lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _lr_factor(step, stream.steps, warmup)
    )
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=1)
    model.train()
    progress = tqdm(loader, total=stream.steps, desc=description, unit="step", mininterval=5)
    smooth: dict[str, float] = {}
    single = stream.batch_size - stream.num_two
    every = max(1, stream.steps // 10)
    curve: list[tuple[int, float]] = []
    for step, batch in enumerate(progress):
        logits, losses = training_step(model, heads, optimizer, batch, config)
        schedule.step()
        targets = batch[1]
        accuracy = (logits[:single].argmax(-1) == targets[:single].argmax(-1)).float().mean()
        for key, value in (*losses.items(), ("acc", accuracy)):
            smooth[key] = 0.95 * smooth.get(key, value.item()) + 0.05 * value.item()
        progress.set_postfix({k: f"{v:.3f}" for k, v in smooth.items()}, refresh=False)
        if (step + 1) % every == 0 or step + 1 == stream.steps:
            curve.append((step + 1, smooth["acc"]))
    return curve


def create_model(config: TrainConfig, size: int) -> nn.Module:
    """The timm ViT of ``config`` for ``size`` px input, set up for CPU training.

    Attention runs as explicit matrix products instead of PyTorch's fused kernel: for
    these short sequences the CPU flash-attention backward pass under bfloat16 took 40 %
    of each step, and the explicit form makes a training step 1.6 times faster at 112 px
    and 1.4 times at 224 px (same maths; ``benchmarks/bench_demo_training.py``).
    """
    model = timm.create_model(ARCH, pretrained=False, **{**model_kwargs(config), "img_size": size})
    for block in model.blocks:
        block.attn.fused_attn = False
    return model


def resize_model(model: nn.Module, config: TrainConfig, size: int) -> nn.Module:
    """A copy of ``model`` for ``size`` px input, position embedding resampled (bicubic)."""
    resized = create_model(config, size)
    state = dict(model.state_dict())
    grid = size // PATCH
    state["pos_embed"] = resample_abs_pos_embed(
        state["pos_embed"], new_size=(grid, grid), num_prefix_tokens=1
    )  # [1, 1 + grid*grid, D]
    resized.load_state_dict(state)
    return resized


@dataclass
class TrainingRun:
    """A trained demo model and how it got there.

    Attributes
    ----------
    model : torch.nn.Module
        The timm ViT at 224 px, in eval mode.
    curves : dict of str to list of (int, float)
        Learning curve of each phase (see :func:`train_phase`), by phase name.
    """

    model: nn.Module
    curves: dict[str, list[tuple[int, float]]]


def train(config: TrainConfig) -> TrainingRun:
    """Train the demo model from scratch.

    Parameters
    ----------
    config : TrainConfig
        Shape, schedule and seed.

    Returns
    -------
    TrainingRun
        The model in eval mode and its learning curves.
    """
    torch.manual_seed(config.seed)
    model = create_model(config, config.low_res)
    grid = config.low_res // PATCH
    structured_init_(model, (grid, grid), config.seed)
    heads = AuxiliaryHeads(config.embed_dim)
    # Training streams are named by even seeds, one per phase; evaluation uses its own.
    low = BatchStream(
        2 * config.seed,
        config.low_res_steps,
        config.batch_size,
        config.low_res,
        config.two_object_fraction,
        config.label_smoothing,
        zoom=config.low_res_zoom,
        clutter_ramp=round(config.clutter_ramp * config.low_res_steps),
    )
    curves = {}
    curves[f"{config.low_res} px crops"] = train_phase(
        model,
        heads,
        low,
        config,
        peak_lr=config.lr,
        warmup=config.warmup_steps,
        description=f"train {config.low_res} px",
    )
    model = resize_model(model, config, IMAGE_SIZE)
    if config.high_res_steps:
        high = BatchStream(
            2 * config.seed + 1,
            config.high_res_steps,
            config.high_res_batch_size,
            IMAGE_SIZE,
            config.two_object_fraction,
            config.label_smoothing,
        )
        curves[f"{IMAGE_SIZE} px scenes"] = train_phase(
            model,
            heads,
            high,
            config,
            peak_lr=config.high_res_lr,
            warmup=max(1, config.high_res_steps // 10),
            description=f"fine-tune {IMAGE_SIZE} px",
        )
    return TrainingRun(model.eval(), curves)


def save(model: nn.Module, config: TrainConfig, path: Path) -> Path:
    """Write the weights in fp16 as a self-describing safetensors checkpoint."""
    state = {k: v.detach().half() for k, v in model.state_dict().items()}
    return save_checkpoint(
        state,
        path,
        arch=ARCH,
        model_kwargs=model_kwargs(config),
        pretrained_cfg=pretrained_cfg(),
        labels=CLASS_NAMES,
    )


@dataclass(frozen=True)
class Timing:
    """How long training took.

    Attributes
    ----------
    wall_minutes : float
        Wall-clock minutes from start to saved weights.
    cpu_minutes : float
        CPU minutes of the training process and its data workers together; on a machine
        shared with other work this, divided by the cores, is the time it needs alone.
    """

    wall_minutes: float
    cpu_minutes: float


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # finished data workers
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def _curve_lines(curves: dict[str, list[tuple[int, float]]]) -> str:
    return "\n".join(
        f"- {phase}: " + ", ".join(f"{100 * acc:.0f} % at {step}" for step, acc in curve)
        for phase, curve in curves.items()
    )


def model_card(
    config: TrainConfig,
    report: QualityReport,
    timing: Timing,
    path: Path,
    curves: dict[str, list[tuple[int, float]]],
) -> str:
    """The model card's Markdown text."""
    size_mb = path.stat().st_size / 1e6
    settings = "\n".join(f"| `{k}` | {v} |" for k, v in asdict(config).items())
    metrics = "\n".join(f"    {line}" for line in report.lines())
    return f"""# vitviz demo ViT

The bundled default model of vitviz: a small timm Vision Transformer trained from scratch
on procedurally generated images, so that its attention has something real to find.
Reproduce it with `python -m training.demo_model` (defaults below, seed {config.seed}).

## Data

224 x 224 RGB images from `vitviz.demo.dataset`, generated on the fly (every training
image is new): one object of ten classes ({", ".join(CLASS_NAMES)}) at a random position,
scale (15-45 % of the side), rotation, slight stretch and colour (solid, gradient or noisy
fill) over clutter (smooth noise, gradients, stripes, checkerboards, blends of two, and
scattered strokes), with mild blur and noise. A quarter of each batch shows two objects of
different classes (15-35 % of the side) with half the class target on each.

## Model

timm `{ARCH}` with {config.depth} blocks, width {config.embed_dim}, {config.num_heads} heads,
patch 16, class token, {NUM_CLASSES} classes, 224 x 224 input, mean/std 0.5. Weights in
fp16 safetensors ({size_mb:.1f} MB) with architecture, preprocessing and class names in
the metadata; `vitviz.vit.load("demo")` reads it.

## Training

{config.low_res_steps} steps of {config.batch_size} images at {config.low_res} px (objects
drawn {config.low_res_zoom:g}x larger than in a whole {config.low_res} px scene; background
clutter rising from none over the first {config.clutter_ramp:.0%} of the steps), then
{config.high_res_steps} steps of {config.high_res_batch_size} whole 224 px images (position
embedding resampled); structured start (sin-cos position embedding, DCT patch filters,
mimetic attention), Muon for the blocks' weight matrices (peak learning rate
{config.muon_lr_scale:g}x AdamW's) and AdamW for the rest, warm-up + cosine,
label smoothing {config.label_smoothing},
token labelling (auxiliary per-patch class loss from the generator's masks, weight
{config.token_label_weight}; the auxiliary head is not shipped), and a figure/ground head
(the objects' cover of every patch's 8 x 8 cells, weight {config.figure_weight}; not shipped
either). Measured time: {timing.wall_minutes:.1f} min wall clock and
{timing.cpu_minutes:.1f} CPU minutes (training process and data worker together) on
{platform.machine()} with {config.threads} torch thread(s) plus one data worker.

| setting | value |
|---|---|
{settings}

Learning curve: training accuracy on each phase's fresh one-object images (moving average
over about 20 steps) by step. The step from crops to whole scenes, where objects are
small among many more clutter patches, is where accuracy drops.

{_curve_lines(curves)}

## Metrics

Held-out generated images, measured with the app's own rollout and class maps
(`training.demo_model.quality`), against the bars the demo is meant to meet:

{metrics}

{"All bars are met." if report.meets_bars else "**Not all bars are met**: see the marked lines."}

## Limits

It knows ten flat shapes and nothing else: any other image gets one of these ten labels.
"""


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m training.demo_model", description=__doc__.splitlines()[0]
    )
    for name, value in asdict(TrainConfig()).items():
        choices = ("bf16", "fp32") if name == "precision" else None
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=type(value), default=value, choices=choices
        )
    parser.add_argument("--out", type=Path, default=DEMO_MODEL_PATH, help="weights file")
    return parser.parse_args()


def main() -> None:
    """Train, save, measure, write the model card, and print the metrics."""
    args = _parse_args()
    config = TrainConfig(**{k: getattr(args, k) for k in asdict(TrainConfig())})
    torch.set_num_threads(config.threads)
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    run = train(config)
    path = save(run.model, config, args.out)
    timing = Timing((time.perf_counter() - start) / 60, (_cpu_seconds() - cpu_start) / 60)
    print(
        f"trained in {timing.wall_minutes:.1f} min ({timing.cpu_minutes:.1f} CPU minutes); "
        f"weights: {path} ({path.stat().st_size / 1e6:.1f} MB)"
    )
    loaded, spec = load(path, device="cpu")
    report = evaluate(loaded, spec, config.eval_images, progress=lambda it: tqdm(it, "evaluate"))
    (path.parent / "MODEL_CARD.md").write_text(model_card(config, report, timing, path, run.curves))
    print("\n".join(report.lines()))
    print(json.dumps({"config": asdict(config), "timing": asdict(timing)}))


if __name__ == "__main__":
    main()
