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
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = [
        f"{key}: {tuple(state_dict[key].shape)} in {source}, {tuple(tensor.shape)} expected"
        for key, tensor in expected.items()
        if key in state_dict and state_dict[key].shape != tensor.shape
    ]
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append(f"missing {_preview(missing)}")
        if unexpected:
            problems.append(f"unexpected {_preview(unexpected)}")
        if mismatched:
            problems.append(f"wrong shape {_preview(mismatched)}")
        raise ModelLoadError(
            f"The weights of {source} do not fit the network built for them: "
            + "; ".join(problems)
            + ". The checkpoint and its architecture description disagree; re-export it."
        )
    tensors = {
        key: tensor.detach().clone() if copy else tensor.detach()
        for key, tensor in state_dict.items()
    }
    model.load_state_dict(tensors, strict=True, assign=True)


def _preview(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
