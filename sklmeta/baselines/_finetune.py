"""The fine-tuning baseline: a pretrained encoder and a new head per task."""

import copy
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets

from .._docstrings import fitted_attributes, meta_training_params
from .._episodes import check_pool, feature_names
from .._torch import to_tensor
from .._safeguards import check_adaptation_loss
from ..base import BaseMetaEstimator, ClassifierOutputMixin
from ..encoders import output_dim
from ._heads import MinibatchStream, make_head
from ..metric_based._distances import class_means, squared_euclidean
from ..tasks import EpisodeSampler, as_task
from ..utils._validation import check_bool, check_float, check_int, check_option

__all__ = ["FineTuneClassifier"]


class FineTuneClassifier(ClassifierOutputMixin, ClassifierMixin, BaseMetaEstimator):
    __doc__ = """Pretrained encoder plus a new classification head fitted on each task.

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
    encoder : {'auto', 'conv4', 'mlp', 'text'}, torch.nn.Module class or instance, \
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
    n_way : int, default=5
        Classes per validation episode, when ``meta_fit`` gets a
        ``validation_data`` pool.
    n_shot : int, default=5
        Support examples per class in validation episodes.
    n_query : int, default=15
        Query examples per class in validation episodes.
""" + meta_training_params(budget="""    batch_size : int, default=64
        Samples per pretraining minibatch; an epoch is a pass over the pool.
""") + """
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
""" + fitted_attributes(
        "``train_loss`` and ``train_acc`` of pretraining (accuracy over the pool "
        "classes), ``valid_loss``/``valid_acc`` on few-shot episodes") + """
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
    >>> from sklearn.datasets import load_digits
    >>> from sklmeta.baselines import FineTuneClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = FineTuneClassifier(encoder="mlp", max_epochs=3, verbose=0, random_state=0)
    >>> clf = clf.meta_fit(X[y < 6], y[y < 6])  # pretrained as a 6-class classifier
    >>> clf.fit(X[y >= 6][:20], y[y >= 6][:20]).predict(X[y >= 6][20:24])
    array([...])
    """

    _adaptation_rate_param = "adapt_lr"
    _adaptation_params = BaseMetaEstimator._adaptation_params | {
        "n_adapt_steps", "adapt_lr", "finetune_encoder", "n_way", "n_shot", "n_query",
    }
    _meta_attributes = BaseMetaEstimator._meta_attributes + (
        "pretrain_head_", "pretrain_classes_",
    )
    _adapted_attributes = ("classes_", "head_")

    def __init__(self, encoder="auto", *, head="linear", cosine_scale=10.0,
                 n_adapt_steps=100, adapt_lr=1e-2, finetune_encoder=False, n_way=5,
                 n_shot=5, n_query=15, max_epochs=10, max_time=None, batch_size=64, meta_lr=1e-3,
                 optimizer=torch.optim.Adam, lr_schedule=None, init_from=None,
                 callbacks=None, n_val_episodes=100, warm_start=False, device="auto",
                 verbose=1, random_state=None, **kwargs):
        self._store_init_params(locals())

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
    # pretraining, on the base class's loop
    # ------------------------------------------------------------------
    def _training_stream(self, X, y, device):
        names = feature_names(X) if y is not None else None
        X_pool, y_pool = self._pretraining_pool(X, y)
        return _Pretraining(X_pool, y_pool, self.batch_size, device, names)

    def _pretraining_pool(self, X, y):
        if y is not None:
            return check_pool(X, y, "X", classify=True)
        if isinstance(X, EpisodeSampler):
            return check_pool(X.X, X.y, "X", classify=True)
        if isinstance(X, (list, tuple)) and X:
            tasks = [as_task(task, f"X[{i}]") for i, task in enumerate(X)]
            parts = [(t.X_support, t.y_support) for t in tasks]
            parts += [(t.X_query, t.y_query) for t in tasks if t.y_query is not None]
            return check_pool(
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                "X", classify=True,
            )
        raise TypeError(
            f"{type(self).__name__}.meta_fit pretrains on a labelled pool: pass "
            "(X, y), an EpisodeSampler or a list of Task objects; got "
            f"{type(X).__name__}."
        )

    def _check_warm_start(self, stream):
        super()._check_warm_start(stream)
        if not np.array_equal(stream.classes, self.pretrain_classes_):
            raise ValueError(
                "warm_start continues pretraining with the same head, so y must "
                f"hold the same {len(self.pretrain_classes_)} classes as before; "
                f"got {len(stream.classes)} classes."
            )

    def _initialize_modules(self, n_features, device):
        self.encoder_ = self._build_encoder(n_features, device)

    def _module_from_state(self, name, state):
        if name in ("pretrain_head_", "head_"):
            n_classes, dim = state["weight"].shape
            return make_head(self.head, dim, n_classes, self.cosine_scale)
        if name == "adapted_encoder_":
            return copy.deepcopy(self.encoder_)
        return super()._module_from_state(name, state)

    def _initialize_meta_training(self, stream, device):
        dim = output_dim(self.encoder_, stream.n_features, device)
        self.pretrain_head_ = make_head(
            self.head, dim, len(stream.classes), self.cosine_scale
        ).to(device)
        self.pretrain_classes_ = stream.classes

    def _named_meta_parameters(self):
        return [
            *self.encoder_.named_parameters(prefix="encoder"),
            *self.pretrain_head_.named_parameters(prefix="head"),
        ]

    def _compute_meta_gradient(self, batch):
        logits = self.pretrain_head_(self.encoder_(batch.x))
        loss = F.cross_entropy(logits, batch.y)
        loss.backward()
        accuracy = (logits.argmax(dim=1) == batch.y).float().mean().item()
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
        losses = []
        with torch.enable_grad():
            for _ in range(self.n_adapt_steps):
                optimizer.zero_grad(set_to_none=True)
                features = encoder(X) if self.finetune_encoder else z
                loss = F.cross_entropy(head(features), y)
                loss.backward()
                optimizer.step()
                losses.append(loss.detach())
        if losses:
            with torch.no_grad():
                final = F.cross_entropy(head(encoder(X) if self.finetune_encoder else z), y)
            check_adaptation_loss(self, losses[0], final, self.n_adapt_steps)
        self.head_ = head.eval()
        if self.finetune_encoder:
            self.adapted_encoder_ = encoder.eval()

    @torch.no_grad()
    def _forward_adapted(self, X):
        encoder = getattr(self, "adapted_encoder_", self.encoder_)
        encoder.eval()
        return self.head_(encoder(X))


class _Minibatch(NamedTuple):
    """Rows of the pretraining pool; ``len`` is their number, as in skorch."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self):
        return len(self.y)


class _Pretraining:
    """The pretraining pool as a stream of the base class's loop: one epoch
    is a pass over the pool in shuffled minibatches."""

    def __init__(self, X, y, batch_size, device, names):
        check_classification_targets(y)
        self.classes, encoded = np.unique(y, return_inverse=True)
        if len(self.classes) < 2:
            raise ValueError(
                "FineTuneClassifier pretrains a classifier over the classes of the "
                f"pool, so y needs at least 2 classes; got only {self.classes[0]!r}."
            )
        self.X = to_tensor(X, device)
        self.y = torch.as_tensor(encoded, dtype=torch.long, device=device)
        self.batch_size = batch_size
        self.n_features = X.shape[1]
        self.feature_names = names
        self.minibatches = None

    def seed(self, seed):
        self.minibatches = MinibatchStream(self.X, self.y, self.batch_size, seed)

    def __len__(self):
        return -(-len(self.y) // self.batch_size)

    def epoch(self, skip=0):
        minibatches = self.minibatches.epoch()
        return (_Minibatch(x, y) for i, (x, y) in enumerate(minibatches) if i >= skip)
