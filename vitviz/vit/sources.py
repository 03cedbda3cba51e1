"""What kind of model source a string names: the bundled demo, a local file, a hub id, a tag.

Light on purpose (no torch, no timm): the app asks this on its start path.
"""

from __future__ import annotations

import os
from pathlib import Path

DEMO_NAME = "demo"
HUB_PREFIX = "hf-hub:"

# File names that mean "a local file" even when the file is missing, so that a typo in a
# path says "file not found" rather than "unknown model".
_CHECKPOINT_SUFFIXES = frozenset({".safetensors", ".pth", ".pt", ".bin", ".npz", ".ckpt", ".tar"})


def is_demo(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names the bundled demo model."""
    return isinstance(source, str) and source.strip() == DEMO_NAME


def is_hub_id(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` is a Hugging Face Hub id (``hf-hub:org/name``)."""
    return isinstance(source, str) and source.startswith(HUB_PREFIX)


def is_local_path(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names a local file or folder (existing or not), not a timm tag.

    Parameters
    ----------
    source : str or path-like
        A path-like object always is; a string is when it exists, has a directory part
        or starts with ``~``, or has a checkpoint suffix and is not a timm tag (timm has
        tags ending in ``.pt``, such as ``beit3_base_patch16_224.pt``).

    Returns
    -------
    bool
    """
    if not isinstance(source, str):
        return True
    path = Path(source).expanduser()
    if path.exists() or any(sep in source for sep in ("/", "\\")) or source.startswith("~"):
        return True
    if path.suffix.lower() not in _CHECKPOINT_SUFFIXES:
        return False
    # Only names with a checkpoint suffix pay for importing timm to ask.
    import timm

    return not timm.is_model(source.strip())
