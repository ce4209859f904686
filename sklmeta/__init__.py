"""Meta-learning (few-shot learning) estimators for scikit-learn.

Meta-train once over many small related tasks with ``meta_fit``, then adapt
to a brand-new task from a handful of labelled examples with ``fit`` and
answer it with ``predict``.
"""

from .baselines import FineTuneClassifier, pretrain_encoder
from .gradient_based import (
    MAMLClassifier,
    MAMLRegressor,
    ReptileClassifier,
    ReptileRegressor,
)
from .memory_based import MANNClassifier
from .metric_based import (
    MatchingNetClassifier,
    ProtoNetClassifier,
    RelationNetClassifier,
    SiameseClassifier,
)
from .model_selection import (
    ClassKFold,
    ClassShuffleSplit,
    EpisodeSplit,
    evaluate_episodes,
    meta_cross_validate,
    train_test_class_split,
)
from ._safe_io import load_estimator, save_estimator
from .pipeline import MetaPipeline, make_meta_pipeline
from .tasks import Episode, EpisodeSampler, Task, TaskMixture
from .transformers import EncoderTransformer

__version__ = "0.1.0"

__all__ = [
    "ClassKFold",
    "ClassShuffleSplit",
    "EncoderTransformer",
    "Episode",
    "EpisodeSampler",
    "EpisodeSplit",
    "FineTuneClassifier",
    "MAMLClassifier",
    "MAMLRegressor",
    "MANNClassifier",
    "MatchingNetClassifier",
    "MetaPipeline",
    "ProtoNetClassifier",
    "ReptileClassifier",
    "ReptileRegressor",
    "RelationNetClassifier",
    "SiameseClassifier",
    "Task",
    "TaskMixture",
    "evaluate_episodes",
    "load_estimator",
    "make_meta_pipeline",
    "meta_cross_validate",
    "pretrain_encoder",
    "save_estimator",
    "train_test_class_split",
]
