"""Model-Agnostic Meta-Learning (Finn et al., 2017), with Meta-SGD and ANIL."""

import torch
from sklearn.base import ClassifierMixin, RegressorMixin

from ..utils._validation import check_bool, check_option
from ._base import ClassifierOutputMixin, GradientMetaEstimator, RegressorOutputMixin
from ._functional import ConvBody, MLPBody, accuracy, sgd_steps, task_loss

__all__ = ["MAMLClassifier", "MAMLRegressor"]


class _MAML(GradientMetaEstimator):
    """The MAML meta-step and adaptation, shared by classifier and regressor."""

    def _validate_params(self):
        device = super()._validate_params()
        check_bool(self.first_order, "first_order")
        check_bool(self.learn_inner_lr, "learn_inner_lr")
        check_option(self.inner_params, "inner_params", ("all", "head"))
        return device

    def _network_options(self):
        return self.learn_inner_lr, self.inner_params

    def _inner_loop(self, params, x_support, y_support, x_query, n_steps, create_graph,
                    batched, lr=None, first_grads=None):
        """Adapt ``params`` on a support set; return them with the query output.

        ``lr`` replaces the network's inner learning rates when given;
        ``first_grads`` are the first step's gradients, when computed
        beforehand (see :meth:`_shared_first_step`).
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
                create_graph=create_graph, batched=batched, lr=lr,
            )
            out = network.head_output(params, z_query) if x_query is not None else None
            return params, out
        params = sgd_steps(
            network, params, n_steps,
            lambda p: task_loss(network.output(p, x_support), y_support),
            create_graph=create_graph, batched=batched, lr=lr, first_grads=first_grads,
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

    def _adapt_params(self, params, X, y):
        return self._inner_loop(params, X, y, None, self.n_adapt_steps, False, False,
                                lr=self._adaptation_lr(params))[0]

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

    def _meta_step(self, batch):
        self.optimizer_.zero_grad(set_to_none=True)
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
        self._notify(
            "on_grad_computed",
            named_parameters=list(self.network_.named_parameters()),
            X=None, y=None, training=True,
        )
        self.optimizer_.step()
        return loss, acc


_PARAMS_DOC = """
    Parameters
    ----------
    encoder : {{'auto', 'conv4', 'mlp'}}, torch.nn.Module class or instance, default='auto'
        The network's body; the output layer comes after it. ``'conv4'`` is
        the four-block convolutional network of the MAML paper, with strided
        convolutions (``encoder__downsample='max'`` for max-pooling) and batch
        norm from the task's statistics (see Notes); square single-channel
        images are inferred, else pass ``encoder__input_shape``. ``'mlp'`` is
        ``Linear -> ReLU`` layers of widths ``encoder__hidden_layer_sizes``
        (default ``(40, 40)``, the paper's regression network); ``'auto'``
        picks ``'conv4'`` for square images of side 16 or more. A module
        class is built with the ``encoder__*`` arguments, an instance is
        copied; either is called through :func:`torch.func.functional_call`.
{task_doc}
    n_inner_steps : int, default={n_inner_steps}
        Inner gradient steps on each task's support set in meta-training.
    inner_lr : float, default={inner_lr}
        Inner learning rate (alpha); the initial value of the learned ones
        when ``learn_inner_lr=True``.
    n_adapt_steps : int, default={n_adapt_steps}
        Gradient steps taken by ``fit`` on a new task's support set ({steps_doc}).
        After a short meta-training, more steps than ``n_inner_steps`` can
        hurt; ``set_params(n_adapt_steps=...)`` keeps the meta-learned state,
        so it can be tuned on validation tasks.
    adapt_lr : float or None, default=None
        Learning rate of ``fit``'s steps (and of validation tasks'); None
        uses ``inner_lr``, the rate of meta-training. Like ``n_adapt_steps``
        it can be tuned after meta-training: more steps of a smaller rate
        than meta-training's can adapt better to harder tasks (more ways).
        With ``learn_inner_lr=True`` it scales the learned rates by
        ``adapt_lr / inner_lr`` (None: as learned), so that ten steps of a
        tenth of them can replace the one step of meta-training.
    first_order : bool, default=False
        Drop the second-order terms of the meta-gradient (FOMAML): faster,
        with memory that does not grow with ``n_inner_steps``.
    learn_inner_lr : bool, default=False
        Meta-SGD (Li et al., 2017): meta-learn one inner learning rate per
        adapted weight, starting from ``inner_lr``.
    inner_params : {{'all', 'head'}}, default='all'
        Weights changed by the inner loop: all of them (MAML), or the output
        layer only (ANIL, Raghu et al., 2020), whose body features are then
        computed once per task.
    transductive : bool, default=False
        Batch-normalise queries with their own batch's statistics, as the
        MAML paper's Omniglot and MiniImagenet figures and learn2learn do,
        instead of with the support set's (see Notes). Predictions then
        depend on which queries are predicted together; ``predict`` takes
        all of ``X`` as one batch. It is an adaptation option:
        ``set_params(transductive=...)`` keeps the meta-learned state.
    batch_tasks : 'auto' or bool, default='auto'
        Run the tasks of a meta-batch together with :func:`torch.vmap`
        (True) or one after another (False). ``'auto'`` batches on CUDA and
        for networks without convolutions (about 10x faster for the sinusoid
        network on a CPU), and loops for convolutional networks on a CPU,
        where batching 32 Conv4 tasks took 9x to 23x the memory and ranged
        from 1.5x faster to 2.3x slower in measurements. Tasks of different
        shapes are always looped. When ``'auto'`` loops first-order tasks,
        their first inner step still runs batched: every task starts from
        the same weights, so the support sets go through the network in one
        call, and only the queries are looped.
    max_epochs : int, default={max_epochs}
        Meta-training epochs.
    episodes_per_epoch : int, default={episodes_per_epoch}
        Tasks per epoch.
    meta_batch_size : int, default={meta_batch_size}
        Tasks per meta-update.
    meta_lr : float, default=1e-3
        Learning rate of the meta-optimizer (beta).
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Meta-optimizer; further arguments as ``optimizer__*``.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks for meta-training, e.g. ``EarlyStopping``,
        ``LRScheduler``, ``GradientNormClipping``. Copied at ``meta_fit``.
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
        Seed of the initial weights and of the tasks drawn.
    **kwargs
        ``encoder__*`` and ``optimizer__*`` arguments.

    Attributes
    ----------
    network_ : torch.nn.Module
        Everything meta-learned (also ``module_``): ``body``, ``head`` and,
        with ``learn_inner_lr``, ``inner_lrs``. ``fit`` never changes it.
    encoder_ : torch.nn.Module
        The body, ``network_.body``.
    adapted_params_ : dict of str to torch.Tensor
        The weights after adaptation to the task given to ``fit``.
    batch_stats_ : dict of str to torch.Tensor
        Batch-norm mean and variance of that task's support set, under the
        adapted weights (empty without batch norm).
    history_ : skorch.history.History
        Per-epoch ``train_loss`` and ``train_acc`` (query loss and accuracy
        after the inner loop), ``valid_*`` with validation data.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Input column names, when given as a DataFrame with string columns."""

_NOTES_DOC = """
    The inner loop is a pure function of a dict of weights: each step
    computes the support loss with those weights (the built-in encoders
    take them directly, any other module goes through
    :func:`torch.func.functional_call`) and takes ``theta - alpha * grad``
    (eq. 1 of the paper), keeping the graph for exact second-order
    meta-gradients unless ``first_order``.
    Memory of second-order MAML grows linearly with ``n_inner_steps``:
    every step's graph is kept for the meta-gradient. Looping over tasks
    (``batch_tasks=False``) frees each task's graph before the next one, so
    peak memory is that of one task; ``first_order=True`` keeps it constant
    in the number of steps.

    Batch norm, as in the MAML paper, uses batch statistics and never
    running ones, so nothing leaks from one task to another: the support
    set is normalised by its own statistics in every inner step, and the
    queries by the support set's statistics under the adapted weights
    (stored by ``fit`` in ``batch_stats_``). Predictions therefore do not
    depend on which queries are asked together. With ``transductive=True``
    the queries are normalised by their own statistics instead, in
    meta-training as in ``predict``: the paper's setting, which also skips
    the support set's second pass through the network at every query
    loss (at 5-way 1-shot with 15 queries, 80 images become 75)."""


class MAMLClassifier(ClassifierOutputMixin, ClassifierMixin, _MAML):
    __doc__ = """Model-Agnostic Meta-Learning for few-shot classification.

    MAML meta-learns initial weights from which a few gradient steps on a
    new task's support set give a good classifier for that task (Finn et
    al., 2017). ``first_order=True`` gives first-order MAML,
    ``learn_inner_lr=True`` Meta-SGD, ``inner_params='head'`` ANIL.
""" + _PARAMS_DOC.format(
        task_doc="""    n_way : int, default=5
        Classes per meta-training episode drawn by ``meta_fit(X, y)``.
    n_shot : int, default=1
        Support examples per class in meta-training episodes.
    n_query : int, default=15
        Query examples per class in meta-training episodes.""",
        n_inner_steps=1, inner_lr=0.4, n_adapt_steps=3,
        steps_doc="the MAML paper evaluates 5-way Omniglot after 3 steps",
        max_epochs=10, episodes_per_epoch=320, meta_batch_size=32,
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
""" + _NOTES_DOC + """

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
    >>> import numpy as np
    >>> from sklmeta import MAMLClassifier
    >>> rng = np.random.RandomState(0)
    >>> centers = rng.normal(scale=3.0, size=(20, 8))
    >>> y = np.repeat(np.arange(20), 20)
    >>> X = centers[y] + rng.normal(size=(400, 8))
    >>> clf = MAMLClassifier(encoder="mlp", n_shot=2, n_query=5, max_epochs=2,
    ...                      episodes_per_epoch=32, meta_batch_size=8,
    ...                      verbose=0, random_state=0)
    >>> clf = clf.meta_fit(X[y < 15], y[y < 15])
    >>> clf = clf.fit(X[y >= 15][::10], y[y >= 15][::10])  # five new classes
    >>> clf.classes_
    array([15, 16, 17, 18, 19])
    >>> clf.predict(X[y >= 15]).shape
    (100,)
    """

    def __init__(
        self,
        encoder="auto",
        *,
        n_way=5,
        n_shot=1,
        n_query=15,
        n_inner_steps=1,
        inner_lr=0.4,
        n_adapt_steps=3,
        adapt_lr=None,
        first_order=False,
        learn_inner_lr=False,
        inner_params="all",
        transductive=False,
        batch_tasks="auto",
        max_epochs=10,
        episodes_per_epoch=320,
        meta_batch_size=32,
        meta_lr=1e-3,
        optimizer=torch.optim.Adam,
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
        self.n_adapt_steps = n_adapt_steps
        self.adapt_lr = adapt_lr
        self.first_order = first_order
        self.learn_inner_lr = learn_inner_lr
        self.inner_params = inner_params
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


class MAMLRegressor(RegressorOutputMixin, RegressorMixin, _MAML):
    __doc__ = """Model-Agnostic Meta-Learning for few-shot regression.

    MAML meta-learns initial weights from which a few gradient steps on a
    new task's support set fit that task (Finn et al., 2017), e.g. a new
    sinusoid from five points. ``first_order=True`` gives first-order MAML,
    ``learn_inner_lr=True`` Meta-SGD, ``inner_params='head'`` ANIL.
""" + _PARAMS_DOC.format(
        task_doc="""    n_way, n_shot, n_query : int, default=1, 10, 10
        Not used for regression, where ``meta_fit`` takes tasks; kept so
        that every learner shares the base's parameters.""",
        n_inner_steps=1, inner_lr=0.01, n_adapt_steps=10,
        steps_doc="the MAML paper reports up to 10 on sinusoids",
        max_epochs=10, episodes_per_epoch=1000, meta_batch_size=25,
    ) + """

    See Also
    --------
    ReptileRegressor : first-order meta-learning without a query loss.
    sklmeta.datasets.SinusoidTasks : the paper's regression tasks.

    Notes
    -----
    ``meta_fit`` takes a task collection, not a labelled pool. Given a
    :class:`~sklmeta.datasets.SinusoidTasks`, tasks are drawn as tensors
    directly (the same tasks its iteration yields), which keeps the cost per
    meta-iteration down to the network's. ``history_`` records ``train_acc``
    as NaN: accuracy has no meaning here.
""" + _NOTES_DOC + """

    References
    ----------
    .. [1] C. Finn, P. Abbeel and S. Levine, "Model-Agnostic Meta-Learning
       for Fast Adaptation of Deep Networks", ICML 2017.
    .. [2] Z. Li, F. Zhou, F. Chen and H. Li, "Meta-SGD: Learning to Learn
       Quickly for Few-Shot Learning", arXiv:1707.09835, 2017.
    .. [3] A. Raghu, M. Raghu, S. Bengio and O. Vinyals, "Rapid Learning or
       Feature Reuse? Towards Understanding the Effectiveness of MAML",
       ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta import MAMLRegressor
    >>> from sklmeta.datasets import SinusoidTasks
    >>> reg = MAMLRegressor(max_epochs=2, episodes_per_epoch=100, verbose=0,
    ...                     random_state=0)
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
        n_inner_steps=1,
        inner_lr=0.01,
        n_adapt_steps=10,
        adapt_lr=None,
        first_order=False,
        learn_inner_lr=False,
        inner_params="all",
        transductive=False,
        batch_tasks="auto",
        max_epochs=10,
        episodes_per_epoch=1000,
        meta_batch_size=25,
        meta_lr=1e-3,
        optimizer=torch.optim.Adam,
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
        self.n_adapt_steps = n_adapt_steps
        self.adapt_lr = adapt_lr
        self.first_order = first_order
        self.learn_inner_lr = learn_inner_lr
        self.inner_params = inner_params
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
