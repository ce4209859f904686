"""Streams of episodes as tensors, for the meta-training loop.

Meta-training draws thousands of episodes; building :class:`~sklmeta.Task`
objects and converting them for each would cost more than the network on
small problems. A labelled pool is therefore moved to the device once and
episodes are gathered from it by index, and a task family that can draw its
tasks as arrays (the *task family protocol*, below) is drawn from in blocks.

Every source has ``n_features``, ``feature_names``, ``seed(seed)`` and
``draw()``, which returns one :class:`EpisodeTensors`.

The task family protocol
------------------------
Any object with an ``n_features`` attribute and a method
``episode_arrays(random_state)`` is a task family. The method yields
blocks of tasks as four arrays ``(X_support, y_support, X_query, y_query)``
of shapes ``(n_tasks, n_support, n_features)``, ``(n_tasks, n_support)``,
``(n_tasks, n_query, n_features)`` and ``(n_tasks, n_query)``; a finite
family is started again when it runs out. Classification labels are the
positions ``0 .. n_way - 1`` of each task's classes. ``random_state`` is
the seed that ``meta_fit`` derives from the estimator's; a family with a
seed of its own may use that instead.
:class:`~sklmeta.datasets.SinusoidTasks` is one such family.
"""

import numbers
from typing import NamedTuple, Optional

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_X_y

from ._safeguards import derive_seed
from ._torch import to_tensor
from .tasks import EpisodeSampler, TaskMixture, _ClassIndex, check_tasks
from .utils._validation import check_float32_range, check_label_types

__all__ = [
    "EpisodeTensors",
    "FamilyEpisodes",
    "MetaBatches",
    "MixtureEpisodes",
    "PoolEpisodes",
    "TaskEpisodes",
    "check_pool",
    "episode_source",
    "feature_names",
    "split_validation",
]


class EpisodeTensors(NamedTuple):
    """One episode on the device: class labels are local, ``0..n_way-1``.

    For classification the support and query rows are grouped by class in
    label order when the episode comes from a pool; tasks given by the user
    keep their own order. For regression ``n_way`` is None and the targets
    are float.
    """

    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor
    n_way: Optional[int]


class PoolEpisodes:
    """Episodes drawn from a labelled pool held on the device."""

    def __init__(self, X, y, n_way, n_shot, n_query, random_state=None,
                 feature_names=None):
        self.X = X
        self.index = _ClassIndex(np.asarray(y), n_way, n_shot, n_query)
        self.n_features = X.shape[1]
        self.feature_names = feature_names
        self.random_state = random_state
        self.rng = None
        device = X.device
        n_way, n_shot, n_query = self.index.n_way, self.index.n_shot, self.index.n_query
        labels = torch.arange(n_way, device=device)
        self.y_support = labels.repeat_interleave(n_shot)
        self.y_query = labels.repeat_interleave(n_query)

    def seed(self, seed):
        """Start drawing from ``seed``, combined with ``random_state`` when it
        is an int; a RandomState instance is drawn from as it is."""
        state = self.random_state
        if state is None:
            self.rng = check_random_state(int(seed))
        elif isinstance(state, numbers.Integral):
            sequence = np.random.SeedSequence([int(state), int(seed)])
            self.rng = np.random.RandomState(sequence.generate_state(1)[0])
        elif self.rng is None:
            self.rng = check_random_state(state)

    def map_inputs(self, transform):
        """Replace the pool's inputs by ``transform`` of them, so that later
        episodes hold its output (e.g. the features of a frozen encoder)."""
        self.X = transform(self.X)

    def draw(self):
        episode = self.index.draw(self.rng)
        rows = np.concatenate([episode.support_indices, episode.query_indices])
        x = self.X[torch.from_numpy(rows).to(self.X.device)]
        n_support = len(episode.support_indices)
        return EpisodeTensors(
            x[:n_support], self.y_support, x[n_support:], self.y_query, self.index.n_way
        )


class TaskEpisodes:
    """Episodes from a user's task collection, converted one at a time."""

    def __init__(self, tasks, device, classify=True):
        self.device = device
        self.classify = classify
        self.sequence = tasks if isinstance(tasks, list) else None
        self.tasks = tasks
        self.iterator = None
        self.rng = None
        first = self.sequence[0] if self.sequence is not None else self._next_task(first=True)
        self.pending = None if self.sequence is not None else first
        self.n_features = first.n_features
        self.feature_names = None

    def seed(self, seed):
        self.rng = check_random_state(int(seed))

    def _next_task(self, first=False):
        if self.iterator is None:
            self.iterator = iter(self.tasks)
        try:
            return next(self.iterator)
        except StopIteration:
            restarted = iter(self.tasks)
            if restarted is self.iterator or first:
                raise ValueError(
                    "the task iterator ran out of tasks during meta-training; pass "
                    "a list of tasks, an EpisodeSampler, or lower max_epochs * "
                    "episodes_per_epoch."
                ) from None
            self.iterator = restarted
            return next(self.iterator)

    def draw(self):
        if self.sequence is not None:
            task = self.sequence[self.rng.randint(len(self.sequence))]
        elif self.pending is not None:
            task, self.pending = self.pending, None
        else:
            task = self._next_task()
        return task_to_tensors(task, self.device, self.classify, self.n_features)


def task_to_tensors(task, device, classify, n_features):
    """Convert one :class:`~sklmeta.Task` with its labels made local."""
    if task.n_features != n_features:
        raise ValueError(
            f"a task has {task.n_features} features but the first task had {n_features}."
        )
    if task.y_query is None:
        raise ValueError("meta-training tasks need a query set (X_query, y_query).")
    if classify:
        check_label_types(np.concatenate([task.y_support, task.y_query]), "a task's labels")
        classes, y_support = np.unique(task.y_support, return_inverse=True)
        y_query = np.searchsorted(classes, task.y_query)
        y_query = np.clip(y_query, 0, len(classes) - 1)
        if not np.array_equal(classes[y_query], task.y_query):
            unknown = sorted(set(task.y_query.tolist()) - set(classes.tolist()))
            raise ValueError(
                f"a task's query labels {unknown[:5]} do not occur in its support set."
            )
        y_support = torch.as_tensor(y_support, dtype=torch.long, device=device)
        y_query = torch.as_tensor(y_query, dtype=torch.long, device=device)
        n_way = len(classes)
    else:
        y_support = to_tensor(task.y_support, device)
        y_query = to_tensor(task.y_query, device)
        n_way = None
    return EpisodeTensors(
        to_tensor(task.X_support, device), y_support,
        to_tensor(task.X_query, device), y_query, n_way,
    )


class FamilyEpisodes:
    """Episode tensors of a task family (see the module docstring).

    A family's generator is started once per ``meta_fit`` call, not once
    per epoch: it may draw its tasks in large blocks.
    """

    feature_names = None
    reseed_per_epoch = False

    def __init__(self, family, device, classify):
        self.family = family
        self.device = device
        self.classify = classify
        self.n_features = int(family.n_features)
        self.seed_ = None
        self.blocks = None
        self.pending = []

    def seed(self, seed):
        self.seed_ = int(seed)
        self.blocks = None
        self.pending = []

    def _next_block(self):
        if self.blocks is None:
            self.blocks = iter(self.family.episode_arrays(self.seed_))
        block = next(self.blocks, None)
        if block is None:  # a finite family: start it again
            self.blocks = iter(self.family.episode_arrays(self.seed_))
            block = next(self.blocks)
        return block

    def draw(self):
        if not self.pending:
            xs, ys, xq, yq = self._next_block()
            if np.shape(xq)[1] == 0:
                raise ValueError(
                    f"meta-training tasks need a query set, but "
                    f"{type(self.family).__name__} yields tasks without queries."
                )
            label = torch.long if self.classify else torch.float32
            xs, xq = (torch.as_tensor(a, dtype=torch.float32, device=self.device)
                      for a in (xs, xq))
            ys, yq = (torch.as_tensor(a, dtype=label, device=self.device) for a in (ys, yq))
            n_way = [int(row.max()) + 1 if self.classify else None for row in ys]
            self.pending = list(zip(xs, ys, xq, yq, n_way))
            self.pending.reverse()
        return EpisodeTensors(*self.pending.pop())


class MixtureEpisodes:
    """Episodes of several sources (a :class:`~sklmeta.TaskMixture`), each
    drawn from one source chosen at random by its probability."""

    def __init__(self, sources, probabilities, names):
        widths = {source.n_features for source in sources}
        if len(widths) > 1:
            found = ", ".join(f"{name}: {source.n_features}"
                              for name, source in zip(names, sources))
            raise ValueError(
                f"the sources of a TaskMixture must have the same number of features; "
                f"got {found}."
            )
        self.sources = sources
        self.probabilities = probabilities
        self.names = names
        self.n_features = sources[0].n_features
        feature_sets = [source.feature_names for source in sources]
        same = all(f is not None and np.array_equal(f, feature_sets[0]) for f in feature_sets)
        self.feature_names = feature_sets[0] if same else None
        # families draw in blocks started once per call, not once per epoch
        self.reseed_per_epoch = all(getattr(s, "reseed_per_epoch", True) for s in sources)
        self.rng = None
        if all(hasattr(source, "map_inputs") for source in sources):
            self.map_inputs = self._map_inputs

    def seed(self, seed):
        # which source, then each source's episodes, from seeds of their own
        self.rng = np.random.RandomState(derive_seed(seed, 0))
        for position, source in enumerate(self.sources, start=1):
            source.seed(derive_seed(seed, position))

    def _map_inputs(self, transform):
        for source in self.sources:
            source.map_inputs(transform)

    def draw(self):
        chosen = self.rng.choice(len(self.sources), p=self.probabilities)
        return self.sources[chosen].draw()


class MetaBatches:
    """One epoch of ``n_episodes`` episodes, in meta-batches of ``batch_size``."""

    def __init__(self, episodes, n_episodes, batch_size):
        self.episodes = episodes
        self.n_episodes = n_episodes
        self.batch_size = batch_size
        self.n_features = episodes.n_features
        self.feature_names = episodes.feature_names
        self.reseed_per_epoch = getattr(episodes, "reseed_per_epoch", True)

    def seed(self, seed):
        self.episodes.seed(seed)

    def __len__(self):
        return -(-self.n_episodes // self.batch_size)

    def epoch(self, skip=0):
        """The epoch's meta-batches; the first ``skip`` are drawn, not given
        (to resume an epoch where it stopped)."""
        remaining = self.n_episodes
        position = 0
        while remaining > 0:
            batch = [self.episodes.draw() for _ in range(min(self.batch_size, remaining))]
            remaining -= len(batch)
            position += 1
            if position > skip:
                yield batch


def episode_source(X, y, device, *, classify, n_way, n_shot, n_query, name):
    """A pool, a task family, a task collection or a
    :class:`~sklmeta.TaskMixture` of them as a source of episodes."""
    if isinstance(X, TaskMixture):
        if y is not None:
            raise ValueError(f"{name} is a TaskMixture, which holds its labels: y must be None.")
        sources = []
        for source_name, source in zip(X.names, X.sources):
            label = f"{name}[{source_name!r}]"
            pool = isinstance(source, tuple)
            if pool and not classify:
                raise ValueError(
                    f"{label} is a labelled pool, but episodes drawn from a pool by "
                    "class make sense for classifiers only; give a task collection."
                )
            sources.append(episode_source(
                source[0] if pool else source, source[1] if pool else None, device,
                classify=classify, n_way=n_way, n_shot=n_shot, n_query=n_query, name=label,
            ))
        return MixtureEpisodes(sources, X.probabilities, X.names)
    if y is not None:
        names = feature_names(X)
        X, y = check_pool(X, y, name, classify)
        if classify and isinstance(n_way, numbers.Integral) and n_way > 1:
            # a pool of fewer classes than n_way gives episodes of all of them
            n_way = min(n_way, max(2, len(np.unique(y))))
        return PoolEpisodes(to_tensor(X, device), y, n_way, n_shot, n_query,
                            feature_names=names)
    if isinstance(X, EpisodeSampler):
        X_pool, y_pool = check_pool(X.X, X.y, name, classify)
        return PoolEpisodes(to_tensor(X_pool, device), y_pool, X.n_way, X.n_shot,
                            X.n_query, random_state=X.random_state)
    if callable(getattr(X, "episode_arrays", None)) and hasattr(X, "n_features"):
        return FamilyEpisodes(X, device, classify)
    return TaskEpisodes(check_tasks(X, name), device, classify=classify)


def check_pool(X, y, name, classify):
    """Validate a labelled pool for meta-training; returns numpy arrays."""
    if y is None:
        raise ValueError(f"{name} is a labelled pool, so y is required.")
    if classify:
        check_label_types(y, "y")
    X, y = check_X_y(X, y, dtype=[np.float32, np.float64], y_numeric=not classify)
    check_float32_range(X, name)
    if classify:
        check_classification_targets(y)
    else:
        check_float32_range(y, "y")
    return X, y


def feature_names(X):
    """Column names of a DataFrame, else None."""
    names = getattr(X, "columns", None)
    return None if names is None else np.asarray(names, dtype=object)


def split_validation(validation_data):
    """``(X_val, y_val)`` pools or a task collection, as (X, y) arguments."""
    if isinstance(validation_data, tuple) and len(validation_data) == 2:
        X_val, y_val = validation_data
        if not isinstance(X_val, tuple):
            return X_val, y_val
    return validation_data, None
