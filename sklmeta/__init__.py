"""Meta-learning (few-shot learning) estimators for scikit-learn.

Meta-train once over many small related tasks with ``meta_fit``, then adapt
to a brand-new task from a handful of labelled examples with ``fit`` and
answer it with ``predict``.
"""

from .metric_based import ProtoNetClassifier
from .model_selection import (
    ClassKFold,
    ClassShuffleSplit,
    EpisodeSplit,
    evaluate_episodes,
    train_test_class_split,
)
from .tasks import Episode, EpisodeSampler, Task

__version__ = "0.1.0"

__all__ = [
    "ClassKFold",
    "ClassShuffleSplit",
    "Episode",
    "EpisodeSampler",
    "EpisodeSplit",
    "ProtoNetClassifier",
    "Task",
    "evaluate_episodes",
    "train_test_class_split",
]
