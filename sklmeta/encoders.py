"""Backbone networks that embed inputs for the meta-learners.

Encoders are plain :class:`torch.nn.Module` objects that take a batch of
flat feature vectors, shape ``(n, n_features)``, as every scikit-learn
estimator receives them, and return one embedding per row. Images are
reshaped inside the encoder from its ``input_shape``. A backbone of your
own, with its weights and input transform, is a :class:`PretrainedEncoder`.
"""

import math
import numbers

import torch
from torch import nn

from ._pretrained import ImageInput, PretrainedEncoder

__all__ = ["Conv4", "ImageInput", "MLP", "PretrainedEncoder", "TextEncoder", "build_encoder",
           "infer_image_shape"]


def conv_block(in_channels, out_channels, pool=True):
    """3x3 convolution, batch norm, ReLU and (if ``pool``) 2x2 max-pooling."""
    layers = [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class Conv4(nn.Module):
    """The four-block convolutional encoder of the few-shot literature.

    Four blocks of 3x3 convolution with ``hidden_channels`` filters, batch
    norm, ReLU and 2x2 max-pooling, flattened (Vinyals et al., 2016; Snell
    et al., 2017). On 28x28 Omniglot images it embeds into 64 dimensions.

    Parameters
    ----------
    input_shape : tuple of int, default=(1, 28, 28)
        ``(channels, height, width)`` of one image; inputs are flat rows of
        ``channels * height * width`` features, reshaped here.
    hidden_channels : int, default=64
        Filters per convolution.
    n_blocks : int, default=4
        Number of blocks.
    n_pooled_blocks : int or None, default=None
        Only the first ``n_pooled_blocks`` blocks end in max-pooling; the
        later ones keep the size of their feature maps, as in the embedding
        of Relation Networks (Sung et al., 2018: four blocks, the first two
        pooled; 64x7x7 feature maps on 28x28 images here, where every
        convolution is padded). None pools in every block.

    Examples
    --------
    >>> import torch
    >>> from sklmeta.encoders import Conv4
    >>> Conv4()(torch.zeros(2, 784)).shape
    torch.Size([2, 64])
    >>> Conv4(n_pooled_blocks=2).blocks(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 64, 7, 7])
    """

    def __init__(self, input_shape=(1, 28, 28), hidden_channels=64, n_blocks=4,
                 n_pooled_blocks=None):
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(
                f"input_shape must be (channels, height, width), got {input_shape!r}."
            )
        if n_pooled_blocks is not None and (
                isinstance(n_pooled_blocks, bool)
                or not isinstance(n_pooled_blocks, numbers.Integral)):
            raise TypeError(
                f"n_pooled_blocks must be None or an int, got {n_pooled_blocks!r}."
            )
        if n_pooled_blocks is not None and not 0 <= n_pooled_blocks <= n_blocks:
            raise ValueError(
                f"n_pooled_blocks must be None or between 0 and n_blocks={n_blocks}, "
                f"got {n_pooled_blocks!r}."
            )
        self.input_shape = tuple(int(d) for d in input_shape)
        n_pooled = n_blocks if n_pooled_blocks is None else n_pooled_blocks
        channels = [self.input_shape[0]] + [hidden_channels] * n_blocks
        self.blocks = nn.Sequential(
            *(conv_block(c_in, c_out, pool=i < n_pooled)
              for i, (c_in, c_out) in enumerate(zip(channels, channels[1:])))
        )

    def forward(self, x):
        x = x.reshape(x.shape[0], *self.input_shape)
        return self.blocks(x).flatten(start_dim=1)


class MLP(nn.Module):
    """A multilayer perceptron encoder for tabular (or flattened) input.

    ``Linear -> ReLU`` for each hidden layer, then a linear layer to
    ``out_features``.

    Parameters
    ----------
    in_features : int
        Number of input features.
    hidden_layer_sizes : tuple of int, default=(64,)
        Widths of the hidden layers.
    out_features : int, default=64
        Embedding dimension.

    Examples
    --------
    >>> import torch
    >>> from sklmeta.encoders import MLP
    >>> MLP(in_features=4)(torch.zeros(3, 4)).shape
    torch.Size([3, 64])
    """

    def __init__(self, in_features, hidden_layer_sizes=(64,), out_features=64):
        super().__init__()
        sizes = [int(in_features), *map(int, hidden_layer_sizes)]
        layers = []
        for n_in, n_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], int(out_features)))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x.flatten(start_dim=1))


class TextEncoder(nn.Module):
    """An encoder for bag-of-n-gram text features that keeps their lexical match.

    Its output joins two parts: the input itself, its features reweighted by
    learned factors and L2-normalised, and a learned dense embedding of it,
    also normalised, whose weight is learned too; a learned scale sets the
    sharpness of the distances. At initialisation the first part gives the
    distances of a nearest centroid on the input features, the usual strong
    baseline for short texts, so meta-training starts from it and adds what
    transfers between tasks: which words matter most, and, as far as it
    helps, which differ in form but not in meaning. The learned embedding
    starts with a small weight because with few meta-training classes it
    fits them rather than what carries over to new ones (see
    :doc:`/benchmarks`). Give it :class:`sklmeta.text.TextFeatures` or any
    TF-IDF-like input.

    Parameters
    ----------
    in_features : int
        Number of input features.
    embedding_dim : int, default=256
        Width of the learned embedding.
    dropout : float, default=0.1
        Dropout on the input of the learned embedding during meta-training.
    embedding_weight : float, default=1e-3
        Initial weight of the learned embedding against the reweighted input.
    scale : float, default=4.0
        Initial length of the output vectors.

    Examples
    --------
    >>> import torch
    >>> from sklmeta.encoders import TextEncoder
    >>> TextEncoder(in_features=100, embedding_dim=16)(torch.rand(3, 100)).shape
    torch.Size([3, 116])
    """

    def __init__(self, in_features, embedding_dim=256, dropout=0.1, embedding_weight=1e-3,
                 scale=4.0):
        super().__init__()
        self.log_feature_weight = nn.Parameter(torch.zeros(int(in_features)))
        self.embed = nn.Linear(int(in_features), int(embedding_dim), bias=False)
        nn.init.normal_(self.embed.weight, std=0.01)
        self.dropout = nn.Dropout(float(dropout))
        if not embedding_weight > 0:
            raise ValueError(f"embedding_weight must be positive; got {embedding_weight!r}.")
        self.log_embedding_weight = nn.Parameter(torch.tensor(math.log(embedding_weight)))
        self.log_scale = nn.Parameter(torch.tensor(math.log(scale)))

    def forward(self, x):
        x = x.flatten(start_dim=1)
        lexical = nn.functional.normalize(x * self.log_feature_weight.exp(), dim=1)
        learned = nn.functional.normalize(self.embed(self.dropout(x)), dim=1)
        weight = self.log_embedding_weight.exp()
        # unit-length output, so that the scale alone sets the distances' range
        joined = torch.cat([lexical, weight * learned], dim=1) / torch.sqrt(1 + weight ** 2)
        return self.log_scale.exp() * joined


def infer_image_shape(n_features):
    """Return ``(1, side, side)`` if ``n_features`` is a square number, else None.

    Examples
    --------
    >>> from sklmeta.encoders import infer_image_shape
    >>> infer_image_shape(784)
    (1, 28, 28)
    >>> infer_image_shape(10) is None
    True
    """
    side = math.isqrt(n_features)
    return (1, side, side) if side * side == n_features else None


# Conv4 pools four times by 2: smaller images would pool down to nothing.
_MIN_CONV4_SIDE = 16

_ENCODER_NAMES = ("auto", "conv4", "mlp", "text")


def build_encoder(encoder, n_features, params, *, conv=None, mlp=None):
    """Build the encoder module named or given by an estimator's ``encoder``.

    Parameters
    ----------
    encoder : {'auto', 'conv4', 'mlp', 'text'}, nn.Module class or nn.Module instance
        ``'auto'`` picks ``'conv4'`` for square single-channel images of side
        at least 16 (or when ``input_shape`` is given), else ``'mlp'``;
        ``'text'`` is :class:`TextEncoder`. An instance is deep-copied, so
        the caller's module is never trained.
    n_features : int
        Number of input features.
    params : dict
        Keyword arguments for the encoder (the estimator's ``encoder__*``).
    conv, mlp : nn.Module classes, default=None
        What ``'conv4'`` and ``'mlp'`` build (:class:`Conv4` and
        :class:`MLP`); the gradient-based learners pass functional versions.

    Returns
    -------
    module : torch.nn.Module

    Examples
    --------
    ``'auto'`` builds a convolutional network for 28x28 images, and a
    perceptron for 8x8 ones, too small for four poolings:

    >>> from sklmeta.encoders import build_encoder
    >>> type(build_encoder("auto", 784, {})).__name__
    'Conv4'
    >>> type(build_encoder("auto", 64, {"hidden_layer_sizes": (32,)})).__name__
    'MLP'
    """
    import copy

    if isinstance(encoder, nn.Module):
        if params:
            raise ValueError(
                "encoder__* parameters apply only when encoder is a name or a "
                f"class, but encoder is an instance; got {sorted(params)}."
            )
        return copy.deepcopy(encoder)
    if isinstance(encoder, type) and issubclass(encoder, nn.Module):
        return encoder(**params)
    if not (isinstance(encoder, str) and encoder in _ENCODER_NAMES):
        raise TypeError(
            "encoder must be 'auto', 'conv4', 'mlp', 'text', a torch.nn.Module class "
            f"or a torch.nn.Module instance; got {encoder!r}."
        )
    if encoder == "text":
        if conv is not None:
            raise ValueError(
                "encoder='text' is for learners that compare embeddings "
                "(Prototypical, Matching and Siamese networks, MANN, fine-tuning); "
                "this one builds 'mlp' or 'conv4' networks of its own form."
            )
        return TextEncoder(in_features=n_features, **params)
    params = dict(params)
    shape = params.pop("input_shape", None) or infer_image_shape(n_features)
    if encoder == "auto":
        big_enough = shape is not None and min(shape[1:]) >= _MIN_CONV4_SIDE
        encoder = "conv4" if big_enough else "mlp"
    if encoder == "mlp":
        return (mlp or MLP)(in_features=n_features, **params)
    if shape is None:
        raise ValueError(
            f"encoder='conv4' needs images, but n_features={n_features} is "
            "not a square number; pass encoder__input_shape=(channels, "
            "height, width) or use encoder='mlp'."
        )
    if math.prod(shape) != n_features:
        raise ValueError(
            f"encoder__input_shape={tuple(shape)} holds {math.prod(shape)} "
            f"values but X has {n_features} features."
        )
    return (conv or Conv4)(input_shape=shape, **params)


@torch.no_grad()
def output_dim(module, n_features, device):
    """Width of ``module``'s output on one input of ``n_features`` features."""
    was_training = module.training
    module.eval()
    out = module(torch.zeros(1, n_features, device=device))
    module.train(was_training)
    return out.shape[-1]
