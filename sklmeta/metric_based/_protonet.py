"""Prototypical Networks (Snell et al., 2017)."""

import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin

from .._torch import to_numpy
from ..base import BaseMetaEstimator
from ..encoders import build_encoder
from ._distances import class_means, squared_euclidean

__all__ = ["ProtoNetClassifier"]


class ProtoNetClassifier(ClassifierMixin, BaseMetaEstimator):
    """Prototypical Networks: nearest class mean in a meta-learned embedding.

    An encoder maps inputs to an embedding; each class of a task is
    represented by the mean embedding of its support examples, its
    *prototype*, and a query is classified by a softmax over negative squared
    Euclidean distances to the prototypes. Meta-training fits the encoder on
    episodes so that this works on classes never seen (Snell et al., 2017).

    Parameters
    ----------
    encoder : {'auto', 'conv4', 'mlp'}, torch.nn.Module class or instance, \
            default='auto'
        The embedding network. ``'conv4'`` is the four-block convolutional
        network of the paper (square single-channel images are inferred,
        e.g. 784 features as 1x28x28; else pass ``encoder__input_shape``);
        ``'mlp'`` a perceptron for tabular data; ``'auto'`` picks ``'conv4'``
        for square images of side 16 or more and ``'mlp'`` otherwise. A class
        is built with the ``encoder__*`` arguments; an instance is copied.
    n_way : int, default=5
        Classes per meta-training episode drawn by ``meta_fit(X, y)``. More
        ways than at test time often helps (the paper trains 60-way).
    n_shot : int, default=5
        Support examples per class in meta-training episodes.
    n_query : int, default=15
        Query examples per class in meta-training episodes.
    max_epochs : int, default=10
        Meta-training epochs.
    episodes_per_epoch : int, default=100
        Episodes per epoch.
    meta_batch_size : int, default=1
        Episodes whose losses are averaged for one optimizer step.
    meta_lr : float, default=1e-3
        Learning rate of the meta-optimizer.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Meta-optimizer; further arguments as ``optimizer__*``.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks for meta-training, e.g. ``EarlyStopping``,
        ``Checkpoint``, ``LRScheduler``. They are copied at ``meta_fit``.
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
        Seed of the initial weights and of the episodes drawn.
    **kwargs
        ``encoder__*`` and ``optimizer__*`` arguments.

    Attributes
    ----------
    encoder_ : torch.nn.Module
        The (meta-)trained encoder.
    classes_ : ndarray of shape (n_classes,)
        Labels of the task adapted to by ``fit``.
    prototypes_ : torch.Tensor of shape (n_classes, embedding_dim)
        Mean support embedding of each class of that task.
    history_ : skorch.history.History
        Per-epoch ``train_loss``, ``train_acc`` (and ``valid_*`` with
        validation data) of meta-training; only after ``meta_fit``.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Input column names, when given as a DataFrame with string columns.

    See Also
    --------
    sklearn.neighbors.NearestCentroid : the same rule on raw features.
    sklmeta.EpisodeSampler : episodes for ``meta_fit``.

    Notes
    -----
    The encoder's batch norm uses the statistics of each training episode
    during meta-training and its running statistics in ``fit`` and
    ``predict``, so predictions do not depend on which queries are asked
    together. Without ``meta_fit``, ``fit`` uses a freshly initialised
    encoder: nearest class mean in a random embedding.

    References
    ----------
    .. [1] J. Snell, K. Swersky and R. Zemel, "Prototypical Networks for
       Few-shot Learning", NeurIPS 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta import ProtoNetClassifier
    >>> rng = np.random.RandomState(0)
    >>> centers = rng.normal(scale=3.0, size=(20, 8))
    >>> y = np.repeat(np.arange(20), 20)
    >>> X = centers[y] + rng.normal(size=(400, 8))
    >>> clf = ProtoNetClassifier(encoder="mlp", max_epochs=2, episodes_per_epoch=20,
    ...                          verbose=0, random_state=0)
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
        n_query=15,
        max_epochs=10,
        episodes_per_epoch=100,
        meta_batch_size=1,
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

    _adapted_attributes = ("classes_", "prototypes_")

    def _initialize_modules(self, n_features, device):
        encoder = build_encoder(self.encoder, n_features, self._routed_params("encoder__"))
        self.encoder_ = encoder.to(device)

    def _episode_loss(self, episode):
        n_support = len(episode.y_support)
        # one pass over support and query: batch norm sees the whole episode
        z = self.encoder_(torch.cat([episode.x_support, episode.x_query]))
        prototypes = class_means(z[:n_support], episode.y_support, episode.n_way)
        logits = -squared_euclidean(z[n_support:], prototypes)  # Snell et al., eq. 2
        loss = F.cross_entropy(logits, episode.y_query)
        accuracy = (logits.argmax(dim=1) == episode.y_query).float().mean().item()
        return loss, accuracy

    @torch.no_grad()
    def _embed(self, X):
        self.encoder_.eval()
        return torch.cat([self.encoder_(chunk) for chunk in X.split(2048)])

    def _adapt(self, X, y):
        self.prototypes_ = class_means(self._embed(X), y, len(self.classes_))

    def _forward_adapted(self, X):
        # float64 distances: float32 products vary with the batch size
        return -squared_euclidean(self._embed(X).double(), self.prototypes_.double())

    def predict_proba(self, X):
        """Class probabilities: softmax over negative squared distances.

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
        """Label of the nearest prototype.

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

