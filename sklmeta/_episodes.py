"""Streams of episodes as tensors, for the meta-training loop.

Meta-training draws thousands of episodes; building :class:`~sklmeta.Task`
objects and converting them for each would cost more than the network on
small problems. A labelled pool is therefore moved to the device once and
episodes are gathered from it by index.
"""

from typing import NamedTuple, Optional

import numpy as np
import torch
from sklearn.utils import check_random_state

from .tasks import _ClassIndex
from ._torch import to_tensor

__all__ = ["EpisodeTensors", "PoolEpisodes", "TaskEpisodes"]


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
        """Start drawing from ``random_state``, or else from ``seed``."""
        state = self.random_state if self.random_state is not None else int(seed)
        self.rng = check_random_state(state)

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
