"""What the gradient-based learners share: the network, adaptation, prediction."""

import copy
import inspect
import math

import torch
from sklearn.base import is_classifier
from torch import nn

from .._episodes import EpisodeTensors
from .._torch import to_numpy
from ..base import BaseMetaEstimator
from ..datasets._sinusoid import SinusoidTasks
from ..encoders import _MIN_CONV4_SIDE, infer_image_shape, output_dim
from ..utils._validation import check_bool, check_float, check_int
from ._functional import (
    ConvBody,
    LinearHead,
    MetaNetwork,
    MLPBody,
    SharedRowHead,
    accuracy,
    task_loss,
)

__all__ = ["GradientMetaEstimator"]


class GradientMetaEstimator(BaseMetaEstimator):
    """Base of the gradient-based learners; not meant to be used directly.

    Subclasses define ``_adapt_params(params, X, y)`` (adaptation of a dict
    of weights to a support set) and ``_meta_step``.
    """

    _adaptation_params = BaseMetaEstimator._adaptation_params | {
        "n_adapt_steps", "adapt_lr", "batch_tasks", "transductive",
    }
    _meta_attributes = ("network_", "history_", "n_features_in_", "feature_names_in_")
    # the body of each learner's network, when encoder='mlp'
    _default_hidden = (40, 40)

    @property
    def module_(self):
        """The :class:`torch.nn.Module` holding every meta-learned parameter."""
        return self.network_

    @property
    def encoder_(self):
        """The network's body: features fed to the output layer."""
        return self.network_.body

    # ------------------------------------------------------------------
    # parameters and network
    # ------------------------------------------------------------------
    def _validate_params(self):
        device = super()._validate_params()
        check_int(self.n_inner_steps, "n_inner_steps", min_value=1)
        check_int(self.n_adapt_steps, "n_adapt_steps", min_value=0)
        check_float(self.inner_lr, "inner_lr", min_value=0.0, strict_min=True)
        check_float(self.adapt_lr, "adapt_lr", min_value=0.0, strict_min=True,
                    allow_none=True)
        check_bool(self.transductive, "transductive")
        if not (isinstance(self.batch_tasks, str) and self.batch_tasks == "auto"):
            check_bool(self.batch_tasks, "batch_tasks")
        return device

    def _network_options(self):
        """(learn_inner_lr, adapted) of the network; MAML overrides."""
        return False, "all"

    def _build_body(self, n_features):
        params = self._routed_params("encoder__")
        encoder = self.encoder
        if isinstance(encoder, nn.Module):
            if params:
                raise ValueError(
                    "encoder__* parameters apply only when encoder is a name or a "
                    f"class, but encoder is an instance; got {sorted(params)}."
                )
            return copy.deepcopy(encoder)
        if isinstance(encoder, type) and issubclass(encoder, nn.Module):
            return encoder(**params)
        if not (isinstance(encoder, str) and encoder in ("auto", "conv4", "mlp")):
            raise TypeError(
                "encoder must be 'auto', 'conv4', 'mlp', a torch.nn.Module class or a "
                f"torch.nn.Module instance; got {encoder!r}."
            )
        params = dict(params)
        shape = params.pop("input_shape", None) or infer_image_shape(n_features)
        if encoder == "auto":
            big = shape is not None and min(shape[1:]) >= _MIN_CONV4_SIDE
            encoder = "conv4" if big and math.prod(shape) == n_features else "mlp"
        if encoder == "conv4":
            if shape is None:
                raise ValueError(
                    f"encoder='conv4' needs images, but n_features={n_features} is not "
                    "a square number; pass encoder__input_shape=(channels, height, "
                    "width) or use encoder='mlp'."
                )
            if math.prod(shape) != n_features:
                raise ValueError(
                    f"encoder__input_shape={tuple(shape)} holds {math.prod(shape)} "
                    f"values but X has {n_features} features."
                )
            return ConvBody(input_shape=shape, **params)
        params.setdefault("hidden_layer_sizes", self._default_hidden)
        return MLPBody(n_features, **params)

    def _initialize_modules(self, n_features, device):
        body = self._build_body(n_features).to(device)
        width = output_dim(body, n_features, device)
        if self._is_classifier():
            head = SharedRowHead(width)
        else:
            head = LinearHead(width, 1)
        learn_inner_lr, adapted = self._network_options()
        self.network_ = MetaNetwork(
            body, head, self.inner_lr, learn_inner_lr=learn_inner_lr, adapted=adapted
        ).to(device)

    def _build_optimizer(self):
        params = [p for p in self.module_.parameters() if p.requires_grad]
        kwargs = {"lr": self.meta_lr, **self._routed_params("optimizer__")}
        # many small parameter tensors: one multi-tensor update beats a loop
        # over them (about 15% of a sinusoid meta-iteration on a CPU)
        if "foreach" in inspect.signature(self.optimizer).parameters:
            kwargs.setdefault("foreach", True)
        try:
            return self.optimizer(params, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"optimizer={self.optimizer.__name__} rejected the arguments "
                f"{sorted(kwargs)} (from meta_lr and optimizer__*): {exc}"
            ) from exc

    def _is_classifier(self):
        return is_classifier(self)

    def _batched(self, batch):
        """Whether to vmap the tasks of a meta-batch (see ``batch_tasks``)."""
        if (self.batch_tasks is False or len(batch) < 2
                or not self._alike(batch, ("x_support", "x_query"))):
            return False
        first = batch[0]
        if self.batch_tasks is True:
            return True
        # Measured on a CPU: vmap ~10x faster than the loop for the sinusoid
        # MLP; for Conv4, 9x-23x the memory for anywhere between a 1.5x gain
        # and a 2.3x loss. On CUDA batching small tasks wins.
        on_cuda = first.x_support.device.type == "cuda"
        return on_cuda or not self.network_.has_conv

    @staticmethod
    def _alike(batch, fields):
        """Whether every episode has the first one's ``n_way`` and the shapes
        of its tensors named in ``fields``, so that they can be stacked."""
        first = batch[0]
        return all(ep.n_way == first.n_way
                   and all(getattr(ep, f).shape == getattr(first, f).shape for f in fields)
                   for ep in batch[1:])

    @staticmethod
    def _stack(batch):
        return [torch.stack(parts) for parts in zip(*(ep[:4] for ep in batch))]

    # ------------------------------------------------------------------
    # adaptation and prediction
    # ------------------------------------------------------------------
    def _n_outputs(self, n_way):
        return 1 if n_way is None else n_way

    def _adapt(self, X, y):
        network = self.network_
        n_outputs = len(self.classes_) if self._is_classifier() else 1
        params = network.task_params(n_outputs, detach=True)
        with torch.enable_grad():
            params = self._adapt_params(params, X, y)
        params = {k: v.detach() for k, v in params.items()}
        stats = []
        with torch.no_grad():
            network.features(params, X, stats=stats)
        self.adapted_params_ = params
        self.batch_stats_ = {
            f"{i}.{name}": value
            for i, moments in enumerate(stats)
            for name, value in zip(("mean", "var"), moments)
        }

    def _adapted_stats(self):
        """Batch-norm moments normalising queries: the support set's, or None
        (each batch of queries its own) when ``transductive``."""
        if self.transductive:
            return None
        n_layers = len(self.batch_stats_) // 2
        return [(self.batch_stats_[f"{i}.mean"], self.batch_stats_[f"{i}.var"])
                for i in range(n_layers)]

    def _prediction_chunks(self, X):
        # transductive batch statistics are those of everything predicted at once
        return (X,) if self.transductive else super()._prediction_chunks(X)

    def _forward_adapted(self, X):
        with torch.no_grad():
            return self.network_.output(self.adapted_params_, X, stats=self._adapted_stats())

    def _query_output(self, params, x_support, x_query):
        """Output for the queries under adapted ``params``, batch-normalised
        with the support set's statistics, or their own when ``transductive``."""
        if self.transductive:
            return self.network_.output(params, x_query)
        n_support = len(x_support)
        inputs = torch.cat([x_support, x_query])
        return self.network_.output(params, inputs, n_stats=n_support)[n_support:]

    def _evaluate_episode(self, episode):
        """Query loss and accuracy after adapting as ``fit`` does."""
        network = self.network_
        params = network.task_params(self._n_outputs(episode.n_way), detach=True)
        with torch.enable_grad():
            params = self._adapt_params(params, episode.x_support, episode.y_support)
        with torch.no_grad():
            out = self._query_output(params, episode.x_support, episode.x_query)
            return task_loss(out, episode.y_query).item(), accuracy(out, episode.y_query).item()

    def _validation_score(self, episode):
        return self._evaluate_episode(episode)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class ClassifierOutputMixin:
    """``predict`` and ``predict_proba`` from the adapted network's logits."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # without meta-training, fit is a few gradient steps from random weights
        tags.classifier_tags.poor_score = True
        return tags

    def predict_proba(self, X):
        """Class probabilities of the adapted network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        return to_numpy(torch.softmax(self._predict_output(X).double(), dim=1))

    def predict(self, X):
        """Most probable class of the adapted network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels, from ``classes_``.
        """
        logits = self._predict_output(X)
        return self.classes_[to_numpy(logits.argmax(dim=1))]


class RegressorOutputMixin:
    """``predict`` from the adapted network, and fast sinusoid episodes."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # without meta-training, fit is a few gradient steps from random weights
        tags.regressor_tags.poor_score = True
        return tags

    def predict(self, X):
        """Output of the adapted network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted targets.
        """
        return to_numpy(self._predict_output(X).squeeze(-1))

    def _forward_adapted(self, X):
        if not self.network_.stats_aware:  # a user's module: its own dtypes
            return super()._forward_adapted(X)
        # float64, so that a row's prediction never depends on its batch
        params = {k: v.double() for k, v in self.adapted_params_.items()}
        stats = self._adapted_stats()
        if stats is not None:
            stats = [(mean.double(), var.double()) for mean, var in stats]
        with torch.no_grad():
            return self.network_.output(params, X.double(), stats=stats)

    def _episode_source(self, X, y, device, name):
        if y is not None:
            raise ValueError(
                f"{type(self).__name__}.meta_fit needs a task collection (an iterable "
                "of Task, e.g. sklmeta.datasets.SinusoidTasks), not a labelled pool: "
                "episodes drawn from a pool by class make sense for classifiers only."
            )
        if isinstance(X, SinusoidTasks):
            return SinusoidEpisodes(X, device)
        return super()._episode_source(X, y, device, name)


class SinusoidEpisodes:
    """Episode tensors of a :class:`SinusoidTasks`, the tasks iteration gives."""

    n_features = 1
    feature_names = None

    def __init__(self, tasks, device):
        self.tasks = tasks
        self.device = device
        self.seed_ = None
        self.blocks = None
        self.pending = []

    def seed(self, seed):
        self.seed_ = int(seed)
        self.blocks = None
        self.pending = []

    def draw(self):
        if not self.pending:
            if self.blocks is None:
                self.blocks = self.tasks.blocks(self.seed_)
            block = next(self.blocks, None)
            if block is None:  # a finite family: start it again
                self.blocks = self.tasks.blocks(self.seed_)
                block = next(self.blocks)
            x, y = (torch.as_tensor(a, dtype=torch.float32, device=self.device)
                    for a in block[:2])
            k = self.tasks.n_shot
            self.pending = list(zip(x[:, :k, None], y[:, :k], x[:, k:, None], y[:, k:]))
            self.pending.reverse()
        xs, ys, xq, yq = self.pending.pop()
        if xq.shape[0] == 0:
            raise ValueError("meta-training tasks need a query set: SinusoidTasks(n_query=0).")
        return EpisodeTensors(xs, ys, xq, yq, None)

