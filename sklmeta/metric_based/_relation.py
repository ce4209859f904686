"""Relation Networks (Sung et al., 2018)."""

import functools

import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from torch import nn

from .._docstrings import episode_params, fitted_attributes, meta_training_params
from .._torch import embed_in_chunks
from ..base import BaseMetaEstimator, ClassifierOutputMixin
from ..encoders import Conv4, build_encoder, output_dim
from ..utils._validation import check_int, check_option
from ._distances import class_means

__all__ = ["RelationNetClassifier"]

# Query rows scored at once against every class: bounds the pair tensor.
_PAIR_CHUNK = 256


class _PairwiseFirstLayer(nn.Module):
    """The first layer of a relation module, applied to every (query, class) pair.

    The layer is linear in the concatenation ``[class, query]``, so it equals
    ``W_c class + W_q query + b``: each half is computed once per row and the
    pairs are formed by broadcasting the sum, which is exact and costs
    ``n_query + n_class`` evaluations instead of ``n_query * n_class``.
    """

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, queries, classes):
        layer = self.layer
        half = layer.weight.shape[1] // 2
        w_class, w_query = layer.weight[:, :half], layer.weight[:, half:]
        if isinstance(layer, nn.Linear):
            on_class = F.linear(classes, w_class, layer.bias)
            on_query = F.linear(queries, w_query)
        else:
            on_class = F.conv2d(classes, w_class, layer.bias, padding=layer.padding)
            on_query = F.conv2d(queries, w_query, padding=layer.padding)
        pairs = on_query.unsqueeze(1) + on_class.unsqueeze(0)
        return pairs.flatten(0, 1)


class MLPRelation(nn.Module):
    """Relation module on concatenated flat embeddings.

    Two ReLU layers of the embedding's width, a ReLU layer of
    ``hidden_size`` units and one sigmoid output: the flat counterpart of
    the paper's two convolution blocks and two fully connected layers.
    """

    def __init__(self, embedding_dim, hidden_size=8):
        super().__init__()
        self.first = _PairwiseFirstLayer(nn.Linear(2 * embedding_dim, embedding_dim))
        self.rest = nn.Sequential(
            nn.ReLU(),
            nn.Linear(embedding_dim, embedding_dim),
            nn.ReLU(),
            nn.Linear(embedding_dim, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, 1),
        )

    def forward(self, queries, classes):
        """Relation logits of shape ``(n_queries, n_classes)``."""
        scores = self.rest(self.first(queries, classes))
        return scores.view(len(queries), len(classes))


class ConvRelation(nn.Module):
    """The paper's relation module on concatenated feature maps.

    Two blocks of 3x3 convolution, batch norm, ReLU and 2x2 max-pooling over
    the channel-wise concatenation of a class's and a query's feature maps,
    then a ReLU layer of ``hidden_size`` units and one sigmoid output
    (Sung et al., 2018, Fig. 2).
    """

    def __init__(self, feature_shape, hidden_size=8):
        super().__init__()
        channels, height, width = feature_shape
        self.feature_shape = tuple(feature_shape)
        self.first = _PairwiseFirstLayer(nn.Conv2d(2 * channels, channels, 3, padding=1))
        self.rest = nn.Sequential(
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(channels * (height // 4) * (width // 4), hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, 1),
        )

    def forward(self, queries, classes):
        """Relation logits of shape ``(n_queries, n_classes)``."""
        queries = queries.reshape(len(queries), *self.feature_shape)
        classes = classes.reshape(len(classes), *self.feature_shape)
        scores = self.rest(self.first(queries, classes))
        return scores.view(len(queries), len(classes))


def _conv_feature_shape(encoder, n_features, device):
    """``(channels, height, width)`` of a Conv4 encoder's last feature map."""
    if not isinstance(encoder, Conv4):
        return None
    was_training = encoder.training
    encoder.eval()
    with torch.no_grad():
        maps = encoder.blocks(torch.zeros(1, *encoder.input_shape, device=device))
    encoder.train(was_training)
    return tuple(maps.shape[1:])


class RelationNetClassifier(ClassifierOutputMixin, ClassifierMixin, BaseMetaEstimator):
    __doc__ = """Relation Networks: a learned module scores how well a query fits a class.

    An embedding module maps inputs to features; each class of a task is
    represented by the sum (or mean) of its support embeddings, and a
    *relation module*, meta-learned with the encoder, scores every (query,
    class) pair from their concatenated features with a number in [0, 1].
    The query takes the class of the highest relation score. Meta-training
    regresses the scores on one-hot targets with the mean squared error,
    as in the paper (Sung et al., 2018).

    Parameters
    ----------
    encoder : {'auto', 'conv4', 'mlp'}, torch.nn.Module class or instance, \
            default='auto'
        The embedding module. ``'conv4'`` is the paper's four-block
        convolutional embedding, pooled in its first two blocks only, which
        keeps 7x7 feature maps on 28x28 images for the convolutional
        relation module (``encoder__n_pooled_blocks=4`` pools in all four,
        as the other learners' ``'conv4'`` does);
        ``'mlp'`` a perceptron for tabular data; ``'auto'`` picks
        ``'conv4'`` for square images of side 16 or more and ``'mlp'``
        otherwise. A class is built with the ``encoder__*`` arguments; an
        instance is copied.
    relation_module : {'auto', 'conv', 'mlp'}, default='auto'
        ``'conv'`` is the paper's module, two convolution blocks and two
        fully connected layers on concatenated feature maps; it needs a
        :class:`~sklmeta.encoders.Conv4` encoder whose last feature map is at
        least 4x4. ``'mlp'`` scores concatenated flat embeddings with a
        perceptron, for any encoder. ``'auto'`` picks ``'conv'`` where it
        applies, else ``'mlp'``.
    relation_hidden_size : int or None, default=None
        Units of the relation module's last hidden layer. None uses 8 with
        the ``'conv'`` module, as in the paper, and the embedding width with
        the ``'mlp'`` one, where so narrow a layer often stalls training at
        a constant score.
    support_pooling : {'mean', 'sum'}, default='mean'
        How the support embeddings of a class are pooled into its
        representation: their mean keeps the scale the same for any number
        of shots, so one meta-trained model serves 1-shot and 5-shot tasks
        alike; the paper sums them, and trains one model per shot count (a
        model meta-trained with sums on 1-shot episodes fails on 5-shot
        tasks).
""" + episode_params(n_way=20, n_shot=1, n_query=5) + meta_training_params() + """
    Attributes
    ----------
    encoder_ : torch.nn.Module
        The (meta-)trained embedding module.
    relation_ : torch.nn.Module
        The (meta-)trained relation module, returning relation logits.
    module_ : torch.nn.ModuleDict
        Both modules, under ``'encoder'`` and ``'relation'``: every
        meta-learned parameter.
    classes_ : ndarray of shape (n_classes,)
        Labels of the task adapted to by ``fit``.
    class_features_ : torch.Tensor of shape (n_classes, embedding_dim)
        Pooled support embedding of each class of that task.
""" + fitted_attributes() + """
    See Also
    --------
    ProtoNetClassifier : a fixed distance instead of a learned relation.
    MatchingNetClassifier : attention over the support examples.

    Notes
    -----
    The relation scores of a query are independent sigmoid outputs, not a
    distribution; :meth:`predict_proba` divides them by their sum over the
    classes. Each pair is scored on its own in ``predict`` (batch norm uses
    running statistics), so predictions do not depend on which queries are
    asked together, the order of the support examples, or the class labels.
    The first layer of the relation module is linear in the concatenated
    pair, so it is evaluated once per query and once per class, then summed
    pairwise: the same result as concatenating, far cheaper. Without
    ``meta_fit`` the relation module is untrained, so ``fit`` alone
    classifies by the nearest class mean in the (untrained) embedding.

    What these defaults reach on Omniglot in a given time is listed under
    :ref:`defaults-table`.

    References
    ----------
    .. [1] F. Sung, Y. Yang, L. Zhang, T. Xiang, P. H. S. Torr and
       T. M. Hospedales, "Learning to Compare: Relation Network for Few-Shot
       Learning", CVPR 2018.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklmeta.metric_based import RelationNetClassifier
    >>> X, y = make_blobs(300, centers=15, random_state=1)
    >>> clf = RelationNetClassifier(encoder="mlp", max_epochs=3, verbose=0, random_state=0)
    >>> clf.meta_fit(X[y >= 5], y[y >= 5]).fit(X[y < 5][:20], y[y < 5][:20])
    RelationNetClassifier(...)
    >>> clf.classes_
    array([0, 1, 2, 3, 4])
    """

    _meta_attributes = BaseMetaEstimator._meta_attributes + ("relation_",)
    _adapted_attributes = ("classes_", "class_features_")

    def __init__(self, encoder="auto", *, relation_module="auto",
                 relation_hidden_size=None, support_pooling="mean", n_way=20, n_shot=1,
                 n_query=5, max_epochs=10, max_time=None, episodes_per_epoch=100,
                 meta_batch_size=1, meta_lr=1e-3, optimizer=torch.optim.Adam,
                 lr_schedule=None, init_from=None, callbacks=None, n_val_episodes=100,
                 warm_start=False, device="auto", verbose=1, random_state=None, **kwargs):
        self._store_init_params(locals())

    def _validate_params(self):
        device = super()._validate_params()
        check_option(self.relation_module, "relation_module", ("auto", "conv", "mlp"))
        check_int(self.relation_hidden_size, "relation_hidden_size", min_value=1,
                  allow_none=True)
        check_option(self.support_pooling, "support_pooling", ("sum", "mean"))
        return device

    @property
    def module_(self):
        """Encoder and relation module together: every meta-learned parameter."""
        return nn.ModuleDict({"encoder": self.encoder_, "relation": self.relation_})

    def _build_encoder(self, n_features, device):
        # the paper's embedding pools in its first two blocks only
        conv = functools.partial(Conv4, n_pooled_blocks=2)
        params = self._routed_params("encoder__")
        return build_encoder(self.encoder, n_features, params, conv=conv).to(device)

    def _initialize_modules(self, n_features, device):
        self.encoder_ = self._build_encoder(n_features, device)
        shape = _conv_feature_shape(self.encoder_, n_features, device)
        fits_conv = shape is not None and min(shape[1:]) >= 4
        if self.relation_module == "conv" and not fits_conv:
            raise ValueError(
                "relation_module='conv' needs a Conv4 encoder whose last feature map "
                f"is at least 4x4; got {type(self.encoder_).__name__} with feature "
                f"map {shape}. Pool in fewer encoder blocks (encoder__n_pooled_blocks=2 "
                "on 28x28 images) or use relation_module='mlp'."
            )
        if self.relation_module == "conv" or (self.relation_module == "auto" and fits_conv):
            relation = ConvRelation(shape, self.relation_hidden_size or 8)
        else:
            dim = output_dim(self.encoder_, n_features, device)
            relation = MLPRelation(dim, self.relation_hidden_size or dim)
        self.relation_ = relation.to(device)

    def _class_features(self, embeddings, labels, n_classes):
        if self.support_pooling == "mean":
            return class_means(embeddings, labels, n_classes)
        # K-shot: the sum of each class's support embeddings (Sung et al., Sec. 3)
        sums = embeddings.new_zeros(n_classes, embeddings.shape[1])
        return sums.index_add_(0, labels, embeddings)

    def _episode_loss(self, episode):
        n_support = len(episode.y_support)
        z = self.encoder_(torch.cat([episode.x_support, episode.x_query]))
        classes = self._class_features(z[:n_support], episode.y_support, episode.n_way)
        scores = torch.sigmoid(self.relation_(z[n_support:], classes))
        targets = F.one_hot(episode.y_query, episode.n_way).to(scores.dtype)
        loss = F.mse_loss(scores, targets)  # Sung et al., eq. 2
        accuracy = (scores.argmax(dim=1) == episode.y_query).float().mean().item()
        return loss, accuracy

    def _adapt(self, X, y):
        # pooled in float64, so the order of the support rows cannot change the sum
        z = embed_in_chunks(self.encoder_, X).double()
        if self._is_meta_fitted():
            features = self._class_features(z, y, len(self.classes_))
        else:
            features = class_means(z, y, len(self.classes_))
        self.class_features_ = features.float()

    @torch.no_grad()
    def _forward_adapted(self, X):
        z = embed_in_chunks(self.encoder_, X)
        if not self._is_meta_fitted():
            # an untrained relation module scores at random: nearest class mean
            return -torch.cdist(z.double(), self.class_features_.double()).pow(2)
        self.relation_.eval()
        logits = [self.relation_(chunk, self.class_features_) for chunk in z.split(_PAIR_CHUNK)]
        # log relation scores: their softmax is the scores divided by their sum
        return F.logsigmoid(torch.cat(logits).double())
