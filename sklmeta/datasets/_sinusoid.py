"""The sinusoid regression task family of the MAML paper."""

import math

import numpy as np
from sklearn.utils import check_random_state

from ..tasks import Task
from ..utils._validation import check_float, check_int

__all__ = ["SinusoidTasks"]

# Tasks are drawn in blocks of this many; iteration and the tensor stream of
# the gradient-based regressors share it, so both see the same tasks.
_BLOCK = 100


class SinusoidTasks:
    """Random sinusoid regression tasks, ``y = A sin(x - phi)``.

    Each task draws an amplitude ``A``, a phase ``phi`` and then its inputs
    ``x`` uniformly, as in the regression experiment of Finn et al. (2017):
    ``A ~ U[0.1, 5.0]``, ``phi ~ U[0, pi]``, ``x ~ U[-5, 5]``. Iterating
    yields :class:`~sklmeta.Task` objects with ``n_shot`` support and
    ``n_query`` query points, so the object can be passed to ``meta_fit``
    directly. As with scikit-learn's splitters, the random generator is
    rebuilt from ``random_state`` at each iteration, so an int seed repeats
    the tasks.

    Parameters
    ----------
    n_shot : int, default=10
        Support points per task (the paper's K).
    n_query : int, default=10
        Query points per task.
    n_tasks : int or None, default=None
        Tasks per iteration; None draws without end.
    amplitude_range : tuple of float, default=(0.1, 5.0)
        Bounds of the uniform amplitude.
    phase_range : tuple of float, default=(0, pi)
        Bounds of the uniform phase.
    x_range : tuple of float, default=(-5.0, 5.0)
        Bounds of the uniform inputs.
    random_state : int, RandomState instance or None, default=None
        Seed of the tasks.

    Attributes
    ----------
    n_features : int
        Always 1: inputs are scalars, given as one column.

    See Also
    --------
    sklmeta.gradient_based.MAMLRegressor : meta-learns on these tasks.

    Notes
    -----
    Meta-training on an infinite family is fine: ``meta_fit`` draws
    ``max_epochs * episodes_per_epoch`` tasks from it. It follows the task
    family protocol (:meth:`episode_arrays`), so meta-training draws its
    tasks as arrays in blocks, the same tasks iteration would give, without
    building :class:`~sklmeta.Task` objects.

    References
    ----------
    .. [1] C. Finn, P. Abbeel and S. Levine, "Model-Agnostic Meta-Learning
       for Fast Adaptation of Deep Networks", ICML 2017.

    Examples
    --------
    >>> from sklmeta.datasets import SinusoidTasks
    >>> tasks = SinusoidTasks(n_shot=5, n_query=20, n_tasks=3, random_state=0)
    >>> len(tasks)
    3
    >>> task = next(iter(tasks))
    >>> task.X_support.shape, task.y_query.shape
    ((5, 1), (20,))
    """

    n_features = 1

    def __init__(self, n_shot=10, n_query=10, n_tasks=None, amplitude_range=(0.1, 5.0),
                 phase_range=(0.0, math.pi), x_range=(-5.0, 5.0), random_state=None):
        self.n_shot = check_int(n_shot, "n_shot", min_value=1)
        self.n_query = check_int(n_query, "n_query", min_value=0)
        self.n_tasks = check_int(n_tasks, "n_tasks", min_value=1, allow_none=True)
        self.amplitude_range = _check_range(amplitude_range, "amplitude_range")
        self.phase_range = _check_range(phase_range, "phase_range")
        self.x_range = _check_range(x_range, "x_range")
        self.random_state = random_state

    def __len__(self):
        if self.n_tasks is None:
            raise TypeError("a SinusoidTasks with n_tasks=None has no length.")
        return self.n_tasks

    def blocks(self, random_state=None):
        """Yield tasks as arrays, a block of up to 100 tasks at a time.

        Parameters
        ----------
        random_state : int, RandomState instance or None, default=None
            Seed used when the object's own ``random_state`` is None.

        Yields
        ------
        x : ndarray of shape (n_block, n_shot + n_query)
            Inputs, support points first.
        y : ndarray of shape (n_block, n_shot + n_query)
            Targets.
        amplitude, phase : ndarray of shape (n_block,)
            The parameters of each task.
        """
        state = self.random_state if self.random_state is not None else random_state
        rng = check_random_state(state)
        n_points = self.n_shot + self.n_query
        done = 0
        while self.n_tasks is None or done < self.n_tasks:
            size = _BLOCK if self.n_tasks is None else min(_BLOCK, self.n_tasks - done)
            amplitude = rng.uniform(*self.amplitude_range, size=size)
            phase = rng.uniform(*self.phase_range, size=size)
            x = rng.uniform(*self.x_range, size=(size, n_points))
            yield x, amplitude[:, None] * np.sin(x - phase[:, None]), amplitude, phase
            done += size

    def episode_arrays(self, random_state=None):
        """Yield tasks as the arrays of the task family protocol.

        ``meta_fit`` draws tasks through this method, without building
        :class:`~sklmeta.Task` objects; they are the tasks iteration gives.

        Parameters
        ----------
        random_state : int, RandomState instance or None, default=None
            Seed used when the object's own ``random_state`` is None.

        Yields
        ------
        X_support : ndarray of shape (n_block, n_shot, 1)
        y_support : ndarray of shape (n_block, n_shot)
        X_query : ndarray of shape (n_block, n_query, 1)
        y_query : ndarray of shape (n_block, n_query)
        """
        k = self.n_shot
        for x, y, _, _ in self.blocks(random_state):
            yield x[:, :k, None], y[:, :k], x[:, k:, None], y[:, k:]

    def __iter__(self):
        k = self.n_shot
        for x, y, _, _ in self.blocks():
            for xi, yi in zip(x, y):
                query = (xi[k:, None], yi[k:]) if self.n_query else (None, None)
                yield Task(xi[:k, None], yi[:k], *query)

    def __repr__(self):
        return (
            f"{type(self).__name__}(n_shot={self.n_shot}, n_query={self.n_query}, "
            f"n_tasks={self.n_tasks}, random_state={self.random_state!r})"
        )


def _check_range(value, name):
    try:
        low, high = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a (low, high) pair; got {value!r}.") from None
    low, high = check_float(low, f"{name}[0]"), check_float(high, f"{name}[1]")
    if not low < high:
        raise ValueError(f"{name} must have low < high; got {value!r}.")
    return (low, high)
