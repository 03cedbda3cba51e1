"""The network: our Vision Transformer, its config, weight mapping from timm, and loading."""

from vitviz.vit.catalog import is_cached, supported_pretrained_tags
from vitviz.vit.checkpoint_files import save_checkpoint
from vitviz.vit.config import ViTConfig
from vitviz.vit.device import resolve_device
from vitviz.vit.from_timm import from_timm
from vitviz.vit.layout import TokenKind, TokenLayout
from vitviz.vit.load import load
from vitviz.vit.model import VisionTransformer
from vitviz.vit.output import ViTOutput
from vitviz.vit.spec import PretrainedSpec

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
