"""Backbones of the user's own (torchvision, timm, ...) as a learner's encoder."""

import copy
import numbers
import os
from collections.abc import Mapping

import torch
from torch import nn

from .utils._validation import check_bool

__all__ = ["ImageInput", "PretrainedEncoder", "load_state_dict"]


def load_state_dict(weights):
    """Read a ``state_dict`` from a file, or check one given as a mapping.

    Parameters
    ----------
    weights : str, path-like or mapping
        A file written by ``torch.save(module.state_dict(), path)`` (or a
        checkpoint holding it under ``"state_dict"``), read with
        ``weights_only=True``, so a file can never run code; or the
        ``state_dict`` itself.

    Returns
    -------
    state_dict : mapping of str to torch.Tensor
    """
    if isinstance(weights, (str, os.PathLike)):
        path = os.fspath(weights)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"weights file {path!r} does not exist. This package never downloads "
                "weights: fetch them where you have network access (e.g. "
                "torch.save(model.state_dict(), path)) and give their path."
            )
        try:
            weights = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(
                f"weights file {path!r} is not a state_dict that torch.load can read "
                f"safely (weights_only=True): {exc}"
            ) from exc
    if isinstance(weights, Mapping) and isinstance(weights.get("state_dict"), Mapping):
        weights = weights["state_dict"]
    if not isinstance(weights, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()
    ):
        raise TypeError(
            "weights must be a path to a saved state_dict or a mapping of parameter "
            f"names to tensors; got {type(weights).__name__}."
        )
    return weights


class PretrainedEncoder(nn.Module):
    """A backbone network of your own, with its weights and input transform.

    Any :class:`torch.nn.Module` that maps a batch of inputs to one vector
    (or feature map) per input can serve as a learner's ``encoder``: a
    torchvision or timm network whose classification head is replaced by
    :class:`torch.nn.Identity`, a sentence encoder, a network of your own.
    This wrapper adds what such a backbone needs to meet scikit-learn's
    flat rows: a ``transform`` from rows to the backbone's input, weights
    loaded from a file you have, and freezing.

    The ``backbone`` given is copied, never modified. Outputs are
    flattened to one row per input.

    Parameters
    ----------
    backbone : torch.nn.Module
        The network.
    weights : str, path-like or mapping, default=None
        Its ``state_dict``, or the path of a file holding one (read with
        ``weights_only=True``). None keeps the backbone's own weights, e.g.
        those its constructor loaded. A missing file raises
        :class:`FileNotFoundError` at construction, before any work.
    transform : callable, default=None
        Applied to each batch of rows, shape ``(n, n_features)``, before the
        backbone: reshaping, resizing, normalising, e.g.
        :class:`ImageInput`. A :class:`torch.nn.Module` pickles with the
        estimator; a lambda does not.
    freeze : bool, default=False
        Keep the backbone as loaded: its parameters are not meta-trained
        and its batch-norm statistics are not updated. Put a trainable head
        after it (``torch.nn.Sequential(PretrainedEncoder(...),
        torch.nn.Linear(...))``) to meta-train on top of frozen features,
        or skip ``meta_fit`` and call ``fit`` on each task directly.
    strict : bool, default=True
        Raise when ``weights`` has names the backbone lacks or lacks names
        the backbone has.

    See Also
    --------
    ImageInput : rows to normalised, resized images.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklmeta import ProtoNetClassifier
    >>> from sklmeta.encoders import ImageInput, PretrainedEncoder
    >>> _ = torch.manual_seed(0)
    >>> backbone = torch.nn.Sequential(
    ...     torch.nn.Conv2d(3, 8, 3), torch.nn.AdaptiveAvgPool2d(1))
    >>> encoder = PretrainedEncoder(
    ...     backbone, weights=backbone.state_dict(), freeze=True,
    ...     transform=ImageInput((1, 8, 8), channels=3, size=16))
    >>> X = np.random.RandomState(0).rand(10, 64).astype("float32")
    >>> clf = ProtoNetClassifier(encoder=encoder, verbose=0).fit(X, [0, 1] * 5)
    >>> clf.predict(X[:4]).shape
    (4,)
    """

    def __init__(self, backbone, *, weights=None, transform=None, freeze=False,
                 strict=True):
        super().__init__()
        if not isinstance(backbone, nn.Module):
            raise TypeError(
                f"backbone must be a torch.nn.Module; got {type(backbone).__name__}."
            )
        if transform is not None and not callable(transform):
            raise TypeError(
                f"transform must be callable or None; got {type(transform).__name__}."
            )
        freeze, strict = check_bool(freeze, "freeze"), check_bool(strict, "strict")
        backbone = copy.deepcopy(backbone)
        if weights is not None:
            state = load_state_dict(weights)
            own = backbone.state_dict()
            wrong = [f"{name}: {tuple(value.shape)} for {tuple(own[name].shape)}"
                     for name, value in state.items()
                     if name in own and value.shape != own[name].shape]
            if wrong:
                raise ValueError(
                    "weights do not fit backbone: the shape of "
                    f"{'; '.join(wrong[:3])}. Give the state_dict of this architecture."
                )
            missing, unexpected = backbone.load_state_dict(state, strict=False)
            if strict and (missing or unexpected):
                raise ValueError(
                    "weights do not match backbone: "
                    f"{len(missing)} missing (e.g. {missing[:3]}), "
                    f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}). Give "
                    "the state_dict of this architecture, or strict=False to load "
                    "the names that match."
                )
        self.backbone = backbone
        self.transform = transform
        self.freeze = freeze
        if freeze:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    def train(self, mode=True):
        super().train(mode)
        if self.freeze:
            # batch-norm statistics stay those of the loaded weights
            self.backbone.eval()
        return self

    def forward(self, x):
        if self.transform is not None:
            x = self.transform(x)
        return self.backbone(x).flatten(start_dim=1)


class ImageInput(nn.Module):
    """Flat rows to the images a pretrained vision backbone expects.

    Reshapes each row to ``shape``, repeats a single channel to
    ``channels`` (grey images into an RGB network), resizes to ``size`` and
    normalises by ``mean`` and ``std``, per channel.

    Parameters
    ----------
    shape : tuple of int
        ``(channels, height, width)`` of one row.
    channels : int, default=None
        Channels the backbone takes; a single-channel image is repeated to
        as many. None keeps ``shape[0]``.
    size : int or tuple of int, default=None
        Height and width to resize to (bilinear); None keeps them.
    mean, std : sequence of float, default=None
        Per-channel normalisation applied last, e.g. ImageNet's
        ``(0.485, 0.456, 0.406)`` and ``(0.229, 0.224, 0.225)``.

    Examples
    --------
    >>> import torch
    >>> from sklmeta.encoders import ImageInput
    >>> ImageInput((1, 28, 28), channels=3, size=32)(torch.rand(5, 784)).shape
    torch.Size([5, 3, 32, 32])
    """

    def __init__(self, shape, *, channels=None, size=None, mean=None, std=None):
        super().__init__()
        shape = tuple(shape)
        if len(shape) != 3 or not all(isinstance(s, numbers.Integral) and s > 0
                                      for s in shape):
            raise ValueError(
                f"shape must be (channels, height, width) of positive ints; got {shape}."
            )
        out_channels = shape[0] if channels is None else channels
        if not isinstance(out_channels, numbers.Integral) or out_channels < 1:
            raise ValueError(f"channels must be a positive int; got {channels!r}.")
        if out_channels != shape[0] and shape[0] != 1:
            raise ValueError(
                f"channels={channels} needs single-channel input to repeat; shape has "
                f"{shape[0]} channels."
            )
        if isinstance(size, numbers.Integral):
            size = (int(size), int(size))
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise ValueError(f"size must be a positive int or (height, width); got {size}.")
        for name, value in (("mean", mean), ("std", std)):
            if value is not None and len(value) != out_channels:
                raise ValueError(
                    f"{name} must have one value per channel ({out_channels}); "
                    f"got {len(value)}."
                )
        if std is not None and min(std) <= 0:
            raise ValueError(f"std must be positive; got {tuple(std)}.")
        self.shape = shape
        self.channels = int(out_channels)
        self.size = None if size is None else tuple(size)
        view = (1, self.channels, 1, 1)
        self.register_buffer(
            "mean", None if mean is None else torch.tensor(mean, dtype=torch.float32).view(view))
        self.register_buffer(
            "std", None if std is None else torch.tensor(std, dtype=torch.float32).view(view))

    def forward(self, x):
        x = x.reshape(len(x), *self.shape)
        if self.channels != self.shape[0]:
            x = x.expand(-1, self.channels, -1, -1)
        if self.size is not None and tuple(x.shape[2:]) != self.size:
            x = nn.functional.interpolate(x, size=self.size, mode="bilinear",
                                          align_corners=False)
        if self.mean is not None:
            x = x - self.mean
        if self.std is not None:
            x = x / self.std
        return x
