"""What the meta-reinforcement-learning agents share: checks of a task
family, and the loop of meta-training updates."""

import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ..base import MetaStateCloneMixin
from ..exceptions import MetaTrainingInterrupted
from ..utils._validation import check_float, check_int, check_seed

__all__ = ["MetaRLAgent"]


class MetaRLAgent(MetaStateCloneMixin, BaseEstimator):
    """Base of the agents: ``clone`` keeps the meta-trained policy.

    Subclasses set ``_meta_attributes``, ``_example_env`` (named in errors)
    and have ``max_updates``, ``max_time`` and ``verbose`` parameters.
    """

    _meta_attributes = ("policy_", "history_")
    _example_env = "sklmeta.rl.BernoulliBanditEnv"

    def _check_budget(self):
        check_int(self.max_updates, "max_updates", min_value=0)
        check_float(self.max_time, "max_time", min_value=0.0, strict_min=True, allow_none=True)
        check_int(self.verbose, "verbose", min_value=0)

    def _start_meta_fit(self, env):
        """Checks before meta-training; the device and the seeds of the
        initial weights and of training."""
        device = self._validate_params()
        self._check_env(env)
        init_seed, train_seed = check_seed(self.random_state).randint(2**31 - 1, size=2)
        return device, init_seed, train_seed

    def _check_family(self, env):
        """A task-family environment: ``sample_tasks`` and the gymnasium spaces."""
        if not (callable(getattr(env, "sample_tasks", None)) and hasattr(env, "action_space")
                and hasattr(env, "observation_space")):
            raise TypeError(
                "env must be a task-family environment with sample_tasks and reset("
                f"options={{'task': ...}}), such as {self._example_env}; got "
                f"{type(env).__name__}.")

    def _check_trials(self, env, tasks):
        """Checks before acting: meta-trained, a suitable env, some tasks."""
        if not hasattr(self, "policy_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not meta-trained yet; call meta_fit.")
        self._check_env(env)
        tasks = list(tasks)
        if not tasks:
            raise ValueError("tasks must hold at least one task, e.g. env.sample_tasks(n).")
        return tasks

    def _run_updates(self, update, describe):
        """``max_updates`` calls of ``update(i)``, each returning the record
        of one update for ``history_``, within ``max_time``; ``describe``
        turns recent records into a progress line. Ctrl-C stops after the
        last whole update and keeps the policy."""
        start = time.perf_counter()
        report_every = max(1, self.max_updates // 10)
        try:
            for i in range(self.max_updates):
                self.history_.append({"update": i + 1, **update(i)})
                if self.verbose and (i + 1) % report_every == 0:
                    print(f"update {i + 1:>6}  {describe(self.history_[-report_every:])}")
                if self.max_time is not None and time.perf_counter() - start > self.max_time:
                    break
        except KeyboardInterrupt:
            warnings.warn(
                f"{type(self).__name__}: meta-training interrupted after "
                f"{len(self.history_)} updates; the policy keeps what it learned.",
                MetaTrainingInterrupted, stacklevel=3)


def mean_of(records, key):
    """The mean of ``key`` over a list of history records."""
    return float(np.mean([record[key] for record in records]))
