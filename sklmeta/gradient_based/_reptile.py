"""Reptile (Nichol, Achiam & Schulman, 2018)."""

import torch
from sklearn.base import ClassifierMixin, RegressorMixin

from .._torch import random_permutation
from ..utils._validation import check_bool, check_int, check_option
from ._base import ClassifierOutputMixin, GradientMetaEstimator, RegressorOutputMixin
from ._functional import accuracy, descent_steps, task_loss

__all__ = ["ReptileClassifier", "ReptileRegressor"]


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

    def _descend(self, params, x, y, n_steps, batched, batches=None, lr=None):
        network = self.network_
        adam_state = self._adam_state(params)

        def loss_of(p, index):
            xb, yb = (x, y) if index is None else (x[index], y[index])
            out = network.output(p, xb)
            return task_loss(out, yb), accuracy(out, yb)

        return descent_steps(
            network, params, n_steps, loss_of, self.inner_lr if lr is None else lr,
            optimizer=self.inner_optimizer, batched=batched, batches=batches,
            adam_state=adam_state,
        )

    def _meta_shaped(self, name, value):
        """Average of ``value`` in the shape of meta-parameter ``name``.

        Leading dimensions beyond it (tasks, or the class rows that a shared
        head row was copied into) are averaged.
        """
        shape = dict(self.network_.named_parameters())[name].shape
        return value.reshape(-1, *shape).mean(dim=0)

    def _adapt_params(self, params, X, y):
        batches = self._minibatches(len(X), self.n_adapt_steps, self.adapt_batch_size, X.device)
        return self._descend(
            params, X, y, self.n_adapt_steps, False, batches, lr=self.adapt_lr
        )[0]

    def _meta_step(self, batch):
        network = self.network_
        self.optimizer_.zero_grad(set_to_none=True)
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
        self._notify(
            "on_grad_computed",
            named_parameters=list(network.named_parameters()),
            X=None, y=None, training=True,
        )
        self.optimizer_.step()
        return loss, acc


_PARAMS_DOC = """
    Parameters
    ----------
    encoder : {{'auto', 'conv4', 'mlp'}}, torch.nn.Module class or instance, default='{encoder}'
        The network's body, as for :class:`MAMLClassifier`: ``'conv4'`` the
        four-block network with strided convolutions and task batch norm,
        ``'mlp'`` ``Linear -> ReLU`` layers of widths
        ``encoder__hidden_layer_sizes`` (default ``(40, 40)``).
{task_doc}
    n_inner_steps : int, default={n_inner_steps}
        Inner optimizer steps on each task in meta-training.
    inner_lr : float, default={inner_lr}
        Learning rate of the inner optimizer.
    inner_optimizer : {{'sgd', 'adam'}}, default='{inner_optimizer}'
        The inner optimizer. Adam uses ``betas=(0, 0.999)`` as in the paper:
        no momentum, only the second-moment estimate.
    carry_inner_state : bool, default=True
        With Adam: carry its second-moment estimate and step count from
        task to task through meta-training, and start ``fit`` (and
        validation tasks) from the state meta-training ended with, as the
        authors' code does (``inner_moments_``). False starts every task
        from zero moments. No effect with SGD.
    inner_batch_size : int or None, default={inner_batch_size}
        Examples per inner step in meta-training, taken in random order
        through the task's examples; None uses all of them at every step.
    n_adapt_steps : int, default={n_adapt_steps}
        Inner optimizer steps taken by ``fit`` on a new task's support set.
    adapt_lr : float or None, default=None
        Learning rate of ``fit``'s steps (and of validation tasks'); None
        uses ``inner_lr``. Like ``n_adapt_steps``, an adaptation option:
        ``set_params(adapt_lr=...)`` keeps the meta-learned state.
    adapt_batch_size : int or None, default=None
        Support examples per step of ``fit`` (and of validation tasks),
        taken in random order as ``inner_batch_size`` takes them; None uses
        the whole support set at every step. The paper adapts on
        minibatches of 5 (5-way) or 10 (20-way). An adaptation option.
    transductive : bool, default=False
        Batch-normalise the queries of ``predict`` and of validation tasks
        with their own batch's statistics (the paper's "transduction")
        instead of with the support set's (see Notes). Predictions then
        depend on which queries are predicted together; ``predict`` takes
        all of ``X`` as one batch. Meta-training is the same either way.
    batch_tasks : 'auto' or bool, default='auto'
        Run the tasks of a meta-batch together with :func:`torch.vmap`
        (True) or one after another (False); ``'auto'`` batches on CUDA and
        for networks without convolutions. Batched tasks share the positions
        of their minibatches.
    max_epochs : int, default={max_epochs}
        Meta-training epochs.
    episodes_per_epoch : int, default={episodes_per_epoch}
        Tasks per epoch.
    meta_batch_size : int, default={meta_batch_size}
        Tasks whose adapted weights are averaged for one meta-update.
    meta_lr : float, default={meta_lr}
        The outer step size epsilon: the learning rate of the meta-optimizer.
    optimizer : torch.optim.Optimizer class, default=torch.optim.SGD
        Meta-optimizer, fed ``theta - mean(phi)`` as the gradient; plain SGD
        is the paper's update. Further arguments as ``optimizer__*``; the
        paper's linear annealing of epsilon is a skorch ``LRScheduler``.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks for meta-training. Copied at ``meta_fit``.
    n_val_episodes : int, default=100
        Validation tasks scored each epoch when ``meta_fit`` gets
        ``validation_data``; each is adapted as ``fit`` does.
    warm_start : bool, default=False
        Whether ``meta_fit`` continues from the current meta-learned state.
    device : 'auto', str or torch.device, default='auto'
        Where the network runs: CUDA when present with ``'auto'``, else CPU.
    verbose : int, default=1
        0 is silent; 1 shows a progress bar and a table of epochs.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial weights, of the tasks and of the minibatches.
    **kwargs
        ``encoder__*`` and ``optimizer__*`` arguments.

    Attributes
    ----------
    network_ : torch.nn.Module
        Everything meta-learned (also ``module_``): ``body`` and ``head``.
        ``fit`` never changes it.
    encoder_ : torch.nn.Module
        The body, ``network_.body``.
    inner_moments_ : dict of str to torch.Tensor
        Adam's second-moment estimate carried through meta-training, per
        meta-learned weight (zeros unless ``carry_inner_state`` and Adam).
        ``fit`` never changes it.
    inner_step_count_ : int
        Inner Adam steps behind ``inner_moments_``, for its bias correction.
    adapted_params_ : dict of str to torch.Tensor
        The weights after adaptation to the task given to ``fit``.
    batch_stats_ : dict of str to torch.Tensor
        Batch-norm mean and variance of that task's support set, under the
        adapted weights (empty without batch norm).
    history_ : skorch.history.History
        Per-epoch ``train_loss`` and ``train_acc``: loss and accuracy of the
        last inner step's minibatch, before that step.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Input column names, when given as a DataFrame with string columns."""

_NOTES_DOC = """
    Each task of a meta-batch is trained from the meta-learned weights
    ``theta`` by ``n_inner_steps`` of the inner optimizer, on all of its
    examples (support and query alike: Reptile has no query loss), giving
    ``phi``; the meta-update moves ``theta`` towards the mean ``phi``. No
    second derivative is ever needed, and memory does not grow with the
    number of inner steps. Batch norm uses the statistics of each inner
    minibatch in meta-training; ``fit`` stores those of the support set,
    which normalise every query, so predictions do not depend on which
    queries are asked together, unless ``transductive=True``.

    With Adam, the inner optimizer's second-moment estimate runs on from
    one task to the next rather than restarting, and adaptation starts
    from where meta-training left it (``carry_inner_state``): the authors'
    code does so; on Omniglot, restarting it for every task scored far
    lower (see the benchmarks page). Tasks of a batched meta-batch
    all start from the same state, and the next batch from their mean."""

_REFERENCES = """
    References
    ----------
    .. [1] A. Nichol, J. Achiam and J. Schulman, "On First-Order
       Meta-Learning Algorithms", arXiv:1803.02999, 2018."""


class ReptileClassifier(ClassifierOutputMixin, ClassifierMixin, _Reptile):
    __doc__ = """Reptile for few-shot classification.

    Reptile meta-learns initial weights by repeatedly training on a task
    and moving the weights towards the result (Nichol et al., 2018); a few
    optimizer steps on a new task's support set then fit it.
""" + _PARAMS_DOC.format(
        encoder="auto",
        task_doc="""    n_way : int, default=5
        Classes per meta-training episode drawn by ``meta_fit(X, y)``.
    n_shot : int, default=5
        Support examples per class in meta-training episodes.
    n_query : int, default=5
        Query examples per class; Reptile trains on support and query
        together, so the defaults give the paper's 10 examples per class.""",
        n_inner_steps=5, inner_lr=0.001, inner_optimizer="adam", inner_batch_size=10,
        n_adapt_steps=50, max_epochs=10, episodes_per_epoch=500, meta_batch_size=5,
        meta_lr=1.0,
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
""" + _NOTES_DOC + "\n" + _REFERENCES + """

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta import ReptileClassifier
    >>> rng = np.random.RandomState(0)
    >>> centers = rng.normal(scale=3.0, size=(20, 8))
    >>> y = np.repeat(np.arange(20), 20)
    >>> X = centers[y] + rng.normal(size=(400, 8))
    >>> clf = ReptileClassifier(encoder="mlp", max_epochs=2, episodes_per_epoch=20,
    ...                         verbose=0, random_state=0)
    >>> clf = clf.meta_fit(X[y < 15], y[y < 15])
    >>> clf.fit(X[y >= 15][::10], y[y >= 15][::10]).predict(X[y >= 15][:3])
    array([15, 15, 15])
    """

    def __init__(
        self,
        encoder="auto",
        *,
        n_way=5,
        n_shot=5,
        n_query=5,
        n_inner_steps=5,
        inner_lr=0.001,
        inner_optimizer="adam",
        carry_inner_state=True,
        inner_batch_size=10,
        n_adapt_steps=50,
        adapt_lr=None,
        adapt_batch_size=None,
        transductive=False,
        batch_tasks="auto",
        max_epochs=10,
        episodes_per_epoch=500,
        meta_batch_size=5,
        meta_lr=1.0,
        optimizer=torch.optim.SGD,
        callbacks=None,
        n_val_episodes=100,
        warm_start=False,
        device="auto",
        verbose=1,
        random_state=None,
        **kwargs,
    ):
        self.encoder = encoder
        self.n_way = n_way
        self.n_shot = n_shot
        self.n_query = n_query
        self.n_inner_steps = n_inner_steps
        self.inner_lr = inner_lr
        self.inner_optimizer = inner_optimizer
        self.carry_inner_state = carry_inner_state
        self.inner_batch_size = inner_batch_size
        self.n_adapt_steps = n_adapt_steps
        self.adapt_lr = adapt_lr
        self.adapt_batch_size = adapt_batch_size
        self.transductive = transductive
        self.batch_tasks = batch_tasks
        self.max_epochs = max_epochs
        self.episodes_per_epoch = episodes_per_epoch
        self.meta_batch_size = meta_batch_size
        self.meta_lr = meta_lr
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.n_val_episodes = n_val_episodes
        self.warm_start = warm_start
        self.device = device
        self.verbose = verbose
        self.random_state = random_state
        self._store_routed_params(kwargs)

    _adapted_attributes = ("classes_", "adapted_params_")


class ReptileRegressor(RegressorOutputMixin, RegressorMixin, _Reptile):
    __doc__ = """Reptile for few-shot regression.

    Reptile meta-learns initial weights by repeatedly training on a task
    and moving the weights towards the result (Nichol et al., 2018); a few
    optimizer steps on a new task's support set then fit it.
""" + _PARAMS_DOC.format(
        encoder="mlp",
        task_doc="""    n_way, n_shot, n_query : int, default=1, 10, 10
        Not used for regression, where ``meta_fit`` takes tasks; kept so
        that every learner shares the base's parameters.""",
        n_inner_steps=5, inner_lr=0.02, inner_optimizer="sgd", inner_batch_size=None,
        n_adapt_steps=10, max_epochs=10, episodes_per_epoch=1000, meta_batch_size=25,
        meta_lr=0.1,
    ) + """

    See Also
    --------
    MAMLRegressor : meta-learning through the inner loop's gradient.
    sklmeta.datasets.SinusoidTasks : sinusoid regression tasks.

    Notes
    -----
    ``meta_fit`` takes a task collection, not a labelled pool; a
    :class:`~sklmeta.datasets.SinusoidTasks` is drawn as tensors directly.
    ``history_`` records ``train_acc`` as NaN.
""" + _NOTES_DOC + "\n" + _REFERENCES + """

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta import ReptileRegressor
    >>> from sklmeta.datasets import SinusoidTasks
    >>> reg = ReptileRegressor(max_epochs=2, episodes_per_epoch=100, verbose=0,
    ...                        random_state=0)
    >>> reg = reg.meta_fit(SinusoidTasks(n_shot=5, random_state=0))
    >>> x = np.linspace(-5, 5, 5).reshape(-1, 1)
    >>> reg.fit(x, 2.0 * np.sin(x.ravel() - 1.0)).predict(x).shape
    (5,)
    """

    def __init__(
        self,
        encoder="mlp",
        *,
        n_way=1,
        n_shot=10,
        n_query=10,
        n_inner_steps=5,
        inner_lr=0.02,
        inner_optimizer="sgd",
        carry_inner_state=True,
        inner_batch_size=None,
        n_adapt_steps=10,
        adapt_lr=None,
        adapt_batch_size=None,
        transductive=False,
        batch_tasks="auto",
        max_epochs=10,
        episodes_per_epoch=1000,
        meta_batch_size=25,
        meta_lr=0.1,
        optimizer=torch.optim.SGD,
        callbacks=None,
        n_val_episodes=100,
        warm_start=False,
        device="auto",
        verbose=1,
        random_state=None,
        **kwargs,
    ):
        self.encoder = encoder
        self.n_way = n_way
        self.n_shot = n_shot
        self.n_query = n_query
        self.n_inner_steps = n_inner_steps
        self.inner_lr = inner_lr
        self.inner_optimizer = inner_optimizer
        self.carry_inner_state = carry_inner_state
        self.inner_batch_size = inner_batch_size
        self.n_adapt_steps = n_adapt_steps
        self.adapt_lr = adapt_lr
        self.adapt_batch_size = adapt_batch_size
        self.transductive = transductive
        self.batch_tasks = batch_tasks
        self.max_epochs = max_epochs
        self.episodes_per_epoch = episodes_per_epoch
        self.meta_batch_size = meta_batch_size
        self.meta_lr = meta_lr
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.n_val_episodes = n_val_episodes
        self.warm_start = warm_start
        self.device = device
        self.verbose = verbose
        self.random_state = random_state
        self._store_routed_params(kwargs)

    _adapted_attributes = ("adapted_params_",)
