"""The network: our Vision Transformer, its config, weight mapping from timm, and loading.

The names below are imported on first use (PEP 562): the GUI's start-up path needs only
the light modules (``layout``, ``spec``, ``output``), and importing this package must not
pull in timm. Loading imports timm only for sources that need it (tags, hub ids, folders,
files without ``vitviz.config``): the bundled demo model starts the app without it.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vitviz.vit.catalog import is_cached, supported_pretrained_tags
    from vitviz.vit.checkpoint_save import save_checkpoint
    from vitviz.vit.config import ViTConfig
    from vitviz.vit.device import resolve_device
    from vitviz.vit.from_timm import from_timm
    from vitviz.vit.layout import TokenKind, TokenLayout
    from vitviz.vit.load import load
    from vitviz.vit.model import VisionTransformer
    from vitviz.vit.output import ViTOutput
    from vitviz.vit.spec import PretrainedSpec

# Public name -> the submodule that defines it.
_MODULE_OF = {
    "PretrainedSpec": "spec",
    "TokenKind": "layout",
    "TokenLayout": "layout",
    "ViTConfig": "config",
    "ViTOutput": "output",
    "VisionTransformer": "model",
    "from_timm": "from_timm",
    "is_cached": "catalog",
    "load": "load",
    "resolve_device": "device",
    "save_checkpoint": "checkpoint_save",
    "supported_pretrained_tags": "catalog",
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
    module_name = _MODULE_OF.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """Keeps ``load`` and ``from_timm`` the functions, not their same-named submodules.

    Importing ``vitviz.vit.load`` binds the submodule as the package's ``load`` attribute;
    an eager ``__init__`` rebound the function afterwards, a lazy one has to refuse it.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _MODULE_OF.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
