"""Few-shot tasks and the samplers that draw N-way K-shot episodes.

A *task* is one small supervised problem: a support set to learn from and a
query set to answer. Meta-learners are trained on many tasks, either given
as a collection of :class:`Task` objects or sampled as episodes from a
labelled pool by an :class:`EpisodeSampler`.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import _num_samples, check_array, column_or_1d

from .utils._validation import check_float32_range, check_int, check_label_types

__all__ = ["Episode", "EpisodeSampler", "Task", "TaskMixture", "check_tasks"]


@dataclass(frozen=True, eq=False)
class Task:
    """One few-shot task: a labelled support set and, optionally, a query set.

    Parameters
    ----------
    X_support : array-like of shape (n_support, n_features)
        Inputs to adapt on.
    y_support : array-like of shape (n_support,)
        Their labels (any labels scikit-learn accepts) or regression targets.
    X_query : array-like of shape (n_query, n_features), default=None
        Inputs the adapted learner is evaluated on during meta-training.
    y_query : array-like of shape (n_query,), default=None
        Their labels; for classification every query label must occur in
        ``y_support``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta import Task
    >>> task = Task(np.zeros((2, 3)), ["a", "b"], np.ones((4, 3)), ["a", "b", "b", "a"])
    >>> task.n_support, task.n_query
    (2, 4)
    """

    X_support: object
    y_support: object
    X_query: object = None
    y_query: object = None

    def __post_init__(self):
        X_support = check_array(self.X_support, dtype=None, input_name="X_support")
        y_support = _check_targets(self.y_support, "y_support")
        check_float32_range(X_support, "X_support")
        if len(y_support) != len(X_support):
            raise ValueError(
                f"X_support has {len(X_support)} samples but y_support has "
                f"{len(y_support)}."
            )
        if (self.X_query is None) != (self.y_query is None):
            raise ValueError("X_query and y_query must be given together.")
        object.__setattr__(self, "X_support", X_support)
        object.__setattr__(self, "y_support", y_support)
        if self.X_query is not None:
            X_query = check_array(self.X_query, dtype=None, input_name="X_query")
            y_query = _check_targets(self.y_query, "y_query")
            check_float32_range(X_query, "X_query")
            if len(y_query) != len(X_query):
                raise ValueError(
                    f"X_query has {len(X_query)} samples but y_query has "
                    f"{len(y_query)}."
                )
            if X_query.shape[1] != X_support.shape[1]:
                raise ValueError(
                    f"X_query has {X_query.shape[1]} features but X_support has "
                    f"{X_support.shape[1]}."
                )
            object.__setattr__(self, "X_query", X_query)
            object.__setattr__(self, "y_query", y_query)

    @property
    def n_support(self):
        """Number of support samples."""
        return len(self.y_support)

    @property
    def n_query(self):
        """Number of query samples (0 without a query set)."""
        return 0 if self.y_query is None else len(self.y_query)

    @property
    def n_features(self):
        """Number of input features."""
        return self.X_support.shape[1]


def _check_targets(y, name):
    """Labels or targets of a task as a 1-d array: one type of label, and
    numbers finite and within float32's range."""
    y = column_or_1d(np.asarray(y), warn=False)
    check_label_types(y, name)
    if y.dtype.kind in "fc" and not np.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    check_float32_range(y, name)
    return y


@dataclass(frozen=True, eq=False)
class Episode:
    """Indices of one N-way K-shot episode drawn from a labelled pool.

    Support and query indices are grouped by class, in the order of
    ``classes``: the first ``n_shot`` support indices belong to
    ``classes[0]``, and so on.

    Parameters
    ----------
    support_indices : ndarray of shape (n_way * n_shot,)
        Rows of the pool forming the support set.
    query_indices : ndarray of shape (n_way * n_query,)
        Rows of the pool forming the query set, disjoint from the support.
    classes : ndarray of shape (n_way,)
        The pool labels of the episode's classes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta import EpisodeSampler
    >>> y = np.repeat([0, 1, 2], 4)
    >>> X = np.arange(12.0).reshape(-1, 1)
    >>> sampler = EpisodeSampler(X, y, n_way=2, n_shot=1, n_query=2, random_state=0)
    >>> episode = next(sampler.episodes())
    >>> episode.n_way, len(episode.support_indices), len(episode.query_indices)
    (2, 2, 4)
    >>> bool((y[episode.support_indices] == episode.classes).all())
    True
    """

    support_indices: np.ndarray
    query_indices: np.ndarray
    classes: np.ndarray

    @property
    def n_way(self):
        """Number of classes in the episode."""
        return len(self.classes)


class EpisodeSampler:
    """Draw N-way K-shot episodes from a labelled pool.

    Each episode picks ``n_way`` classes at random, then ``n_shot`` support
    and ``n_query`` query samples of each, without overlap. Iterating yields
    :class:`Task` objects; :meth:`episodes` yields the indices instead.
    As with scikit-learn's splitters, the random generator is rebuilt from
    ``random_state`` at each iteration, so an int seed repeats the episodes.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The pool of inputs.
    y : array-like of shape (n_samples,)
        Their class labels.
    n_way : int, default=5
        Classes per episode.
    n_shot : int, default=1
        Support samples per class.
    n_query : int, default=15
        Query samples per class (0 for support-only episodes).
    n_episodes : int or None, default=None
        Episodes per iteration; None draws without end.
    random_state : int, RandomState instance or None, default=None
        Seed of the episode draws. When the sampler is given to
        ``meta_fit``, an int is combined with the learner's seed and the
        epoch, so that each epoch draws new episodes.

    Raises
    ------
    ValueError
        At construction, if no episode can be drawn: fewer than ``n_way``
        classes, or a class with fewer than ``n_shot + n_query`` samples.

    See Also
    --------
    sklmeta.model_selection.EpisodeSplit : the same episodes as CV splits.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta import EpisodeSampler
    >>> X = np.arange(40, dtype=float).reshape(20, 2)
    >>> y = np.repeat(["a", "b", "c", "d"], 5)
    >>> sampler = EpisodeSampler(X, y, n_way=3, n_shot=2, n_query=1,
    ...                          n_episodes=4, random_state=0)
    >>> len(sampler)
    4
    >>> task = next(iter(sampler))
    >>> task.X_support.shape, task.X_query.shape
    ((6, 2), (3, 2))
    """

    def __init__(
        self, X, y, n_way=5, n_shot=1, n_query=15, n_episodes=None, random_state=None
    ):
        self.X = check_array(X, dtype=None, allow_nd=True, input_name="X")
        self.y = column_or_1d(np.asarray(y), warn=True)
        check_label_types(self.y, "y")
        if len(self.y) != len(self.X):
            raise ValueError(f"X has {len(self.X)} samples but y has {len(self.y)}.")
        self.n_way = n_way
        self.n_shot = n_shot
        self.n_query = n_query
        self.n_episodes = n_episodes
        self.random_state = random_state
        self._index = _ClassIndex(self.y, n_way, n_shot, n_query)
        check_int(n_episodes, "n_episodes", min_value=1, allow_none=True)

    def __len__(self):
        if self.n_episodes is None:
            raise TypeError("an EpisodeSampler with n_episodes=None has no length.")
        return self.n_episodes

    def episodes(self):
        """Yield :class:`Episode` index sets, reproducibly for an int seed."""
        rng = check_random_state(self.random_state)
        count = 0
        while self.n_episodes is None or count < self.n_episodes:
            yield self._index.draw(rng)
            count += 1

    def __iter__(self):
        for episode in self.episodes():
            yield Task(
                self.X[episode.support_indices],
                self.y[episode.support_indices],
                self.X[episode.query_indices],
                self.y[episode.query_indices],
            )

    def __repr__(self):
        return (
            f"{type(self).__name__}(n_way={self.n_way}, n_shot={self.n_shot}, "
            f"n_query={self.n_query}, n_episodes={self.n_episodes}, "
            f"random_state={self.random_state!r})"
        )


class TaskMixture:
    """Several sources of tasks, each meta-training episode drawn from one.

    Give it to ``meta_fit`` in place of a single pool or task collection to
    meta-train on several data sets, domains or task families at once (the
    sampling of Meta-Dataset, Triantafillou et al., 2020): for each episode a
    source is chosen at random with probability proportional to its weight,
    and the episode is drawn from that source alone, so that no episode
    mixes the classes of two sources.

    Parameters
    ----------
    sources : dict or list
        The sources, as a list or as a dict from a name to a source. Each
        source is one of:

        - an ``(X, y)`` tuple, a labelled pool from which the learner draws
          episodes of its own ``n_way``, ``n_shot`` and ``n_query`` (capped at
          the pool's classes, as for ``meta_fit(X, y)``);
        - an :class:`EpisodeSampler`, whose own episode shape applies;
        - a list of :class:`Task`, or a task family such as
          :class:`~sklmeta.datasets.SinusoidTasks`.

        All sources must have the same number of features.
    weights : array-like of shape (n_sources,), dict or None, default=None
        Relative sampling weight of each source (a dict when ``sources``
        is one, keyed by the same names); they need not sum to one. None
        weighs every source the same, whatever its size.

    Attributes
    ----------
    names : list of str
        The sources' names: the dict's keys, else ``'source0'``, ``'source1'``,
        and so on.
    probabilities : ndarray of shape (n_sources,)
        The weights normalised to sum to one.

    Notes
    -----
    Which source each episode comes from, and the episode itself, follow
    the learner's ``random_state``: a seeded ``meta_fit`` draws the same
    episodes in the same order on every run.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from sklmeta import ProtoNetClassifier, TaskMixture
    >>> X1, y1 = make_blobs(n_samples=[10] * 8, n_features=4, random_state=0)
    >>> X2, y2 = make_blobs(n_samples=[10] * 6, n_features=4, random_state=1)
    >>> tasks = TaskMixture({"first": (X1, y1), "second": (X2, y2)},
    ...                     weights={"first": 3, "second": 1})
    >>> tasks.probabilities
    array([0.75, 0.25])
    >>> clf = ProtoNetClassifier(encoder="mlp", n_way=3, n_shot=2, n_query=3,
    ...                          max_epochs=2, verbose=0, random_state=0)
    >>> clf.meta_fit(tasks).history_[-1]["epoch"]
    2
    """

    def __init__(self, sources, weights=None):
        if isinstance(sources, Mapping):
            names = [str(name) for name in sources]
            items = list(sources.values())
        elif isinstance(sources, (list, tuple)):
            items = list(sources)
            names = [f"source{i}" for i in range(len(items))]
        else:
            raise TypeError(
                "sources must be a list of task sources or a dict from names to "
                f"task sources; got {type(sources).__name__}."
            )
        if not items:
            raise ValueError("sources is empty: give at least one task source.")
        self.names = names
        self.sources = [_check_source(item, f"sources[{name!r}]")
                        for name, item in zip(names, items)]
        self.weights = weights
        self.probabilities = _source_probabilities(weights, sources, names)

    def __len__(self):
        return len(self.sources)

    def __repr__(self):
        shares = ", ".join(f"{name}: {p:.3g}" for name, p in zip(self.names,
                                                                 self.probabilities))
        return f"{type(self).__name__}({{{shares}}})"


def _check_source(source, name):
    """A source of a :class:`TaskMixture`: a pool as ``(X, y)`` arrays,
    else the sampler, task list or family as given."""
    if isinstance(source, tuple) and len(source) == 2:
        # the inputs are checked at meta_fit, after any preprocessing of a
        # pipeline: here they may still be strings
        X, y = source
        if isinstance(X, (str, bytes)) or not (hasattr(X, "__len__") or hasattr(X, "shape")):
            raise TypeError(f"{name} must hold a sequence of samples, got "
                            f"{type(X).__name__}.")
        y = column_or_1d(np.asarray(y), warn=True)
        check_label_types(y, f"the labels of {name}")
        # _num_samples: sparse matrices have a shape but no len
        if len(y) != _num_samples(X):
            raise ValueError(f"{name} has {_num_samples(X)} samples but {len(y)} labels.")
        return X, y
    if isinstance(source, TaskMixture):
        raise TypeError(f"{name} is a TaskMixture: list its sources in this one instead.")
    if isinstance(source, (EpisodeSampler, list)):
        return source
    if callable(getattr(source, "episode_arrays", None)) and hasattr(source, "n_features"):
        return source
    raise TypeError(
        f"{name} must be an (X, y) pool, an EpisodeSampler, a list of Task or a "
        f"task family; got {type(source).__name__}."
    )


def _source_probabilities(weights, sources, names):
    if weights is None:
        return np.full(len(names), 1.0 / len(names))
    if isinstance(weights, Mapping):
        if not isinstance(sources, Mapping):
            raise TypeError("weights is a dict, so sources must be a dict with the same keys.")
        missing = set(names) - {str(k) for k in weights}
        extra = {str(k) for k in weights} - set(names)
        if missing or extra:
            raise ValueError(
                f"weights must have one entry per source; missing {sorted(missing)}, "
                f"unknown {sorted(extra)}."
            )
        weights = [weights[key] for key in sources]
    try:
        values = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"weights must be numbers, got {weights!r}.") from None
    if values.shape != (len(names),):
        raise ValueError(
            f"weights must have one value per source ({len(names)}), got shape "
            f"{values.shape}."
        )
    if not np.all(np.isfinite(values)) or np.any(values < 0) or values.sum() <= 0:
        raise ValueError(
            f"weights must be finite, non-negative and not all zero, got {values.tolist()}."
        )
    return values / values.sum()


class _ClassIndex:
    """Per-class row indices of a pool, checked once to draw episodes fast."""

    def __init__(self, y, n_way, n_shot, n_query, y_name="y"):
        n_way = check_int(n_way, "n_way", min_value=1)
        n_shot = check_int(n_shot, "n_shot", min_value=1)
        n_query = check_int(n_query, "n_query", min_value=0)
        self.classes, y_encoded, counts = np.unique(
            y, return_inverse=True, return_counts=True
        )
        if n_way > len(self.classes):
            raise ValueError(
                f"n_way={n_way} exceeds the {len(self.classes)} classes in {y_name}."
            )
        needed = n_shot + n_query
        if counts.min() < needed:
            small = self.classes[np.argmin(counts)].item()
            raise ValueError(
                f"n_shot + n_query = {needed} exceeds the {counts.min()} samples of "
                f"class {small!r} in {y_name}; lower n_shot or n_query, or drop "
                "classes with fewer samples."
            )
        order = np.argsort(y_encoded, kind="stable")
        self.starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        self.counts = counts
        self.order = order
        self.n_way, self.n_shot, self.n_query = n_way, n_shot, n_query
        self.equal_counts = bool(np.all(counts == counts[0]))

    def draw(self, rng):
        """Draw one episode's indices with the generator ``rng``."""
        n_way, n_shot, n_query = self.n_way, self.n_shot, self.n_query
        chosen = rng.choice(len(self.classes), size=n_way, replace=False)
        needed = n_shot + n_query
        if self.equal_counts:
            # one argsort over random keys picks `needed` distinct rows per class
            picks = np.argsort(rng.random_sample((n_way, self.counts[0])), axis=1)
            picks = picks[:, :needed]
        else:
            picks = np.stack(
                [rng.permutation(self.counts[c])[:needed] for c in chosen]
            )
        rows = self.order[self.starts[chosen][:, None] + picks]
        return Episode(
            support_indices=rows[:, :n_shot].reshape(-1),
            query_indices=rows[:, n_shot:].reshape(-1),
            classes=self.classes[chosen],
        )


def check_tasks(tasks, name="tasks"):
    """Validate a task collection and return an iterable of :class:`Task`.

    Accepts an :class:`EpisodeSampler`, a sequence of tasks, or any other
    iterable of tasks (consumed lazily). Tasks may also be given as
    ``(X_support, y_support, X_query, y_query)`` tuples.

    Parameters
    ----------
    tasks : EpisodeSampler or iterable of Task or tuple
        The task collection.
    name : str, default='tasks'
        The name errors give to ``tasks``.

    Returns
    -------
    tasks : EpisodeSampler, list of Task or generator of Task
        A sequence given stays a list; any other iterable is converted as
        it is consumed.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta.tasks import check_tasks
    >>> X, y = np.zeros((4, 2)), np.array([0, 0, 1, 1])
    >>> [type(task).__name__ for task in check_tasks([(X, y, X, y)])]
    ['Task']
    >>> check_tasks([])
    Traceback (most recent call last):
    ...
    ValueError: tasks is empty: give at least one task.
    """
    if isinstance(tasks, EpisodeSampler):
        return tasks
    if isinstance(tasks, (str, bytes, np.ndarray)) or not isinstance(tasks, Iterable):
        raise TypeError(
            f"{name} must be an EpisodeSampler or an iterable of Task objects; "
            f"got {type(tasks).__name__}. To sample episodes from a labelled "
            "pool, call meta_fit(X, y)."
        )
    if isinstance(tasks, (list, tuple)):
        if len(tasks) == 0:
            raise ValueError(f"{name} is empty: give at least one task.")
        return [as_task(task, f"{name}[{i}]") for i, task in enumerate(tasks)]
    return (as_task(task, f"a task of {name}") for task in tasks)


def as_task(task, name="task"):
    """Return ``task`` as a :class:`Task`, converting a 2- or 4-tuple."""
    if isinstance(task, Task):
        return task
    if isinstance(task, tuple) and len(task) in (2, 4):
        return Task(*task)
    raise TypeError(
        f"{name} must be a Task or a (X_support, y_support[, X_query, y_query]) "
        f"tuple; got {type(task).__name__}."
    )
