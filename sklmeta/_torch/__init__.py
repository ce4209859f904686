"""PyTorch plumbing kept behind the estimators: devices, seeds, conversion."""

from ._chunks import PREDICT_CHUNK, embed_in_chunks
from ._convert import to_numpy, to_tensor
from ._device import resolve_device
from ._seed import random_permutation, seeded

__all__ = [
    "PREDICT_CHUNK",
    "embed_in_chunks",
    "random_permutation",
    "resolve_device",
    "seeded",
    "to_numpy",
    "to_tensor",
]
