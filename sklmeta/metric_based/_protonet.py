"""Prototypical Networks (Snell et al., 2017)."""

import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from torch import nn

from .._docstrings import encoder_param, episode_params, fitted_attributes, meta_training_params
from .._torch import embed_in_chunks
from ..base import BaseMetaEstimator, ClassifierOutputMixin
from ..generative._hallucinator import HallucinationMixin, hallucination_params
from ._distances import class_means, prototypical_logits, squared_euclidean

__all__ = ["ProtoNetClassifier"]


_MORE_WAYS = (" More ways than at test time train a sharper embedding (the paper"
              " trains 60-way).")

_PARAMETERS = f"""
    Parameters
    ----------
{encoder_param()}{hallucination_params()}\
{episode_params(n_way=20, n_shot=1, n_query=5, way_note=_MORE_WAYS)}\
{meta_training_params(lr_schedule="'cosine'")}
    Attributes
    ----------
    encoder_ : torch.nn.Module
        The (meta-)trained encoder.
    classes_ : ndarray of shape (n_classes,)
        Labels of the task adapted to by ``fit``.
    prototypes_ : torch.Tensor of shape (n_classes, embedding_dim)
        Mean support embedding of each class of that task, hallucinated
        examples included.
    hallucinator_ : torch.nn.Module or None
        The (meta-)trained feature hallucinator; None when
        ``n_hallucinated=0``.
{fitted_attributes()}"""


class ProtoNetClassifier(HallucinationMixin, ClassifierOutputMixin, ClassifierMixin,
                         BaseMetaEstimator):
    __doc__ = """Prototypical Networks: nearest class mean in a meta-learned embedding.

    An encoder maps inputs to an embedding; each class of a task is
    represented by the mean embedding of its support examples, its
    *prototype*, and a query is classified by a softmax over negative squared
    Euclidean distances to the prototypes. Meta-training fits the encoder on
    episodes so that this works on classes never seen (Snell et al., 2017).

""" + _PARAMETERS + """
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

    The defaults are the recipe that meta-trains fastest on a CPU among
    those tried on Omniglot: 20-way 1-shot episodes with 5 queries per
    class and a cosine-annealed rate; the model serves 5-shot tasks as
    well as 1-shot ones. Give ``max_time`` to meta-train for a
    set number of seconds; what the defaults reach on Omniglot in a given
    time is listed under :ref:`defaults-table`.

    References
    ----------
    .. [1] J. Snell, K. Swersky and R. Zemel, "Prototypical Networks for
       Few-shot Learning", NeurIPS 2017.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklmeta import ProtoNetClassifier
    >>> X, y = make_blobs(n_samples=400, centers=20, n_features=8, random_state=0)
    >>> clf = ProtoNetClassifier(encoder="mlp", max_epochs=2, verbose=0, random_state=0)
    >>> clf = clf.meta_fit(X[y < 15], y[y < 15])  # classes 15 to 19 stay unseen
    >>> new = y >= 15
    >>> clf.fit(X[new][:25], y[new][:25]).score(X[new][25:], y[new][25:])
    1.0
    """

    def __init__(self, encoder="auto", *, n_hallucinated=0, hallucinator="mlp", n_way=20,
                 n_shot=1, n_query=5, max_epochs=10, max_time=None, episodes_per_epoch=100,
                 meta_batch_size=1, meta_lr=1e-3, optimizer=torch.optim.Adam,
                 lr_schedule="cosine", init_from=None, callbacks=None, n_val_episodes=100,
                 warm_start=False, device="auto", verbose=1, random_state=None, **kwargs):
        self._store_init_params(locals())

    _adapted_attributes = ("classes_", "prototypes_")
    _meta_attributes = BaseMetaEstimator._meta_attributes + ("hallucinator_",)
    _query_shardable = True
    _optional_meta_attributes = ("hallucinator_",)
    _routed_prefixes = BaseMetaEstimator._routed_prefixes + ("hallucinator__",)

    def _validate_params(self):
        device = super()._validate_params()
        self._validate_hallucination()
        return device

    @property
    def module_(self):
        """The encoder, with the hallucinator when there is one."""
        if getattr(self, "hallucinator_", None) is None:
            return self.encoder_
        return nn.ModuleDict({"encoder": self.encoder_, "hallucinator": self.hallucinator_})

    def _initialize_modules(self, n_features, device):
        self.encoder_ = self._build_encoder(n_features, device)
        self.hallucinator_ = self._build_hallucinator(n_features, device)

    def _episode_loss(self, episode):
        n_support = len(episode.y_support)
        # one pass over support and query: batch norm sees the whole episode
        z = self.encoder_(torch.cat([episode.x_support, episode.x_query]))
        support, labels = self._with_hallucinations(z[:n_support], episode.y_support,
                                                    episode.n_way)
        logits = prototypical_logits(support, labels, z[n_support:], episode.n_way)
        loss = F.cross_entropy(logits, episode.y_query)
        accuracy = (logits.argmax(dim=1) == episode.y_query).float().mean().item()
        return loss, accuracy

    @torch.no_grad()
    def _adapt(self, X, y):
        z, y = self._with_hallucinations(embed_in_chunks(self.encoder_, X), y,
                                         len(self.classes_))
        self.prototypes_ = class_means(z, y, len(self.classes_))

    def _forward_adapted(self, X):
        # float64 distances: float32 products vary with the batch size
        z = embed_in_chunks(self.encoder_, X).double()
        return -squared_euclidean(z, self.prototypes_.double())
