"""Which device and floating-point precision a loaded model runs in."""

from __future__ import annotations

import torch

from vitviz.errors import ModelLoadError

_DTYPE_NAMES = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "float": torch.float32,
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
}


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn a device request into a device this machine has.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks CUDA, then Apple MPS, then the CPU. Anything else is taken as a
        torch device name (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``).

    Returns
    -------
    torch.device

    Raises
    ------
    ModelLoadError
        If the name is not a device, or names an accelerator this machine does not have.
    """
    if isinstance(device, str) and device.strip().lower() == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ModelLoadError(
            f"{device!r} is not a device name; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'."
        ) from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelLoadError(
                f"Device {device!r} was asked for, but PyTorch sees no CUDA GPU on this machine; "
                "choose auto or cpu."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ModelLoadError(
                f"Device {device!r} was asked for, but this machine has only "
                f"{torch.cuda.device_count()} CUDA GPU(s)."
            )
    if resolved.type == "mps" and not _mps_available():
        raise ModelLoadError(
            f"Device {device!r} was asked for, but Apple MPS is not available here; "
            "choose auto or cpu."
        )
    return resolved


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """Turn a precision request into a torch dtype that suits ``device``.

    Parameters
    ----------
    dtype : str, torch.dtype or None
        None means float32. Names: ``fp32``/``float32``, ``fp16``/``float16``/``half``,
        ``bf16``/``bfloat16``, or the torch dtypes themselves.
    device : torch.device
        Where the model will run. Half precision is only offered on GPUs (CUDA, MPS):
        on the CPU it is slow and loses accuracy for nothing.

    Returns
    -------
    torch.dtype

    Raises
    ------
    ModelLoadError
        For an unknown name, a non-floating dtype, or half precision on the CPU.
    """
    if dtype is None:
        return torch.float32
    if isinstance(dtype, str):
        resolved = _DTYPE_NAMES.get(dtype.strip().lower())
        if resolved is None:
            raise ModelLoadError(
                f"Unknown precision {dtype!r}; use 'fp32' (default), 'fp16' or 'bf16'."
            )
    elif isinstance(dtype, torch.dtype):
        resolved = dtype
    else:
        raise ModelLoadError(f"Precision must be a name or a torch.dtype, not {dtype!r}.")
    if resolved not in (torch.float32, torch.float16, torch.bfloat16):
        raise ModelLoadError(f"Precision {resolved} is not supported; use fp32, fp16 or bf16.")
    if resolved is not torch.float32 and device.type == "cpu":
        raise ModelLoadError(
            f"{resolved} was asked for on the CPU; half precision is offered on GPUs only. "
            "Use the default (fp32) on the CPU."
        )
    return resolved
