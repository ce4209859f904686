"""Saying "none of these": out-of-scope rejection for few-shot classifiers.

A classifier adapted to a few support classes answers one of them for any
input. Real inputs are often none of them (an assistant's out-of-scope
requests). :class:`RejectOption` answers ``reject_label`` when the largest
predicted probability falls below a threshold, and
:func:`choose_rejection_threshold` picks that threshold on validation
episodes with out-of-scope examples beside them, as Larson et al. (2019)
tune their baselines' thresholds on validation data.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted

from .utils._validation import check_float

__all__ = ["RejectOption", "RejectionThreshold", "choose_rejection_threshold"]


class RejectOption(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier that may answer "none of the support classes".

    ``fit`` fits a clone of ``estimator`` (a meta-fitted learner keeps what
    meta-training learned); ``predict`` answers ``reject_label`` where the
    largest of its predicted probabilities is below ``threshold``, else its
    prediction.

    Parameters
    ----------
    estimator : classifier with predict_proba
        The classifier, e.g. a meta-fitted learner or pipeline.
    threshold : float, default=0.5
        Smallest largest-probability that is answered; choose it with
        :func:`choose_rejection_threshold`. The same confidence means less
        with more classes, so choose it for the number of classes of the
        tasks to come.
    reject_label : int, str or None, default=-1
        The answer for a rejected input. It must not be a class of ``y``.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of ``estimator``.
    classes_ : ndarray of shape (n_classes,)
        The classes of ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklmeta.rejection import RejectOption
    >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> clf = RejectOption(LogisticRegression(), threshold=0.6).fit(X, [0, 0, 1, 1])
    >>> clf.predict([[-3.0], [0.0], [3.0]])
    array([ 0, -1,  1])
    """

    def __init__(self, estimator, threshold=0.5, reject_label=-1):
        self.estimator = estimator
        self.threshold = threshold
        self.reject_label = reject_label

    def fit(self, X, y, **fit_params):
        """Fit a clone of the estimator on the support set ``X, y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Support inputs, as the estimator takes them.
        y : array-like of shape (n_samples,)
            Their labels; ``reject_label`` may not be one of them.
        **fit_params : dict
            Passed to the estimator's ``fit``.

        Returns
        -------
        self : RejectOption
        """
        check_float(self.threshold, "threshold", min_value=0.0, max_value=1.0)
        if not hasattr(self.estimator, "predict_proba"):
            raise TypeError(
                f"estimator must have predict_proba; {type(self.estimator).__name__} "
                "has not."
            )
        labels = np.asarray(y)
        if _comparable(labels, self.reject_label) and np.any(labels == self.reject_label):
            raise ValueError(
                f"reject_label={self.reject_label!r} is a class of y; pick another."
            )
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X):
        """The estimator's class probabilities of ``X``."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    def predict(self, X):
        """The most probable class of each input, or ``reject_label`` where
        its probability is below ``threshold``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return _answers(self.classes_, self.predict_proba(X), self.threshold,
                        self.reject_label)


class RejectionThreshold:
    """Result of :func:`choose_rejection_threshold`.

    Attributes
    ----------
    threshold : float
        The chosen threshold.
    thresholds : ndarray of shape (n_thresholds,)
        The thresholds tried.
    in_scope_accuracy : ndarray of shape (n_thresholds,)
        Share of in-scope queries answered with their class, at each one.
    out_of_scope_recall : ndarray of shape (n_thresholds,)
        Share of out-of-scope inputs rejected, at each one.

    Examples
    --------
    The trade-off at every threshold tried: a higher threshold rejects
    more, in scope and out of it.

    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklmeta.model_selection import EpisodeSplit
    >>> from sklmeta.rejection import choose_rejection_threshold
    >>> X, y = make_blobs(n_samples=80, centers=8, cluster_std=0.5, random_state=0)
    >>> X_out = np.random.RandomState(1).uniform(X.min(), X.max(), size=(40, 2))
    >>> cv = EpisodeSplit(n_way=4, n_shot=2, n_query=5, n_episodes=10, random_state=0)
    >>> result = choose_rejection_threshold(LogisticRegression(), X, y, X_out, cv=cv)
    >>> result.thresholds.shape == result.out_of_scope_recall.shape == (101,)
    True
    >>> bool(np.all(np.diff(result.out_of_scope_recall) >= 0))
    True
    >>> bool(np.all(np.diff(result.in_scope_accuracy) <= 0))
    True
    """

    def __init__(self, threshold, thresholds, in_scope_accuracy, out_of_scope_recall):
        self.threshold = threshold
        self.thresholds = thresholds
        self.in_scope_accuracy = in_scope_accuracy
        self.out_of_scope_recall = out_of_scope_recall

    def __repr__(self):
        best = int(np.argmin(np.abs(self.thresholds - self.threshold)))
        return (f"RejectionThreshold(threshold={self.threshold:.3f}, in-scope accuracy "
                f"{self.in_scope_accuracy[best]:.3f}, out-of-scope recall "
                f"{self.out_of_scope_recall[best]:.3f})")


def choose_rejection_threshold(estimator, X, y, X_out, *, cv, thresholds=None,
                               min_in_scope_accuracy=None):
    """Choose the threshold of :class:`RejectOption` on validation episodes.

    Each episode of ``cv`` fits a clone of ``estimator`` on its support set,
    then scores its queries and every input of ``X_out``, none of which
    belongs to a support class. A threshold answers a query rightly when
    the prediction is its class and confident enough, and an input of
    ``X_out`` rightly when it is rejected.

    Parameters
    ----------
    estimator : classifier with predict_proba
        E.g. a meta-fitted learner or pipeline.
    X, y : array-like
        In-scope validation inputs and labels, of classes the tasks to come
        will not have (as new classes are to the estimator).
    X_out : array-like
        Out-of-scope validation inputs.
    cv : splitter
        Episodes over ``X, y``, e.g. :class:`~sklmeta.model_selection.EpisodeSplit`
        with the number of classes and shots of the tasks to come.
    thresholds : array-like or None, default=None
        Candidates; None tries 0 to 1 in steps of 0.01.
    min_in_scope_accuracy : float or None, default=None
        None picks the threshold with the largest mean of in-scope accuracy
        and out-of-scope recall; a number picks the one with the largest
        recall among those that keep in-scope accuracy at least this high.

    Returns
    -------
    result : RejectionThreshold

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklmeta.model_selection import EpisodeSplit
    >>> from sklmeta.rejection import choose_rejection_threshold
    >>> rng = np.random.RandomState(0)
    >>> X = np.repeat(np.arange(6.0), 10)[:, None] * 4 + rng.randn(60, 1)
    >>> y = np.repeat(np.arange(6), 10)
    >>> X_out = rng.uniform(-2, 22, size=(30, 1))
    >>> cv = EpisodeSplit(n_way=3, n_shot=3, n_query=5, n_episodes=5, random_state=0)
    >>> result = choose_rejection_threshold(LogisticRegression(), X, y, X_out, cv=cv)
    >>> 0 <= result.threshold <= 1
    True
    """
    if not hasattr(estimator, "predict_proba"):
        raise TypeError(
            f"estimator must have predict_proba; {type(estimator).__name__} has not."
        )
    grid = np.linspace(0, 1, 101) if thresholds is None else np.asarray(thresholds, float)
    if grid.ndim != 1 or len(grid) == 0 or not np.all(np.isfinite(grid)):
        raise ValueError(
            f"thresholds must be a non-empty 1-D array of numbers, got {thresholds!r}."
        )
    check_float(min_in_scope_accuracy, "min_in_scope_accuracy", min_value=0.0,
                max_value=1.0, allow_none=True)
    y = np.asarray(y)
    if len(X_out) == 0:
        raise ValueError("X_out is empty: give out-of-scope inputs to choose from.")
    right_in, right_out = np.zeros(len(grid)), np.zeros(len(grid))
    n_in = n_out = 0
    for support, query in cv.split(X, y):
        fitted = clone(estimator).fit(_safe_indexing(X, support), y[support])
        proba = fitted.predict_proba(_safe_indexing(X, query))
        correct = fitted.classes_[proba.argmax(axis=1)] == y[query]
        confidence = proba.max(axis=1)
        out_confidence = fitted.predict_proba(X_out).max(axis=1)
        right_in += ((confidence[None, :] >= grid[:, None]) & correct[None, :]).sum(axis=1)
        right_out += (out_confidence[None, :] < grid[:, None]).sum(axis=1)
        n_in += len(query)
        n_out += len(out_confidence)
    accuracy, recall = right_in / n_in, right_out / n_out
    if min_in_scope_accuracy is None:
        best = int(np.argmax(accuracy + recall))
    else:
        allowed = accuracy >= min_in_scope_accuracy
        if not allowed.any():
            raise ValueError(
                f"no threshold keeps in-scope accuracy at min_in_scope_accuracy="
                f"{min_in_scope_accuracy}; the best is {accuracy.max():.3f}."
            )
        best = int(np.argmax(np.where(allowed, recall, -1)))
    return RejectionThreshold(float(grid[best]), grid, accuracy, recall)


def _comparable(labels, label):
    """Whether ``label`` can equal some of ``labels`` (same kind of value)."""
    if labels.dtype.kind in "iuf":
        return isinstance(label, numbers.Number) and not isinstance(label, bool)
    if labels.dtype.kind in "US":
        return isinstance(label, str)
    return True


def _answers(classes, proba, threshold, reject_label):
    """Predicted classes, ``reject_label`` where the top probability < threshold."""
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    rejected = proba.max(axis=1) < threshold
    same_kind = _comparable(predicted, reject_label) and predicted.dtype.kind != "O"
    if same_kind:
        dtype = np.result_type(predicted.dtype, np.asarray(reject_label).dtype)
        answers = predicted.astype(dtype)
    else:
        answers = predicted.astype(object)
    answers[rejected] = reject_label
    return answers
