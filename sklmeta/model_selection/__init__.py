"""Episodic evaluation and class-disjoint splitting.

Few-shot learning is evaluated on *episodes* drawn from classes never seen
during meta-training. :class:`EpisodeSplit` turns episodes into ordinary
scikit-learn CV splits (train = support, test = query), so
``cross_val_score`` and ``GridSearchCV`` run over episodes;
:func:`evaluate_episodes` reports mean accuracy with the 95% confidence
interval of the literature; the class splitters keep meta-train and
meta-test classes apart.
"""

from ._split import ClassKFold, ClassShuffleSplit, EpisodeSplit, train_test_class_split
from ._validation import EpisodeEvaluation, evaluate_episodes, meta_cross_validate

__all__ = [
    "ClassKFold",
    "ClassShuffleSplit",
    "EpisodeEvaluation",
    "EpisodeSplit",
    "evaluate_episodes",
    "meta_cross_validate",
    "train_test_class_split",
]
