"""Episodic evaluation of a model, and cross-validation of meta-training itself."""

import numbers
import time
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import clone
from sklearn.utils import _safe_indexing, indexable
from sklearn.utils.validation import column_or_1d

from ..utils._validation import check_int
from ._split import ClassKFold, EpisodeSplit

__all__ = ["EpisodeEvaluation", "evaluate_episodes", "meta_cross_validate"]


@dataclass(frozen=True)
class EpisodeEvaluation:
    """Result of :func:`evaluate_episodes`.

    Attributes
    ----------
    mean : float
        Mean accuracy over episodes.
    ci95 : float
        Half-width of the 95% confidence interval, ``1.96 * std / sqrt(n)``.
    scores : ndarray of shape (n_episodes,)
        Accuracy of each episode.

    Examples
    --------
    Two models scored on the same episodes, which makes their scores
    comparable episode by episode:

    >>> from sklearn.datasets import load_wine
    >>> from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklmeta import evaluate_episodes
    >>> X, y = load_wine(return_X_y=True)
    >>> episodes = dict(n_way=3, n_shot=5, n_query=5, n_episodes=20, random_state=0)
    >>> nearest = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=1))
    >>> knn = evaluate_episodes(nearest, X, y, **episodes)
    >>> centroid = evaluate_episodes(make_pipeline(StandardScaler(), NearestCentroid()),
    ...                              X, y, **episodes)
    >>> print(knn, centroid, sep="; ")  # mean ± half-width of the 95% interval
    89.33 ± 2.98%; 92.67 ± 4.22%
    >>> (centroid.scores - knn.scores).shape
    (20,)
    """

    mean: float
    ci95: float
    scores: np.ndarray

    def __str__(self):
        return f"{100 * self.mean:.2f} ± {100 * self.ci95:.2f}%"


def evaluate_episodes(
    estimator,
    X,
    y,
    *,
    n_way=5,
    n_shot=1,
    n_query=15,
    n_episodes=600,
    random_state=None,
    n_jobs=None,
):
    """Mean accuracy and 95% confidence interval over few-shot episodes.

    For each of ``n_episodes`` episodes drawn from ``(X, y)``, a clone of
    ``estimator`` (which keeps what ``meta_fit`` learned) is fitted on the
    support set and scored on the query set, the protocol of the few-shot
    literature.

    Parameters
    ----------
    estimator : estimator object
        A classifier; usually meta-fitted on other classes.
    X : array-like of shape (n_samples, n_features)
        The evaluation pool, typically of classes unseen in meta-training.
    y : array-like of shape (n_samples,)
        Its labels.
    n_way : int, default=5
        Classes per episode.
    n_shot : int, default=1
        Support samples per class.
    n_query : int, default=15
        Query samples per class.
    n_episodes : int, default=600
        Number of episodes.
    random_state : int, RandomState instance or None, default=None
        Seed of the episode draws.
    n_jobs : int or None, default=None
        Workers that score episodes in parallel with joblib; None is one
        at a time, unless a :func:`joblib.parallel_config` says otherwise
        (e.g. ``backend="dask"`` on a cluster, see :doc:`/scaling_out`).
        The episodes are cut into one block per worker, so that the
        estimator is sent to each worker once, not once per episode. The
        scores do not depend on ``n_jobs``.

    Returns
    -------
    result : EpisodeEvaluation
        ``mean``, ``ci95`` (half-width, ``1.96 * std / sqrt(n_episodes)``)
        and the per-episode ``scores``; ``str(result)`` reads
        ``"98.10 ± 0.20%"``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklmeta import evaluate_episodes
    >>> X, y = load_iris(return_X_y=True)
    >>> result = evaluate_episodes(KNeighborsClassifier(n_neighbors=1), X, y,
    ...                            n_way=3, n_shot=1, n_query=5,
    ...                            n_episodes=20, random_state=0)
    >>> result.scores.shape
    (20,)
    >>> 0.0 <= result.mean <= 1.0
    True
    """
    # any indexable X: arrays, DataFrames, lists of texts for a text pipeline
    X, y = indexable(X, y)
    y = column_or_1d(np.asarray(y), warn=True)
    check_int(n_episodes, "n_episodes", min_value=1)
    splitter = EpisodeSplit(n_way, n_shot, n_query, n_episodes, random_state)
    episodes = list(splitter.split(X, y))
    n_blocks = min(len(episodes), effective_n_jobs(n_jobs))
    blocks = [episodes[i::n_blocks] for i in range(n_blocks)]
    scored = Parallel(n_jobs=n_jobs)(
        delayed(_score_episodes)(estimator, X, y, block) for block in blocks)
    scores = np.empty(len(episodes))
    for i, block_scores in enumerate(scored):
        scores[i::n_blocks] = block_scores
    ci95 = 1.96 * scores.std() / np.sqrt(len(scores))
    return EpisodeEvaluation(float(scores.mean()), float(ci95), scores)


def _score_episodes(estimator, X, y, episodes):
    """Scores of a clone of ``estimator`` fitted to each ``(support, query)``."""
    scores = []
    for support, query in episodes:
        adapted = clone(estimator).fit(_safe_indexing(X, support), y[support])
        scores.append(adapted.score(_safe_indexing(X, query), y[query]))
    return scores


def meta_cross_validate(
    estimator,
    X,
    y,
    *,
    cv=5,
    n_way=5,
    n_shot=1,
    n_query=15,
    n_episodes=100,
    random_state=None,
    n_jobs=None,
    return_estimator=False,
    meta_fit_params=None,
):
    """Cross-validate meta-training on class-disjoint folds.

    For each fold of ``cv``, a clone of ``estimator`` is meta-trained from
    scratch on the fold's training classes, then evaluated on
    ``n_episodes`` few-shot episodes drawn from its test classes, which it
    never saw. Each fold reports the mean episode accuracy and its 95%
    confidence interval, as :func:`~sklmeta.evaluate_episodes` does; the
    spread across folds shows how much the result depends on which classes
    were meta-trained on.

    Parameters
    ----------
    estimator : estimator with ``meta_fit``
        A meta-learner or a :class:`~sklmeta.pipeline.MetaPipeline`. Its
        meta-learned state, if any, is ignored: every fold starts afresh
        (``warm_start`` is turned off in the clones).
    X : array-like of shape (n_samples, n_features) or list
        The labelled pool; any input the estimator accepts, e.g. a list of
        strings for a text pipeline.
    y : array-like of shape (n_samples,)
        Class labels.
    cv : int or splitter, default=5
        An int is the number of folds of :class:`~sklmeta.ClassKFold`; a
        splitter must yield class-disjoint ``(train, test)`` indices, such as
        :class:`~sklmeta.ClassShuffleSplit`.
    n_way : int, default=5
        Classes per evaluation episode.
    n_shot : int, default=1
        Support samples per class.
    n_query : int, default=15
        Query samples per class.
    n_episodes : int, default=100
        Evaluation episodes per fold.
    random_state : int, RandomState instance or None, default=None
        Seed of the evaluation episodes (the same seed in every fold).
    n_jobs : int or None, default=None
        Folds run in parallel with joblib; None is one at a time.
    return_estimator : bool, default=False
        Whether to return the meta-fitted estimator of each fold.
    meta_fit_params : dict or None, default=None
        Keyword arguments for every ``meta_fit``.

    Returns
    -------
    results : dict
        Arrays with one entry per fold: ``test_accuracy`` (mean over the
        fold's episodes), ``test_ci95`` (half-width of its 95% confidence
        interval, ``1.96 * std / sqrt(n_episodes)``), ``test_scores``
        (per-episode accuracies, shape ``(n_folds, n_episodes)``),
        ``fit_time`` (meta-training seconds), ``score_time``; and
        ``estimator``, a list, with ``return_estimator=True``.

    Raises
    ------
    ValueError
        If a fold's test classes also occur in its training classes.

    See Also
    --------
    sklmeta.evaluate_episodes : episodic evaluation of one meta-trained model.
    sklmeta.ClassKFold : the default folds.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklmeta import ProtoNetClassifier
    >>> from sklmeta.model_selection import meta_cross_validate
    >>> X, y = load_digits(return_X_y=True)
    >>> learner = ProtoNetClassifier(encoder="mlp", n_way=3, n_shot=2, n_query=5,
    ...                              max_epochs=1, episodes_per_epoch=5, verbose=0)
    >>> results = meta_cross_validate(learner, X, y, cv=3, n_way=3, n_query=5,
    ...                               n_episodes=10, random_state=0)
    >>> results["test_accuracy"].shape, results["test_scores"].shape
    ((3,), (3, 10))
    """
    if not hasattr(estimator, "meta_fit"):
        raise TypeError(
            "meta_cross_validate needs an estimator with meta_fit (a meta-learner "
            f"or a MetaPipeline); got {type(estimator).__name__}."
        )
    y = column_or_1d(np.asarray(y), warn=True)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}.")
    check_int(n_episodes, "n_episodes", min_value=1)
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        cv = ClassKFold(n_splits=check_int(cv, "cv", min_value=2))
    elif isinstance(cv, str) or not hasattr(cv, "split"):
        raise TypeError(
            f"cv must be an int or a splitter with a split method; got {cv!r}."
        )
    folds = list(cv.split(np.zeros((len(y), 1)), y))
    for i, (train, test) in enumerate(folds):
        shared = np.intersect1d(y[train], y[test])
        if len(shared):
            raise ValueError(
                f"fold {i} of cv={cv!r} has classes {shared[:5].tolist()} on both "
                "sides; meta cross-validation needs class-disjoint folds such as "
                "ClassKFold or ClassShuffleSplit."
            )
    episodes = EpisodeSplit(n_way, n_shot, n_query, n_episodes, random_state)
    runs = Parallel(n_jobs=n_jobs)(
        delayed(_meta_fit_and_score)(
            estimator, X, y, train, test, episodes, meta_fit_params or {}
        )
        for train, test in folds
    )
    scores = np.stack([run[0] for run in runs])
    results = {
        "test_accuracy": scores.mean(axis=1),
        "test_ci95": 1.96 * scores.std(axis=1) / np.sqrt(scores.shape[1]),
        "test_scores": scores,
        "fit_time": np.array([run[1] for run in runs]),
        "score_time": np.array([run[2] for run in runs]),
    }
    if return_estimator:
        results["estimator"] = [run[3] for run in runs]
    return results


def _meta_fit_and_score(estimator, X, y, train, test, episodes, meta_fit_params):
    learner = clone(estimator)
    cold = {k: False for k in learner.get_params() if k.split("__")[-1] == "warm_start"}
    learner.set_params(**cold)
    start = time.perf_counter()
    learner.meta_fit(_safe_indexing(X, train), y[train], **meta_fit_params)
    fit_time = time.perf_counter() - start
    X_test, y_test = _safe_indexing(X, test), y[test]
    start = time.perf_counter()
    scores = []
    for support, query in episodes.split(np.zeros((len(y_test), 1)), y_test):
        adapted = clone(learner).fit(_safe_indexing(X_test, support), y_test[support])
        scores.append(adapted.score(_safe_indexing(X_test, query), y_test[query]))
    return np.asarray(scores), fit_time, time.perf_counter() - start, learner
