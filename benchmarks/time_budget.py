"""A skorch callback that stops meta-training once a time budget is spent.

It lives in a module of its own, not in a script, so that learners pickled
with it (``--save``) load anywhere ``benchmarks/`` is importable.
"""

import time

from skorch.callbacks import Callback


class TimeBudget(Callback):
    """Stop meta-training at the end of the epoch that exhausts a time budget."""

    def __init__(self, minutes):
        self.minutes = minutes

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        if time.perf_counter() - self.start_ > 60 * self.minutes:
            raise KeyboardInterrupt


def time_budgets(callbacks):
    """The :class:`TimeBudget` callbacks among ``callbacks``, in a new list."""
    return [cb for cb in callbacks if isinstance(cb, TimeBudget)]
