"""Checkpoint files: reading safetensors, PyTorch pickles (``weights_only=True``, never
unsafely) and Google ``.npz``, recognised by their first bytes; one strict check of weights
against a network; writing self-describing safetensors."""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from vitviz.errors import ModelLoadError
from vitviz.vit.config import ViTConfig
from vitviz.vit.model import VisionTransformer

_log = logging.getLogger(__name__)

META_ARCH = "vitviz.arch"
META_MODEL_KWARGS = "vitviz.model_kwargs"
META_PRETRAINED_CFG = "vitviz.pretrained_cfg"
META_LABELS = "vitviz.labels"
META_CONFIG = "vitviz.config"
# The preprocessing fields of a timm pretrained config: with all of them stored (and
# ``vitviz.config``), a file loads without timm.
PREPROCESSING_FIELDS = ("input_size", "crop_pct", "crop_mode", "interpolation", "mean", "std")
# Keys under which training scripts nest the weights, tried in this order.
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "module")
# A key every plain timm ViT has, to find its state dict under a wrapper's prefix.
PATCH_KEY = "patch_embed.proj.weight"
_FORMATS_HELP = (
    "vitviz reads .safetensors, PyTorch .pth/.pt/.bin (state dicts) and Google ViT .npz files."
)
# First bytes of common files that are not checkpoints, to say what was opened instead.
_FOREIGN_SIGNATURES = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89HDF", "an HDF5 file (Keras?)"),
)


@dataclass(frozen=True)
class StoredModelInfo:
    """What a checkpoint says about itself (all optional): timm architecture and
    ``create_model`` arguments, preprocessing, class names, and ``ViTConfig.to_dict()``."""

    arch: str | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    pretrained_cfg: dict[str, Any] = field(default_factory=dict)
    labels: tuple[str, ...] | None = None
    config: dict[str, Any] | None = None

    @property
    def describes_network(self) -> bool:
        """Whether the file says all that building the network and its spec needs."""
        return (
            self.config is not None
            and self.arch is not None
            and all(name in self.pretrained_cfg for name in PREPROCESSING_FIELDS)
        )


@dataclass(frozen=True)
class CheckpointFile:
    """A checkpoint file, read: its weights (wrappers and a shared key prefix removed;
    None for a Google ``.npz``, which timm's converter reads itself) and what it says."""

    state_dict: dict[str, torch.Tensor] | None
    info: StoredModelInfo


def read_checkpoint(path: str | os.PathLike[str]) -> CheckpointFile:
    """Read a ``.safetensors``, PyTorch (``.pth``/``.pt``/``.bin``) or Google ``.npz`` file;
    :class:`ModelLoadError` says why a file is not one (missing, empty, corrupt, unsafe)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelLoadError(f"Checkpoint file {path} does not exist.")
    if not path.is_file():
        raise ModelLoadError(f"{path} is not a file; give the path of the checkpoint file itself.")
    if path.stat().st_size == 0:
        raise ModelLoadError(
            f"{path} is empty (0 bytes): the download or copy did not finish. Fetch the file again."
        )
    with path.open("rb") as stream:
        head = stream.read(16)
    if head[8:9] == b"{":  # safetensors: a little-endian u64 header length, then JSON
        return _read_safetensors(path)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _read_zip(path)
    if head.startswith(b"\x80"):  # a pickle: PyTorch's format before 1.6
        return _read_torch(path)
    raise ModelLoadError(
        f"{path} is not a model checkpoint: {_describe_foreign(path, head)}. {_FORMATS_HELP}"
    )


def _describe_foreign(path: Path, head: bytes) -> str:
    for signature, what in _FOREIGN_SIGNATURES:
        if head.startswith(signature):
            return f"it is {what}"
    if path.suffix.lower() == ".safetensors":
        return "it has a .safetensors name but no valid safetensors header (corrupt?)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "its content is not a format vitviz knows (corrupt, or another framework's)"
    return "it is a text file"


def _read_safetensors(path: Path) -> CheckpointFile:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            state_dict = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise _corrupt(path, exc) from exc
    if not state_dict:
        raise ModelLoadError(f"{path} is a safetensors file without any tensors.")
    return CheckpointFile(strip_wrapper_prefix(state_dict), parse_metadata(metadata, path))


def _read_zip(path: Path) -> CheckpointFile:
    # Both PyTorch's format and NumPy's .npz are zip archives; their members tell them apart.
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise _corrupt(path, exc) from exc
    if any(name.endswith("data.pkl") for name in names):
        return _read_torch(path)
    if names and all(name.endswith(".npy") for name in names):
        return CheckpointFile(None, StoredModelInfo())
    members = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
    raise ModelLoadError(
        f"{path} is a zip archive but not a checkpoint (it holds {members or 'nothing'}). "
        f"{_FORMATS_HELP}"
    )


def _read_torch(path: Path) -> CheckpointFile:
    try:
        # timm's training checkpoints store their arguments as argparse.Namespace; timm
        # allows that one class as well, and so do we.
        with torch.serialization.safe_globals([argparse.Namespace]):
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message names the first global it refused; a truncated file makes it
        # read garbage, typically a torch name no pickle of weights asks for.
        refused = re.search(r"Unsupported global: GLOBAL (\S+) was not", str(exc))
        unsafe = (
            not refused[1].startswith("torch.") if refused else "Unsupported operand" in str(exc)
        )
        if not unsafe:
            raise _corrupt(path, exc) from exc
        needs = f"Python objects other than tensors ({refused[1]})" if refused else "Python objects"
        raise ModelLoadError(
            f"{path} was refused for safety: it is a pickle that needs {needs}, which could run "
            "code from the file; vitviz loads pickles with torch.load(weights_only=True) only. "
            "If you trust the file, convert it once to safetensors in Python: "
            f"`ckpt = torch.load({str(path)!r}, weights_only=False)`, take its state dict "
            "(`ckpt['model']` or `ckpt.state_dict()`), then "
            "`safetensors.torch.save_file(state_dict, 'model.safetensors')`."
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise _corrupt(path, exc) from exc
    arch = None
    while isinstance(loaded, Mapping):
        if isinstance(loaded.get("arch"), str):
            arch = loaded["arch"]
        wrapper = next((k for k in _WRAPPER_KEYS if isinstance(loaded.get(k), Mapping)), None)
        if wrapper is None:
            break
        loaded = loaded[wrapper]
    if not isinstance(loaded, Mapping):
        raise ModelLoadError(
            f"{path} holds a {type(loaded).__name__}, not a state dict of tensors. "
            "Save model.state_dict() instead."
        )
    tensors = {str(k): v for k, v in loaded.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        keys = ", ".join(map(str, list(loaded)[:8]))
        raise ModelLoadError(
            f"{path} holds no tensors (top-level keys: {keys or 'none'}). Expected a state "
            "dict, or a dict with its weights under 'model' or 'state_dict'."
        )
    return CheckpointFile(strip_wrapper_prefix(tensors), StoredModelInfo(arch=arch))


def _corrupt(path: Path, exc: BaseException) -> ModelLoadError:
    return ModelLoadError(
        f"{path} could not be read ({first_line(exc)}): it is truncated or corrupt. Fetch "
        "or export it again."
    )


def first_line(exc: BaseException) -> str:
    """First line of an exception's message (torch's run to many lines of advice)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def strip_wrapper_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop a prefix every key shares (``module.`` of DDP, ``model.`` of Lightning ...)."""
    prefix = next((k[: -len(PATCH_KEY)] for k in state_dict if k.endswith(f".{PATCH_KEY}")), "")
    if PATCH_KEY in state_dict or not prefix or not all(k.startswith(prefix) for k in state_dict):
        return dict(state_dict)
    _log.info("removing the prefix %r shared by every key", prefix)
    return {k[len(prefix) :]: v for k, v in state_dict.items()}


def parse_metadata(metadata: Mapping[str, str], path: Path | None = None) -> StoredModelInfo:
    """Read the ``vitviz.*`` metadata of a safetensors file (other keys are ignored);
    :class:`ModelLoadError` for an entry that is not JSON of the expected type."""
    where = path or "checkpoint"
    values: dict[str, Any] = {}
    # Each entry is ``vitviz.<field>`` of StoredModelInfo (META_ARCH ... META_CONFIG).
    kinds = {"arch": str, "model_kwargs": dict, "pretrained_cfg": dict, "labels": list}
    for name, kind in {**kinds, "config": dict}.items():
        key = f"vitviz.{name}"
        if key not in metadata:
            continue
        try:
            values[name] = json.loads(metadata[key])
        except json.JSONDecodeError as exc:
            raise ModelLoadError(f"{where}: metadata {key!r} is not valid JSON ({exc}).") from exc
        if not isinstance(values[name], kind):
            raise ModelLoadError(
                f"{where}: metadata {key!r} should be a JSON {kind.__name__}, got "
                f"{values[name]!r:.80}."
            )
    labels = values.get("labels")
    if labels is not None:
        if not all(isinstance(label, str) for label in labels):
            raise ModelLoadError(f"{where}: metadata {META_LABELS!r} must be a list of strings.")
        values["labels"] = tuple(labels)
    return StoredModelInfo(**values)


def state_dict_differences(
    expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]
) -> tuple[list[str], list[str], list[tuple[str, tuple[int, ...], tuple[int, ...]]]]:
    """Keys the weights lack, keys the network lacks (both sorted), and
    ``(key, given shape, expected shape)`` of shared keys whose shapes differ."""
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    mismatched = [
        (key, tuple(given[key].shape), tuple(tensor.shape))
        for key, tensor in expected.items()
        if key in given and given[key].shape != tensor.shape
    ]
    return missing, unexpected, mismatched


def check_fit(
    expected: Mapping[str, torch.Tensor],
    given: Mapping[str, torch.Tensor],
    *,
    source: str,
    target: str,
    advice: str,
) -> None:
    """Refuse weights that do not fit a network key for key and shape for shape: a
    :class:`ModelLoadError` with a summary naming ``source`` and ``target``, the missing,
    unexpected and mis-shaped keys one group per line, then ``advice``."""
    missing, unexpected, mismatched = state_dict_differences(expected, given)
    if not (missing or unexpected or mismatched):
        return
    shapes = [f"{key} (file {shape}, network {wanted})" for key, shape, wanted in mismatched]
    lines = [
        f"{len(keys)} key{'s' if len(keys) != 1 else ''} {what}: {preview(keys, 10)}"
        for what, keys in (
            ("missing from the file", missing),
            ("not in the network", unexpected),
            ("with another shape", shapes),
        )
        if keys
    ]
    summary = f"The weights in {source} do not fit {target}."
    raise ModelLoadError("\n".join([summary, *lines, advice]))


def assemble(
    config: ViTConfig,
    weights: Mapping[str, torch.Tensor],
    *,
    source: str,
    target: str,
    advice: str = "",
) -> VisionTransformer:
    """Our network of ``config`` holding ``weights``: built on the meta device (no init, no
    second copy), checked by :func:`check_fit`, then given the tensors themselves."""
    with torch.device("meta"):
        model = VisionTransformer(config)
    check_fit(model.state_dict(), weights, source=source, target=target, advice=advice)
    model.load_state_dict(weights, strict=True, assign=True)
    return model


def preview(items: list[str], limit: int = 6) -> str:
    """The first ``limit`` items joined by commas, and how many more there are."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def save_checkpoint(
    weights: torch.nn.Module | Mapping[str, torch.Tensor],
    path: str | os.PathLike[str],
    *,
    arch: str | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    pretrained_cfg: Mapping[str, Any] | None = None,
    labels: list[str] | tuple[str, ...] | None = None,
) -> Path:
    """Write a self-describing ``.safetensors`` checkpoint that ``load(path)`` reads alone
    (without timm when the weights fit the architecture: then our network's config and the
    resolved preprocessing are stored too; weights that do not fit are still written).

    Parameters
    ----------
    weights : torch.nn.Module or mapping of str to torch.Tensor
        A timm model or its state dict (timm key names).
    path : str or path-like
        Where to write (atomically: a temporary file, renamed at the end).
    arch, model_kwargs, pretrained_cfg : optional
        timm architecture (or tag), ``timm.create_model`` arguments and preprocessing
        (``input_size``, ``crop_pct``, ``crop_mode``, ``interpolation``, ``mean``, ``std``);
        a timm model's own when not given, the architecture's for fields left out.
    labels : sequence of str, optional
        Class names in logit order.
    """
    from vitviz.vit.timm import describe  # timm builds the description

    model_cfg = getattr(weights, "pretrained_cfg", None) or {}
    arch = arch or model_cfg.get("architecture")
    if not arch:
        raise ModelLoadError("save_checkpoint needs the timm architecture name (arch).")
    if pretrained_cfg is None:
        fields = (*PREPROCESSING_FIELDS, "num_classes")
        pretrained_cfg = {k: model_cfg[k] for k in fields if k in model_cfg}
    state = weights.state_dict() if isinstance(weights, torch.nn.Module) else weights
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadError("save_checkpoint needs a model or a non-empty dict of tensors.")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    target = Path(path).expanduser()
    info = StoredModelInfo(arch, dict(model_kwargs or {}), dict(pretrained_cfg))
    described = describe(tensors, info, target.name)
    entries = {
        META_ARCH: arch,
        META_MODEL_KWARGS: info.model_kwargs,
        META_PRETRAINED_CFG: described[1] if described else info.pretrained_cfg,
        META_LABELS: None if labels is None else [str(label) for label in labels],
        META_CONFIG: described[0].to_dict() if described else None,
    }
    try:
        metadata = {key: json.dumps(value) for key, value in entries.items() if value is not None}
    except TypeError as exc:
        raise ModelLoadError(f"Checkpoint metadata must be JSON-serialisable: {exc}") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target, then renamed: a reader never sees half a file.
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        save_file(tensors, temp, metadata=metadata)
        # safetensors creates the file owner-only; give it the permissions of a plain write.
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target
