"""External memory with content-based read and least-recently-used write.

The memory of a memory-augmented neural network (Santoro et al., 2016) is a
matrix of ``n_slots`` rows. Read heads address it by content: the cosine
similarity of a key with every row, turned into weights by a softmax. The
*least recently used access* (LRUA) rule writes either to the rows read at
the previous step or to the least used rows, as a sigmoid gate chooses.
Usage decays geometrically and grows with every read and write.

All functions are pure: they take and return batched tensors, the batch
being independent sequences (episodes, or queries continuing one stored
state), so that autograd sees the whole episode.
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F

__all__ = [
    "MemoryState",
    "content_read",
    "cosine_similarity",
    "initial_memory_state",
    "least_used_weights",
    "lrua_write",
    "update_usage",
]

# Empty rows hold this constant, so that their cosine similarity is defined.
_EMPTY = 1e-6


class MemoryState(NamedTuple):
    """The memory of a batch of sequences between two steps.

    Shapes: ``memory`` (batch, n_slots, slot_size); ``usage`` (batch,
    n_slots); ``read_weights`` and ``least_used`` (batch, n_heads, n_slots);
    ``reads`` (batch, n_heads * slot_size), the vectors read at the step.
    """

    memory: torch.Tensor
    usage: torch.Tensor
    read_weights: torch.Tensor
    least_used: torch.Tensor
    reads: torch.Tensor


def initial_memory_state(batch_size, n_slots, slot_size, n_heads, device=None):
    """An empty memory: constant rows, no usage, nothing read yet."""
    usage = torch.zeros(batch_size, n_slots, device=device)
    return MemoryState(
        memory=torch.full((batch_size, n_slots, slot_size), _EMPTY, device=device),
        usage=usage,
        read_weights=torch.zeros(batch_size, n_heads, n_slots, device=device),
        least_used=least_used_weights(usage, n_heads),
        reads=torch.zeros(batch_size, n_heads * slot_size, device=device),
    )


def cosine_similarity(keys, memory, eps=1e-8):
    """Cosine similarity of each key with each memory row.

    Parameters
    ----------
    keys : Tensor of shape (batch, n_heads, slot_size)
    memory : Tensor of shape (batch, n_slots, slot_size)

    Returns
    -------
    similarity : Tensor of shape (batch, n_heads, n_slots)
    """
    keys = F.normalize(keys, dim=-1, eps=eps)
    memory = F.normalize(memory, dim=-1, eps=eps)
    return keys @ memory.transpose(1, 2)


def content_read(memory, keys, strength=None):
    """Read by content: softmax of the cosine similarities, then a weighted sum.

    Parameters
    ----------
    memory : Tensor of shape (batch, n_slots, slot_size)
    keys : Tensor of shape (batch, n_heads, slot_size)
    strength : Tensor of shape (batch, n_heads, 1), default=None
        Multiplies the similarities before the softmax (a key strength as in
        Neural Turing Machines); None reads with strength 1, as in the paper.

    Returns
    -------
    weights : Tensor of shape (batch, n_heads, n_slots)
        Read weights, each row summing to one (Santoro et al., sec. 3.1).
    reads : Tensor of shape (batch, n_heads, slot_size)
        The vectors read (sec. 3.1).
    """
    similarity = cosine_similarity(keys, memory)
    if strength is not None:
        similarity = similarity * strength
    weights = torch.softmax(similarity, dim=-1)
    return weights, weights @ memory


def least_used_weights(usage, n_heads):
    """One-hot weights on the ``n_heads`` least used rows, one row per head.

    Head ``h`` gets the ``h``-th least used row, so heads never share the
    row they write to; ties go to the lower row index.

    Parameters
    ----------
    usage : Tensor of shape (batch, n_slots)
    n_heads : int

    Returns
    -------
    weights : Tensor of shape (batch, n_heads, n_slots)
    """
    order = torch.sort(usage, dim=-1, stable=True).indices[:, :n_heads]
    return F.one_hot(order, usage.shape[-1]).to(usage.dtype)


def lrua_write(memory, keys, gate, previous_read_weights, previous_least_used):
    """Least-recently-used-access write of the keys into the memory.

    Each head writes its key to an interpolation, by a sigmoid gate, of the
    rows it read at the previous step and its least used row (sec. 3.2). The
    least used rows are cleared before the write, as in the paper.

    Parameters
    ----------
    memory : Tensor of shape (batch, n_slots, slot_size)
    keys : Tensor of shape (batch, n_heads, slot_size)
    gate : Tensor of shape (batch, n_heads, 1)
        Interpolation gate in (0, 1), the paper's ``sigma(alpha)``.
    previous_read_weights, previous_least_used : Tensor of shape \
            (batch, n_heads, n_slots)

    Returns
    -------
    memory : Tensor of shape (batch, n_slots, slot_size)
        The memory after the write; the input is not modified.
    write_weights : Tensor of shape (batch, n_heads, n_slots)
    """
    # sec. 3.2: w^w_t = sigma(alpha) w^r_{t-1} + (1 - sigma(alpha)) w^lu_{t-1}
    write_weights = gate * previous_read_weights + (1 - gate) * previous_least_used
    cleared = previous_least_used.sum(dim=1).clamp(max=1.0)
    memory = memory * (1 - cleared).unsqueeze(-1)
    # sec. 3.2: M_t(i) = M_{t-1}(i) + w^w_t(i) k_t
    return memory + write_weights.transpose(1, 2) @ keys, write_weights


def update_usage(usage, read_weights, write_weights, decay):
    """Decay the usage and add this step's reads and writes (sec. 3.2)."""
    return decay * usage + read_weights.sum(dim=1) + write_weights.sum(dim=1)
