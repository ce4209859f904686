"""Bounded-memory evaluation of a module over many rows."""

import torch

__all__ = ["PREDICT_CHUNK", "embed_in_chunks"]

# Rows passed through a network at once at prediction time, to bound memory.
PREDICT_CHUNK = 2048


@torch.no_grad()
def embed_in_chunks(module, X):
    """``module(X)`` in evaluation mode, ``PREDICT_CHUNK`` rows at a time."""
    module.eval()
    return torch.cat([module(chunk) for chunk in X.split(PREDICT_CHUNK)])
