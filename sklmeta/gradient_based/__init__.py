"""Gradient-based meta-learners: a few gradient steps adapt to a new task."""

from ._maml import MAMLClassifier
from ._regressors import MAMLRegressor, ReptileRegressor
from ._reptile import ReptileClassifier

__all__ = ["MAMLClassifier", "MAMLRegressor", "ReptileClassifier", "ReptileRegressor"]
