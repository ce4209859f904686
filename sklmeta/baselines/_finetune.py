"""The fine-tuning baseline: a pretrained encoder and a new head per task."""

import copy

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from skorch.callbacks import EpochTimer, PrintLog, ProgressBar
from skorch.history import History

from .._pretrain import MinibatchStream, make_head
from .._torch import seeded, to_numpy, to_tensor
from ..base import BaseMetaEstimator, _check_pool, _feature_names, _split_validation
from ..encoders import build_encoder, output_dim
from ..metric_based._distances import class_means, squared_euclidean
from ..tasks import EpisodeSampler, as_task
from ..utils._validation import check_bool, check_float, check_int, check_option

__all__ = ["FineTuneClassifier"]


class FineTuneClassifier(ClassifierMixin, BaseMetaEstimator):
    """Pretrained encoder plus a new classification head fitted on each task.

    The baseline every few-shot learner should be compared with (Chen et al.,
    2019). ``meta_fit`` pretrains the encoder by ordinary supervised learning
    over *all* classes of the meta-training pool at once, in shuffled
    minibatches, with a linear or cosine head that is then thrown away.
    ``fit`` adapts to a new task by training a fresh head of the same kind on
    the support set (``n_adapt_steps`` full-batch Adam steps), the encoder
    frozen unless ``finetune_encoder=True``. ``head='linear'`` is the paper's
    "Baseline", ``head='cosine'`` its "Baseline++".

    Parameters
    ----------
    encoder : {'auto', 'conv4', 'mlp'}, torch.nn.Module class or instance, \
            default='auto'
        The embedding network, as for
        :class:`~sklmeta.ProtoNetClassifier`; an instance is copied.
    head : {'linear', 'cosine'}, default='linear'
        The classifier on top of the encoder, in pretraining and adaptation:
        a linear layer, or scaled cosine similarity to learned class vectors.
    cosine_scale : float, default=10.0
        Multiplier of the cosine similarities when ``head='cosine'``.
    n_adapt_steps : int, default=100
        Optimizer steps on the support set in ``fit``.
    adapt_lr : float, default=1e-2
        Learning rate of adaptation (Adam).
    finetune_encoder : bool, default=False
        Whether ``fit`` also trains (a copy of) the encoder on the support
        set; the pretrained encoder itself is never changed.
    max_epochs : int, default=10
        Pretraining epochs, each a pass over the whole pool.
    batch_size : int, default=64
        Samples per pretraining minibatch.
    meta_lr : float, default=1e-3
        Learning rate of pretraining.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Pretraining optimizer; further arguments as ``optimizer__*``.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks for pretraining; copied at ``meta_fit``.
    n_way : int, default=5
        Classes per validation episode, when ``meta_fit`` gets a
        ``validation_data`` pool.
    n_shot : int, default=5
        Support examples per class in validation episodes.
    n_query : int, default=15
        Query examples per class in validation episodes.
    n_val_episodes : int, default=100
        Validation episodes scored each epoch.
    warm_start : bool, default=False
        Whether ``meta_fit`` continues pretraining (same pool classes) instead
        of starting afresh.
    device : 'auto', str or torch.device, default='auto'
        Where the network runs: CUDA when present with ``'auto'``, else CPU.
    verbose : int, default=1
        0 is silent; 1 shows a progress bar and a table of epochs during
        ``meta_fit``.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial weights, the minibatch order and the new heads.
    **kwargs
        ``encoder__*`` and ``optimizer__*`` arguments.

    Attributes
    ----------
    encoder_ : torch.nn.Module
        The pretrained encoder.
    pretrain_head_ : torch.nn.Module
        The head used in pretraining, kept so that ``warm_start`` continues.
    pretrain_classes_ : ndarray of shape (n_pretrain_classes,)
        The classes of the pretraining pool, the outputs of that head.
    classes_ : ndarray of shape (n_classes,)
        Labels of the task adapted to by ``fit``.
    head_ : torch.nn.Module
        The head trained on that task's support set.
    adapted_encoder_ : torch.nn.Module
        The encoder fine-tuned on that support set; only with
        ``finetune_encoder=True``.
    history_ : skorch.history.History
        Per-epoch ``train_loss`` and ``train_acc`` of pretraining (accuracy
        over the pool classes), and ``valid_loss``/``valid_acc`` on few-shot
        validation episodes; only after ``meta_fit``.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Input column names, when given as a DataFrame with string columns.

    See Also
    --------
    sklmeta.ProtoNetClassifier : nearest class mean in a meta-learned embedding.
    sklmeta.baselines.pretrain_encoder : the pretraining alone, returning the
        encoder for another learner.
    sklmeta.transformers.EncoderTransformer : the encoder as a scikit-learn
        transformer, to put any scikit-learn classifier on top.

    Notes
    -----
    ``meta_fit(X, y)`` takes a labelled pool; an
    :class:`~sklmeta.EpisodeSampler` stands for its pool, and a list of
    :class:`~sklmeta.Task` is pooled (support and query sets together), which
    assumes that the tasks share one label space. Validation episodes are
    scored without training a head: by nearest class mean in the embedding
    (squared Euclidean, or cosine for ``head='cosine'``), a cheap proxy of
    few-shot accuracy. The history records the samples of each minibatch as
    ``train_batch_size``, as skorch does.

    During adaptation the encoder stays in eval mode, so batch norm uses the
    running statistics of pretraining instead of those of a few support
    examples, also when ``finetune_encoder=True``.

    References
    ----------
    .. [1] W.-Y. Chen, Y.-C. Liu, Z. Kira, Y.-C. F. Wang and J.-B. Huang,
       "A Closer Look at Few-shot Classification", ICLR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta.baselines import FineTuneClassifier
    >>> rng = np.random.RandomState(0)
    >>> centers = rng.normal(scale=3.0, size=(20, 8))
    >>> y = np.repeat(np.arange(20), 20)
    >>> X = centers[y] + rng.normal(size=(400, 8))
    >>> clf = FineTuneClassifier(encoder="mlp", max_epochs=3, verbose=0, random_state=0)
    >>> clf = clf.meta_fit(X[y < 15], y[y < 15])
    >>> clf.fit(X[y >= 15][::10], y[y >= 15][::10]).predict(X[y >= 15][:3])
    array([15, 15, 15])
    """

    _adaptation_params = BaseMetaEstimator._adaptation_params | {
        "n_adapt_steps", "adapt_lr", "finetune_encoder", "n_way", "n_shot", "n_query",
    }
    _meta_attributes = BaseMetaEstimator._meta_attributes + (
        "pretrain_head_", "pretrain_classes_",
    )
    _adapted_attributes = ("classes_", "head_")

    def __init__(
        self,
        encoder="auto",
        *,
        head="linear",
        cosine_scale=10.0,
        n_adapt_steps=100,
        adapt_lr=1e-2,
        finetune_encoder=False,
        max_epochs=10,
        batch_size=64,
        meta_lr=1e-3,
        optimizer=torch.optim.Adam,
        callbacks=None,
        n_way=5,
        n_shot=5,
        n_query=15,
        n_val_episodes=100,
        warm_start=False,
        device="auto",
        verbose=1,
        random_state=None,
        **kwargs,
    ):
        self.encoder = encoder
        self.head = head
        self.cosine_scale = cosine_scale
        self.n_adapt_steps = n_adapt_steps
        self.adapt_lr = adapt_lr
        self.finetune_encoder = finetune_encoder
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.meta_lr = meta_lr
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.n_way = n_way
        self.n_shot = n_shot
        self.n_query = n_query
        self.n_val_episodes = n_val_episodes
        self.warm_start = warm_start
        self.device = device
        self.verbose = verbose
        self.random_state = random_state
        self._store_routed_params(kwargs)

    def _validate_episode_params(self):
        # pretraining runs on minibatches: only the validation episodes' shape
        check_int(self.n_way, "n_way", min_value=1)
        check_int(self.n_shot, "n_shot", min_value=1)
        check_int(self.n_query, "n_query", min_value=1)

    def _validate_params(self):
        device = super()._validate_params()
        check_option(self.head, "head", ("linear", "cosine"))
        check_float(self.cosine_scale, "cosine_scale", min_value=0.0, strict_min=True)
        check_int(self.n_adapt_steps, "n_adapt_steps", min_value=1)
        check_float(self.adapt_lr, "adapt_lr", min_value=0.0, strict_min=True)
        check_bool(self.finetune_encoder, "finetune_encoder")
        check_int(self.batch_size, "batch_size", min_value=1)
        return device

    # ------------------------------------------------------------------
    # pretraining
    # ------------------------------------------------------------------
    def meta_fit(self, X, y=None, *, validation_data=None):
        """Pretrain the encoder over all classes of a labelled pool.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or task collection
            The pool; or, with ``y=None``, an
            :class:`~sklmeta.EpisodeSampler` (its pool is used) or a list of
            :class:`~sklmeta.Task` sharing one label space (pooled).
        y : array-like of shape (n_samples,), default=None
            Labels of the pool.
        validation_data : tuple (X_val, y_val) or task collection, default=None
            Held-out classes: ``n_val_episodes`` episodes of ``n_way`` ways,
            ``n_shot`` shots and ``n_query`` queries drawn once, scored at
            each epoch end by nearest class mean as ``valid_loss`` and
            ``valid_acc``.

        Returns
        -------
        self : object
            The pretrained estimator.
        """
        device = self._validate_params()
        names = _feature_names(X) if y is not None else None
        X_pool, y_pool = self._pretraining_pool(X, y)
        check_classification_targets(y_pool)
        classes, y_encoded = np.unique(y_pool, return_inverse=True)
        n_features = X_pool.shape[1]
        val_episodes = None
        if validation_data is not None:
            val_episodes = self._episode_source(
                *_split_validation(validation_data), device, name="validation_data"
            )
            if val_episodes.n_features != n_features:
                raise ValueError(
                    f"validation_data has {val_episodes.n_features} features but "
                    f"the pretraining pool has {n_features}."
                )

        rng = check_random_state(self.random_state)
        init_seed, train_seed, shuffle_seed, val_seed = rng.randint(2**31 - 1, size=4)
        warm = bool(self.warm_start) and self._is_meta_fitted()
        if warm:
            if n_features != self.n_features_in_:
                raise ValueError(
                    f"X has {n_features} features, but {type(self).__name__} was "
                    f"pretrained on {self.n_features_in_}; warm_start needs the same."
                )
            if not np.array_equal(classes, self.pretrain_classes_):
                raise ValueError(
                    "warm_start continues pretraining with the same head, so y must "
                    f"hold the same {len(self.pretrain_classes_)} classes as before; "
                    f"got {len(classes)} classes."
                )
            self._drop_adaptation()
            self._move_to(device)
        else:
            self._drop_fitted_state()
            self.n_features_in_ = n_features
            if names is not None:
                self.feature_names_in_ = names
            with seeded(init_seed, device):
                self._initialize_modules(n_features, device)
                dim = output_dim(self.encoder_, n_features, device)
                self.pretrain_head_ = make_head(
                    self.head, dim, len(classes), self.cosine_scale
                ).to(device)
            self.pretrain_classes_ = classes
            self.history_ = History()
        if not warm or not hasattr(self, "optimizer_"):
            self.optimizer_ = self._build_optimizer()
        if val_episodes is not None:
            val_episodes.seed(val_seed)
            val_episodes = [val_episodes.draw() for _ in range(self.n_val_episodes)]
        batches = MinibatchStream(
            to_tensor(X_pool, device),
            torch.as_tensor(y_encoded, dtype=torch.long, device=device),
            self.batch_size,
            shuffle_seed,
        )
        self.callbacks_ = self._initialize_callbacks(len(batches))
        with seeded(train_seed, device):
            self._meta_train(batches, val_episodes)
        return self

    def _pretraining_pool(self, X, y):
        if y is not None:
            return _check_pool(self, X, y, "X")
        if isinstance(X, EpisodeSampler):
            return _check_pool(self, X.X, X.y, "X")
        if isinstance(X, (list, tuple)) and X:
            tasks = [as_task(task, f"X[{i}]") for i, task in enumerate(X)]
            parts = [(t.X_support, t.y_support) for t in tasks]
            parts += [(t.X_query, t.y_query) for t in tasks if t.y_query is not None]
            return _check_pool(
                self,
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                "X",
            )
        raise TypeError(
            f"{type(self).__name__}.meta_fit pretrains on a labelled pool: pass "
            "(X, y), an EpisodeSampler or a list of Task objects; got "
            f"{type(X).__name__}."
        )

    def _initialize_modules(self, n_features, device):
        encoder = build_encoder(self.encoder, n_features, self._routed_params("encoder__"))
        self.encoder_ = encoder.to(device)

    def _build_optimizer(self):
        params = [
            p
            for module in (self.encoder_, self.pretrain_head_)
            for p in module.parameters()
            if p.requires_grad
        ]
        kwargs = {"lr": self.meta_lr, **self._routed_params("optimizer__")}
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
                ProgressBar(
                    batches_per_epoch=steps_per_epoch,
                    postfix_keys=["train_loss", "train_acc"],
                ),
                PrintLog(),
            ]
        for cb in self.callbacks or ():
            cb = cb[1] if isinstance(cb, tuple) else cb
            callbacks.append(copy.deepcopy(cb))
        for cb in callbacks:
            cb.initialize()
        return callbacks

    def _meta_train(self, batches, val_episodes):
        """Epochs of shuffled minibatches, validation episodes and callbacks."""
        modules = (self.encoder_, self.pretrain_head_)
        history = self.history_
        self._notify("on_train_begin", X=None, y=None)
        try:
            for _ in range(self.max_epochs):
                history.new_epoch()
                history.record("epoch", len(history))
                self._notify("on_epoch_begin", dataset_train=None, dataset_valid=None)
                for module in modules:
                    module.train()
                losses, accuracies, sizes = [], [], []
                for x, y in batches.epoch():
                    history.new_batch()
                    self._notify("on_batch_begin", batch=(x, y), training=True)
                    loss, accuracy = self._train_step(x, y)
                    history.record_batch("train_loss", loss)
                    history.record_batch("train_acc", accuracy)
                    history.record_batch("train_batch_size", len(y))
                    self._notify("on_batch_end", batch=(x, y), training=True)
                    losses.append(loss)
                    accuracies.append(accuracy)
                    sizes.append(len(y))
                self._record_epoch("train", losses, accuracies, sizes)
                if val_episodes is not None:
                    self.encoder_.eval()
                    scores = [self._validation_score(ep) for ep in val_episodes]
                    losses, accuracies = zip(*scores)
                    self._record_epoch("valid", losses, accuracies, None)
                self._notify("on_epoch_end", dataset_train=None, dataset_valid=None)
        except KeyboardInterrupt:
            # Ctrl-C, or a callback such as EarlyStopping: keep what was learned
            if history and "train_loss" not in history[-1]:
                history.pop()
        for module in modules:
            module.eval()
        self._notify("on_train_end", X=None, y=None)

    def _train_step(self, x, y):
        self.optimizer_.zero_grad(set_to_none=True)
        logits = self.pretrain_head_(self.encoder_(x))
        loss = F.cross_entropy(logits, y)
        loss.backward()
        named = [
            *self.encoder_.named_parameters(prefix="encoder"),
            *self.pretrain_head_.named_parameters(prefix="head"),
        ]
        self._notify("on_grad_computed", named_parameters=named, X=x, y=y, training=True)
        self.optimizer_.step()
        accuracy = (logits.argmax(dim=1) == y).float().mean().item()
        return loss.item(), accuracy

    def _validation_score(self, episode):
        with torch.no_grad():
            logits = self._prototype_logits(
                self.encoder_(episode.x_support), episode.y_support, episode.n_way,
                self.encoder_(episode.x_query),
            )
            loss = F.cross_entropy(logits, episode.y_query).item()
        accuracy = (logits.argmax(dim=1) == episode.y_query).float().mean().item()
        return loss, accuracy

    def _prototype_logits(self, z_support, y_support, n_way, z_query):
        if self.head == "cosine":
            z_support, z_query = F.normalize(z_support, dim=1), F.normalize(z_query, dim=1)
            prototypes = F.normalize(class_means(z_support, y_support, n_way), dim=1)
            return self.cosine_scale * z_query @ prototypes.T
        return -squared_euclidean(z_query, class_means(z_support, y_support, n_way))

    # ------------------------------------------------------------------
    # adaptation
    # ------------------------------------------------------------------
    def _adapt(self, X, y):
        encoder = self.encoder_
        encoder.eval()
        with torch.no_grad():
            z = encoder(X)
        head = make_head(self.head, z.shape[1], len(self.classes_), self.cosine_scale)
        head = head.to(X.device)
        params = list(head.parameters())
        if self.finetune_encoder:
            encoder = copy.deepcopy(self.encoder_)
            for p in encoder.parameters():
                p.requires_grad_(True)
            params += list(encoder.parameters())
        optimizer = torch.optim.Adam(params, lr=self.adapt_lr)
        with torch.enable_grad():
            for _ in range(self.n_adapt_steps):
                optimizer.zero_grad(set_to_none=True)
                features = encoder(X) if self.finetune_encoder else z
                F.cross_entropy(head(features), y).backward()
                optimizer.step()
        self.head_ = head.eval()
        if self.finetune_encoder:
            self.adapted_encoder_ = encoder.eval()

    @torch.no_grad()
    def _forward_adapted(self, X):
        encoder = getattr(self, "adapted_encoder_", self.encoder_)
        encoder.eval()
        return self.head_(encoder(X))

    def predict_proba(self, X):
        """Class probabilities: softmax of the adapted head's logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        logits = self._predict_output(X).double()
        return to_numpy(torch.softmax(logits, dim=1))

    def predict(self, X):
        """Label with the largest logit of the adapted head.

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

