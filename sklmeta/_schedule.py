"""The learning-rate schedule of meta-training, and its time budget.

The named schedules (``'step'``, ``'cosine'``, ``'linear'``) are functions
of *progress*: the epochs done so far, counted in fractions of an epoch
when ``max_time`` is set, where progress is the larger of the epochs done
and the share of the time budget spent (in epochs of ``max_epochs``). A
schedule planned over ``max_epochs`` therefore still reaches its low rate
when the time budget ends the run first. A scheduler class is stepped once
per epoch, as torch defines it.
"""

import inspect
import math
import time

from torch.optim import lr_scheduler

from .distributed import max_over_processes

__all__ = [
    "MetaTrainingClock",
    "ProgressSchedule",
    "build_lr_scheduler",
    "check_lr_schedule",
    "current_lr",
    "step_lr_scheduler",
]

_NAMED = {
    "step": {"step_size": None, "gamma": 0.5},
    "cosine": {"T_max": None, "eta_min": 0.0},
    "linear": {"T_max": None, "eta_min": 0.0},
}


def check_lr_schedule(lr_schedule):
    """Raise naming ``lr_schedule`` unless it is None, a name or a scheduler class."""
    if lr_schedule is None or (isinstance(lr_schedule, str) and lr_schedule in _NAMED):
        return
    if isinstance(lr_schedule, type) and issubclass(
        lr_schedule, (lr_scheduler.LRScheduler, lr_scheduler.ReduceLROnPlateau)
    ):
        return
    raise ValueError(
        "lr_schedule must be None, 'step', 'cosine', 'linear' or a "
        "torch.optim.lr_scheduler class such as torch.optim.lr_scheduler.OneCycleLR; "
        f"got {lr_schedule!r}."
    )


class ProgressSchedule:
    """A named schedule: the rate as a function of progress in epochs.

    ``'step'`` multiplies the rate by ``gamma`` every ``step_size`` epochs;
    ``'cosine'`` anneals it along half a cosine to ``eta_min`` at ``T_max``
    epochs; ``'linear'`` lowers it in a straight line to ``eta_min`` at
    ``T_max``. Both stay at ``eta_min`` afterwards.
    """

    def __init__(self, name, optimizer, kwargs, max_epochs):
        unknown = sorted(set(kwargs) - set(_NAMED[name]))
        if unknown:
            takes = " and ".join(f"lr_schedule__{key}" for key in _NAMED[name])
            raise TypeError(
                f"lr_schedule={name!r} takes {takes}; "
                f"got {['lr_schedule__' + k for k in unknown]}."
            )
        options = {**_NAMED[name], **kwargs}
        span = "step_size" if name == "step" else "T_max"
        if options[span] is None:
            options[span] = max(1, max_epochs // 3) if name == "step" else max(1, max_epochs)
        if not options[span] > 0:
            raise ValueError(f"lr_schedule__{span} must be positive; got {options[span]!r}.")
        self.name = name
        self.options = options
        self.optimizer = optimizer
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.progress = 0.0

    def factor(self, progress):
        """The rate at ``progress`` epochs, as a multiple of the base rate,
        and the floor ``eta_min`` it anneals to (0 for ``'step'``)."""
        if self.name == "step":
            return self.options["gamma"] ** math.floor(progress / self.options["step_size"])
        share = min(1.0, progress / self.options["T_max"])
        if self.name == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * share))
        return 1.0 - share

    def state_dict(self):
        """The progress reached, for a snapshot to roll back to."""
        return {"progress": self.progress}

    def load_state_dict(self, state):
        """Return to a progress saved by :meth:`state_dict` (the optimizer's
        rates are restored with the optimizer's own state)."""
        self.progress = float(state["progress"])

    def set_progress(self, progress):
        """Set every parameter group's rate for ``progress`` epochs."""
        self.progress = max(self.progress, float(progress))
        factor = self.factor(self.progress)
        floor = self.options.get("eta_min", 0.0)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = floor + (base - floor) * factor


def build_lr_scheduler(lr_schedule, optimizer, kwargs, max_epochs):
    """The scheduler of ``lr_schedule`` over ``optimizer``, or None.

    A name gives a :class:`ProgressSchedule` planned over ``max_epochs``;
    a class is built with ``kwargs`` as they are.
    """
    if lr_schedule is None:
        return None
    if isinstance(lr_schedule, str):
        return ProgressSchedule(lr_schedule, optimizer, kwargs, max_epochs)
    try:
        return lr_schedule(optimizer, **kwargs)
    except TypeError as exc:
        raise TypeError(
            f"lr_schedule={getattr(lr_schedule, '__name__', lr_schedule)!r} rejected "
            f"the arguments {sorted(kwargs)} (from lr_schedule__*): {exc}"
        ) from exc


def step_lr_scheduler(scheduler, history, progress):
    """Advance ``scheduler`` at an epoch end: a named schedule to ``progress``
    epochs, a plateau scheduler with the last epoch's validation loss (or
    its training loss without validation), any other by one step."""
    if scheduler is None:
        return
    if isinstance(scheduler, ProgressSchedule):
        scheduler.set_progress(progress)
    elif "metrics" in inspect.signature(scheduler.step).parameters:
        last = history[-1]
        scheduler.step(last.get("valid_loss", last.get("train_loss")))
    else:
        scheduler.step()


def current_lr(optimizer):
    """The learning rate of the optimizer's first parameter group."""
    return float(optimizer.param_groups[0]["lr"])


class MetaTrainingClock:
    """Progress of one ``meta_fit`` call in epochs, and its time budget.

    Parameters
    ----------
    max_epochs : int
        Epochs planned for the call.
    max_time : float or None
        Seconds the call may take; None for no limit.
    start : float, default=0.0
        Progress (in epochs) at the call's start: a warm start continues.
    """

    def __init__(self, max_epochs, max_time, start=0.0):
        self.max_epochs = max_epochs
        self.max_time = max_time
        self.start = start
        self.started_at = time.perf_counter()

    def elapsed(self):
        # processes sharing meta-training must agree on the time spent, or
        # they would stop or schedule their learning rates apart
        return max_over_processes(time.perf_counter() - self.started_at)

    def out_of_time(self):
        return self.max_time is not None and self.elapsed() >= self.max_time

    def share(self, epochs_done):
        """Share of this call's planned run done after ``epochs_done`` epochs:
        the larger of the epochs' share and the time budget's, at most 1."""
        done = epochs_done / self.max_epochs if self.max_epochs else 1.0
        if self.max_time is not None:
            done = max(done, self.elapsed() / self.max_time)
        return min(1.0, done)

    def progress(self, epochs_done):
        """Epochs of progress after ``epochs_done`` (a float) epochs of this call."""
        done = epochs_done
        if self.max_time is not None:
            done = max(done, self.max_epochs * min(1.0, self.elapsed() / self.max_time))
        return self.start + done
