"""Parameter and attribute descriptions that several learners share.

Each learner's docstring is assembled from its own text and these parts,
so that a shared parameter is described once and alike everywhere.
"""

__all__ = ["encoder_param", "episode_params", "fitted_attributes", "meta_training_params"]


def encoder_param(default="'auto'"):
    """The ``encoder`` parameter of the learners built on one embedding."""
    return f"""    encoder : {{'auto', 'conv4', 'mlp', 'text'}}, torch.nn.Module class or \
instance, default={default}
        The embedding network. ``'conv4'`` is the four-block convolutional
        network of the few-shot papers (square single-channel images are
        inferred, e.g. 784 features as 1x28x28; else pass
        ``encoder__input_shape``); ``'mlp'`` a perceptron for tabular data;
        ``'text'`` a :class:`~sklmeta.encoders.TextEncoder` for n-gram
        features of texts (:class:`~sklmeta.text.TextFeatures`); ``'auto'``
        picks ``'conv4'`` for square images of side 16 or more and ``'mlp'``
        otherwise. A class is built with the ``encoder__*`` arguments; an
        instance is copied.
"""


def episode_params(n_way=5, n_shot=5, n_query=15, way_note=""):
    """``n_way``, ``n_shot`` and ``n_query`` of meta-training episodes."""
    return f"""    n_way : int, default={n_way}
        Classes per meta-training episode drawn by ``meta_fit(X, y)``; a
        pool of fewer classes gives episodes of all of them.{way_note}
    n_shot : int, default={n_shot}
        Support examples per class in meta-training episodes.
    n_query : int, default={n_query}
        Query examples per class in meta-training episodes.
"""


def meta_training_params(max_epochs=10, episodes_per_epoch=100, meta_batch_size=1,
                         meta_lr="1e-3", budget=None, routed="``encoder__*``, ",
                         optimizer=None, lr_schedule="None"):
    """The parameters of the meta-training loop, in the order of ``__init__``.

    ``budget`` replaces the descriptions of ``episodes_per_epoch`` and
    ``meta_batch_size`` for learners that meta-train on something else;
    ``optimizer`` that of ``meta_lr`` and ``optimizer``.
    """
    if budget is None:
        budget = f"""    episodes_per_epoch : int, default={episodes_per_epoch}
        Episodes (tasks) per epoch.
    meta_batch_size : int, default={meta_batch_size}
        Episodes per meta-update.
"""
    if optimizer is None:
        optimizer = f"""    meta_lr : float, default={meta_lr}
        Learning rate of the meta-optimizer.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Meta-optimizer; further arguments as ``optimizer__*``.
"""
    return f"""    max_epochs : int, default={max_epochs}
        Meta-training epochs.
    max_time : float or None, default=None
        Time budget of a ``meta_fit`` call in seconds: meta-training stops
        at the first batch that ends past it (``history_`` records
        ``stopped_by='max_time'``). A named ``lr_schedule`` then follows the
        clock, so a run cut short still ends at the schedule's low rate. Set
        ``max_epochs`` high to let the budget alone decide.
{budget}{optimizer}    lr_schedule : {{'step', 'cosine', 'linear'}}, torch.optim.lr_scheduler class \
or None, default={lr_schedule}
        How the meta learning rate changes over the planned run, recorded
        as ``lr`` in ``history_``. ``'step'`` multiplies it by
        ``lr_schedule__gamma`` (0.5) every ``lr_schedule__step_size`` epochs
        (a third of ``max_epochs``); ``'cosine'`` and ``'linear'`` lower it
        to ``lr_schedule__eta_min`` (0) at ``lr_schedule__T_max`` epochs
        (``max_epochs``). With ``max_time`` these follow the larger of the
        epochs done and the share of the budget spent. A class is built with
        the ``lr_schedule__*`` arguments and stepped at each epoch end
        (``ReduceLROnPlateau`` reads the validation loss, else the training
        loss). None keeps the rate constant, as does a skorch
        ``LRScheduler`` among ``callbacks``, which then takes its place. A
        warm-started ``meta_fit`` continues the schedule.
    init_from : meta-fitted sklmeta estimator or None, default=None
        Start meta-training from a copy of this estimator's meta-learned
        modules instead of random weights, with a new optimizer, schedule
        and history: e.g. a 20-way phase from a 5-way model, Meta-SGD from
        a MAML model, or episodic training from a pretrained
        ``FineTuneClassifier``'s encoder. It is not changed.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks for meta-training, e.g. ``EarlyStopping``,
        ``Checkpoint``, ``GradientNormClipping``. Copied at ``meta_fit``.
    n_val_episodes : int, default=100
        Validation episodes scored each epoch when ``meta_fit`` gets
        ``validation_data``.
    warm_start : bool, default=False
        Whether ``meta_fit`` continues from the current meta-learned state
        instead of starting afresh.
    device : 'auto', str or torch.device, default='auto'
        Where the network runs: CUDA when present with ``'auto'``, else CPU.
    verbose : int, default=1
        0 is silent; 1 shows a progress bar and a table of epochs during
        ``meta_fit``.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial weights and of the tasks drawn.
    **kwargs
        {routed}``optimizer__*`` and ``lr_schedule__*`` arguments.
"""


def fitted_attributes(train_metrics="``train_loss``, ``train_acc``"):
    """``history_``, ``n_features_in_`` and ``feature_names_in_``."""
    return f"""    history_ : skorch.history.History
        Per-epoch {train_metrics} (and ``valid_*`` with validation data) of
        meta-training; only after ``meta_fit``.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Input column names, when given as a DataFrame with string columns.
"""
