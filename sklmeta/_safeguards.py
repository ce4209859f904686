"""What keeps meta-training honest: divergence detection, snapshots to roll
back to, and seeds that make every batch reproducible on its own.

A run is cut into epochs of batches. Batch ``i`` of epoch ``e`` draws its
episodes and its torch random numbers from seeds derived from the run's
seeds and ``(e, i)`` alone, so a run interrupted and continued with
``warm_start=True`` meets the same episodes as one left to finish.
"""

import copy
import math
import warnings

import numpy as np
import torch

from .exceptions import AdaptationDiverged, DivergenceError

__all__ = [
    "Diverged",
    "LossWatch",
    "AdaptationGuard",
    "TrainingSnapshot",
    "check_adaptation_loss",
    "derive_seed",
    "is_fitted_name",
    "reseed_torch",
]

# A batch loss this many times the run's first one (or than 1, if larger)
# is taken for divergence: healthy training never climbs by four decades.
EXPLOSION_FACTOR = 1e4


def derive_seed(*values):
    """A 31-bit seed determined by the integers ``values`` alone.

    >>> derive_seed(0, 3) == derive_seed(0, 3), derive_seed(0, 3) == derive_seed(0, 4)
    (True, False)
    """
    sequence = np.random.SeedSequence([int(v) for v in values])
    return int(sequence.generate_state(1)[0] & 0x7FFFFFFF)


def reseed_torch(seed, device):
    """Seed torch's CPU generator, and the generator of ``device`` on a GPU."""
    torch.default_generator.manual_seed(int(seed))
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.manual_seed(int(seed))


class Diverged(Exception):
    """Raised inside the loop when a batch's loss is not finite or explodes."""

    def __init__(self, loss, batch):
        super().__init__(f"loss {loss:.4g} at batch {batch + 1}")
        self.loss = loss
        self.batch = batch


class LossWatch:
    """Tells a diverging loss from a noisy one: not finite, or above
    ``EXPLOSION_FACTOR`` times the larger of 1 and the first loss seen.

    A classifier's cross-entropy starts near ``log(n_way)`` whatever the
    data, so its reference is 1 (a first loss already exploded by a huge
    inner rate must not become the yardstick); a regressor's loss has the
    scale of its targets.
    """

    def __init__(self, classify=False):
        self.reference = 1.0 if classify else None

    def check(self, loss, batch):
        if not math.isfinite(loss):
            raise Diverged(loss, batch)
        if self.reference is None:
            self.reference = max(abs(loss), 1.0)
        elif abs(loss) > EXPLOSION_FACTOR * self.reference:
            raise Diverged(loss, batch)


def describe_rate(estimator):
    """The adaptation's rate parameter and value, as a user would set it."""
    rate = estimator._adaptation_rate_param
    value = getattr(estimator, rate)
    if value is None and hasattr(estimator, "inner_lr"):
        return f"{rate} (None: inner_lr={estimator.inner_lr!r} applies)"
    return f"{rate} (now {value!r})"


def check_adaptation_loss(estimator, before, after, n_steps):
    """Raise :class:`~sklmeta.exceptions.DivergenceError` when adapting to a
    support set took its loss from ``before`` to a value not finite or
    exploded (see :class:`LossWatch`), naming the adaptation's rate."""
    before, after = float(before), float(after)
    if math.isfinite(after) and after <= EXPLOSION_FACTOR * max(abs(before), 1.0):
        return
    raise DivergenceError(
        f"{type(estimator).__name__}: adapting to the support set diverged: its loss "
        f"went from {before:.4g} to {after:.4g} in {n_steps} steps. Lower "
        f"{describe_rate(estimator)} or standardise the inputs. "
        "The estimator is not adapted."
    )


class AdaptationGuard:
    """Watches the support loss of adaptation steps; the inner loop keeps
    the last weights whose loss passed and stops at the first that did not.

    A loss fails when not finite or above ``EXPLOSION_FACTOR`` times the
    larger of 1 and the first loss. :meth:`warn` then tells the user.
    """

    def __init__(self):
        self.reference = None
        self.failed_at = None
        self.failed_loss = None
        self.n_steps = None

    def accept(self, loss, step):
        """Whether the weights of ``step`` (0: the start), with support loss
        ``loss``, may be kept."""
        value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
        if self.reference is None and math.isfinite(value):
            self.reference = max(abs(value), 1.0)
        if math.isfinite(value) and value <= EXPLOSION_FACTOR * self.reference:
            return True
        self.failed_at, self.failed_loss = step, value
        return False

    def warn(self, estimator, n_steps):
        """Warn with :class:`~sklmeta.exceptions.AdaptationDiverged` if a step failed."""
        if self.failed_at is None:
            return
        warnings.warn(
            f"{type(estimator).__name__}: adaptation to the support set diverged at "
            f"step {self.failed_at} of {n_steps} (support loss {self.failed_loss:.4g}); "
            f"the weights of step {self.failed_at - 1} are kept. Lower "
            f"{describe_rate(estimator)} or n_adapt_steps, or standardise the "
            "inputs and targets.", AdaptationDiverged, stacklevel=4,
        )


def is_fitted_name(name):
    """Whether an attribute name is a fitted one by scikit-learn's convention."""
    return name.endswith("_") and not name.startswith("_") and "__" not in name


def _copy_value(value):
    if isinstance(value, torch.nn.Module):
        return {k: v.detach().clone() for k, v in value.state_dict().items()}
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    return {k: v.detach().clone() for k, v in value.items()}


class TrainingSnapshot:
    """The meta-learned weights, the optimizer's state and the schedule's,
    copied so that a diverging epoch can be undone in place."""

    def __init__(self, estimator):
        self.values = {}
        for name, value in vars(estimator).items():
            if not is_fitted_name(name) or name == "optimizer_":
                continue
            tensors = isinstance(value, (torch.nn.Module, torch.Tensor)) or (
                isinstance(value, dict) and value
                and all(isinstance(v, torch.Tensor) for v in value.values())
            )
            if tensors:
                self.values[name] = _copy_value(value)
        optimizer = getattr(estimator, "optimizer_", None)
        self.optimizer = None if optimizer is None else copy.deepcopy(optimizer.state_dict())
        scheduler = getattr(estimator, "lr_scheduler_", None)
        self.scheduler = None
        if scheduler is not None and hasattr(scheduler, "state_dict"):
            self.scheduler = copy.deepcopy(scheduler.state_dict())

    def restore(self, estimator):
        for name, saved in self.values.items():
            current = getattr(estimator, name)
            if isinstance(current, torch.nn.Module):
                current.load_state_dict(saved)
            elif isinstance(current, torch.Tensor):
                with torch.no_grad():
                    current.copy_(saved)
            else:
                with torch.no_grad():
                    for key, tensor in current.items():
                        tensor.copy_(saved[key])
        if self.optimizer is not None:
            estimator.optimizer_.load_state_dict(self.optimizer)
        if self.scheduler is not None:
            estimator.lr_scheduler_.load_state_dict(self.scheduler)


def all_finite(tensors):
    """Whether every tensor of ``tensors`` holds finite values only."""
    return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())
