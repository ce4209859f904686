"""Feature hallucination (Wang, Girshick, Hebert and Hariharan, 2018).

A generator maps the embedding of a support example and a noise vector to
an extra embedding of the same class. It is meta-trained end to end with
the metric learner, by the learner's own loss: the hallucinated examples
need not look real, only help classification.
"""

import copy

import torch
from torch import nn

from ..encoders import output_dim
from ..utils._validation import check_int

__all__ = ["FeatureHallucinator", "HallucinationMixin", "hallucination_params"]


class FeatureHallucinator(nn.Module):
    """Generator of extra embeddings of a class from one of its examples.

    ``forward(seeds, noise)`` returns ``seeds + G([seeds, noise])``, where
    ``G`` is a three-layer perceptron with leaky ReLUs (Wang et al., 2018,
    Sec. 4). The last layer starts at zero, so before meta-training the
    hallucinated examples are copies of their seeds and cannot hurt.

    Parameters
    ----------
    embedding_dim : int
        Width of the embeddings, given by the learner.
    noise_dim : int, default=None
        Width of the noise vector; None uses ``embedding_dim``.
    hidden_size : int, default=None
        Width of the hidden layers; None uses ``embedding_dim``.

    Examples
    --------
    >>> import torch
    >>> from sklmeta.generative import FeatureHallucinator
    >>> generator = FeatureHallucinator(8)
    >>> generator(torch.ones(3, 8)).shape
    torch.Size([3, 8])
    """

    def __init__(self, embedding_dim, noise_dim=None, hidden_size=None):
        super().__init__()
        self.noise_dim = noise_dim or embedding_dim
        hidden = hidden_size or embedding_dim
        self.net = nn.Sequential(
            nn.Linear(embedding_dim + self.noise_dim, hidden),
            nn.LeakyReLU(0.1),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.1),
            nn.Linear(hidden, embedding_dim),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, seeds, noise=None):
        if noise is None:
            noise = torch.randn(len(seeds), self.noise_dim, device=seeds.device,
                                dtype=seeds.dtype)
        return seeds + self.net(torch.cat([seeds, noise], dim=1))


def hallucination_params():
    """Docstring of ``n_hallucinated`` and ``hallucinator``."""
    return """    n_hallucinated : int, default=0
        Extra examples per class that a generator hallucinates in the
        embedding space from the support examples, at meta-training and in
        ``fit`` (Wang et al., 2018). 0 turns hallucination off; what it
        adds is measured under :ref:`generative-benchmarks`.
    hallucinator : 'mlp', torch.nn.Module class or instance, default='mlp'
        The generator, with ``n_hallucinated > 0``: called as
        ``hallucinator(seeds)`` on a batch of support embeddings, it returns
        as many new embeddings. ``'mlp'`` is a
        :class:`~sklmeta.generative.FeatureHallucinator`; a class is built
        as ``hallucinator(embedding_dim, **hallucinator__*)``; an instance
        is copied. It is meta-trained with the encoder by the learner's loss
        and never changed by ``fit``.
"""


class HallucinationMixin:
    """Adds a meta-trained feature hallucinator to a metric learner.

    The learner calls :meth:`_build_hallucinator` once its encoder is built,
    and :meth:`_with_hallucinations` on the support embeddings of every
    episode and of every support set given to ``fit``.
    """

    def _validate_hallucination(self):
        check_int(self.n_hallucinated, "n_hallucinated", min_value=0)
        generator = self.hallucinator
        if not (generator == "mlp" if isinstance(generator, str)
                else isinstance(generator, nn.Module)
                or isinstance(generator, type) and issubclass(generator, nn.Module)):
            raise TypeError(
                "hallucinator must be 'mlp' or a torch.nn.Module class or instance; "
                f"got {generator!r}."
            )
        params = self._routed_params("hallucinator__")
        if params and isinstance(generator, nn.Module):
            raise ValueError(
                f"hallucinator__* arguments {sorted(params)} build a hallucinator, but "
                "hallucinator is an instance; pass its class instead."
            )

    def _initialize_from(self, source, n_features, device):
        # a source without a hallucinator (a plain learner, a pretrained
        # encoder) gives the encoder; the hallucinator starts afresh
        super()._initialize_from(source, n_features, device)
        if getattr(self, "hallucinator_", None) is None:
            self.hallucinator_ = self._build_hallucinator(n_features, device)

    def _build_hallucinator(self, n_features, device):
        if self.n_hallucinated == 0:
            return None
        if isinstance(self.hallucinator, nn.Module):
            return copy.deepcopy(self.hallucinator).to(device)
        dim = output_dim(self.encoder_, n_features, device)
        cls = FeatureHallucinator if isinstance(self.hallucinator, str) else self.hallucinator
        return cls(dim, **self._routed_params("hallucinator__")).to(device)

    def _with_hallucinations(self, z, y, n_classes):
        """Support embeddings and labels, with ``n_hallucinated`` more per class.

        Each hallucinated example grows from a support example of its class
        drawn at random (torch's generator, seeded by the caller).
        """
        if getattr(self, "hallucinator_", None) is None:
            return z, y
        labels = torch.arange(n_classes, device=y.device).repeat_interleave(self.n_hallucinated)
        counts = torch.bincount(y, minlength=n_classes)
        order = torch.argsort(y, stable=True)
        starts = torch.cumsum(counts, 0) - counts
        offsets = (torch.rand(len(labels), device=y.device) * counts[labels]).long()
        seeds = z[order[starts[labels] + offsets]]
        fake = self.hallucinator_(seeds)
        return torch.cat([z, fake.to(z.dtype)]), torch.cat([y, labels])
