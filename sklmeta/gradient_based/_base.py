"""What the gradient-based learners share: the network, adaptation, prediction."""

import torch
from sklearn.base import is_classifier

from .._episodes import episode_source
from .._safeguards import AdaptationGuard
from ..base import BaseMetaEstimator
from ..encoders import build_encoder, output_dim
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

    Subclasses define ``_adapt_params(params, X, y, guard=None)``
    (adaptation of a dict of weights to a support set, stopped by the
    :class:`~sklmeta._safeguards.AdaptationGuard` when its loss diverges)
    and ``_compute_meta_gradient``.
    """

    _adaptation_params = BaseMetaEstimator._adaptation_params | {
        "n_adapt_steps", "adapt_lr", "batch_tasks", "transductive",
    }
    _adaptation_rate_param = "adapt_lr"
    _meta_attributes = ("network_", "history_", "n_features_in_", "feature_names_in_")
    # without meta-training, fit is a few gradient steps from random weights
    _poor_score_untrained = True
    # the body of each learner's network, when encoder='mlp'

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

    def _validate_episode_params(self):
        if self._is_classifier():
            super()._validate_episode_params()
            return
        # regressors meta-train on task collections: no episode shape
        check_int(self.episodes_per_epoch, "episodes_per_epoch", min_value=1)
        check_int(self.meta_batch_size, "meta_batch_size", min_value=1)

    def _episode_source(self, X, y, device, name):
        if self._is_classifier():
            return super()._episode_source(X, y, device, name)
        if y is not None:
            raise ValueError(
                f"{type(self).__name__}.meta_fit needs a task collection (an iterable "
                "of Task, or a task family such as sklmeta.datasets.SinusoidTasks), not "
                "a labelled pool: episodes drawn from a pool by class make sense for "
                "classifiers only."
            )
        return episode_source(X, None, device, classify=False, n_way=None, n_shot=None,
                              n_query=None, name=name)

    def _network_options(self):
        """(learn_inner_lr, adapted) of the network; MAML overrides."""
        return False, "all"

    def _build_body(self, n_features):
        return build_encoder(self.encoder, n_features, self._routed_params("encoder__"),
                             conv=ConvBody, mlp=MLPBody)

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

    def _initialize_from(self, source, n_features, device):
        """Copy ``source``'s network, rebuilt for this learner's inner loop.

        A network without learned inner rates (MAML, ANIL) starts one with
        other options (Meta-SGD, ANIL), any learned rates at ``inner_lr``;
        learned rates are scaled by ``inner_lr / source.inner_lr``.
        """
        super()._initialize_from(source, n_features, device)
        old = self.network_
        had_rates = old.inner_lrs is not None
        learn_inner_lr, adapted = self._network_options()
        if had_rates and not learn_inner_lr:
            raise ValueError(
                "init_from holds learned inner learning rates (Meta-SGD), which "
                f"this {type(self).__name__} would drop; set learn_inner_lr=True."
            )
        if not had_rates and (learn_inner_lr, adapted) != (False, old.adapted):
            self.network_ = MetaNetwork(old.body, old.head, self.inner_lr,
                                        learn_inner_lr=learn_inner_lr,
                                        adapted=adapted).to(device)
        elif had_rates and self.inner_lr != source.inner_lr:
            # as adapt_lr does at adaptation: e.g. one learned step spread
            # over n_inner_steps smaller ones
            with torch.no_grad():
                for rate in self.network_.inner_lrs.values():
                    rate.mul_(self.inner_lr / source.inner_lr)

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
        # vmap pays off where one task is too small to fill the device: on
        # CUDA, and for small MLPs on a CPU; batched Conv4 tasks on a CPU
        # multiply the memory for no reliable gain (docs/benchmarks.rst)
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
        guard = AdaptationGuard()
        with torch.enable_grad():
            params = self._adapt_params(params, X, y, guard)
        guard.warn(self, self.n_adapt_steps)
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
        params, stats = self.adapted_params_, self._adapted_stats()
        if not self._is_classifier() and self.network_.stats_aware:
            # float64, so that a row's prediction never depends on its batch
            # (a user's module keeps its own dtypes)
            params = {k: v.double() for k, v in params.items()}
            if stats is not None:
                stats = [(mean.double(), var.double()) for mean, var in stats]
            X = X.double()
        with torch.no_grad():
            return self.network_.output(params, X, stats=stats)

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

