"""The network: our Vision Transformer, its config, weight mapping from timm, and loading.
Importing it does not import timm (the demo model starts without); the names that need
timm are imported on first use (PEP 562)."""

from __future__ import annotations

import importlib
from typing import Any

from vitviz.vit.checkpoints import save_checkpoint
from vitviz.vit.config import ViTConfig
from vitviz.vit.hub import is_cached
from vitviz.vit.layout import TokenKind, TokenLayout
from vitviz.vit.loading import load, resolve_device
from vitviz.vit.model import VisionTransformer, ViTOutput
from vitviz.vit.spec import PretrainedSpec

_NEEDS_TIMM = {
    "from_timm": "vitviz.vit.timm",
    "supported_pretrained_tags": "vitviz.vit.timm",
}

__all__ = [
    "PretrainedSpec",
    "TokenKind",
    "TokenLayout",
    "ViTConfig",
    "ViTOutput",
    "VisionTransformer",
    "from_timm",
    "is_cached",
    "load",
    "resolve_device",
    "save_checkpoint",
    "supported_pretrained_tags",
]


def __getattr__(name: str) -> Any:
    if name not in _NEEDS_TIMM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_NEEDS_TIMM[name]), name)
