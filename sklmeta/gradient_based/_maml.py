"""Model-Agnostic Meta-Learning (Finn et al., 2017), with Meta-SGD and ANIL.

The algorithm, shared with :class:`~sklmeta.MAMLRegressor`, and the classifier.
"""

import torch
from sklearn.base import ClassifierMixin

from .._docstrings import meta_training_params
from ..base import ClassifierOutputMixin
from ..utils._validation import check_bool, check_option
from ._base import GradientMetaEstimator
from ._docs import MAML_FITTED, MAML_NOTES, MAML_PARAMS
from ._functional import ConvBody, MLPBody, accuracy, sgd_steps, task_loss

__all__ = ["MAMLClassifier"]


class _MAML(GradientMetaEstimator):
    """The MAML meta-step and adaptation, shared by classifier and regressor."""

    # checkpointing changes how the meta-gradient is computed, not its value
    _adaptation_params = GradientMetaEstimator._adaptation_params | {"checkpoint_inner"}

    def _batched(self, batch):
        # checkpointed steps are looped: one task's recomputation at a time
        return not self.checkpoint_inner and super()._batched(batch)

    def _validate_params(self):
        device = super()._validate_params()
        check_bool(self.first_order, "first_order")
        check_bool(self.learn_inner_lr, "learn_inner_lr")
        check_bool(self.checkpoint_inner, "checkpoint_inner")
        check_option(self.inner_params, "inner_params", ("all", "head"))
        return device

    def _network_options(self):
        return self.learn_inner_lr, self.inner_params

    def _inner_loop(self, params, x_support, y_support, x_query, n_steps, create_graph,
                    batched, lr=None, first_grads=None, detach=False, guard=None):
        """Adapt ``params`` on a support set; return them with the query output.

        ``lr`` replaces the network's inner learning rates when given;
        ``first_grads`` are the first step's gradients, when computed
        beforehand (see :meth:`_shared_first_step`); ``detach`` keeps no
        graph from one step to the next (adaptation at ``fit``).
        """
        network = self.network_
        if self.inner_params == "head":
            # ANIL: the body is not adapted, so its features are computed once
            n_support = len(x_support)
            if x_query is None:
                z_support, z_query = network.features(params, x_support), None
            elif self.transductive:
                z_support = network.features(params, x_support)
                z_query = network.features(params, x_query)
            else:
                z = network.features(params, torch.cat([x_support, x_query]), n_stats=n_support)
                z_support, z_query = z[:n_support], z[n_support:]
            params = sgd_steps(
                network, params, n_steps,
                lambda p: task_loss(network.head_output(p, z_support), y_support),
                create_graph=create_graph, batched=batched, lr=lr, detach=detach,
                guard=guard, checkpoint=self.checkpoint_inner,
            )
            out = network.head_output(params, z_query) if x_query is not None else None
            return params, out
        params = sgd_steps(
            network, params, n_steps,
            lambda p: task_loss(network.output(p, x_support), y_support),
            create_graph=create_graph, batched=batched, lr=lr, first_grads=first_grads,
            detach=detach, guard=guard, checkpoint=self.checkpoint_inner,
        )
        out = None
        if x_query is not None:
            out = self._query_output(params, x_support, x_query)
        return params, out

    def _adaptation_lr(self, params):
        """``adapt_lr``; for Meta-SGD, the learned rates scaled by ``adapt_lr / inner_lr``."""
        if self.adapt_lr is None or not self.learn_inner_lr:
            return self.adapt_lr
        scale = self.adapt_lr / self.inner_lr
        names = self.network_.adapted_names(params)
        return {name: scale * rate.detach()
                for name, rate in self.network_.learning_rates(names).items()}

    def _adapt_params(self, params, X, y, guard=None):
        return self._inner_loop(params, X, y, None, self.n_adapt_steps, False, False,
                                lr=self._adaptation_lr(params), detach=True, guard=guard)[0]

    def _query_loss(self, x_support, y_support, x_query, y_query, n_outputs, batched,
                    first_grads=None):
        params = self.network_.task_params(n_outputs)
        _, out = self._inner_loop(
            params, x_support, y_support, x_query, self.n_inner_steps,
            not self.first_order, batched, first_grads=first_grads,
        )
        return task_loss(out, y_query), accuracy(out, y_query)  # Finn et al., eq. 3

    def _shared_first_step(self, batch, n_outputs):
        """First-order gradients of every task's first inner step, or None.

        All tasks start from the same weights, so without second-order terms
        their first support passes can run as one batched call (a vmap over
        tasks with the weights shared), where the loop would make one small
        pass per task. Used when the tasks are looped under
        ``batch_tasks='auto'``, with the built-in bodies, whose batch norm is
        exact under vmap.
        """
        network = self.network_
        if (not self.first_order or self.n_inner_steps < 1 or self.inner_params != "all"
                or not isinstance(self.batch_tasks, str) or len(batch) < 2
                or type(network.body) not in (ConvBody, MLPBody)
                or not self._alike(batch, ("x_support", "y_support"))):
            return None
        first = batch[0]
        params = network.task_params(n_outputs[0], detach=True)
        names = network.adapted_names(params)

        def support_loss(adapted, x, y):
            return task_loss(network.output({**params, **adapted}, x), y)

        x_support = torch.stack([ep.x_support for ep in batch])
        y_support = torch.stack([ep.y_support for ep in batch])
        # chunks of about one query set's worth of images: the batched pass
        # then holds about as much as one looped task does
        chunk_size = max(1, len(first.x_query) // len(first.x_support))
        grads = torch.vmap(torch.func.grad(support_loss), in_dims=(None, 0, 0),
                           chunk_size=chunk_size)(
            {name: params[name] for name in names}, x_support, y_support)
        return [{name: g[i] for name, g in grads.items()} for i in range(len(batch))]

    def _compute_meta_gradient(self, batch):
        n_outputs = [self._n_outputs(ep.n_way) for ep in batch]
        if self._batched(batch):
            def task(xs, ys, xq, yq):
                return self._query_loss(xs, ys, xq, yq, n_outputs[0], True)

            losses, accuracies = torch.vmap(task)(*self._stack(batch))
            losses.mean().backward()
            loss, acc = losses.mean().item(), accuracies.mean().item()
        else:
            loss = acc = 0.0
            first_grads = self._shared_first_step(batch, n_outputs) or [None] * len(batch)
            for episode, n_out, grads in zip(batch, n_outputs, first_grads):
                # one backward per task frees its graph before the next task
                task_loss_, task_acc = self._query_loss(*episode[:4], n_out, False, grads)
                (task_loss_ / len(batch)).backward()
                loss += task_loss_.item() / len(batch)
                acc += task_acc.item() / len(batch)
        return loss, acc



class MAMLClassifier(ClassifierOutputMixin, ClassifierMixin, _MAML):
    __doc__ = """Model-Agnostic Meta-Learning for few-shot classification.

    MAML meta-learns initial weights from which a few gradient steps on a
    new task's support set give a good classifier for that task (Finn et
    al., 2017). ``first_order=True`` gives first-order MAML,
    ``learn_inner_lr=True`` Meta-SGD, ``inner_params='head'`` ANIL.
""" + MAML_PARAMS.format(
        encoder="auto",
        task_doc="""    n_way : int, default=5
        Classes per meta-training episode drawn by ``meta_fit(X, y)``.
    n_shot : int, default=1
        Support examples per class in meta-training episodes.
    n_query : int, default=15
        Query examples per class in meta-training episodes.
""",
        n_inner_steps=1, inner_lr=0.4, n_adapt_steps=1,
        steps_doc="as in meta-training; the MAML paper evaluates Omniglot after 3, "
                  "which overshoot on 5-shot tasks when meta-training saw 1-shot ones",
        training_doc=meta_training_params(episodes_per_epoch=320, meta_batch_size=32),
        fitted_doc=MAML_FITTED,
    ) + """
    classes_ : ndarray of shape (n_classes,)
        Labels of the task adapted to by ``fit``.

    See Also
    --------
    ReptileClassifier : first-order meta-learning without a query loss.
    sklmeta.ProtoNetClassifier : a metric-based learner.

    Notes
    -----
    The output layer starts every task from one meta-learned row shared by
    all classes (initialised at zero, as in Ye & Chao, 2022), instead of
    one row per class position: the first inner step then makes each row
    depend on its class's examples only. So ``fit`` works with any number
    of classes, whatever ``n_way`` meta-training used, with any labels
    (strings included), and relabelling the classes of a task relabels the
    predictions.
""" + MAML_NOTES + """

    What these defaults reach on Omniglot in a given time is listed under
    :ref:`defaults-table`.

    References
    ----------
    .. [1] C. Finn, P. Abbeel and S. Levine, "Model-Agnostic Meta-Learning
       for Fast Adaptation of Deep Networks", ICML 2017.
    .. [2] Z. Li, F. Zhou, F. Chen and H. Li, "Meta-SGD: Learning to Learn
       Quickly for Few-Shot Learning", arXiv:1707.09835, 2017.
    .. [3] A. Raghu, M. Raghu, S. Bengio and O. Vinyals, "Rapid Learning or
       Feature Reuse? Towards Understanding the Effectiveness of MAML",
       ICLR 2020.
    .. [4] H.-J. Ye and W.-L. Chao, "How to Train Your MAML to Excel in
       Few-Shot Classification", ICLR 2022.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklmeta import MAMLClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MAMLClassifier(encoder="mlp", n_shot=2, n_query=5, max_epochs=2,
    ...                      episodes_per_epoch=32, meta_batch_size=8,
    ...                      verbose=0, random_state=0)
    >>> clf = clf.meta_fit(X[y < 6], y[y < 6]).fit(X[y >= 6][:12], y[y >= 6][:12])
    >>> clf.classes_, clf.predict(X[y >= 6]).shape
    (array([6, 7, 8, 9]), (714,))
    """

    def __init__(self, encoder="auto", *, n_way=5, n_shot=1, n_query=15,
                 n_inner_steps=1, inner_lr=0.4, n_adapt_steps=1, adapt_lr=None,
                 first_order=False, checkpoint_inner=False, learn_inner_lr=False,
                 inner_params="all", transductive=False, batch_tasks="auto",
                 max_epochs=10, max_time=None,
                 episodes_per_epoch=320, meta_batch_size=32, meta_lr=1e-3,
                 optimizer=torch.optim.Adam, lr_schedule=None, init_from=None,
                 callbacks=None, n_val_episodes=100, warm_start=False, device="auto",
                 verbose=1, random_state=None, **kwargs):
        self._store_init_params(locals())

    _adapted_attributes = ("classes_", "adapted_params_")

