"""Siamese networks (Koch et al., 2015; Hadsell et al., 2006)."""

import math

import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._docstrings import episode_params, fitted_attributes, meta_training_params
from .._torch import embed_in_chunks, random_permutation, resolve_device, to_numpy, to_tensor
from ..base import BaseMetaEstimator, ClassifierOutputMixin
from ..encoders import output_dim
from ..utils._validation import check_float, check_option, validate_inputs
from ._distances import squared_euclidean

__all__ = ["SiameseClassifier"]


class WeightedL1Head(nn.Module):
    """``logit p(same) = b + sum_j alpha_j |h1_j - h2_j|`` (Koch et al., 2015).

    The weights start negative, so even an untrained network finds closer
    pairs more alike; training is free to change their signs.
    """

    def __init__(self, embedding_dim):
        super().__init__()
        self.linear = nn.Linear(embedding_dim, 1)
        with torch.no_grad():
            self.linear.weight.abs_().neg_()
            self.linear.bias.fill_(1.0)

    def forward(self, a, b):
        """Logits of shape ``(len(a), len(b))`` for every pair of rows."""
        return self._logits((a.unsqueeze(1) - b.unsqueeze(0)).abs())

    def paired(self, a, b):
        """Logits of shape ``(len(a),)`` for the pairs ``(a[i], b[i])``."""
        return self._logits((a - b).abs())

    def _logits(self, distance):
        # in the inputs' precision: float64 at prediction time
        weight = self.linear.weight.to(distance.dtype)
        bias = self.linear.bias.to(distance.dtype)
        return F.linear(distance, weight, bias).squeeze(-1)


class SiameseClassifier(ClassifierOutputMixin, ClassifierMixin, BaseMetaEstimator):
    __doc__ = """Siamese networks: a learned similarity between two inputs.

    One encoder embeds both inputs of a pair. With ``loss='bce'`` (Koch et
    al., 2015) a weighted L1 distance between the embeddings gives the
    probability that the pair shows the same class, trained by binary
    cross-entropy; with ``loss='contrastive'`` (Hadsell et al., 2006) the
    Euclidean distance is trained to be small for same-class pairs and at
    least ``margin`` for different-class ones. A new task is answered by
    the similarity of a query to the support examples: the most similar one
    (``aggregation='nearest'``) or the mean similarity to each class's
    examples (``aggregation='mean'``). :meth:`predict_pair` answers the
    verification question directly: do two inputs show the same class?

    Meta-training draws the pairs from the episodes of ``meta_fit``: all
    same-class pairs within an episode's support and query examples, and
    as many different-class pairs drawn at random from the episode.

    Parameters
    ----------
    encoder : {'auto', 'conv4', 'mlp', 'text'}, torch.nn.Module class or instance, \
            default='auto'
        The twin network shared by both inputs. ``'conv4'`` is the four-block
        convolutional network (square single-channel images are inferred,
        e.g. 784 features as 1x28x28; else pass ``encoder__input_shape``);
        ``'mlp'`` a perceptron for tabular data; ``'text'`` a
        :class:`~sklmeta.encoders.TextEncoder` for n-gram features of texts;
        ``'auto'`` picks ``'conv4'`` for square images of side 16 or more and
        ``'mlp'`` otherwise. A class is built with the ``encoder__*``
        arguments; an instance is copied.
    loss : {'bce', 'contrastive'}, default='bce'
        ``'bce'``: binary cross-entropy on the weighted L1 distance, as in
        Koch et al.; ``'contrastive'``: the contrastive loss with ``margin``.
    margin : float, default=1.0
        Distance beyond which different-class pairs cost nothing, with
        ``loss='contrastive'``; :meth:`predict_pair` calls pairs closer than
        half of it the same.
    aggregation : {'mean', 'nearest'}, default='mean'
        How the similarities of a query to a class's support examples
        become that class's score: their mean, or the largest. The same for
        one support example per class; with more, the mean is the steadier.
""" + episode_params(n_query=5) + meta_training_params(meta_lr="3e-3") + """
    Attributes
    ----------
    encoder_ : torch.nn.Module
        The (meta-)trained twin encoder.
    head_ : WeightedL1Head or None
        The learned weighting of the L1 distance with ``loss='bce'``; None
        with ``loss='contrastive'``.
    module_ : torch.nn.ModuleDict
        Every meta-learned module: ``'encoder'``, and ``'head'`` with
        ``loss='bce'``.
    classes_ : ndarray of shape (n_classes,)
        Labels of the task adapted to by ``fit``.
    support_embeddings_ : torch.Tensor of shape (n_support, embedding_dim)
        Embeddings of the support examples of that task.
    support_labels_ : torch.Tensor of shape (n_support,)
        Their labels, as indices into ``classes_``.
""" + fitted_attributes() + """
    See Also
    --------
    MatchingNetClassifier : trained on whole episodes, with attention.
    sklearn.neighbors.KNeighborsClassifier : nearest neighbour on raw features.

    Notes
    -----
    A class's score is a similarity on the scale of the loss: with
    ``'bce'`` the probability that the query and the support example show
    the same class, and :meth:`predict_proba` divides the class scores by
    their sum; with ``'contrastive'`` the negative Euclidean distance, and
    :meth:`predict_proba` is their softmax. Each query is scored on its own
    (batch norm uses running statistics), so predictions do not depend on
    which queries are asked together or on the order of the support
    examples. Without ``meta_fit``, ``fit`` uses a freshly initialised
    encoder.

    The default ``meta_lr`` suits images; on tabular data with the
    ``'mlp'`` encoder, a lower rate (e.g. ``1e-3``) often trains better.
    What these defaults reach on Omniglot in a given time is listed under
    :ref:`defaults-table`.

    References
    ----------
    .. [1] G. Koch, R. Zemel and R. Salakhutdinov, "Siamese Neural Networks
       for One-shot Image Recognition", ICML Deep Learning Workshop, 2015.
    .. [2] R. Hadsell, S. Chopra and Y. LeCun, "Dimensionality Reduction by
       Learning an Invariant Mapping", CVPR 2006.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklmeta.metric_based import SiameseClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16.0  # pixel intensities in [0, 1]
    >>> clf = SiameseClassifier(encoder="mlp", max_epochs=2, verbose=0, random_state=0)
    >>> clf = clf.meta_fit(X[y < 6], y[y < 6])
    >>> y[[1, 11, 7]]
    array([1, 1, 7])
    >>> clf.predict_pair(X[[1, 1]], X[[11, 7]])  # same digit? one seen, one not
    array([ True, False])
    """

    _meta_attributes = BaseMetaEstimator._meta_attributes + ("head_",)
    _adapted_attributes = ("classes_", "support_embeddings_", "support_labels_")
    _adaptation_params = BaseMetaEstimator._adaptation_params | {"aggregation"}

    def __init__(self, encoder="auto", *, loss="bce", margin=1.0, aggregation="mean",
                 n_way=5, n_shot=5, n_query=5, max_epochs=10, max_time=None,
                 episodes_per_epoch=100, meta_batch_size=1, meta_lr=3e-3,
                 optimizer=torch.optim.Adam, lr_schedule=None, init_from=None,
                 callbacks=None, n_val_episodes=100, warm_start=False, device="auto",
                 verbose=1, random_state=None, **kwargs):
        self._store_init_params(locals())

    def _validate_params(self):
        device = super()._validate_params()
        check_option(self.loss, "loss", ("bce", "contrastive"))
        check_float(self.margin, "margin", min_value=0.0, strict_min=True)
        check_option(self.aggregation, "aggregation", ("nearest", "mean"))
        return device

    @property
    def module_(self):
        """Encoder and L1 head together: every meta-learned parameter."""
        modules = {"encoder": self.encoder_}
        if self.head_ is not None:
            modules["head"] = self.head_
        return nn.ModuleDict(modules)

    def _initialize_modules(self, n_features, device):
        self.encoder_ = self._build_encoder(n_features, device)
        self.head_ = None
        if self.loss == "bce":
            dim = output_dim(self.encoder_, n_features, device)
            self.head_ = WeightedL1Head(dim).to(device)

    # ------------------------------------------------------------------
    # similarities
    # ------------------------------------------------------------------
    def _similarity(self, a, b):
        """Similarity of every row of ``a`` to every row of ``b``.

        Log-probabilities of "same class" with ``'bce'``, negative Euclidean
        distances with ``'contrastive'``: higher is more alike.
        """
        if self.head_ is not None:
            return F.logsigmoid(self.head_(a, b))
        return -squared_euclidean(a, b).clamp_min(0.0).sqrt()

    def _class_scores(self, similarity, labels, n_classes):
        """Per-class scores of each query from its similarities to the support."""
        same = labels.unsqueeze(0) == torch.arange(n_classes, device=labels.device).unsqueeze(1)
        if self.aggregation == "nearest":
            masked = similarity.unsqueeze(1).masked_fill(~same.unsqueeze(0), -math.inf)
            return masked.amax(dim=2)
        counts = same.sum(dim=1).clamp_min(1).to(similarity.dtype)
        if self.head_ is not None:
            # mean of the probabilities, kept in log space
            masked = similarity.unsqueeze(1).masked_fill(~same.unsqueeze(0), -math.inf)
            return torch.logsumexp(masked, dim=2) - counts.log()
        return (similarity @ same.to(similarity.dtype).T) / counts

    def _pair_loss(self, a, b, same):
        if self.head_ is not None:
            logits = self.head_.paired(a, b)
            return F.binary_cross_entropy_with_logits(logits, same.to(logits.dtype))
        distance = (a - b).pow(2).sum(dim=1).clamp_min(1e-12).sqrt()
        target = same.to(distance.dtype)
        # Hadsell et al., eq. 4
        loss = target * distance.pow(2) + (1 - target) * F.relu(self.margin - distance).pow(2)
        return 0.5 * loss.mean()

    def _episode_loss(self, episode):
        n_support = len(episode.y_support)
        z = self.encoder_(torch.cat([episode.x_support, episode.x_query]))
        labels = torch.cat([episode.y_support, episode.y_query])
        first, second = torch.triu_indices(len(z), len(z), offset=1, device=z.device)
        same = labels[first] == labels[second]
        positives = same.nonzero().squeeze(1)
        negatives = (~same).nonzero().squeeze(1)
        # balanced pairs: every same-class pair and as many others at random
        keep = random_permutation(len(negatives), z.device)[: len(positives)]
        pairs = torch.cat([positives, negatives[keep]])
        loss = self._pair_loss(z[first[pairs]], z[second[pairs]], same[pairs])
        with torch.no_grad():
            similarity = self._similarity(z[n_support:], z[:n_support])
            scores = self._class_scores(similarity, episode.y_support, episode.n_way)
            accuracy = (scores.argmax(dim=1) == episode.y_query).float().mean().item()
        return loss, accuracy

    # ------------------------------------------------------------------
    # adaptation and prediction
    # ------------------------------------------------------------------
    def _adapt(self, X, y):
        self.support_embeddings_ = embed_in_chunks(self.encoder_, X)
        self.support_labels_ = y

    @torch.no_grad()
    def _forward_adapted(self, X):
        queries = embed_in_chunks(self.encoder_, X).double()
        support = self.support_embeddings_.double()
        similarity = self._similarity(queries, support)
        return self._class_scores(similarity, self.support_labels_, len(self.classes_))

    def pair_score(self, X1, X2):
        """Similarity of each pair ``(X1[i], X2[i])``; symmetric in the two inputs.

        Needs a network: call ``meta_fit`` (or ``fit``) first.

        Parameters
        ----------
        X1 : array-like of shape (n_pairs, n_features)
            First inputs of the pairs.
        X2 : array-like of shape (n_pairs, n_features)
            Second inputs of the pairs.

        Returns
        -------
        score : ndarray of shape (n_pairs,)
            With ``loss='bce'`` the probability that the two inputs show the
            same class; with ``'contrastive'`` the negative Euclidean
            distance of their embeddings. Higher is more alike.
        """
        check_is_fitted(self, "encoder_")
        device = resolve_device(self.device)
        self._move_to(device)
        X1 = validate_inputs(self, X1, reset=False, name="X1")
        X2 = validate_inputs(self, X2, reset=False, name="X2")
        if len(X1) != len(X2):
            raise ValueError(
                f"X1 and X2 must hold the same number of rows to form pairs; got "
                f"{len(X1)} and {len(X2)}."
            )
        a = embed_in_chunks(self.encoder_, to_tensor(X1, device)).double()
        b = embed_in_chunks(self.encoder_, to_tensor(X2, device)).double()
        if self.head_ is None:
            return to_numpy(-(a - b).pow(2).sum(dim=1).sqrt())
        with torch.no_grad():
            return to_numpy(torch.sigmoid(self.head_.paired(a, b)))

    def predict_pair(self, X1, X2):
        """Whether each pair ``(X1[i], X2[i])`` shows the same class.

        The verification decision of a Siamese network: the same when the
        probability of "same class" exceeds 0.5 (``loss='bce'``) or when the
        embeddings are closer than ``margin / 2`` (``loss='contrastive'``).
        It is symmetric: swapping ``X1`` and ``X2`` gives the same answer.

        Parameters
        ----------
        X1 : array-like of shape (n_pairs, n_features)
            First inputs of the pairs.
        X2 : array-like of shape (n_pairs, n_features)
            Second inputs of the pairs.

        Returns
        -------
        same : ndarray of shape (n_pairs,) of bool
            True where the two inputs are judged to show the same class.
        """
        score = self.pair_score(X1, X2)
        threshold = 0.5 if self.loss == "bce" else -self.margin / 2
        return score > threshold
