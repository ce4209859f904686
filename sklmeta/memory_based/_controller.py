"""The controller of a memory-augmented network: an LSTM reading and
writing an external memory (Santoro et al., 2016)."""

import torch
import torch.nn.functional as F
from torch import nn

from ._memory import (
    MemoryState,
    content_read,
    initial_memory_state,
    least_used_weights,
    lrua_write,
    update_usage,
)

__all__ = ["MANNNetwork", "MemoryController"]


class MemoryController(nn.Module):
    """LSTM controller with least-recently-used-access memory heads.

    At each step the controller reads the features of the current input,
    the one-hot label of the previous step and the vectors read at the
    previous step; its hidden state gives each head a key, a write gate and
    a key strength. Each head writes its key (LRUA), then reads by cosine
    similarity; the class logits come from the hidden state and the reads.

    Parameters
    ----------
    n_features : int
        Width of the feature vector of one input.
    n_way : int
        Number of label slots (input one-hot and output logits).
    controller_size : int, default=200
        LSTM units.
    n_slots : int, default=128
        Memory rows.
    slot_size : int, default=40
        Memory columns (the key size).
    n_heads : int, default=4
        Read heads, each writing with the LRUA rule.
    usage_decay : float, default=0.95
        The paper's gamma.
    """

    def __init__(self, n_features, n_way, controller_size=200, n_slots=128,
                 slot_size=40, n_heads=4, usage_decay=0.95):
        super().__init__()
        self.n_way = int(n_way)
        self.n_slots = int(n_slots)
        self.slot_size = int(slot_size)
        self.n_heads = int(n_heads)
        self.usage_decay = float(usage_decay)
        read_size = self.n_heads * self.slot_size
        # features of any scale (pixels, embeddings) reach the gates standardized
        self.input_norm = nn.LayerNorm(n_features)
        # the input part of the LSTM gates is computed for all steps at once
        self.input_gates = nn.Linear(n_features + self.n_way, 4 * controller_size)
        self.recurrent_gates = nn.Linear(controller_size + read_size, 4 * controller_size,
                                         bias=False)
        self.keys = nn.Linear(controller_size, read_size)
        self.write_gates = nn.Linear(controller_size, self.n_heads)
        self.key_strengths = nn.Linear(controller_size, self.n_heads)
        self.output = nn.Linear(controller_size + read_size, self.n_way)
        with torch.no_grad():
            # forget gate biased open, a common LSTM initialisation
            self.input_gates.bias[controller_size:2 * controller_size].fill_(1.0)
            # sharp reads from the start: key strength about 10
            self.key_strengths.bias.fill_(9.0)

    def initial_state(self, batch_size, device):
        """Zero LSTM state, empty memory, no previous label."""
        size = self.recurrent_gates.out_features // 4
        zeros = torch.zeros(batch_size, size, device=device)
        return {
            "hidden": zeros,
            "cell": zeros.clone(),
            "label": torch.zeros(batch_size, self.n_way, device=device),
            **initial_memory_state(
                batch_size, self.n_slots, self.slot_size, self.n_heads, device
            )._asdict(),
        }

    def _step(self, input_gates, state):
        batch = input_gates.shape[0]
        gates = input_gates + self.recurrent_gates(
            torch.cat([state["hidden"], state["reads"]], dim=1)
        )
        i, f, g, o = gates.chunk(4, dim=1)
        cell = torch.sigmoid(f) * state["cell"] + torch.sigmoid(i) * torch.tanh(g)
        hidden = torch.sigmoid(o) * torch.tanh(cell)
        keys = torch.tanh(self.keys(hidden)).view(batch, self.n_heads, self.slot_size)
        gate = torch.sigmoid(self.write_gates(hidden)).unsqueeze(-1)
        strength = 1 + F.softplus(self.key_strengths(hidden)).unsqueeze(-1)
        memory, write_weights = lrua_write(
            state["memory"], keys, gate, state["read_weights"], state["least_used"]
        )
        read_weights, reads = content_read(memory, keys, strength)
        usage = update_usage(state["usage"], read_weights, write_weights, self.usage_decay)
        reads = reads.flatten(start_dim=1)
        logits = self.output(torch.cat([hidden, reads], dim=1))
        new_state = {
            "hidden": hidden, "cell": cell, "label": state["label"],
            **MemoryState(memory, usage, read_weights,
                          least_used_weights(usage, self.n_heads), reads)._asdict(),
        }
        return logits, new_state

    def forward(self, features, labels, state):
        """Run a labelled stream; step ``t`` sees the label of step ``t - 1``.

        Parameters
        ----------
        features : Tensor of shape (batch, n_steps, n_features)
        labels : Tensor of shape (batch, n_steps) of label slots, or None
            None runs one step per sequence with the stored previous label
            and leaves it in the state (a query never reveals its label).
        state : dict of Tensor
            From :meth:`initial_state` or an earlier call.

        Returns
        -------
        logits : Tensor of shape (batch, n_steps, n_way)
            Each made before the label of its step is shown.
        state : dict of Tensor
            The state after the last step.
        """
        if labels is None:
            previous = state["label"].unsqueeze(1)
        else:
            one_hot = F.one_hot(labels, self.n_way).to(features.dtype)
            previous = torch.cat([state["label"].unsqueeze(1), one_hot[:, :-1]], dim=1)
        input_gates = self.input_gates(torch.cat([self.input_norm(features), previous], dim=2))
        outputs = []
        for t in range(features.shape[1]):
            logits, state = self._step(input_gates[:, t], state)
            outputs.append(logits)
        if labels is not None:
            state["label"] = one_hot[:, -1]
        return torch.stack(outputs, dim=1), state


class MANNNetwork(nn.Module):
    """Front end and controller, as one module for the optimizer and saving."""

    def __init__(self, encoder, controller):
        super().__init__()
        self.encoder = encoder
        self.controller = controller
