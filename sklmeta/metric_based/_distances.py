"""Distances and class means shared by the metric-based learners."""

import torch

__all__ = ["class_means", "prototypical_logits", "squared_euclidean"]


def squared_euclidean(a, b):
    """Pairwise squared Euclidean distances between rows of ``a`` and ``b``.

    Expanded as ``|a|^2 - 2 a.b + |b|^2``: one matrix product, and a cheaper
    backward pass than :func:`torch.cdist`.
    """
    return (
        a.pow(2).sum(dim=1, keepdim=True)
        - 2.0 * a @ b.T
        + b.pow(2).sum(dim=1).unsqueeze(0)
    )


def class_means(embeddings, labels, n_classes):
    """Mean embedding of each class ``0..n_classes-1`` (the prototypes)."""
    sums = embeddings.new_zeros(n_classes, embeddings.shape[1])
    sums.index_add_(0, labels, embeddings)
    counts = torch.bincount(labels, minlength=n_classes).clamp_min(1)
    return sums / counts.unsqueeze(1).to(embeddings.dtype)


def prototypical_logits(support, y_support, query, n_way):
    """Logits of Prototypical Networks: negative squared Euclidean distances
    of the query embeddings to the class means of the support embeddings
    (Snell et al., 2017, eq. 2)."""
    return -squared_euclidean(query, class_means(support, y_support, n_way))
