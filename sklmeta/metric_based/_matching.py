"""Matching Networks (Vinyals et al., 2016)."""

import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from torch import nn

from .._docstrings import episode_params, fitted_attributes, meta_training_params
from .._torch import embed_in_chunks, random_permutation
from ..base import BaseMetaEstimator, ClassifierOutputMixin
from ..encoders import output_dim
from ..generative._hallucinator import HallucinationMixin, hallucination_params
from ..utils._validation import check_bool, check_float, check_int

__all__ = ["MatchingNetClassifier"]

# Cosine similarity guards against all-zero embeddings with this floor.
_EPS = 1e-8


def _cosine(a, b):
    """Pairwise cosine similarities between rows of ``a`` and ``b``."""
    return F.normalize(a, dim=1, eps=_EPS) @ F.normalize(b, dim=1, eps=_EPS).T


class FullContextEmbedding(nn.Module):
    """The full context embeddings of Matching Networks.

    ``embed_support`` runs a bidirectional LSTM over the support embeddings
    and adds both directions to them, ``g(x_i, S)``; ``embed_queries``
    refines each query embedding ``f'(x)`` with ``n_steps`` steps of an LSTM
    that reads the support set by attention, ``f(x, S)`` (Vinyals et al.,
    2016, Appendix A). Queries never interact with one another.
    """

    def __init__(self, embedding_dim, n_steps):
        super().__init__()
        self.n_steps = n_steps
        self.support_lstm = nn.LSTM(embedding_dim, embedding_dim, bidirectional=True)
        # the read-out r enters the cell as input, next to f'(x); the gates are
        # linear in [h, r], so this is the paper's cell with [h, r] as state
        self.query_cell = nn.LSTMCell(2 * embedding_dim, embedding_dim)

    def embed_support(self, support):
        out, _ = self.support_lstm(support.unsqueeze(1))
        dim = support.shape[1]
        forward, backward = out[:, 0, :dim], out[:, 0, dim:]
        return support + forward + backward  # g(x_i, S), Vinyals et al., App. A.2

    def embed_queries(self, queries, support):
        h = queries
        c = torch.zeros_like(queries)
        read = torch.zeros_like(queries)
        for _ in range(self.n_steps):
            h_hat, c = self.query_cell(torch.cat([queries, read], dim=1), (h, c))
            h = h_hat + queries  # f(x, S), Vinyals et al., App. A.1
            attention = torch.softmax(h @ support.T, dim=1)
            read = attention @ support
        return h


class MatchingNetClassifier(HallucinationMixin, ClassifierOutputMixin, ClassifierMixin,
                            BaseMetaEstimator):
    __doc__ = """Matching Networks: attention over the support set in a learned embedding.

    A query is compared with every support example by the cosine similarity
    of their embeddings; a softmax over the support examples turns the
    similarities into attention weights, and the probability of a class is
    the attention its support examples receive,
    ``P(y | x, S) = sum_i a(x, x_i) y_i``. Meta-training fits the encoder on
    episodes by the log-loss of that prediction (Vinyals et al., 2016).
    With ``fce=True``, full context embeddings condition the support
    embeddings on the whole support set (a bidirectional LSTM) and each
    query's embedding on the support set (an attention LSTM).

    Parameters
    ----------
    encoder : {'auto', 'conv4', 'mlp', 'text'}, torch.nn.Module class or instance, \
            default='auto'
        The embedding network. ``'conv4'`` is the four-block convolutional
        network of the paper (square single-channel images are inferred,
        e.g. 784 features as 1x28x28; else pass ``encoder__input_shape``);
        ``'mlp'`` a perceptron for tabular data; ``'text'`` a
        :class:`~sklmeta.encoders.TextEncoder` for n-gram features of texts;
        ``'auto'`` picks ``'conv4'`` for square images of side 16 or more and
        ``'mlp'`` otherwise. A class is built with the ``encoder__*``
        arguments; an instance is copied.
    fce : bool, default=False
        Whether to use full context embeddings. The bidirectional LSTM over
        the support set makes predictions depend on the order of the
        support examples; training episodes are shuffled so that it learns
        not to rely on any particular order.
    n_fce_steps : int, default=5
        Steps of the attention LSTM that embeds each query, with
        ``fce=True``.
    temperature : float, default=0.1
        The softmax runs over cosine similarities divided by this. 1.0 is
        the paper's plain cosine; since cosines lie in [-1, 1], its
        attention stays soft and its gradients are small; 0.1 sharpens the
        attention and meta-trains much faster. Changing it with
        ``set_params`` drops the meta-learned state.
""" + hallucination_params() + episode_params(n_way=20, n_shot=1, n_query=5, way_note=(
    " Matching Networks fit their meta-training classes closely: many-way"
    " 1-shot episodes train an embedding that serves 1- and 5-shot tasks.")
) + meta_training_params(lr_schedule="'cosine'") + """
    Attributes
    ----------
    encoder_ : torch.nn.Module
        The (meta-)trained encoder.
    fce_ : FullContextEmbedding or None
        The (meta-)trained full context embedding LSTMs; None when
        ``fce=False``.
    hallucinator_ : torch.nn.Module or None
        The (meta-)trained feature hallucinator; None when
        ``n_hallucinated=0``.
    module_ : torch.nn.ModuleDict
        Every meta-learned module: ``'encoder'``, ``'fce'`` with
        ``fce=True`` and ``'hallucinator'`` with ``n_hallucinated > 0``.
    classes_ : ndarray of shape (n_classes,)
        Labels of the task adapted to by ``fit``.
    support_embeddings_ : torch.Tensor of shape (n_support, embedding_dim)
        Embeddings ``g(x_i)`` of the support examples of that task, then of
        the hallucinated ones.
    support_labels_ : torch.Tensor of shape (n_support,)
        Their labels, as indices into ``classes_``.
""" + fitted_attributes() + """
    See Also
    --------
    ProtoNetClassifier : one prototype per class instead of attention.
    sklearn.neighbors.KNeighborsClassifier : a hard-attention counterpart.

    Notes
    -----
    By default the attention is a softmax over plain cosine similarities, as
    in the paper, so probabilities are smooth: the predicted class is right long
    before its probability nears one. In ``fit`` and ``predict`` the
    encoder's batch norm uses running statistics and each query is
    embedded and attended on its own, so predictions do not depend on
    which queries are asked together. Without FCE they do not depend on the
    order of the support examples either; with FCE they do (the support
    LSTM reads them in sequence). Without ``meta_fit``, ``fit`` uses a
    freshly initialised encoder.

    What these defaults reach on Omniglot in a given time is listed under
    :ref:`defaults-table`.

    References
    ----------
    .. [1] O. Vinyals, C. Blundell, T. Lillicrap, K. Kavukcuoglu and
       D. Wierstra, "Matching Networks for One Shot Learning", NeurIPS 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklmeta.metric_based import MatchingNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MatchingNetClassifier(encoder="mlp", max_epochs=2, verbose=0,
    ...                             random_state=0).meta_fit(X[y < 6], y[y < 6])
    >>> clf = clf.fit(X[y >= 6][:20], y[y >= 6][:20])  # digits 6 to 9, new
    >>> clf.predict_proba(X[y >= 6][20:22]).sum(axis=1)  # one row per query
    array([1., 1.])
    """

    _meta_attributes = BaseMetaEstimator._meta_attributes + ("fce_", "hallucinator_")
    _query_shardable = True
    _optional_meta_attributes = ("hallucinator_",)
    _routed_prefixes = BaseMetaEstimator._routed_prefixes + ("hallucinator__",)
    _outputs_proba = True
    _adapted_attributes = ("classes_", "support_embeddings_", "support_labels_")

    def __init__(self, encoder="auto", *, fce=False, n_fce_steps=5, temperature=0.1,
                 n_hallucinated=0, hallucinator="mlp", n_way=20, n_shot=1, n_query=5, max_epochs=10, max_time=None,
                 episodes_per_epoch=100, meta_batch_size=1, meta_lr=1e-3,
                 optimizer=torch.optim.Adam, lr_schedule="cosine", init_from=None,
                 callbacks=None, n_val_episodes=100, warm_start=False, device="auto",
                 verbose=1, random_state=None, **kwargs):
        self._store_init_params(locals())

    def _validate_params(self):
        device = super()._validate_params()
        check_bool(self.fce, "fce")
        check_int(self.n_fce_steps, "n_fce_steps", min_value=1)
        check_float(self.temperature, "temperature", min_value=0.0, strict_min=True)
        self._validate_hallucination()
        return device

    @property
    def module_(self):
        """Encoder and FCE LSTMs together: every meta-learned parameter."""
        modules = {"encoder": self.encoder_}
        if self.fce_ is not None:
            modules["fce"] = self.fce_
        if getattr(self, "hallucinator_", None) is not None:
            modules["hallucinator"] = self.hallucinator_
        return nn.ModuleDict(modules)

    def _initialize_modules(self, n_features, device):
        self.encoder_ = self._build_encoder(n_features, device)
        self.fce_ = None
        if self.fce:
            dim = output_dim(self.encoder_, n_features, device)
            self.fce_ = FullContextEmbedding(dim, self.n_fce_steps).to(device)
        self.hallucinator_ = self._build_hallucinator(n_features, device)

    def _attention_proba(self, queries, support, support_labels, n_classes):
        """``P(y | x, S)`` for each query row (Vinyals et al., eq. 1)."""
        if self.fce_ is not None:
            support = self.fce_.embed_support(support)
            queries = self.fce_.embed_queries(queries, support)
        attention = torch.softmax(_cosine(queries, support) / self.temperature, dim=1)  # eq. 2
        proba = attention.new_zeros(len(queries), n_classes)
        return proba.index_add_(1, support_labels, attention)

    def _episode_loss(self, episode):
        n_support = len(episode.y_support)
        z = self.encoder_(torch.cat([episode.x_support, episode.x_query]))
        support, labels = self._with_hallucinations(z[:n_support], episode.y_support,
                                                    episode.n_way)
        if self.fce_ is not None:
            order = random_permutation(len(labels), support.device)
            support, labels = support[order], labels[order]
        proba = self._attention_proba(z[n_support:], support, labels, episode.n_way)
        loss = F.nll_loss(torch.log(proba.clamp_min(1e-12)), episode.y_query)
        accuracy = (proba.argmax(dim=1) == episode.y_query).float().mean().item()
        return loss, accuracy

    @torch.no_grad()
    def _adapt(self, X, y):
        support, y = self._with_hallucinations(embed_in_chunks(self.encoder_, X), y,
                                               len(self.classes_))
        if self.fce_ is not None:
            self.fce_.eval()
            with torch.no_grad():
                support = self.fce_.embed_support(support)
        self.support_embeddings_ = support
        self.support_labels_ = y

    @torch.no_grad()
    def _forward_adapted(self, X):
        queries = embed_in_chunks(self.encoder_, X)
        support = self.support_embeddings_
        if self.fce_ is not None:
            queries = self.fce_.embed_queries(queries, support)
        # float64 similarities: float32 products vary with the batch size
        similarity = _cosine(queries.double(), support.double())
        attention = torch.softmax(similarity / self.temperature, dim=1)
        proba = attention.new_zeros(len(queries), len(self.classes_))
        return proba.index_add_(1, self.support_labels_, attention)
