"""Copying timm-keyed weights into our network, after a strict key and shape check.

Our modules carry timm's state_dict names, so the mapping is the identity; this module
needs no timm, so that a checkpoint that describes its own network loads without it.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from vitviz.errors import ModelLoadError
from vitviz.vit.model import VisionTransformer


def load_weights(
    model: VisionTransformer,
    state_dict: Mapping[str, torch.Tensor],
    *,
    source: str = "weights",
    copy: bool = True,
) -> None:
    """Copy a timm-keyed state dict into ``model`` after a strict key and shape check.

    ``model`` may live on the meta device: its parameters are replaced by copies of the
    given tensors (device and dtype follow ``state_dict``).

    Parameters
    ----------
    model : VisionTransformer
        The network to fill.
    state_dict : Mapping of str to torch.Tensor
        timm state_dict keys and tensors.
    source : str
        What the weights are, for the error message.
    copy : bool
        False hands the tensors themselves to ``model`` (for tensors nothing else holds,
        such as those just read from a file: no second copy in memory).

    Raises
    ------
    ModelLoadError
        Listing missing keys, unexpected keys and shape mismatches.
    """
    check_fit(
        model.state_dict(),
        state_dict,
        source=source,
        target="the network built for them",
        advice="The checkpoint and its architecture description disagree; re-export it.",
    )
    tensors = {
        key: tensor.detach().clone() if copy else tensor.detach()
        for key, tensor in state_dict.items()
    }
    model.load_state_dict(tensors, strict=True, assign=True)


def state_dict_differences(
    expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]
) -> tuple[list[str], list[str], list[tuple[str, tuple[int, ...], tuple[int, ...]]]]:
    """How ``given`` weights differ from the ``expected`` state dict of a model.

    Parameters
    ----------
    expected : mapping of str to torch.Tensor
        The model's own state dict.
    given : mapping of str to torch.Tensor
        The weights meant for it.

    Returns
    -------
    missing : list of str
        Keys of the model that the weights lack, sorted.
    unexpected : list of str
        Keys of the weights that the model lacks, sorted.
    mismatched : list of tuple
        ``(key, given shape, expected shape)`` of shared keys whose shapes differ, in the
        model's key order.
    """
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
    """Refuse weights that do not fit a network key for key and shape for shape.

    Parameters
    ----------
    expected : mapping of str to torch.Tensor
        The network's own state dict.
    given : mapping of str to torch.Tensor
        The weights meant for it.
    source, target : str
        The weights' and the network's names, for the message.
    advice : str
        The message's last line: what the user can do.

    Raises
    ------
    ModelLoadError
        A one-line summary, then the missing, unexpected and mis-shaped keys, one
        group per line, then ``advice``.
    """
    missing, unexpected, mismatched = state_dict_differences(expected, given)
    if not (missing or unexpected or mismatched):
        return
    shapes = [f"{key} (file {given_}, network {wanted})" for key, given_, wanted in mismatched]
    lines = [
        f"{_count(keys)} {what}: {preview(keys, 10)}"
        for what, keys in (
            ("missing from the file", missing),
            ("not in the network", unexpected),
            ("with another shape", shapes),
        )
        if keys
    ]
    raise ModelLoadError(
        "\n".join([f"The weights in {source} do not fit {target}.", *lines, advice])
    )


def _count(keys: list[str]) -> str:
    return f"{len(keys)} key" + ("s" if len(keys) != 1 else "")


def preview(items: list[str], limit: int = 6) -> str:
    """The first ``limit`` items joined by commas, and how many more there are."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
