"""A learner written on sklmeta's base class, the example of the page
docs/writing_a_learner.rst (which includes this file)."""

import numbers

import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin

from sklmeta.base import BaseMetaEstimator, ClassifierOutputMixin


class Temperature(torch.nn.Module):
    """Multiplies cosine similarities by a learned scale, kept as its log."""

    def __init__(self, scale):
        super().__init__()
        self.log_scale = torch.nn.Parameter(torch.tensor(float(scale)).log())

    def forward(self, similarities):
        return similarities * self.log_scale.exp()


class CosineCentroidClassifier(ClassifierOutputMixin, ClassifierMixin, BaseMetaEstimator):
    """Nearest class mean by cosine similarity in a meta-learned embedding.

    A Prototypical Network variant: a query's logits are its cosine
    similarities to the class means of the support embeddings, times a
    scale meta-learned with the encoder. The parameters other than
    ``initial_scale`` are those of :class:`sklmeta.ProtoNetClassifier`.

    Parameters
    ----------
    initial_scale : float, default=10.0
        The scale before meta-training; it must be positive.

    Attributes
    ----------
    encoder_ : torch.nn.Module
        The (meta-)trained encoder.
    temperature_ : Temperature
        The (meta-)trained scale of the similarities.
    classes_ : ndarray of shape (n_classes,)
        Labels of the task adapted to by ``fit``.
    centroids_ : torch.Tensor of shape (n_classes, embedding_dim)
        Unit-length class means of the support embeddings of that task.
    """

    _meta_attributes = BaseMetaEstimator._meta_attributes + ("temperature_",)
    _adapted_attributes = ("classes_", "centroids_")

    def __init__(self, encoder="auto", *, n_way=5, n_shot=5, n_query=15, max_epochs=10, max_time=None,
                 episodes_per_epoch=100, meta_batch_size=1, meta_lr=1e-3,
                 optimizer=torch.optim.Adam, lr_schedule=None, init_from=None,
                 callbacks=None, n_val_episodes=100, warm_start=False, device="auto",
                 verbose=1, random_state=None, initial_scale=10.0, **kwargs):
        self._store_init_params(locals())  # each argument as given, and the routed **kwargs

    def _validate_params(self):
        if not (isinstance(self.initial_scale, numbers.Real) and self.initial_scale > 0):
            raise ValueError(f"initial_scale must be positive; got {self.initial_scale!r}.")
        return super()._validate_params()

    @property
    def module_(self):
        return torch.nn.ModuleDict({"encoder": self.encoder_,
                                    "temperature": self.temperature_})

    def _initialize_modules(self, n_features, device):
        self.encoder_ = self._build_encoder(n_features, device)
        self.temperature_ = Temperature(self.initial_scale).to(device)

    def _centroids(self, z, y, n_classes):
        # the direction of a class mean is that of the class sum
        sums = z.new_zeros(n_classes, z.shape[1]).index_add_(0, y, z)
        return F.normalize(sums, dim=1)

    def _episode_loss(self, episode):
        n_support = len(episode.y_support)
        z = self.encoder_(torch.cat([episode.x_support, episode.x_query]))
        centroids = self._centroids(z[:n_support], episode.y_support, episode.n_way)
        logits = self.temperature_(F.normalize(z[n_support:], dim=1) @ centroids.T)
        loss = F.cross_entropy(logits, episode.y_query)
        accuracy = (logits.argmax(dim=1) == episode.y_query).float().mean().item()
        return loss, accuracy

    @torch.no_grad()
    def _adapt(self, X, y):
        self.module_.eval()
        z = self.encoder_(X).double()
        self.centroids_ = self._centroids(z, y, len(self.classes_))

    @torch.no_grad()
    def _forward_adapted(self, X):
        # float64 similarities: float32 products vary with the batch size
        z = F.normalize(self.encoder_(X).double(), dim=1)
        return self.temperature_(z @ self.centroids_.T)
