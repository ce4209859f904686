"""``predict`` and ``predict_proba`` written once for every learner."""

import torch

from ._torch import to_numpy

__all__ = ["ClassifierOutputMixin", "RegressorOutputMixin"]

_QUERIES = """
        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query inputs.
"""


class _PoorScoreUntrainedMixin:
    """Tells scikit-learn's checks whether an unfitted-by-``meta_fit``
    learner may score poorly (``_poor_score_untrained``)."""

    _task_tags = None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        getattr(tags, self._task_tags).poor_score = self._poor_score_untrained
        return tags


class ClassifierOutputMixin(_PoorScoreUntrainedMixin):
    """Class predictions from ``_predict_output``: logits, or probabilities
    where the learner sets ``_outputs_proba = True``.

    A learner's ``_forward_adapted`` gives one row of scores per query;
    this mixin turns them into ``predict_proba`` (in the order of
    ``classes_``) and ``predict`` (the most probable class), so every
    classifier answers alike.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklmeta import ProtoNetClassifier
    >>> from sklmeta.base import ClassifierOutputMixin
    >>> issubclass(ProtoNetClassifier, ClassifierOutputMixin)
    True
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> learner = ProtoNetClassifier(encoder="mlp", verbose=0, random_state=0)
    >>> learner = learner.fit(X[:50], y[:50])
    >>> proba = learner.predict_proba(X[50:60])
    >>> proba.shape
    (10, 10)
    >>> bool((learner.predict(X[50:60]) == learner.classes_[proba.argmax(axis=1)]).all())
    True
    """

    _task_tags = "classifier_tags"

    def predict_proba(self, X):
        output = self._predict_output(X)
        if not self._outputs_proba:
            output = torch.softmax(output.double(), dim=1)
        return to_numpy(output)

    predict_proba.__doc__ = f"""Class probabilities of the learner adapted by ``fit``.
{_QUERIES}
        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """

    def predict(self, X):
        best = self._predict_output(X).argmax(dim=1)
        return self.classes_[to_numpy(best)]

    predict.__doc__ = f"""Most probable class of each query.
{_QUERIES}
        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels, from ``classes_``.
        """


class RegressorOutputMixin(_PoorScoreUntrainedMixin):
    """Predictions of a regressor from ``_predict_output``: one target per
    query, as a 1-D array.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta import MAMLRegressor
    >>> from sklmeta.base import RegressorOutputMixin
    >>> issubclass(MAMLRegressor, RegressorOutputMixin)
    True
    >>> X = np.linspace(-5, 5, 10)[:, None]
    >>> learner = MAMLRegressor(verbose=0, random_state=0).fit(X, np.sin(X[:, 0]))
    >>> learner.predict(X).shape
    (10,)
    """

    _task_tags = "regressor_tags"

    def predict(self, X):
        return to_numpy(self._predict_output(X).squeeze(-1))

    predict.__doc__ = f"""Output of the learner adapted by ``fit``.
{_QUERIES}
        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted targets.
        """
