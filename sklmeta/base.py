"""The meta-estimator contract and the one meta-training loop.

:class:`BaseMetaEstimator` owns what every meta-learner shares: the checks
of the shared parameters, seeding, devices, conversion between numpy and
torch, the meta-training loop (episodes or minibatches, the optimizer
step, gradient callbacks, history, validation, the learning-rate schedule,
interruption), warm starts, adaptation through ``fit``, prediction in
chunks, cloning that keeps the meta-learned state, and pickling. A learner
writes its algorithm in these hooks and nothing else:

``_initialize_modules(n_features, device)``
    Build the meta-learned modules (at least ``encoder_``).
``_episode_loss(episode)``
    Loss tensor and accuracy on one :class:`~sklmeta._episodes.EpisodeTensors`.
    The loop backpropagates their mean over a meta-batch. A learner whose
    meta-gradient is not the gradient of a per-episode loss (Reptile) or
    that runs a meta-batch at once (MAML, MANN) overrides
    ``_compute_meta_gradient(batch)`` instead.
``_adapt(X, y)``
    Adapt to a support set given as tensors (labels encoded ``0..n-1``);
    store the result in attributes ending in ``_``.
``_forward_adapted(X)``
    Output of the adapted learner for a chunk of query tensors: logits, or
    probabilities where the class sets ``_outputs_proba = True``.

Further hooks have defaults: ``_training_stream`` (where meta-training
batches come from), ``_validation_score``, ``_initialize_from`` (a warm
start from another estimator) and ``_named_meta_parameters``.
"""

import copy
import inspect
import warnings
from abc import ABCMeta, abstractmethod
from typing import NamedTuple

import numpy as np
import torch
from sklearn.base import BaseEstimator, is_classifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, EpochTimer, LRScheduler, PrintLog, ProgressBar
from skorch.history import History

from ._episodes import MetaBatches, episode_source, split_validation
from ._outputs import ClassifierOutputMixin, RegressorOutputMixin
from ._persistence import PersistenceMixin
from ._safeguards import (
    Diverged,
    describe_rate,
    LossWatch,
    TrainingSnapshot,
    all_finite,
    derive_seed,
    is_fitted_name,
    reseed_torch,
)
from ._schedule import (
    MetaTrainingClock,
    ProgressSchedule,
    build_lr_scheduler,
    check_lr_schedule,
    current_lr,
    step_lr_scheduler,
)
from ._torch import PREDICT_CHUNK, resolve_device, seeded, to_tensor
from .distributed import (
    all_reduce_meta_gradient,
    average_buffers,
    check_shardable,
    data_parallel_world,
    shard_batch,
)
from .encoders import build_encoder
from .exceptions import DivergenceError, MetaTrainingDiverged, MetaTrainingInterrupted
from .utils._validation import (
    check_bool,
    check_float,
    check_int,
    check_seed,
    validate_inputs,
)

__all__ = ["BaseMetaEstimator", "ClassifierOutputMixin", "RegressorOutputMixin"]


class MetaStateCloneMixin:
    """``clone`` keeps what meta-training learned.

    A deep copy of each attribute named in ``_meta_attributes`` that is set
    goes to the clone, so that clones share no weights; everything else is
    left to :func:`sklearn.base.clone`.
    """

    _meta_attributes = ()

    def __sklearn_clone__(self):
        new = super().__sklearn_clone__()
        for attr in self._meta_attributes:
            if hasattr(self, attr):
                setattr(new, attr, copy.deepcopy(getattr(self, attr)))
        return new


class BaseMetaEstimator(PersistenceMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the meta-learners; not meant to be used directly.

    Concrete learners define ``__init__`` with their parameters, add
    :class:`~sklmeta.base.ClassifierOutputMixin` and
    :class:`~sklearn.base.ClassifierMixin` (or the regressor pair) on the
    left, and implement the hooks listed in the module docstring. Keyword
    arguments ``encoder__*``, ``optimizer__*`` and ``lr_schedule__*`` are
    routed to the encoder, the meta-optimizer and the learning-rate
    schedule, as skorch routes ``module__*``.

    Notes
    -----
    ``meta_fit(tasks)`` or ``meta_fit(X, y)`` meta-trains over many tasks and
    returns self; ``fit(X_support, y_support)`` adapts to one new task from
    the meta-learned state (or from scratch when never meta-fitted);
    ``predict`` answers for that task. ``clone`` keeps the meta-learned state
    (:meth:`__sklearn_clone__`), never the adaptation.

    Examples
    --------
    A nearest-mean learner in four hooks; the guide "Writing a learner"
    goes through a fuller one.

    >>> import torch
    >>> import torch.nn.functional as F
    >>> from sklearn.base import ClassifierMixin
    >>> from sklearn.datasets import load_digits
    >>> from sklmeta.base import BaseMetaEstimator, ClassifierOutputMixin
    >>> def nearest_mean_logits(z_query, z_support, y_support, n_way):
    ...     means = torch.stack([z_support[y_support == k].mean(0) for k in range(n_way)])
    ...     return -torch.cdist(z_query, means) ** 2
    >>> class NearestMean(ClassifierOutputMixin, ClassifierMixin, BaseMetaEstimator):
    ...     def __init__(self, encoder="mlp", *, n_way=5, n_shot=5, n_query=15,
    ...                  max_epochs=10, max_time=None, episodes_per_epoch=100,
    ...                  meta_batch_size=1, meta_lr=1e-3, optimizer=torch.optim.Adam,
    ...                  lr_schedule=None, init_from=None, callbacks=None,
    ...                  n_val_episodes=100, warm_start=False, device="auto",
    ...                  verbose=1, random_state=None, **kwargs):
    ...         self._store_init_params(locals())
    ...     def _initialize_modules(self, n_features, device):
    ...         self.encoder_ = self._build_encoder(n_features, device)
    ...     def _episode_loss(self, episode):
    ...         logits = nearest_mean_logits(self.encoder_(episode.x_query),
    ...                                      self.encoder_(episode.x_support),
    ...                                      episode.y_support, episode.n_way)
    ...         accuracy = (logits.argmax(1) == episode.y_query).float().mean().item()
    ...         return F.cross_entropy(logits, episode.y_query), accuracy
    ...     @torch.no_grad()
    ...     def _adapt(self, X, y):
    ...         self.encoder_.eval()
    ...         self.support_ = (self.encoder_(X), y)
    ...     @torch.no_grad()
    ...     def _forward_adapted(self, X):
    ...         return nearest_mean_logits(self.encoder_(X), *self.support_,
    ...                                    len(self.classes_))
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> learner = NearestMean(max_epochs=2, episodes_per_epoch=20, n_val_episodes=10,
    ...                       verbose=0, random_state=0).meta_fit(X[y < 7], y[y < 7])
    >>> len(learner.history_)
    2
    >>> learner = learner.fit(X[y >= 7][:15], y[y >= 7][:15])
    >>> learner.predict(X[y >= 7][15:20]).shape
    (5,)
    """

    # Prefixes of keyword arguments routed to parts of the learner.
    _routed_prefixes = ("encoder__", "optimizer__", "lr_schedule__")
    # Parameters whose change leaves the meta-learned state valid: where the
    # network runs, what is printed, and the budget of *further* meta-training
    # (so ``set_params(warm_start=True, max_epochs=...)`` then ``meta_fit``
    # continues). Families extend this with their adaptation options.
    _adaptation_params = frozenset({
        "verbose", "device", "warm_start", "max_epochs", "episodes_per_epoch",
        "callbacks", "n_val_episodes", "lr_schedule", "init_from",
    })
    # Attributes that make up the meta-learned state, copied by clone.
    _meta_attributes = ("encoder_", "history_", "n_features_in_", "feature_names_in_")
    # Meta-learned attributes a source given as ``init_from`` may lack: the
    # learner builds them afresh (``_initialize_from``).
    _optional_meta_attributes = ()
    # whether one episode's queries may be shared between processes
    # (sklmeta.distributed): its loss is a mean over queries scored apart
    _query_shardable = False
    # Attributes that exist once the estimator is adapted to a task.
    _adapted_attributes = ("n_features_in_",)
    # Whether ``_forward_adapted`` returns probabilities rather than logits.
    _outputs_proba = False
    # The parameter whose value sets the adaptation's step size, if any:
    # named when adaptation diverges.
    _adaptation_rate_param = None
    # Whether ``fit`` without ``meta_fit`` scores poorly (scikit-learn's tag),
    # e.g. a few gradient steps from random weights.
    _poor_score_untrained = False

    # ------------------------------------------------------------------
    # parameters
    # ------------------------------------------------------------------
    def _store_init_params(self, values):
        """Store the arguments of ``__init__`` (its ``locals()``) untouched.

        Every parameter of the signature becomes the attribute of its name,
        and ``**kwargs`` are kept for routing, checked in ``meta_fit`` and
        ``fit``; nothing else is set, as scikit-learn requires.
        """
        for name in self._get_param_names():
            setattr(self, name, values[name])
        self._store_routed_params(values.get("kwargs", {}))

    def _store_routed_params(self, kwargs):
        """Keep keyword arguments for routing; they are checked in ``fit``."""
        for key, value in kwargs.items():
            setattr(self, key, value)
        self._extra_param_names = tuple(kwargs)

    def _check_routed_params(self):
        for key in getattr(self, "_extra_param_names", ()):
            if not key.startswith(self._routed_prefixes):
                hint = ""
                for prefix in self._routed_prefixes:
                    stem = prefix.rstrip("_")
                    if key.startswith(stem) and not key.startswith(prefix):
                        hint = f" Did you mean {prefix}{key[len(stem):].lstrip('_')}?"
                raise TypeError(
                    f"{type(self).__name__} got an unexpected keyword argument "
                    f"{key!r}; routed arguments start with "
                    f"{' or '.join(self._routed_prefixes)}.{hint}"
                )

    def _routed_params(self, prefix):
        """The routed arguments of one prefix, with the prefix removed."""
        return {
            key[len(prefix):]: getattr(self, key)
            for key in getattr(self, "_extra_param_names", ())
            if key.startswith(prefix)
        }

    def get_params(self, deep=True):
        """Get parameters, including routed ``encoder__*``/``optimizer__*`` ones.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        for key in getattr(self, "_extra_param_names", ()):
            params[key] = getattr(self, key)
        return params

    def set_params(self, **params):
        """Set parameters; changing one that shapes meta-training drops its state.

        Parameters that only affect adaptation or prediction (such as
        ``verbose`` or ``device``) keep the meta-learned state, so a
        meta-fitted estimator can be tuned with ``GridSearchCV`` over them.

        Parameters
        ----------
        **params : dict
            Estimator parameters, including routed ``encoder__*`` ones.

        Returns
        -------
        self : estimator instance
        """
        own = set(self._get_param_names())
        plain = {k: v for k, v in params.items() if k in own}
        routed = {k: v for k, v in params.items() if k not in own and "__" in k}
        extra = set(params) - set(plain) - set(routed)
        if extra - set(getattr(self, "_extra_param_names", ())):
            # not a parameter of this estimator: let scikit-learn's message say so
            super().set_params(**params)
        current = self.get_params(deep=False)
        changed = [
            key
            for key, value in params.items()
            if key not in self._adaptation_params
            and not _same_value(current.get(key, _MISSING), value)
        ]
        super().set_params(**plain)
        for key, value in {**routed, **{k: params[k] for k in extra}}.items():
            setattr(self, key, value)
        names = getattr(self, "_extra_param_names", ())
        self._extra_param_names = names + tuple(k for k in routed if k not in names)
        if changed:
            self._drop_fitted_state()
        return self

    def _validate_params(self):
        """Check the shared parameters; families extend it for their own."""
        self._check_routed_params()
        self._validate_episode_params()
        check_int(self.max_epochs, "max_epochs", min_value=0)
        if self.max_time is not None:
            check_float(self.max_time, "max_time", min_value=0.0, strict_min=True)
        check_int(self.n_val_episodes, "n_val_episodes", min_value=1)
        check_float(self.meta_lr, "meta_lr", min_value=0.0, strict_min=True)
        check_bool(self.warm_start, "warm_start")
        check_seed(self.random_state)
        check_lr_schedule(self.lr_schedule)
        if not isinstance(self.verbose, bool):
            check_int(self.verbose, "verbose", min_value=0)
        if not (
            isinstance(self.optimizer, type)
            and issubclass(self.optimizer, torch.optim.Optimizer)
        ):
            raise TypeError(
                "optimizer must be a torch.optim.Optimizer class such as "
                f"torch.optim.Adam; got {self.optimizer!r}."
            )
        if self.callbacks is not None:
            if not isinstance(self.callbacks, (list, tuple)):
                raise TypeError(
                    "callbacks must be None or a list of skorch callbacks; got "
                    f"{type(self.callbacks).__name__}."
                )
            for cb in self.callbacks:
                target = cb[1] if isinstance(cb, tuple) and len(cb) == 2 else cb
                if not isinstance(target, Callback):
                    raise TypeError(
                        "callbacks must hold skorch Callback instances or "
                        f"(name, Callback) pairs; got {cb!r}."
                    )
        if self.init_from is not None:
            source = self.init_from
            if not isinstance(source, BaseMetaEstimator):
                raise TypeError(
                    "init_from must be None or a meta-fitted sklmeta estimator; got "
                    f"{type(source).__name__}."
                )
            if not source._is_meta_fitted():
                raise ValueError(
                    f"init_from is a {type(source).__name__} that was never "
                    "meta-fitted; call its meta_fit first."
                )
        return resolve_device(self.device)

    def _validate_episode_params(self):
        """Check the episode shape and the episodic budget.

        Learners that meta-train on something else than episodes (minibatch
        pretraining, say) override it.
        """
        check_int(self.n_way, "n_way", min_value=1)
        check_int(self.n_shot, "n_shot", min_value=1)
        check_int(self.n_query, "n_query", min_value=1)
        check_int(self.episodes_per_epoch, "episodes_per_epoch", min_value=1)
        check_int(self.meta_batch_size, "meta_batch_size", min_value=1)

    # ------------------------------------------------------------------
    # state
    # ------------------------------------------------------------------
    def _is_meta_fitted(self):
        return hasattr(self, "history_")

    def __sklearn_is_fitted__(self):
        return all(hasattr(self, attr) for attr in self._adapted_attributes)

    def _drop_fitted_state(self):
        """Forget everything learned: meta-training and adaptation alike."""
        for key in list(vars(self)):
            if is_fitted_name(key):
                delattr(self, key)

    def _drop_adaptation(self):
        """Forget the adaptation to a task, keeping the meta-learned state."""
        keep = self._kept_by_adaptation()
        for key in list(vars(self)):
            if is_fitted_name(key) and key not in keep:
                delattr(self, key)

    def _kept_by_adaptation(self):
        """Fitted attributes that adapting to a task leaves as they are."""
        return set(self._meta_attributes) | {"optimizer_", "lr_scheduler_", "callbacks_"}

    def __sklearn_clone__(self):
        """Clone with the same parameters and a copy of the meta-learned state.

        The copy is deep, so clones never share weights; the adaptation to a
        task (``classes_``, prototypes, adapted weights) is not copied.
        """
        new = super().__sklearn_clone__()
        if self._is_meta_fitted():
            for attr in self._meta_attributes:
                if hasattr(self, attr):
                    setattr(new, attr, copy.deepcopy(getattr(self, attr)))
        return new

    @property
    def history(self):
        """The meta-training :class:`skorch.history.History` (skorch's name)."""
        return self.history_

    @property
    def module_(self):
        """The module holding every meta-learned parameter (skorch's name)."""
        return self.encoder_

    def _move_to(self, device):
        """Move the fitted modules and tensors to ``device`` if elsewhere."""
        for key, value in vars(self).items():
            if key.startswith("_") or not key.endswith("_"):
                continue
            if isinstance(value, torch.nn.Module):
                first = next(value.parameters(), None)
                if first is not None and first.device == device:
                    continue  # already there: skip the walk over every tensor
                value.to(device)
            elif isinstance(value, torch.Tensor):
                moved = value.to(device)
                if moved is not value:
                    setattr(self, key, moved)
            elif isinstance(value, dict) and value and all(
                isinstance(v, torch.Tensor) for v in value.values()
            ):
                setattr(self, key, {k: v.to(device) for k, v in value.items()})


    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    # ------------------------------------------------------------------
    # meta-training
    # ------------------------------------------------------------------
    def meta_fit(self, X, y=None, *, validation_data=None):
        """Meta-train over many tasks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or task collection
            Either a labelled pool, from which ``n_way``-way ``n_shot``-shot
            episodes with ``n_query`` queries per class are sampled, or (with
            ``y=None``) a task collection: an
            :class:`~sklmeta.EpisodeSampler`, an iterable of
            :class:`~sklmeta.Task`, or a task family such as
            :class:`~sklmeta.datasets.SinusoidTasks` (any object with
            ``n_features`` and ``episode_arrays``; see :doc:`/user_guide`).
            A sequence of tasks is drawn from at random; any other iterable
            is consumed in order.
        y : array-like of shape (n_samples,), default=None
            Labels of the pool; None when ``X`` is a task collection.
        validation_data : tuple (X_val, y_val) or task collection, default=None
            Tasks scored at the end of each epoch (``n_val_episodes`` of
            them, drawn once), recorded as ``valid_loss`` and ``valid_acc`` in
            ``history_``; early stopping monitors them.

        Returns
        -------
        self : object
            The meta-trained estimator.
        """
        device = self._validate_params()
        world = data_parallel_world()
        if world is not None:
            check_shardable(self, world)
        stream = self._training_stream(X, y, device)
        n_features = stream.n_features
        val_episodes = None
        if validation_data is not None:
            val_episodes = self._episode_source(
                *split_validation(validation_data), device, name="validation_data"
            )
            if val_episodes.n_features != n_features:
                raise ValueError(
                    f"validation_data has {val_episodes.n_features} features but "
                    f"the meta-training tasks have {n_features}."
                )

        warm = bool(self.warm_start) and self._is_meta_fitted()
        rng = check_seed(self.random_state)
        # episodes and random numbers are seeded per batch from these and the
        # batch's epoch and position, so a continued run never replays earlier
        # epochs and an interrupted one resumes where it stopped
        init_seed, train_seed, sample_seed, val_seed = rng.randint(2**31 - 1, size=4)
        before = self._fitted_state_copy() if warm else None
        if warm:
            self._check_warm_start(stream)
            self._drop_adaptation()
            self._move_to(device)
        else:
            self._drop_fitted_state()
            self.n_features_in_ = n_features
            if stream.feature_names is not None:
                self.feature_names_in_ = stream.feature_names
            with seeded(init_seed, device):
                if self.init_from is None:
                    self._initialize_modules(n_features, device)
                else:
                    self._initialize_from(self.init_from, n_features, device)
                self._initialize_meta_training(stream, device)
            self.history_ = History()
        if not warm or not hasattr(self, "optimizer_"):
            self.optimizer_ = self._build_optimizer()
        # an interrupted run resumes its schedule; a finished one starts a new
        # plan over this call's epochs, from the base rate
        resume = warm and bool(self.history_) and bool(self.history_[-1].get("interrupted"))
        if not resume or not hasattr(self, "lr_scheduler_"):
            if warm:
                base = self._routed_params("optimizer__").get("lr", self.meta_lr)
                for group in self.optimizer_.param_groups:
                    group["lr"] = base
            # a skorch LRScheduler callback takes the place of lr_schedule
            skorch_schedules = [cb for cb in self.callbacks or ()
                                if isinstance(cb[1] if isinstance(cb, tuple) else cb,
                                              LRScheduler)]
            schedule = None if skorch_schedules else self.lr_schedule
            self.lr_scheduler_ = build_lr_scheduler(
                schedule, self.optimizer_, self._routed_params("lr_schedule__"),
                self.max_epochs,
            )
        if val_episodes is not None:
            val_episodes.seed(val_seed)
            val_episodes = [val_episodes.draw() for _ in range(self.n_val_episodes)]
        self.callbacks_ = self._initialize_callbacks(len(stream))
        schedule = self.lr_scheduler_
        start = schedule.progress if isinstance(schedule, ProgressSchedule) else 0.0
        clock = MetaTrainingClock(self.max_epochs, self.max_time, start)
        seeds = _RunSeeds(train_seed, sample_seed, device)
        try:
            with seeded(train_seed, device):
                self._meta_fit_loop(stream, val_episodes, clock, seeds)
        except BaseException:
            # a fault (not an interrupt, handled in the loop) leaves the
            # estimator as it was before the call, or plainly not meta-fitted
            self._drop_fitted_state()
            if before is not None:
                vars(self).update(before)
            raise
        return self

    def _fitted_state_copy(self):
        """A deep copy of every fitted attribute, to return to after a fault."""
        return copy.deepcopy({key: value for key, value in vars(self).items()
                              if is_fitted_name(key)})

    def _training_stream(self, X, y, device):
        """Where meta-training batches come from: ``n_features``,
        ``feature_names``, ``seed(seed)``, ``len()`` batches per epoch and
        ``epoch()``, the batches of one epoch. Episodes in meta-batches."""
        episodes = self._episode_source(X, y, device, name="X")
        return MetaBatches(episodes, self.episodes_per_epoch, self.meta_batch_size)

    def _episode_source(self, X, y, device, name):
        """A pool, task family or task collection as a stream of episodes."""
        return episode_source(
            X, y, device, classify=is_classifier(self), n_way=self.n_way,
            n_shot=self.n_shot, n_query=self.n_query, name=name,
        )

    def _check_warm_start(self, stream):
        """Raise unless meta-training can continue on ``stream``."""
        if stream.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {stream.n_features} features, but {type(self).__name__} was "
                f"meta-trained on {self.n_features_in_}; warm_start needs the same."
            )

    def _initialize_meta_training(self, stream, device):
        """Build what meta-training needs beyond the meta-learned modules."""

    def _initialize_from(self, source, n_features, device):
        """Start from a copy of ``source``'s meta-learned modules (``init_from``).

        Copies every module and tensor of ``_meta_attributes`` (not the
        history); this estimator's own parameters, optimizer and schedule
        apply from there. ``source`` may be of another class when it holds
        all of them, e.g. a pretrained ``encoder_``. Learners whose modules
        depend on parameters that may differ between the two extend it.
        """
        if source.n_features_in_ != n_features:
            raise ValueError(
                f"init_from was meta-trained on {source.n_features_in_} features, "
                f"but X has {n_features}."
            )
        names = [name for name in self._meta_attributes
                 if name not in ("history_", "n_features_in_", "feature_names_in_")]
        missing = [name for name in names if not hasattr(source, name)
                   and name not in self._optional_meta_attributes]
        if missing:
            raise TypeError(
                f"init_from is a {type(source).__name__} without {missing}, which a "
                f"{type(self).__name__} meta-learns; start from an estimator that "
                "holds them (the same class, or one with the same modules)."
            )
        for name in names:
            if hasattr(source, name):
                setattr(self, name, copy.deepcopy(getattr(source, name)))
        self._move_to(device)

    def _module_from_state(self, name, state):
        """An empty module of attribute ``name`` to load ``state`` into, for
        :func:`~sklmeta.load_estimator`, when ``_initialize_modules`` does
        not build it (a head sized by the classes, say)."""
        raise ValueError(
            f"{type(self).__name__} does not rebuild its attribute {name!r} from a "
            "saved file."
        )

    def _build_encoder(self, n_features, device):
        """The ``encoder`` parameter built (with ``encoder__*``) on ``device``."""
        encoder = build_encoder(self.encoder, n_features, self._routed_params("encoder__"))
        return encoder.to(device)

    def _named_meta_parameters(self):
        """The (name, parameter) pairs meta-training updates."""
        return list(self.module_.named_parameters())

    def _build_optimizer(self):
        params = [p for _, p in self._named_meta_parameters() if p.requires_grad]
        if not params:
            raise ValueError(
                f"{type(self).__name__} has nothing to meta-train: every parameter of "
                "its encoder is frozen. Call fit on each task directly, or add a "
                "trainable head after the frozen encoder."
            )
        kwargs = {"lr": self.meta_lr, **self._routed_params("optimizer__")}
        # many small parameter tensors: one multi-tensor update beats a loop
        if "foreach" in inspect.signature(self.optimizer).parameters:
            kwargs.setdefault("foreach", True)
        try:
            return self.optimizer(params, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"optimizer={self.optimizer.__name__} rejected the arguments "
                f"{sorted(kwargs)} (from meta_lr and optimizer__*): {exc}"
            ) from exc

    def _initialize_callbacks(self, steps_per_epoch):
        callbacks = [EpochTimer()]
        if self.verbose:
            callbacks += [
                ProgressBar(batches_per_epoch=steps_per_epoch,
                            postfix_keys=["train_loss", "train_acc"]),
                PrintLog(),
            ]
        for cb in self.callbacks or ():
            cb = cb[1] if isinstance(cb, tuple) else cb
            callbacks.append(copy.deepcopy(cb))
        for cb in callbacks:
            cb.initialize()
        return callbacks

    def _notify(self, method, **kwargs):
        for cb in self.callbacks_:
            getattr(cb, method)(self, **kwargs)

    def _meta_fit_loop(self, stream, val_episodes, clock, seeds):
        """Epochs of batches, then validation, the schedule and callbacks,
        until ``max_epochs`` or the ``max_time`` budget ends the run.

        Ctrl-C keeps everything learned: the unfinished epoch is recorded
        with ``interrupted=True`` and a warm start finishes it. A diverging
        loss rolls the weights back to the start of its epoch.
        """
        module = self.module_
        history = self.history_
        watch = LossWatch(classify=is_classifier(self))
        completed = 0  # epochs completed in this call
        snapshot = None
        self._notify("on_train_begin", X=None, y=None)
        try:
            for epoch in range(self.max_epochs):
                skip = 0
                if history and history[-1].get("interrupted"):
                    # finish the epoch an interrupt cut short
                    skip = len(history[-1]["batches"])
                    del history[-1]["interrupted"]
                else:
                    history.new_epoch()
                    history.record("epoch", len(history))
                # a loss gone bad in an epoch's first batch may come from the
                # previous epoch's last step: keep the start of both
                earlier, snapshot = snapshot, TrainingSnapshot(self)
                self._notify("on_epoch_begin", dataset_train=None, dataset_valid=None)
                module.train()
                try:
                    self._run_epoch(stream, clock, epoch, seeds, skip, watch)
                    if not all_finite(p for _, p in self._named_meta_parameters()):
                        raise Diverged(float("nan"), len(history[-1]["batches"]) - 1)
                except Diverged as diverged:
                    where = len(history)
                    history.pop()
                    if diverged.batch == 0 and earlier is not None:
                        snapshot = earlier
                        history.pop()
                        completed -= 1
                    snapshot.restore(self)
                    self._report_divergence(diverged, where, completed)
                    break
                if val_episodes is not None:
                    module.eval()
                    scores = [self._validation_score(ep) for ep in val_episodes]
                    losses, accuracies = zip(*scores)
                    self._record_epoch("valid", losses, accuracies, None)
                    module.train()
                if self.lr_scheduler_ is not None:
                    history.record("lr", current_lr(self.optimizer_))
                    step_lr_scheduler(self.lr_scheduler_, history, clock.progress(epoch + 1))
                completed += 1
                out_of_time = clock.out_of_time()
                if out_of_time:
                    history.record("stopped_by", "max_time")
                try:
                    self._notify("on_epoch_end", dataset_train=None, dataset_valid=None)
                except KeyboardInterrupt:
                    # how skorch's EarlyStopping ends a run: the epoch is whole
                    history.record("stopped_by", "callback")
                    break
                if out_of_time:
                    if self.verbose:
                        print(f"Stopping: max_time={self.max_time:g} s spent after "
                              f"{len(history)} epochs.")
                    break
        except KeyboardInterrupt:
            self._record_interruption()
        finally:
            module.eval()
        self._notify("on_train_end", X=None, y=None)

    def _record_interruption(self):
        """Keep an interrupted epoch's finished batches, marked as such."""
        history = self.history_
        if history:
            batches = history[-1]["batches"]
            while batches and "train_loss" not in batches[-1]:
                batches.pop()  # a batch cut short left no trace in the weights
        if history and "train_loss" not in history[-1] and not history[-1]["batches"]:
            history.pop()  # nothing of the epoch ran
            done = "at the end of an epoch"
        elif history:
            self._record_train_epoch()
            history.record("interrupted", True)
            done = (f"in epoch {len(history)} after {len(history[-1]['batches'])} "
                    "batches, recorded in history_ with interrupted=True")
        else:
            done = "before the first batch"
        warnings.warn(
            f"{type(self).__name__}: meta-training interrupted {done}. What was learned "
            "is kept; set_params(warm_start=True) and meta_fit again to continue.",
            MetaTrainingInterrupted, stacklevel=4,
        )

    def _report_divergence(self, diverged, epoch, completed):
        """Warn, or raise when nothing of this call's training survives."""
        rate = f"meta_lr={self.meta_lr:g}"
        message = (
            f"{type(self).__name__}: meta-training diverged in epoch {epoch} "
            f"({diverged}). Likely cause: a learning rate too high ({rate}), or "
            "inputs on a scale that overflows float32 arithmetic (standardise them)."
        )
        if completed == 0 and len(self.history_) == 0:
            raise DivergenceError(message + " Nothing was learned; the estimator is "
                                  "not meta-fitted.")
        if self.history_:
            self.history_.record("stopped_by", "diverged")
        warnings.warn(message + f" The weights are those after epoch {len(self.history_)}, "
                      "the last one recorded in history_.", MetaTrainingDiverged, stacklevel=4)

    def _run_epoch(self, stream, clock, epoch, seeds=None, skip=0, watch=None):
        history = self.history_
        timed = isinstance(self.lr_scheduler_, ProgressSchedule) and clock.max_time
        n_batches = len(stream)
        index = len(history) - 1  # the epoch's position over all runs
        if seeds is not None and (epoch == 0 or getattr(stream, "reseed_per_epoch", True)):
            stream.seed(derive_seed(seeds.sample, index))
        batches = stream.epoch(skip=skip) if skip else stream.epoch()
        for i, batch in enumerate(batches, start=skip):
            # learners that change phase during meta-training read this share
            self._run_share = clock.share(epoch + i / n_batches)
            if seeds is not None:
                reseed_torch(derive_seed(seeds.train, index, i), seeds.device)
            history.new_batch()
            self._notify("on_batch_begin", batch=batch, training=True)
            loss, accuracy = self._train_step(batch, watch, i)
            history.record_batch("train_loss", loss)
            history.record_batch("train_acc", accuracy)
            history.record_batch("train_batch_size", len(batch))
            self._notify("on_batch_end", batch=batch, training=True)
            if clock.out_of_time():
                break
            if timed:
                # a time budget may end the run mid-plan: follow it batch by batch
                self.lr_scheduler_.set_progress(clock.progress(epoch + (i + 1) / n_batches))
        self._record_train_epoch()

    def _record_train_epoch(self):
        """The epoch's training loss and accuracy, from its batches."""
        batches = [b for b in self.history_[-1]["batches"] if "train_loss" in b]
        if not batches:
            return
        self._record_epoch(
            "train", [b["train_loss"] for b in batches], [b["train_acc"] for b in batches],
            [b["train_batch_size"] for b in batches],
        )

    def _record_epoch(self, prefix, losses, accuracies, sizes):
        history = self.history_
        loss = float(np.average(losses, weights=sizes))
        accuracy = float(np.average(accuracies, weights=sizes))
        earlier_loss = [h.get(f"{prefix}_loss", np.inf) for h in history[:-1]]
        earlier_acc = [h.get(f"{prefix}_acc", -np.inf) for h in history[:-1]]
        history.record(f"{prefix}_loss", loss)
        history.record(f"{prefix}_loss_best", bool(loss < min(earlier_loss, default=np.inf)))
        history.record(f"{prefix}_acc", accuracy)
        history.record(f"{prefix}_acc_best", bool(accuracy > max(earlier_acc, default=-np.inf)))

    def _train_step(self, batch, watch=None, index=0):
        """One meta-update: gradients, the ``on_grad_computed`` callbacks, the
        optimizer step. Returns the batch's mean loss and accuracy; a loss
        that is not finite or explodes stops before the step."""
        self.optimizer_.zero_grad(set_to_none=True)
        world = data_parallel_world()
        if world is None:
            loss, accuracy = self._compute_meta_gradient(batch)
        else:
            share, weight = shard_batch(batch, world, self._query_shardable)
            loss, accuracy = self._compute_meta_gradient(share)
            loss, accuracy = all_reduce_meta_gradient(
                [p for _, p in self._named_meta_parameters()], weight, loss, accuracy)
        if watch is not None:
            watch.check(loss, index)
        self._notify(
            "on_grad_computed", named_parameters=self._named_meta_parameters(),
            X=None, y=None, training=True,
        )
        self.optimizer_.step()
        if world is not None:
            average_buffers(self.module_)
        return loss, accuracy

    def _compute_meta_gradient(self, batch):
        """Store the meta-gradient of ``batch`` in the parameters' ``.grad``;
        return the mean loss and accuracy as floats.

        The default backpropagates the mean of :meth:`_episode_loss` over the
        episodes, one episode at a time, so that each graph is freed early.
        """
        total_loss, total_acc = 0.0, 0.0
        for episode in batch:
            loss, accuracy = self._episode_loss(episode)
            (loss / len(batch)).backward()
            total_loss += loss.item()
            total_acc += accuracy
        return total_loss / len(batch), total_acc / len(batch)

    def _episode_loss(self, episode):
        """Loss tensor and accuracy (a float) of the learner on one episode."""
        raise NotImplementedError(
            f"{type(self).__name__} defines neither _episode_loss nor "
            "_compute_meta_gradient."
        )

    def _validation_score(self, episode):
        """Loss and accuracy of the meta-learner on one validation episode."""
        with torch.no_grad():
            loss, accuracy = self._episode_loss(episode)
        return loss.item(), accuracy

    # ------------------------------------------------------------------
    # adaptation and prediction
    # ------------------------------------------------------------------
    def fit(self, X, y):
        """Adapt to one new task from its support set.

        Starts from the meta-learned state when :meth:`meta_fit` ran; else
        from a freshly initialised network, which makes the estimator a
        plain scikit-learn estimator. The meta-learned state is never changed.

        Parameters
        ----------
        X : array-like of shape (n_support, n_features)
            Support inputs.
        y : array-like of shape (n_support,)
            Support labels: any labels scikit-learn accepts, any number of
            classes.

        Returns
        -------
        self : object
            The adapted estimator.
        """
        device = self._validate_params()
        meta_fitted = self._is_meta_fitted()
        if meta_fitted:
            self._drop_adaptation()
            self._move_to(device)
        else:
            self._drop_fitted_state()
        X, y = validate_inputs(self, X, y, reset=not meta_fitted)
        rng = check_seed(self.random_state)
        init_seed, adapt_seed = rng.randint(2**31 - 1, size=2)
        if not meta_fitted:
            with seeded(init_seed, device):
                self._initialize_modules(X.shape[1], device)
        if is_classifier(self):
            check_classification_targets(y)
            self.classes_, y_encoded = np.unique(y, return_inverse=True)
            target = torch.as_tensor(y_encoded, dtype=torch.long, device=device)
        else:
            target = to_tensor(y, device)
        with seeded(adapt_seed, device):
            self._adapt(to_tensor(X, device), target)
        self._check_adapted_state(meta_fitted)
        return self

    def _check_adapted_state(self, meta_fitted):
        """Raise, leaving no adaptation behind, if it holds non-finite values."""
        keep = self._kept_by_adaptation()
        tensors = []
        for key, value in vars(self).items():
            if not is_fitted_name(key) or (meta_fitted and key in keep):
                continue
            if isinstance(value, torch.nn.Module):
                tensors += list(value.state_dict().values())
            elif isinstance(value, torch.Tensor):
                tensors.append(value)
            elif isinstance(value, dict):
                tensors += [v for v in value.values() if isinstance(v, torch.Tensor)]
        if all_finite(tensors):
            return
        if meta_fitted:
            self._drop_adaptation()
        else:
            self._drop_fitted_state()
        rate = self._adaptation_rate_param
        cause = f"a learning rate too high: {describe_rate(self)}, or " if rate else ""
        raise DivergenceError(
            f"{type(self).__name__}: adapting to the support set gave values that are "
            f"not finite. Likely cause: {cause}inputs on a scale that overflows float32 "
            "arithmetic (standardise them). The estimator is not adapted."
        )


    def _predict_output(self, X):
        """Output of ``_forward_adapted`` for inputs of the adapted task."""
        check_is_fitted(self)
        device = resolve_device(self.device)
        self._move_to(device)
        X = validate_inputs(self, X, reset=False)
        X = to_tensor(X, device)
        outputs = [self._forward_adapted(chunk) for chunk in self._prediction_chunks(X)]
        outputs = torch.cat(outputs) if outputs else torch.empty(0)
        if not bool(torch.isfinite(outputs).all()):
            raise ValueError(
                f"{type(self).__name__}'s outputs for some rows of X are not finite: "
                f"X (largest magnitude {float(X.abs().max()):.3g}) is on a scale that "
                "overflows float32 arithmetic in the network; standardise it as the "
                "support set was."
            )
        return outputs

    def _prediction_chunks(self, X):
        """The parts of ``X`` passed one at a time to ``_forward_adapted``."""
        return X.split(PREDICT_CHUNK)

    # ------------------------------------------------------------------
    # the algorithm
    # ------------------------------------------------------------------
    @abstractmethod
    def _initialize_modules(self, n_features, device):
        """Build the meta-learned modules (at least ``encoder_``) on ``device``."""

    @abstractmethod
    def _adapt(self, X, y):
        """Adapt to a support set given as tensors; store the result."""

    @abstractmethod
    def _forward_adapted(self, X):
        """Output of the adapted learner for a chunk of query tensors."""


class _RunSeeds(NamedTuple):
    """The seeds of a meta-training call: torch's, the episodes', the device."""

    train: int
    sample: int
    device: object


class _Missing:
    """Marks a parameter that had no value before ``set_params``."""


_MISSING = _Missing()


def _same_value(old, new):
    """Whether setting ``new`` over ``old`` leaves a parameter as it was."""
    if old is new:
        return True
    if isinstance(old, (np.ndarray, torch.Tensor, torch.nn.Module)):
        return False
    try:
        return bool(old == new) and type(old) is type(new)
    except Exception:  # values whose == raises or is ambiguous count as changed
        return False

