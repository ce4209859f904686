"""Reptile (Nichol, Achiam & Schulman, 2018)."""

import torch
from sklearn.base import ClassifierMixin

from .._torch import random_permutation
from .._docstrings import meta_training_params
from ..base import ClassifierOutputMixin
from ..utils._validation import check_bool, check_int, check_option
from ._base import GradientMetaEstimator
from ._docs import (
    REPTILE_FITTED, REPTILE_NOTES, REPTILE_OPTIMIZER, REPTILE_PARAMS, REPTILE_REFERENCES,
)
from ._functional import accuracy, descent_steps, task_loss

__all__ = ["ReptileClassifier"]


class _Reptile(GradientMetaEstimator):
    """The Reptile meta-step and adaptation, shared by classifier and regressor."""

    _meta_attributes = GradientMetaEstimator._meta_attributes + (
        "inner_moments_", "inner_step_count_",
    )
    _adaptation_params = GradientMetaEstimator._adaptation_params | {"adapt_batch_size"}

    def _validate_params(self):
        device = super()._validate_params()
        check_option(self.inner_optimizer, "inner_optimizer", ("sgd", "adam"))
        check_int(self.inner_batch_size, "inner_batch_size", min_value=1, allow_none=True)
        check_int(self.adapt_batch_size, "adapt_batch_size", min_value=1, allow_none=True)
        check_bool(self.carry_inner_state, "carry_inner_state")
        return device

    def _initialize_modules(self, n_features, device):
        super()._initialize_modules(n_features, device)
        meta_params = dict(self.network_.named_parameters())
        self.inner_moments_ = {
            name: torch.zeros_like(meta_params[name]).detach()
            for name in self.network_.task_params(1)
        }
        self.inner_step_count_ = 0

    def _carries_adam_state(self):
        return self.inner_optimizer == "adam" and self.carry_inner_state

    def _adam_state(self, params):
        """The carried Adam state, its moments in the shapes of ``params``
        (a task's starting weights); None when every task starts afresh."""
        if not self._carries_adam_state():
            return None
        moments = {k: m.expand_as(params[k]) for k, m in self.inner_moments_.items()}
        return moments, self.inner_step_count_

    def _carry(self, moments, n_steps):
        """Keep the second moments a task (or batch of tasks) ended with."""
        if self._carries_adam_state():
            self.inner_moments_ = {k: self._meta_shaped(k, v) for k, v in moments.items()}
            self.inner_step_count_ += n_steps

    @staticmethod
    def _minibatches(n, n_steps, size, device):
        """Index tensors of ``n_steps`` steps on minibatches of ``size``: None
        for full batches, else epochs over the task's ``n`` examples in
        random order, cut in pieces."""
        if size is None or size >= n:
            return None
        n_epochs = -(-n_steps * size // n)
        order = torch.cat([random_permutation(n, device) for _ in range(n_epochs)])
        return list(order[: n_steps * size].view(n_steps, size))

    def _descend(self, params, x, y, n_steps, batched, batches=None, lr=None, guard=None):
        network = self.network_
        adam_state = self._adam_state(params)

        def loss_of(p, index):
            xb, yb = (x, y) if index is None else (x[index], y[index])
            out = network.output(p, xb)
            return task_loss(out, yb), accuracy(out, yb)

        return descent_steps(
            network, params, n_steps, loss_of, self.inner_lr if lr is None else lr,
            optimizer=self.inner_optimizer, batched=batched, batches=batches,
            adam_state=adam_state, guard=guard,
        )

    def _meta_shaped(self, name, value):
        """Average of ``value`` in the shape of meta-parameter ``name``.

        Leading dimensions beyond it (tasks, or the class rows that a shared
        head row was copied into) are averaged.
        """
        shape = dict(self.network_.named_parameters())[name].shape
        return value.reshape(-1, *shape).mean(dim=0)

    def _adapt_params(self, params, X, y, guard=None):
        batches = self._minibatches(len(X), self.n_adapt_steps, self.adapt_batch_size, X.device)
        return self._descend(
            params, X, y, self.n_adapt_steps, False, batches, lr=self.adapt_lr, guard=guard
        )[0]

    def _compute_meta_gradient(self, batch):
        network = self.network_
        n_outputs = [self._n_outputs(ep.n_way) for ep in batch]
        # Reptile trains on all of a task's examples: support and query
        data = [(torch.cat([ep.x_support, ep.x_query]), torch.cat([ep.y_support, ep.y_query]))
                for ep in batch]
        if self._batched(batch):
            x = torch.stack([d[0] for d in data])
            y = torch.stack([d[1] for d in data])
            start = network.task_params(n_outputs[0], detach=True)
            # one draw of minibatch positions serves every task of the batch
            batches = self._minibatches(
                x.shape[1], self.n_inner_steps, self.inner_batch_size, x.device
            )

            def task(x, y):
                return self._descend(start, x, y, self.n_inner_steps, True, batches)

            # every task starts from the same Adam state; the next starts from their mean
            adapted, losses, accuracies, moments = torch.vmap(task)(x, y)
            self._carry(moments, self.n_inner_steps * len(batch))
            adapted = {k: self._meta_shaped(k, v) for k, v in adapted.items()}
            loss, acc = losses.mean().item(), accuracies.mean().item()
        else:
            adapted, loss, acc = {}, 0.0, 0.0
            for (x, y), n_out in zip(data, n_outputs):
                start = network.task_params(n_out, detach=True)
                batches = self._minibatches(
                    len(x), self.n_inner_steps, self.inner_batch_size, x.device
                )
                params, task_loss_, task_acc, moments = self._descend(
                    start, x, y, self.n_inner_steps, False, batches
                )
                # as in the authors' code, Adam's state runs on from task to task
                self._carry(moments, self.n_inner_steps)
                for k, v in params.items():
                    v = self._meta_shaped(k, v) / len(batch)
                    adapted[k] = adapted[k] + v if k in adapted else v
                loss += task_loss_.item() / len(batch)
                acc += task_acc.item() / len(batch)
        # The meta-gradient is theta minus the mean adapted weights, so an SGD
        # step of size epsilon is theta + epsilon (mean(phi) - theta) (Nichol et al., Alg. 2).
        for name, p in network.named_parameters():
            p.grad = (p - adapted[name]).detach()
        return loss, acc



class ReptileClassifier(ClassifierOutputMixin, ClassifierMixin, _Reptile):
    __doc__ = """Reptile for few-shot classification.

    Reptile meta-learns initial weights by repeatedly training on a task
    and moving the weights towards the result (Nichol et al., 2018); a few
    optimizer steps on a new task's support set then fit it.
""" + REPTILE_PARAMS.format(
        encoder="auto",
        task_doc="""    n_way : int, default=5
        Classes per meta-training episode drawn by ``meta_fit(X, y)``.
    n_shot : int, default=5
        Support examples per class in meta-training episodes.
    n_query : int, default=5
        Query examples per class; Reptile trains on support and query
        together, so the defaults give the paper's 10 examples per class.
""",
        n_inner_steps=5, inner_lr=0.001, inner_optimizer="adam", inner_batch_size=10,
        n_adapt_steps=50,
        training_doc=meta_training_params(
            episodes_per_epoch=500, meta_batch_size=5,
            optimizer=REPTILE_OPTIMIZER.format(meta_lr=1.0)),
        fitted_doc=REPTILE_FITTED,
    ) + """
    classes_ : ndarray of shape (n_classes,)
        Labels of the task adapted to by ``fit``.

    See Also
    --------
    MAMLClassifier : meta-learning through the inner loop's gradient.

    Notes
    -----
    The output layer starts every task from one meta-learned row shared by
    all classes, so ``fit`` works with any number of classes and any labels,
    and relabelling classes relabels predictions; the meta-update averages
    the adapted rows into it.
""" + REPTILE_NOTES + "\n" + REPTILE_REFERENCES + """

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklmeta import ReptileClassifier
    >>> X, y = make_blobs(n_samples=[20] * 12, n_features=4, random_state=0)
    >>> clf = ReptileClassifier(encoder="mlp", max_epochs=2, verbose=0, random_state=0)
    >>> clf.meta_fit(X[y < 8], y[y < 8])
    ReptileClassifier(...)
    >>> clf.fit(X[y >= 8][:16], y[y >= 8][:16]).predict(X[y >= 8][16:20])
    array([...])
    """

    def __init__(self, encoder="auto", *, n_way=5, n_shot=5, n_query=5, n_inner_steps=5,
                 inner_lr=0.001, inner_optimizer="adam", carry_inner_state=True,
                 inner_batch_size=10, n_adapt_steps=50, adapt_lr=None,
                 adapt_batch_size=None, transductive=False, batch_tasks="auto",
                 max_epochs=10, max_time=None, episodes_per_epoch=500, meta_batch_size=5,
                 meta_lr=1.0,
                 optimizer=torch.optim.SGD, lr_schedule=None, init_from=None,
                 callbacks=None, n_val_episodes=100, warm_start=False, device="auto",
                 verbose=1, random_state=None, **kwargs):
        self._store_init_params(locals())

    _adapted_attributes = ("classes_", "adapted_params_")

