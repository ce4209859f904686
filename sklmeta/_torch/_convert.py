"""Conversion between numpy arrays and tensors at the estimator boundary."""

import numpy as np
import torch

__all__ = ["to_numpy", "to_tensor"]


def to_tensor(X, device, dtype=torch.float32):
    """Copy-free where possible conversion of an array to a tensor on ``device``.

    Read-only arrays (memory maps, for instance) are copied, since torch
    cannot wrap them; the caller's array is never written to.
    """
    if isinstance(X, torch.Tensor):
        return X.to(device=device, dtype=dtype)
    np_dtype = torch.empty((), dtype=dtype).numpy().dtype
    array = np.asarray(X, dtype=np_dtype)
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, dtype=np_dtype, order="C", copy=True)
    return torch.from_numpy(array).to(device)


def to_numpy(tensor):
    """Detach a tensor and return it as a numpy array on the CPU."""
    return tensor.detach().cpu().numpy()
