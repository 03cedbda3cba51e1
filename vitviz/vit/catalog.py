"""Which timm models vitviz can show, which are already downloaded, and name suggestions.

timm and the hub client are imported inside the functions: the app asks
:func:`is_cached` about the demo model on its start path, which must not pay for timm.
"""

from __future__ import annotations

import difflib
import functools
import os
from pathlib import Path

from vitviz.errors import ModelLoadError
from vitviz.vit.sources import is_demo, is_local_path

# timm modules whose entrypoints build VisionTransformer / VisionTransformerDistilled with
# a plain patch embedding; hybrids, ViTamin, EVA and the rest live in other modules.
_SUPPORTED_MODULES = frozenset({"vision_transformer", "deit"})

# Files timm fetches for a tag on the hub, most preferred first.
_HUB_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")


def is_supported_arch(arch: str) -> bool:
    """Whether vitviz's network can represent a timm architecture.

    Parameters
    ----------
    arch : str
        timm architecture name, with or without a pretrained tag.

    Returns
    -------
    bool
    """
    from timm.models import is_model_in_modules

    return is_model_in_modules(arch, _SUPPORTED_MODULES)


@functools.cache
def _supported_tags() -> tuple[str, ...]:
    import timm

    return tuple(tag for tag in timm.list_pretrained() if is_supported_arch(tag))


def supported_pretrained_tags() -> list[str]:
    """Pretrained timm tags (``arch.weights``) whose architecture vitviz supports.

    Returns
    -------
    list of str
        Sorted as timm lists them; no network access.
    """
    return list(_supported_tags())


def close_matches(name: str, count: int = 5) -> list[str]:
    """timm model or tag names closest to a mistyped one, supported ones first.

    Parameters
    ----------
    name : str
        What the user typed.
    count : int
        At most this many suggestions.

    Returns
    -------
    list of str
    """
    import timm
    from timm.models import get_arch_name

    supported = list(_supported_tags()) + sorted({get_arch_name(t) for t in _supported_tags()})
    matches = difflib.get_close_matches(name, supported, n=count, cutoff=0.6)
    if len(matches) < count:
        others = timm.list_pretrained() + timm.list_models()
        extra = difflib.get_close_matches(name, others, n=count, cutoff=0.6)
        matches += [m for m in extra if m not in matches][: count - len(matches)]
    return matches


def hub_location(source: str) -> tuple[str, str | None, tuple[str, ...]] | None:
    """``(repo_id, revision, candidate files)`` holding a source's weights on the hub.

    Parameters
    ----------
    source : str
        A pretrained timm tag (a bare architecture means its default weights) or an
        ``hf-hub:org/name[@revision]`` id.

    Returns
    -------
    tuple or None
        None for files, ``demo``, unknown names and tags without hub weights.
    """
    from timm.models import get_pretrained_cfg

    if source.startswith("hf-hub:"):
        repo_id, _, revision = source.removeprefix("hf-hub:").partition("@")
        return repo_id, revision or None, _HUB_WEIGHT_FILES
    try:
        cfg = get_pretrained_cfg(source, allow_unregistered=False)
    except (RuntimeError, ValueError):
        return None
    if cfg is None or not cfg.hf_hub_id:
        return None
    repo_id, _, revision = cfg.hf_hub_id.partition("@")
    files = (cfg.hf_hub_filename,) if cfg.hf_hub_filename else _HUB_WEIGHT_FILES
    return repo_id, revision or None, files


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers one request, decided at once.

    The hub client retries a failed connection with back-off for about 25 s per file
    (timm asks for two files): the window and the command line ask this once instead.
    Offline mode (``HF_HUB_OFFLINE=1``) says no without asking; proxies and
    ``HF_ENDPOINT`` are honoured, as the hub client honours them.
    """
    from huggingface_hub import constants, get_session

    if constants.HF_HUB_OFFLINE:
        return False
    try:
        get_session().head(constants.ENDPOINT, timeout=timeout)
    except Exception:  # DNS, refused, TLS, proxy: every failure means no
        return False
    return True


def require_hub(name: str) -> None:
    """Refuse at once, in one line, to download ``name`` when the hub is unreachable.

    Raises
    ------
    ModelLoadError
        When :func:`hub_reachable` says no.
    """
    if not hub_reachable():
        raise ModelLoadError(
            f"Could not download {name}: the Hugging Face Hub is unreachable (offline, or "
            "blocked by a proxy) and the weights are not in the local cache. Connect to the "
            "internet once to cache them, or load a local checkpoint file, or the bundled "
            "demo model ('demo')."
        )


def cached_hub_file(tag: str, cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The weights file of a pretrained timm tag in the local Hugging Face cache, if any.

    Parameters
    ----------
    tag : str
        Pretrained tag; a bare architecture name means its default weights.
    cache_dir : str or path-like, optional
        Hugging Face hub cache to look in; the default cache when not given.

    Returns
    -------
    Path or None
        None for unknown tags, tags without hub weights, and weights not downloaded yet.
    """
    from huggingface_hub import try_to_load_from_cache

    location = hub_location(tag) if not tag.startswith("hf-hub:") else None
    if location is None:
        return None
    repo_id, revision, filenames = location
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir, revision=revision)
        if isinstance(found, str):
            return Path(found)
    return None


def cached_hub_folder(hub_id: str, cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The cached snapshot of a hub repository holding timm's config and weights, if any.

    Parameters
    ----------
    hub_id : str
        ``hf-hub:org/name`` (optionally ``@revision``), or the bare repository id.
    cache_dir : str or path-like, optional
        Hugging Face hub cache to look in; the default cache when not given.

    Returns
    -------
    Path or None
        The snapshot folder, or None when the config or the weights are not cached.
    """
    from huggingface_hub import try_to_load_from_cache

    repo_id, _, revision = hub_id.removeprefix("hf-hub:").partition("@")
    config = try_to_load_from_cache(
        repo_id, "config.json", cache_dir=cache_dir, revision=revision or None
    )
    if not isinstance(config, str):
        return None
    folder = Path(config).parent
    return folder if any((folder / name).is_file() for name in _HUB_WEIGHT_FILES) else None


def is_cached(source: str, cache_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether a model source's weights are already on this machine (nothing to download).

    Looks only at the local Hugging Face cache (and, for the few tags timm fetches by
    URL, torch's checkpoint cache); never at the network.

    Parameters
    ----------
    source : str
        A pretrained tag, e.g. ``vit_base_patch16_224.augreg2_in21k_ft_in1k`` (a bare
        architecture name means its default weights); ``demo`` and local files and
        folders are always on this machine.
    cache_dir : str or path-like, optional
        Hugging Face hub cache to look in; the default cache when not given.

    Returns
    -------
    bool
        True for ``demo`` and local paths; False for unknown tags and tags without weights.
    """
    if is_demo(source) or is_local_path(source):
        return True
    if cached_hub_file(source, cache_dir) is not None:
        return True
    from timm.models import get_pretrained_cfg
    from torch.hub import get_dir

    try:
        cfg = get_pretrained_cfg(source, allow_unregistered=False)
    except RuntimeError:
        return False
    if not cfg.hf_hub_id and isinstance(cfg.url, str) and cfg.url:
        return (Path(get_dir()) / "checkpoints" / Path(cfg.url).name).is_file()
    return False
