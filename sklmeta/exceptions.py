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

    Examples
    --------
    >>> from sklmeta import ProtoNetClassifier
    >>> ProtoNetClassifier().save_params(f_params="weights.pt")
    Traceback (most recent call last):
    ...
    sklmeta.exceptions.NotInitializedError: ProtoNetClassifier has no network yet, ...
    """


class MetaTrainingInterrupted(UserWarning):
    """Meta-training stopped early on a keyboard interrupt (Ctrl-C).

    The estimator keeps everything learned up to the interrupt and stays
    usable. The unfinished epoch is in ``history_`` with
    ``interrupted=True``; ``set_params(warm_start=True)`` and ``meta_fit``
    finish it and go on, meeting the episodes an uninterrupted run would.

    Examples
    --------
    A callback stands in for the user pressing Ctrl-C after 15 steps:

    >>> import warnings
    >>> from sklearn.datasets import load_digits
    >>> from skorch.callbacks import Callback
    >>> from sklmeta import ProtoNetClassifier
    >>> from sklmeta.exceptions import MetaTrainingInterrupted
    >>> class CtrlC(Callback):
    ...     def __init__(self, after):
    ...         self.after = after
    ...     def on_batch_end(self, net, **kwargs):
    ...         self.after -= 1
    ...         if self.after == 0:
    ...             raise KeyboardInterrupt
    >>> X, y = load_digits(return_X_y=True)
    >>> learner = ProtoNetClassifier(encoder="mlp", max_epochs=3, episodes_per_epoch=10,
    ...                              n_val_episodes=5, callbacks=[CtrlC(after=15)],
    ...                              verbose=0, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     learner = learner.meta_fit(X[y < 7] / 16, y[y < 7])
    >>> [w.category.__name__ for w in caught]
    ['MetaTrainingInterrupted']
    >>> len(learner.history_), learner.history_[-1]["interrupted"]
    (2, True)
    """


class MetaTrainingDiverged(RuntimeWarning):
    """Meta-training stopped because the loss stopped being finite or exploded.

    The weights are rolled back to the start of the epoch where it happened
    and ``history_``'s last epoch records ``stopped_by='diverged'``. The
    usual cause is a learning rate too high, or inputs whose scale
    overflows float32 arithmetic.

    Examples
    --------
    A schedule that multiplies the learning rate by a million at each epoch:

    >>> import warnings
    >>> from sklearn.datasets import load_digits
    >>> from sklmeta import ProtoNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> learner = ProtoNetClassifier(encoder="mlp", max_epochs=6, episodes_per_epoch=10,
    ...                              n_val_episodes=5, lr_schedule="step",
    ...                              lr_schedule__step_size=1, lr_schedule__gamma=1e6,
    ...                              verbose=0, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     learner = learner.meta_fit(X[y < 7] / 16, y[y < 7])
    >>> [w.category.__name__ for w in caught]
    ['MetaTrainingDiverged']
    >>> learner.history_[-1]["stopped_by"]
    'diverged'
    """


class AdaptationDiverged(RuntimeWarning):
    """Adapting to a support set by gradient steps diverged.

    ``fit`` of the gradient-based learners stops at the first step whose
    support loss is not finite or explodes and keeps the weights of the
    step before. The usual cause is ``adapt_lr`` too high for the task, or
    inputs or targets on a much larger scale than in meta-training.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sklmeta import MAMLRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-5, 5, size=(10, 1))
    >>> learner = MAMLRegressor(n_adapt_steps=10, adapt_lr=1e4, verbose=0, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     learner = learner.fit(X, 3 * np.sin(X[:, 0]))
    >>> [w.category.__name__ for w in caught]
    ['AdaptationDiverged']
    >>> bool(np.isfinite(learner.predict(X)).all())
    True
    """


class DivergenceError(ValueError):
    """The loss stopped being finite or exploded before anything was learned.

    Raised by ``meta_fit`` when meta-training diverges in its first epoch
    (the estimator is then left not meta-fitted), and by ``fit`` when the
    adaptation to a task gives weights or a support loss that are not
    finite. Subclasses :class:`ValueError`, so scikit-learn's model
    selection records the failed candidate and goes on.

    Examples
    --------
    Inputs on a scale that overflows float32 arithmetic:

    >>> from sklearn.datasets import load_digits
    >>> from sklmeta import ProtoNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> ProtoNetClassifier(encoder="mlp", max_epochs=1, episodes_per_epoch=10,
    ...                    verbose=0, random_state=0).meta_fit(X * 1e30, y)
    Traceback (most recent call last):
    ...
    sklmeta.exceptions.DivergenceError: ...
    """
