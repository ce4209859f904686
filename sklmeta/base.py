"""The meta-estimator contract shared by every learner.

:class:`BaseMetaEstimator` owns what all meta-learners have in common: the
checks of the shared parameters, seeding, devices, conversion between numpy
and torch, the episodic meta-training loop with skorch callbacks and
history, adaptation through ``fit``, cloning that keeps the meta-learned
state, and pickling that survives a move from GPU to CPU. A family of
learners overrides a few hooks: ``_initialize_modules``, ``_episode_loss``
(or ``_meta_step``), ``_adapt`` and ``_predict_output``.
"""

import copy
import inspect
import io
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, is_classifier
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import Callback, EpochTimer, PrintLog, ProgressBar
from skorch.history import History

from ._episodes import EpisodeTensors, PoolEpisodes, TaskEpisodes
from ._torch import resolve_device, seeded, to_numpy, to_tensor
from .exceptions import NotInitializedError
from .tasks import EpisodeSampler, check_tasks
from .utils._validation import check_bool, check_float, check_int

__all__ = ["BaseMetaEstimator"]

# Inputs are embedded in chunks at prediction time to bound memory.
_PREDICT_CHUNK = 2048


class BaseMetaEstimator(BaseEstimator):
    """Base class of the meta-learners; not meant to be used directly.

    Concrete learners define ``__init__`` with their parameters, add
    :class:`~sklearn.base.ClassifierMixin` or
    :class:`~sklearn.base.RegressorMixin` on the left, and implement the
    hooks. Keyword arguments ``encoder__*`` and ``optimizer__*`` are routed
    to the encoder and the meta-optimizer, as skorch routes ``module__*``.

    Notes
    -----
    ``meta_fit(tasks)`` or ``meta_fit(X, y)`` meta-trains over many tasks and
    returns self; ``fit(X_support, y_support)`` adapts to one new task from
    the meta-learned state (or from scratch when never meta-fitted);
    ``predict`` answers for that task. ``clone`` keeps the meta-learned state
    (:meth:`__sklearn_clone__`), never the adaptation.
    """

    # Prefixes of keyword arguments routed to parts of the learner.
    _routed_prefixes = ("encoder__", "optimizer__")
    # Parameters whose change leaves the meta-learned state valid: where the
    # network runs, what is printed, and the budget of *further* meta-training
    # (so ``set_params(warm_start=True, max_epochs=...)`` then ``meta_fit``
    # continues). Families extend this with their adaptation options.
    _adaptation_params = frozenset({
        "verbose", "device", "warm_start", "max_epochs", "episodes_per_epoch",
        "callbacks", "n_val_episodes",
    })
    # Attributes that make up the meta-learned state, copied by clone.
    _meta_attributes = ("encoder_", "history_", "n_features_in_", "feature_names_in_")
    # Attributes that exist once the estimator is adapted to a task.
    _adapted_attributes = ("n_features_in_",)

    # ------------------------------------------------------------------
    # parameters
    # ------------------------------------------------------------------
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
        check_int(self.n_val_episodes, "n_val_episodes", min_value=1)
        check_float(self.meta_lr, "meta_lr", min_value=0.0, strict_min=True)
        check_bool(self.warm_start, "warm_start")
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
            if key.endswith("_") and not key.startswith("_") and "__" not in key:
                delattr(self, key)

    def _drop_adaptation(self):
        """Forget the adaptation to a task, keeping the meta-learned state."""
        keep = set(self._meta_attributes) | {"optimizer_", "callbacks_"}
        for key in list(vars(self)):
            fitted = key.endswith("_") and not key.startswith("_") and "__" not in key
            if fitted and key not in keep:
                delattr(self, key)

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

    def __getstate__(self):
        state = super().__getstate__()
        version = state.pop("_sklearn_version", None)
        buffer = io.BytesIO()
        torch.save(state, buffer)
        packed = {"_torch_payload": buffer.getvalue()}
        if version is not None:
            packed["_sklearn_version"] = version
        return packed

    def __setstate__(self, state):
        state = dict(state)
        payload = state.pop("_torch_payload", None)
        if payload is not None:
            # a model fitted on a GPU unpickles on a machine without one
            map_location = None if torch.cuda.is_available() else "cpu"
            state.update(
                torch.load(io.BytesIO(payload), map_location=map_location, weights_only=False)
            )
        # a parameter added since the estimator was pickled takes its default
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if name not in state and param.default is not inspect.Parameter.empty:
                state[name] = param.default
        super().__setstate__(state)

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
            :class:`~sklmeta.EpisodeSampler` or an iterable of
            :class:`~sklmeta.Task`. A sequence of tasks is drawn from at
            random; any other iterable is consumed in order.
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
        episodes = self._episode_source(X, y, device, name="X")
        n_features = episodes.n_features
        val_episodes = None
        if validation_data is not None:
            val_episodes = self._episode_source(
                *_split_validation(validation_data), device, name="validation_data"
            )
            if val_episodes.n_features != n_features:
                raise ValueError(
                    f"validation_data has {val_episodes.n_features} features but "
                    f"the meta-training tasks have {n_features}."
                )

        warm = bool(self.warm_start) and self._is_meta_fitted()
        rng = check_random_state(self.random_state)
        if warm:
            # a continued run must not replay the episodes of the earlier ones
            rng.randint(2**31 - 1, size=4 * len(self.history_))
        init_seed, train_seed, sample_seed, val_seed = rng.randint(2**31 - 1, size=4)
        episodes.seed(sample_seed)
        if warm:
            if n_features != self.n_features_in_:
                raise ValueError(
                    f"X has {n_features} features, but {type(self).__name__} was "
                    f"meta-trained on {self.n_features_in_}; warm_start needs the same."
                )
            self._drop_adaptation()
            self._move_to(device)
        else:
            self._drop_fitted_state()
            self.n_features_in_ = n_features
            if episodes.feature_names is not None:
                self.feature_names_in_ = episodes.feature_names
            with seeded(init_seed, device):
                self._initialize_modules(n_features, device)
            self.history_ = History()
        if not warm or not hasattr(self, "optimizer_"):
            self.optimizer_ = self._build_optimizer()
        if val_episodes is not None:
            val_episodes.seed(val_seed)
            val_episodes = [val_episodes.draw() for _ in range(self.n_val_episodes)]
        self.callbacks_ = self._initialize_callbacks()
        with seeded(train_seed, device):
            self._meta_train(episodes, val_episodes)
        return self

    def _episode_source(self, X, y, device, name):
        """Wrap a pool or a task collection as a stream of episode tensors."""
        classify = is_classifier(self)
        if y is not None:
            names = _feature_names(X)
            X, y = _check_pool(self, X, y, name)
            if classify:
                check_classification_targets(y)
            return PoolEpisodes(
                to_tensor(X, device), y, self.n_way, self.n_shot, self.n_query,
                feature_names=names,
            )
        if isinstance(X, EpisodeSampler):
            if classify:
                check_classification_targets(X.y)
            return PoolEpisodes(
                to_tensor(_check_pool(self, X.X, X.y, name)[0], device), X.y,
                X.n_way, X.n_shot, X.n_query, random_state=X.random_state,
            )
        return TaskEpisodes(check_tasks(X, name), device, classify=classify)

    def _build_optimizer(self):
        params = [p for p in self.module_.parameters() if p.requires_grad]
        kwargs = {"lr": self.meta_lr, **self._routed_params("optimizer__")}
        try:
            return self.optimizer(params, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"optimizer={self.optimizer.__name__} rejected the arguments "
                f"{sorted(kwargs)} (from meta_lr and optimizer__*): {exc}"
            ) from exc

    def _initialize_callbacks(self):
        steps = -(-self.episodes_per_epoch // self.meta_batch_size)
        callbacks = [EpochTimer()]
        if self.verbose:
            callbacks += [
                ProgressBar(batches_per_epoch=steps, postfix_keys=["train_loss", "train_acc"]),
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

    def _meta_train(self, episodes, val_episodes):
        """The epoch loop: meta-batches of episodes, validation, callbacks."""
        module = self.module_
        history = self.history_
        self._notify("on_train_begin", X=None, y=None)
        try:
            for _ in range(self.max_epochs):
                history.new_epoch()
                history.record("epoch", len(history))
                self._notify("on_epoch_begin", dataset_train=None, dataset_valid=None)
                module.train()
                losses, accuracies, sizes = [], [], []
                remaining = self.episodes_per_epoch
                while remaining > 0:
                    batch = [episodes.draw() for _ in range(min(self.meta_batch_size, remaining))]
                    remaining -= len(batch)
                    history.new_batch()
                    self._notify("on_batch_begin", batch=batch, training=True)
                    loss, accuracy = self._meta_step(batch)
                    history.record_batch("train_loss", loss)
                    history.record_batch("train_acc", accuracy)
                    history.record_batch("train_batch_size", len(batch))
                    self._notify("on_batch_end", batch=batch, training=True)
                    losses.append(loss)
                    accuracies.append(accuracy)
                    sizes.append(len(batch))
                self._record_epoch("train", losses, accuracies, sizes)
                if val_episodes is not None:
                    module.eval()
                    scores = [self._validation_score(ep) for ep in val_episodes]
                    losses, accuracies = zip(*scores)
                    self._record_epoch("valid", losses, accuracies, None)
                    module.train()
                self._notify("on_epoch_end", dataset_train=None, dataset_valid=None)
        except KeyboardInterrupt:
            # Ctrl-C, or a callback such as EarlyStopping: keep what was learned
            if history and "train_loss" not in history[-1]:
                history.pop()
        module.eval()
        self._notify("on_train_end", X=None, y=None)

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

    def _meta_step(self, batch):
        """One meta-update on a meta-batch; returns mean loss and accuracy.

        The default averages :meth:`_episode_loss` over the episodes, then
        takes one optimizer step; gradient-based learners override it.
        """
        self.optimizer_.zero_grad(set_to_none=True)
        total_loss, total_acc = 0.0, 0.0
        for episode in batch:
            loss, accuracy = self._episode_loss(episode)
            (loss / len(batch)).backward()
            total_loss += loss.item()
            total_acc += accuracy
        self._notify(
            "on_grad_computed",
            named_parameters=list(self.module_.named_parameters()),
            X=None, y=None, training=True,
        )
        self.optimizer_.step()
        return total_loss / len(batch), total_acc / len(batch)

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
        X, y = validate_data(self, X, y, reset=not meta_fitted, dtype=[np.float32, np.float64])
        rng = check_random_state(self.random_state)
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
        return self

    def _predict_output(self, X):
        """Network output for inputs of the adapted task (logits or values)."""
        check_is_fitted(self)
        device = resolve_device(self.device)
        self._move_to(device)
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        X = to_tensor(X, device)
        outputs = [self._forward_adapted(chunk) for chunk in self._prediction_chunks(X)]
        return torch.cat(outputs) if outputs else torch.empty(0)

    def _prediction_chunks(self, X):
        """The parts of ``X`` embedded one at a time by ``_predict_output``."""
        return X.split(_PREDICT_CHUNK)

    # ------------------------------------------------------------------
    # saving
    # ------------------------------------------------------------------
    def save_params(self, f_params=None, f_optimizer=None, f_history=None,
                    use_safetensors=False, **kwargs):
        """Save the meta-learned weights, optimizer state or history to files.

        The same interface as skorch's ``save_params``, so skorch's
        ``Checkpoint`` callback works. To save the whole estimator, adapted
        state included, pickle it (``pickle`` or ``joblib``).

        Parameters
        ----------
        f_params : str, path or file-like, default=None
            Where to save the weights of the meta-learned module.
        f_optimizer : str, path or file-like, default=None
            Where to save the meta-optimizer state.
        f_history : str, path or file-like, default=None
            Where to save ``history_`` as JSON.
        use_safetensors : bool, default=False
            Accepted for skorch compatibility; only False is supported.
        **kwargs
            Other ``f_<name>`` targets for ``<name>_`` attributes, as in
            skorch; names this estimator lacks (``f_criterion``) are skipped.
        """
        _check_no_safetensors(use_safetensors)
        for target, obj in self._save_targets(f_params, f_optimizer, kwargs, "save_params"):
            torch.save(obj.state_dict(), target)
        if f_history is not None:
            self._require_modules("save_params")
            self.history_.to_file(f_history)

    def load_params(self, f_params=None, f_optimizer=None, f_history=None,
                    checkpoint=None, use_safetensors=False, **kwargs):
        """Load weights, optimizer state or history saved by :meth:`save_params`.

        The estimator must already hold a network of the same shape, for
        instance after ``meta_fit`` with ``max_epochs=0``.

        Parameters
        ----------
        f_params, f_optimizer, f_history : str, path or file-like, default=None
            Files written by :meth:`save_params`.
        checkpoint : skorch.callbacks.Checkpoint, default=None
            Load the files of this checkpoint; other file arguments are then
            ignored.
        use_safetensors : bool, default=False
            Accepted for skorch compatibility; only False is supported.
        **kwargs
            Other ``f_<name>`` sources, as in skorch.
        """
        _check_no_safetensors(use_safetensors)
        if checkpoint is not None:
            self._require_modules("load_params")
            if checkpoint.f_history is not None:
                # the history first: file names may be formatted from it
                self.history_ = History.from_file(checkpoint.f_history_)
            files = checkpoint.get_formatted_files(self)
            f_params = files.get("f_params")
            f_optimizer = files.get("f_optimizer")
            f_history = files.get("f_history")
            kwargs = {}
        device = resolve_device(self.device)
        for source, obj in self._save_targets(f_params, f_optimizer, kwargs, "load_params"):
            obj.load_state_dict(torch.load(source, map_location=device, weights_only=True))
        if f_history is not None:
            self._require_modules("load_params")
            self.history_ = History.from_file(f_history)

    def _require_modules(self, caller):
        if not hasattr(self, "encoder_"):
            raise NotInitializedError(
                f"{type(self).__name__} has no network yet, so {caller} cannot run; "
                "call meta_fit (max_epochs=0 builds the network untrained) or fit first."
            )

    def _save_targets(self, f_params, f_optimizer, kwargs, caller):
        files = {"module_": f_params, "optimizer_": f_optimizer}
        for key, value in kwargs.items():
            if not key.startswith("f_"):
                raise TypeError(
                    f"{caller} got an unexpected argument {key!r}; did you mean 'f_{key}'?"
                )
            name = "module_" if key == "f_module" else key[2:] + "_"
            files[name] = value
        pairs = []
        for name, target in files.items():
            if target is None:
                continue
            self._require_modules(caller)
            obj = getattr(self, name, None)
            if obj is not None and hasattr(obj, "state_dict"):
                pairs.append((target, obj))
        return pairs

    # ------------------------------------------------------------------
    # hooks
    # ------------------------------------------------------------------
    def _initialize_modules(self, n_features, device):
        """Build the meta-learned modules (at least ``encoder_``) on ``device``."""
        raise NotImplementedError

    def _episode_loss(self, episode: EpisodeTensors):
        """Loss tensor and accuracy of the learner on one training episode."""
        raise NotImplementedError

    def _adapt(self, X, y):
        """Adapt to a support set given as tensors; store the result."""
        raise NotImplementedError

    def _forward_adapted(self, X):
        """Output of the adapted learner for a chunk of query tensors."""
        raise NotImplementedError


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


def _check_no_safetensors(use_safetensors):
    if use_safetensors:
        raise ValueError(
            "use_safetensors=True is not supported; weights are saved with torch.save."
        )


def _check_pool(estimator, X, y, name):
    """Validate a labelled pool for meta-training; returns numpy arrays."""
    from sklearn.utils.validation import check_X_y

    if y is None:
        raise ValueError(f"{name} is a labelled pool, so y is required.")
    return check_X_y(
        X, y, dtype=[np.float32, np.float64], y_numeric=not is_classifier(estimator)
    )


def _feature_names(X):
    names = getattr(X, "columns", None)
    return None if names is None else np.asarray(names, dtype=object)


def _split_validation(validation_data):
    """``(X_val, y_val)`` pools or a task collection, as (X, y) arguments."""
    if isinstance(validation_data, tuple) and len(validation_data) == 2:
        X_val, y_val = validation_data
        if not isinstance(X_val, tuple):
            return X_val, y_val
    return validation_data, None

