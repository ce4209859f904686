"""Gradient-based meta-learners: a few gradient steps adapt to a new task."""

from ._maml import MAMLClassifier, MAMLRegressor
from ._reptile import ReptileClassifier, ReptileRegressor

__all__ = ["MAMLClassifier", "MAMLRegressor", "ReptileClassifier", "ReptileRegressor"]
