"""The learning-rate schedule of meta-training, stepped once per epoch."""

import inspect

from torch.optim import lr_scheduler

__all__ = ["build_lr_scheduler", "check_lr_schedule", "current_lr", "step_lr_scheduler"]

_NAMED = ("step", "cosine")


def check_lr_schedule(lr_schedule):
    """Raise naming ``lr_schedule`` unless it is None, a name or a scheduler class."""
    if lr_schedule is None or (isinstance(lr_schedule, str) and lr_schedule in _NAMED):
        return
    if isinstance(lr_schedule, type) and issubclass(
        lr_schedule, (lr_scheduler.LRScheduler, lr_scheduler.ReduceLROnPlateau)
    ):
        return
    raise ValueError(
        "lr_schedule must be None, 'step', 'cosine' or a torch.optim.lr_scheduler "
        f"class such as torch.optim.lr_scheduler.OneCycleLR; got {lr_schedule!r}."
    )


def build_lr_scheduler(lr_schedule, optimizer, kwargs, max_epochs):
    """The scheduler of ``lr_schedule`` over ``optimizer``, or None.

    ``'step'`` multiplies the rate by ``gamma`` (default 0.5) every
    ``step_size`` epochs (default a third of ``max_epochs``); ``'cosine'``
    anneals it to ``eta_min`` (default 0) over ``max_epochs`` epochs. A
    class is built with ``kwargs`` as they are.
    """
    if lr_schedule is None:
        return None
    if lr_schedule == "step":
        kwargs = {"step_size": max(1, max_epochs // 3), "gamma": 0.5, **kwargs}
        policy = lr_scheduler.StepLR
    elif lr_schedule == "cosine":
        kwargs = {"T_max": max(1, max_epochs), "eta_min": 0.0, **kwargs}
        policy = lr_scheduler.CosineAnnealingLR
    else:
        policy = lr_schedule
    try:
        return policy(optimizer, **kwargs)
    except TypeError as exc:
        raise TypeError(
            f"lr_schedule={getattr(policy, '__name__', policy)!r} rejected the "
            f"arguments {sorted(kwargs)} (from lr_schedule__*): {exc}"
        ) from exc


def step_lr_scheduler(scheduler, history):
    """Advance ``scheduler`` by one epoch; a plateau scheduler reads the last
    epoch's validation loss, or its training loss without validation."""
    if scheduler is None:
        return
    if "metrics" in inspect.signature(scheduler.step).parameters:
        last = history[-1]
        scheduler.step(last.get("valid_loss", last.get("train_loss")))
    else:
        scheduler.step()


def current_lr(optimizer):
    """The learning rate of the optimizer's first parameter group."""
    return float(optimizer.param_groups[0]["lr"])

