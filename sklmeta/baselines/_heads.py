"""Classification heads and minibatches for supervised pretraining.

A leaf module: :class:`~sklmeta.baselines.FineTuneClassifier` builds its
heads and streams its minibatches from here, and nothing here depends on a
learner.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..utils._validation import check_option

__all__ = ["CosineHead", "MinibatchStream", "make_head"]

_HEADS = ("linear", "cosine")


class CosineHead(nn.Module):
    """Scaled cosine similarity between embeddings and learned class vectors.

    The classifier of "Baseline++" (Chen et al., 2019): the logit of class
    ``c`` is ``scale * cos(z, w_c)``, which reduces the spread of the
    embeddings within a class compared with a linear layer.

    Parameters
    ----------
    in_features : int
        Embedding dimension.
    n_classes : int
        Number of classes.
    scale : float, default=10.0
        Multiplier of the cosine similarities (an inverse temperature).
    """

    def __init__(self, in_features, n_classes, scale=10.0):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_classes, in_features))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self.scale = float(scale)

    def forward(self, z):
        return self.scale * F.normalize(z, dim=1) @ F.normalize(self.weight, dim=1).T


def make_head(kind, in_features, n_classes, scale):
    """A classification head: ``'linear'`` or ``'cosine'`` (:class:`CosineHead`)."""
    check_option(kind, "head", _HEADS)
    if kind == "linear":
        return nn.Linear(in_features, n_classes)
    return CosineHead(in_features, n_classes, scale)


class MinibatchStream:
    """Shuffled minibatches of a labelled pool held on the device.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        The pool, already on the device.
    y : torch.Tensor of shape (n_samples,)
        Labels encoded as ``0..n_classes-1``, on the same device.
    batch_size : int
        Rows per minibatch; the last one of an epoch may be smaller.
    seed : int
        Seed of the shuffles; each call of :meth:`epoch` draws a new order.
    """

    def __init__(self, X, y, batch_size, seed):
        self.X = X
        self.y = y
        self.batch_size = int(batch_size)
        self.rng = np.random.RandomState(int(seed))

    def __len__(self):
        return -(-len(self.y) // self.batch_size)

    def epoch(self):
        """Yield ``(x, y)`` minibatches covering the pool once, in a new order."""
        order = torch.from_numpy(self.rng.permutation(len(self.y))).to(self.X.device)
        for rows in order.split(self.batch_size):
            yield self.X[rows], self.y[rows]
