"""Exceptions and warnings raised by sklmeta."""

from sklearn.exceptions import NotFittedError

__all__ = [
    "AdaptationDiverged",
    "DivergenceError",
    "MetaTrainingDiverged",
    "MetaTrainingInterrupted",
    "NotInitializedError",
]


class NotInitializedError(NotFittedError):
    """The estimator has no network yet: call ``meta_fit`` or ``fit`` first.

    Subclasses scikit-learn's :class:`~sklearn.exceptions.NotFittedError`, so
    code that catches the latter catches this too.
    """


class MetaTrainingInterrupted(UserWarning):
    """Meta-training stopped early on a keyboard interrupt (Ctrl-C).

    The estimator keeps everything learned up to the interrupt and stays
    usable. The unfinished epoch is in ``history_`` with
    ``interrupted=True``; ``set_params(warm_start=True)`` and ``meta_fit``
    finish it and go on, meeting the episodes an uninterrupted run would.
    """


class MetaTrainingDiverged(RuntimeWarning):
    """Meta-training stopped because the loss stopped being finite or exploded.

    The weights are rolled back to the start of the epoch where it happened
    and ``history_``'s last epoch records ``stopped_by='diverged'``. The
    usual cause is a learning rate too high, or inputs whose scale
    overflows float32 arithmetic.
    """


class AdaptationDiverged(RuntimeWarning):
    """Adapting to a support set by gradient steps diverged.

    ``fit`` of the gradient-based learners stops at the first step whose
    support loss is not finite or explodes and keeps the weights of the
    step before. The usual cause is ``adapt_lr`` too high for the task, or
    inputs or targets on a much larger scale than in meta-training.
    """


class DivergenceError(ValueError):
    """The loss stopped being finite or exploded before anything was learned.

    Raised by ``meta_fit`` when meta-training diverges in its first epoch
    (the estimator is then left not meta-fitted), and by ``fit`` when the
    adaptation to a task gives weights or a support loss that are not
    finite. Subclasses :class:`ValueError`, so scikit-learn's model
    selection records the failed candidate and goes on.
    """
