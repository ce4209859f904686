"""Memory-augmented neural network (Santoro et al., 2016)."""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._docstrings import fitted_attributes, meta_training_params
from .._torch import embed_in_chunks, random_permutation, resolve_device, to_numpy, to_tensor
from ..base import BaseMetaEstimator, ClassifierOutputMixin
from ..encoders import output_dim
from ..utils._validation import check_float, check_int, check_option, validate_inputs
from ._controller import MANNNetwork, MemoryController
from ._front_end import PretrainedFrontEndMixin

__all__ = ["MANNClassifier"]

# Queries continue the stored state in blocks of this many sequences, each
# holding its own copy of the memory.
_QUERY_BLOCK = 256


class MANNClassifier(PretrainedFrontEndMixin, ClassifierOutputMixin, ClassifierMixin,
                     BaseMetaEstimator):
    __doc__ = """Memory-augmented neural network: an LSTM that learns to use a memory.

    A controller network reads a stream of examples, each presented with
    the label of the *previous* example, and binds examples to their labels
    in an external memory that it writes with the least-recently-used-access
    rule and reads by content (cosine similarity). Meta-training on episodes
    whose labels are shuffled anew each time teaches it to learn a new task
    from the stream alone, without any gradient step (Santoro et al., 2016).

    Parameters
    ----------
    encoder : {'auto', 'conv4', 'mlp', 'text'}, torch.nn.Module class or instance, \
            default='auto'
        The feature front end. ``'auto'`` picks ``'conv4'`` for square
        images of side 16 or more and ``'mlp'`` otherwise (see
        :class:`~sklmeta.ProtoNetClassifier`). The paper feeds raw pixels:
        pass ``encoder=torch.nn.Identity()`` and ``encoder_training='joint'``
        for that.
    encoder_training : {'prototypical', 'joint'}, default='prototypical'
        How the front end learns. ``'prototypical'`` meta-trains it first,
        alone, as a Prototypical Network on the same episodes (nearest class
        mean of the support embeddings), for the first
        ``pretraining_share`` of meta-training; it is then frozen and the
        controller learns on its features. ``'joint'`` trains both together
        from the start, as the paper does: on images the controller then
        takes far longer to learn to bind labels.
    pretraining_share : float, default=0.2
        Share of meta-training (of ``max_epochs``, or of ``max_time`` when
        that runs out first) given to the front end with
        ``encoder_training='prototypical'``.
    n_way : int, default=5
        Classes per meta-training episode, and the number of label slots:
        ``fit`` accepts tasks of at most ``n_way`` classes.
    n_shot : int, default=5
        Support examples per class in meta-training episodes.
    n_query : int, default=5
        Query examples per class in meta-training episodes. Support and
        query rows form one shuffled stream of ``n_way * (n_shot + n_query)``
        steps (the paper: 5 classes, 10 examples each).
    controller_size : int, default=128
        LSTM units of the controller (the paper: 200).
    n_slots : int, default=128
        Rows of the memory.
    slot_size : int, default=40
        Size of a memory row.
    n_heads : int, default=4
        Read heads; each also writes with the LRUA rule.
    usage_decay : float, default=0.95
        Decay of the memory usage at each step (the paper's gamma).
    n_support_orders : int, default=1
        Random orders in which ``fit`` streams the support set; predictions
        average the probabilities over them. More orders make predictions
        less dependent on the order of the support set.
""" + meta_training_params(meta_batch_size=8, meta_lr="3e-3") + """
    Attributes
    ----------
    encoder_ : torch.nn.Module
        The (meta-)trained feature front end.
    controller_ : MemoryController
        The (meta-)trained controller and memory heads.
    classes_ : ndarray of shape (n_classes,)
        Labels of the task adapted to by ``fit``; class ``classes_[j]`` uses
        label slot ``j``.
    memory_state_ : dict of torch.Tensor
        Controller and memory state after the support stream, one entry per
        support order along the first axis.
""" + fitted_attributes() + """
    See Also
    --------
    sklmeta.ProtoNetClassifier : a metric-based learner.
    sklmeta.EpisodeSampler : episodes for ``meta_fit``.

    Notes
    -----
    Meta-training follows the paper: each episode's support and query rows
    are shuffled into one stream, its classes get a random permutation of
    the label slots, every step is fed the label of the step before (none
    at the first) and every step is scored.

    ``fit`` streams the support set in a random order (seeded by
    ``random_state``) and stores the resulting state: it writes the examples
    and their labels into memory. ``predict`` then continues that state
    **separately for each query**: the query is the next step of the stream,
    so it is fed the label of the last support example, as in the paper,
    and it is answered from what it reads. Whatever that step writes goes
    to a private copy of the memory that is discarded, so queries never see
    one another and predictions do not depend on which queries are asked
    together or in what order. The paper instead scores every element
    *inside* the stream; :meth:`predict_online` does that, and
    ``benchmarks/mann_sequence.py`` reports its accuracy per presentation.

    On images, the controller learns to bind labels far sooner from a
    meta-learned embedding than from raw pixels, hence the default
    ``encoder_training='prototypical'``. The controller sees its features
    through a layer norm (learned gain and bias), so features of any scale
    suit it.

    The network has ``n_way`` label slots, so a task of more classes than
    ``n_way`` raises an error: meta-train with a larger ``n_way``. Tasks of
    fewer classes use the first slots only.

    Two small departures from the paper: each head's key has a learned
    strength multiplying its cosine similarities (as in Neural Turing
    Machines; with bare cosines the softmax over 128 rows is nearly flat),
    and head ``h`` writes to the ``h``-th least used row, which is cleared
    first, so heads never overwrite one another.

    What these defaults reach on Omniglot in a given time is listed under
    :ref:`defaults-table`.

    References
    ----------
    .. [1] A. Santoro, S. Bartunov, M. Botvinick, D. Wierstra and
       T. Lillicrap, "Meta-Learning with Memory-Augmented Neural Networks",
       ICML 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklmeta import MANNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MANNClassifier(encoder="mlp", controller_size=32, n_slots=16,
    ...                      slot_size=8, n_heads=1, max_epochs=1,
    ...                      episodes_per_epoch=16, verbose=0, random_state=0)
    >>> clf = clf.meta_fit(X[y < 5], y[y < 5])
    >>> clf.fit(X[y >= 5][:25], y[y >= 5][:25]).predict(X[y >= 5][25:28]).shape
    (3,)
    """

    def __init__(self, encoder="auto", *, encoder_training="prototypical",
                 pretraining_share=0.2, n_way=5, n_shot=5, n_query=5,
                 controller_size=128, n_slots=128, slot_size=40, n_heads=4,
                 usage_decay=0.95, n_support_orders=1, max_epochs=10, max_time=None,
                 episodes_per_epoch=100, meta_batch_size=8, meta_lr=3e-3,
                 optimizer=torch.optim.Adam, lr_schedule=None, init_from=None,
                 callbacks=None, n_val_episodes=100, warm_start=False, device="auto",
                 verbose=1, random_state=None, **kwargs):
        self._store_init_params(locals())

    _adaptation_params = BaseMetaEstimator._adaptation_params | {"n_support_orders"}
    _meta_attributes = BaseMetaEstimator._meta_attributes + ("controller_",)
    _outputs_proba = True
    # untrained, the controller's answers are close to guesses
    _poor_score_untrained = True
    _adapted_attributes = ("classes_", "memory_state_")

    @property
    def module_(self):
        """The module holding every meta-learned parameter (skorch's name)."""
        return MANNNetwork(self.encoder_, self.controller_)

    def _validate_params(self):
        device = super()._validate_params()
        check_int(self.controller_size, "controller_size", min_value=1)
        check_int(self.n_slots, "n_slots", min_value=1)
        check_int(self.slot_size, "slot_size", min_value=1)
        check_int(self.n_heads, "n_heads", min_value=1)
        check_int(self.n_support_orders, "n_support_orders", min_value=1)
        check_float(self.usage_decay, "usage_decay", min_value=0.0, max_value=1.0)
        check_option(self.encoder_training, "encoder_training", ("prototypical", "joint"))
        check_float(self.pretraining_share, "pretraining_share", min_value=0.0,
                    max_value=1.0)
        if self.n_heads > self.n_slots:
            raise ValueError(
                f"n_heads={self.n_heads} exceeds n_slots={self.n_slots}: each head "
                "writes to a least used row of its own."
            )
        return device

    def _initialize_modules(self, n_features, device):
        self.encoder_ = self._build_encoder(n_features, device)
        n_embedding = output_dim(self.encoder_, n_features, device)
        self.controller_ = MemoryController(
            n_embedding, self.n_way, controller_size=self.controller_size,
            n_slots=self.n_slots, slot_size=self.slot_size, n_heads=self.n_heads,
            usage_decay=self.usage_decay,
        ).to(device)

    def _check_n_classes(self, n_classes):
        if n_classes > self.n_way:
            raise ValueError(
                f"the task has {n_classes} classes but {type(self).__name__} has "
                f"n_way={self.n_way} label slots; meta-train with n_way >= "
                f"{n_classes} to handle it."
            )

    # ------------------------------------------------------------------
    # meta-training
    # ------------------------------------------------------------------
    def _compute_meta_gradient(self, batch):
        if self._pretraining_encoder:
            loss, accuracy = self._prototype_loss(batch)
        else:
            loss, accuracy = self._batch_loss(batch, self._embedded_inputs)
        loss.backward()
        return loss.item(), accuracy

    def _episode_loss(self, episode):
        return self._batch_loss([episode])

    def _batch_loss(self, batch, embedded=False):
        """Cross-entropy over every step of the episodes' streams.

        Episodes of the same length run together as one batch of sequences.
        """
        groups = {}
        for episode in batch:
            length = len(episode.y_support) + len(episode.y_query)
            groups.setdefault(length, []).append(episode)
        total_loss, total_correct, total_steps = 0.0, 0.0, 0
        for episodes in groups.values():
            logits, target = self._stream_episodes(episodes, embedded)
            total_loss = total_loss + F.cross_entropy(
                logits.flatten(end_dim=1), target.flatten(), reduction="sum"
            )
            total_correct += (logits.argmax(dim=2) == target).sum().item()
            total_steps += target.numel()
        return total_loss / total_steps, total_correct / total_steps

    def _stream_episodes(self, episodes, embedded=False):
        """Shuffle each episode into a stream with shuffled label slots; run it."""
        device = episodes[0].x_support.device
        rows, targets = [], []
        for episode in episodes:
            self._check_n_classes(episode.n_way)
            x = torch.cat([episode.x_support, episode.x_query])
            y = torch.cat([episode.y_support, episode.y_query])
            order = random_permutation(len(y), device)
            slots = random_permutation(self.n_way, device)[: episode.n_way]
            rows.append(x[order])
            targets.append(slots[y[order]])
        x = torch.stack(rows)
        target = torch.stack(targets)
        if embedded:
            features = x.flatten(end_dim=1)
        elif self._front_end_frozen():
            # the pretrained front end keeps its weights and batch-norm statistics
            self.encoder_.eval()
            with torch.no_grad():
                features = self.encoder_(x.flatten(end_dim=1))
        else:
            features = self.encoder_(x.flatten(end_dim=1))
        features = features.view(*target.shape, -1)
        state = self.controller_.initial_state(len(episodes), device)
        logits, _ = self.controller_(features, target, state)
        return logits, target

    # ------------------------------------------------------------------
    # adaptation and prediction
    # ------------------------------------------------------------------
    def _features(self, X):
        return embed_in_chunks(self.encoder_, X)

    def _adapt(self, X, y):
        self._check_n_classes(len(self.classes_))
        self.controller_.eval()
        features = self._features(X)
        n_orders = self.n_support_orders
        orders = torch.stack([random_permutation(len(y), y.device) for _ in range(n_orders)])
        with torch.no_grad():
            state = self.controller_.initial_state(n_orders, X.device)
            _, state = self.controller_(features[orders], y[orders], state)
        self.memory_state_ = state

    @torch.no_grad()
    def _forward_adapted(self, X):
        """Mean probabilities over support orders, each query continuing alone."""
        self.controller_.eval()
        features = self._features(X)
        n_classes = len(self.classes_)
        stored = self.memory_state_
        n_orders = len(stored["memory"])
        probabilities = []
        for block in features.split(_QUERY_BLOCK):
            n = len(block)
            # sequence (order o, query q) continues the state stored for order o
            state = {k: v.repeat_interleave(n, dim=0) for k, v in stored.items()}
            steps = block.repeat(n_orders, 1).unsqueeze(1)
            logits, _ = self.controller_(steps, None, state)
            proba = torch.softmax(logits[:, 0, :n_classes].double(), dim=1)
            probabilities.append(proba.view(n_orders, n, n_classes).mean(dim=0))
        return torch.cat(probabilities)

    def predict_online(self, X, y):
        """Predict each element of a labelled stream before its label is shown.

        The paper's protocol: the rows of ``X`` are presented in order, each
        with the label of the row before; the prediction for row ``t`` uses
        rows ``0..t`` and labels ``0..t-1`` only. This uses the meta-learned
        network and ignores (and keeps) any adaptation made by ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The stream, in order.
        y : array-like of shape (n_samples,)
            Its labels, of at most ``n_way`` classes.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Prediction for each row, from the labels of ``y``. Rows whose
            class has not appeared yet can only be guessed.
        """
        if not hasattr(self, "controller_"):
            check_is_fitted(self, "controller_")
        device = resolve_device(self.device)
        self._move_to(device)
        X, y = validate_inputs(self, X, y, reset=False)
        check_classification_targets(y)
        classes, encoded = np.unique(y, return_inverse=True)
        self._check_n_classes(len(classes))
        X = to_tensor(X, device)
        target = torch.as_tensor(encoded, dtype=torch.long, device=device)
        self.controller_.eval()
        with torch.no_grad():
            state = self.controller_.initial_state(1, device)
            logits, _ = self.controller_(self._features(X)[None], target[None], state)
        return classes[to_numpy(logits[0, :, : len(classes)].argmax(dim=1))]
