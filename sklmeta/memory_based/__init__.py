"""Memory-based meta-learners: a controller learns to store and recall a task."""

from ._mann import MANNClassifier

__all__ = ["MANNClassifier"]
