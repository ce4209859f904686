"""``predict`` and ``predict_proba`` written once for every learner."""

import torch

from ._torch import to_numpy

__all__ = ["ClassifierOutputMixin", "RegressorOutputMixin"]


class ClassifierOutputMixin:
    """Class predictions from ``_predict_output``: logits, or probabilities
    where the learner sets ``_outputs_proba = True``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = self._poor_score_untrained
        return tags

    def predict_proba(self, X):
        """Class probabilities of the learner adapted by ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        output = self._predict_output(X)
        if not self._outputs_proba:
            output = torch.softmax(output.double(), dim=1)
        return to_numpy(output)

    def predict(self, X):
        """Most probable class of each query.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels, from ``classes_``.
        """
        best = self._predict_output(X).argmax(dim=1)
        return self.classes_[to_numpy(best)]


class RegressorOutputMixin:
    """Predictions of a regressor from ``_predict_output``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = self._poor_score_untrained
        return tags

    def predict(self, X):
        """Output of the learner adapted by ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted targets.
        """
        return to_numpy(self._predict_output(X).squeeze(-1))
