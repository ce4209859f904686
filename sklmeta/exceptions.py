"""Exceptions and warnings raised by sklmeta."""

from sklearn.exceptions import NotFittedError

__all__ = ["NotInitializedError", "MetaTrainingInterrupted"]


class NotInitializedError(NotFittedError):
    """The estimator has no network yet: call ``meta_fit`` or ``fit`` first.

    Subclasses scikit-learn's :class:`~sklearn.exceptions.NotFittedError`, so
    code that catches the latter catches this too.
    """


class MetaTrainingInterrupted(UserWarning):
    """Meta-training stopped early on a keyboard interrupt.

    The estimator keeps everything learned up to the interrupt and stays
    usable; ``warm_start=True`` continues from there.
    """
