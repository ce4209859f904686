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
    where the learner sets ``_outputs_proba = True``."""

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
    """Predictions of a regressor from ``_predict_output``."""

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
