"""Docstring parts shared by the classifier and the regressor of a family."""

from .._docstrings import fitted_attributes

__all__ = [
    "MAML_FITTED", "MAML_NOTES", "MAML_PARAMS", "REPTILE_FITTED", "REPTILE_NOTES",
    "REPTILE_OPTIMIZER", "REPTILE_PARAMS", "REPTILE_REFERENCES",
]

_ADAPTED = """    adapted_params_ : dict of str to torch.Tensor
        The weights after adaptation to the task given to ``fit``.
    batch_stats_ : dict of str to torch.Tensor
        Batch-norm mean and variance of that task's support set, under the
        adapted weights (empty without batch norm).
"""

MAML_PARAMS = """
    Parameters
    ----------
    encoder : {{'auto', 'conv4', 'mlp'}}, torch.nn.Module class or instance, default='{encoder}'
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
{task_doc}    n_inner_steps : int, default={n_inner_steps}
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
    checkpoint_inner : bool, default=False
        Trade compute for memory in second-order meta-training: keep only
        each inner step's adapted weights for the meta-gradient and
        recompute the step's activations during the backward pass
        (activation checkpointing). The meta-gradient is the same; each
        inner step costs about one more support pass. Tasks are then
        looped, not batched. See the benchmarks page for measured memory
        and time.
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
        for networks without convolutions, and loops for convolutional
        networks on a CPU, where batching multiplies the memory for no
        reliable gain (see the benchmarks page). Tasks of different shapes
        are always looped. When ``'auto'`` loops first-order tasks,
        their first inner step still runs batched: every task starts from
        the same weights, so the support sets go through the network in one
        call, and only the queries are looped.
{training_doc}
    Attributes
    ----------
    network_ : torch.nn.Module
        Everything meta-learned (also ``module_``): ``body``, ``head`` and,
        with ``learn_inner_lr``, ``inner_lrs``. ``fit`` never changes it.
    encoder_ : torch.nn.Module
        The body, ``network_.body``.
{adapted_doc}{fitted_doc}"""

MAML_PARAMS = MAML_PARAMS.replace("{adapted_doc}", _ADAPTED)

MAML_FITTED = fitted_attributes(
    "``train_loss`` and ``train_acc`` (query loss and accuracy after the inner loop)")

MAML_NOTES = """
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

REPTILE_PARAMS = """
    Parameters
    ----------
    encoder : {{'auto', 'conv4', 'mlp'}}, torch.nn.Module class or instance, default='{encoder}'
        The network's body, as for :class:`MAMLClassifier`: ``'conv4'`` the
        four-block network with strided convolutions and task batch norm,
        ``'mlp'`` ``Linear -> ReLU`` layers of widths
        ``encoder__hidden_layer_sizes`` (default ``(40, 40)``).
{task_doc}    n_inner_steps : int, default={n_inner_steps}
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
{training_doc}
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
{adapted_doc}{fitted_doc}"""

REPTILE_PARAMS = REPTILE_PARAMS.replace("{adapted_doc}", _ADAPTED)

REPTILE_FITTED = fitted_attributes(
    "``train_loss`` and ``train_acc`` (of the last inner step's minibatch, before that step)")

REPTILE_OPTIMIZER = """    meta_lr : float, default={meta_lr}
        The outer step size epsilon: the learning rate of the meta-optimizer.
    optimizer : torch.optim.Optimizer class, default=torch.optim.SGD
        Meta-optimizer, fed ``theta - mean(phi)`` as the gradient; plain SGD
        is the paper's update. Further arguments as ``optimizer__*``; the
        paper's linear annealing of epsilon is a skorch ``LRScheduler`` or
        an ``lr_schedule``.
"""

REPTILE_NOTES = """
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

REPTILE_REFERENCES = """
    References
    ----------
    .. [1] A. Nichol, J. Achiam and J. Schulman, "On First-Order
       Meta-Learning Algorithms", arXiv:1803.02999, 2018."""
