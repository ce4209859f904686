"""Resolution of the ``device`` parameter."""

import torch

__all__ = ["resolve_device"]


def resolve_device(device):
    """Turn a ``device`` parameter into a :class:`torch.device`.

    ``"auto"`` (or None) picks CUDA when it is available, else the CPU. An
    explicit CUDA device without CUDA fails here, before any work starts.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, str):
        try:
            device = torch.device(device)
        except (RuntimeError, ValueError) as exc:
            raise ValueError(
                f"device={device!r} is not a device torch knows; use 'auto', "
                "'cpu', 'cuda', 'cuda:<index>' or a torch.device."
            ) from exc
    if not isinstance(device, torch.device):
        raise TypeError(
            f"device must be 'auto', a string such as 'cpu' or 'cuda', or a "
            f"torch.device; got {device!r} of type {type(device).__name__}."
        )
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={str(device)!r} was requested but CUDA is not available "
                "here; use device='auto' or device='cpu'."
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={str(device)!r} does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
    return device
