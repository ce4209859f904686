"""A data-augmentation GAN for images (Antoniou, Storkey and Edwards, 2017).

A conditional generator takes one image of a class and noise and draws a new
image of the same class. It is trained adversarially on the meta-training
classes only: a discriminator sees pairs of images, two real images of one
class or a real image and what the generator drew from it, and learns to
tell them apart. Because the generator learns how a class varies rather
than any class itself, it draws new examples of classes it never saw.
"""

import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from .._torch import resolve_device, seeded
from ..base import MetaStateCloneMixin
from ..encoders import infer_image_shape
from ..exceptions import DivergenceError, MetaTrainingInterrupted
from ..utils._validation import check_float, check_int, check_seed, validate_inputs

__all__ = ["DataAugmentationGAN"]


def _down(in_channels, out_channels):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.2),
    )


def _up(in_channels, out_channels):
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.2),
    )


class PairGenerator(nn.Module):
    """A U-Net that draws a new image from one image and a noise vector.

    Two stride-2 convolutions encode the image; the noise is projected to a
    map at the bottleneck and at the middle scale; two transposed
    convolutions decode, each joined by a skip connection to the encoder map
    of its size (DAGAN's U-Net generator, reduced to the scale of small
    greyscale images).
    """

    def __init__(self, image_shape, noise_dim=32, n_filters=32):
        super().__init__()
        channels, height, width = image_shape
        self.image_shape = tuple(image_shape)
        self.noise_dim = noise_dim
        self.bottleneck = (height // 4, width // 4)
        self.stem = nn.Sequential(nn.Conv2d(channels, n_filters, 3, padding=1), nn.LeakyReLU(0.2))
        self.down1 = _down(n_filters, 2 * n_filters)
        self.down2 = _down(2 * n_filters, 4 * n_filters)
        self.middle = (height // 2, width // 2)
        self.noise = nn.Linear(noise_dim, n_filters * self.bottleneck[0] * self.bottleneck[1])
        self.noise_middle = nn.Linear(noise_dim, n_filters * self.middle[0] * self.middle[1])
        self.up1 = _up(5 * n_filters, 2 * n_filters)
        self.up2 = _up(5 * n_filters, n_filters)
        self.head = nn.Conv2d(2 * n_filters, channels, 3, padding=1)

    def forward(self, x, noise):
        x = x.reshape(len(x), *self.image_shape)
        s0 = self.stem(x)
        s1 = self.down1(s0)
        s2 = self.down2(s1)
        z = self.noise(noise).reshape(len(x), -1, *self.bottleneck)
        h = self.up1(torch.cat([s2, z], dim=1))
        z = self.noise_middle(noise).reshape(len(x), -1, *self.middle)
        h = self.up2(torch.cat([h, s1, z], dim=1))
        return torch.sigmoid(self.head(torch.cat([h, s0], dim=1))).flatten(1)


class PairDiscriminator(nn.Module):
    """Scores a pair (source image, other image): high for two real images
    of one class, low for a source and what the generator drew from it."""

    def __init__(self, image_shape, n_filters=32):
        super().__init__()
        channels, height, width = image_shape
        self.image_shape = tuple(image_shape)
        self.features = nn.Sequential(
            spectral_norm(nn.Conv2d(2 * channels, n_filters, 4, stride=2, padding=1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(n_filters, 2 * n_filters, 4, stride=2, padding=1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(2 * n_filters, 4 * n_filters, 3, padding=1)),
            nn.LeakyReLU(0.2),
        )
        self.score = spectral_norm(nn.Linear(4 * n_filters * (height // 4) * (width // 4), 1))

    def forward(self, source, other):
        pair = torch.cat([source.reshape(len(source), *self.image_shape),
                          other.reshape(len(other), *self.image_shape)], dim=1)
        return self.score(self.features(pair).flatten(1)).squeeze(1)


class DataAugmentationGAN(MetaStateCloneMixin, BaseEstimator):
    """Draws new images of a class from one image of it: a data-augmentation GAN.

    A U-Net generator maps an image and a noise vector to a new image; a
    discriminator learns to tell two real images of one class from an image
    and the generator's drawing from it, and from two real images of
    different classes, so that it judges identity as well as realism (hinge
    loss, spectral normalisation). ``meta_fit`` trains both on the classes of a labelled
    pool; :meth:`generate` then draws new images from images of any class,
    including classes never seen (Antoniou, Storkey and Edwards, 2017). Use
    it to enlarge support sets with
    :class:`~sklmeta.generative.AugmentedSupportClassifier`.

    Parameters
    ----------
    image_shape : tuple of int (channels, height, width) or 'auto', default='auto'
        Shape of the images, each given as one row of ``X``. ``'auto'`` reads
        square single-channel images from the number of features (784 as
        1x28x28). Height and width must be multiples of 4.
    noise_dim : int, default=32
        Width of the noise vector that makes drawings differ.
    n_filters : int, default=32
        Channels of the first layers of both networks; deeper layers have
        two and four times as many.
    diversity_weight : float, default=0.02
        Weight of the mode-seeking term (Mao et al., 2019), which makes
        drawings from different noise differ; without it a generator tends
        to ignore its noise and draw one image per source.
    max_epochs : int, default=20
        Training epochs.
    steps_per_epoch : int, default=100
        Updates of each network per epoch.
    batch_size : int, default=32
        Pairs per update.
    lr : float, default=2e-4
        Learning rate of both Adam optimizers (betas 0.5 and 0.999, the usual
        choice for GANs).
    max_time : float, default=None
        Stop training after this many seconds, at the end of a step.
    device : {'auto', 'cpu', 'cuda'} or torch.device, default='auto'
        Where the networks run; ``'auto'`` picks CUDA when available.
    verbose : int, default=1
        1 prints one line per epoch; 0 is silent.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the pairs drawn in training and, unless
        :meth:`generate` is given its own, the noise of the drawings.

    Attributes
    ----------
    generator_ : torch.nn.Module
        The trained generator.
    discriminator_ : torch.nn.Module
        The trained discriminator.
    image_shape_ : tuple of int
        Shape of the images.
    n_features_in_ : int
        Number of features (pixels) of each image.
    history_ : list of dict
        Per epoch: ``'epoch'``, the mean ``'generator_loss'`` and
        ``'discriminator_loss'``, and ``'dur'`` in seconds.

    See Also
    --------
    AugmentedSupportClassifier : a classifier whose support sets it enlarges.

    Notes
    -----
    The generator never sees the classes it is used on: it is trained in
    ``meta_fit`` only, and :meth:`generate` leaves it unchanged. ``clone``
    keeps the trained networks, like the meta-learners.

    References
    ----------
    .. [1] A. Antoniou, A. Storkey and H. Edwards, "Data Augmentation
       Generative Adversarial Networks", arXiv:1711.04340, 2017.
    .. [2] Q. Mao, H.-Y. Lee, H.-Y. Tseng, S. Ma and M.-H. Yang, "Mode Seeking
       Generative Adversarial Networks for Diverse Image Synthesis", CVPR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta.generative import DataAugmentationGAN
    >>> rng = np.random.RandomState(0)
    >>> X = rng.rand(40, 64).astype("float32")  # 8x8 images
    >>> y = np.repeat(np.arange(10), 4)
    >>> gan = DataAugmentationGAN(max_epochs=1, steps_per_epoch=5, verbose=0,
    ...                           random_state=0).meta_fit(X, y)
    >>> gan.generate(X[:3], n_per_image=2).shape
    (6, 64)
    """

    _meta_attributes = ("generator_", "discriminator_", "image_shape_", "history_")

    def __init__(self, image_shape="auto", *, noise_dim=32, n_filters=32,
                 diversity_weight=0.02, max_epochs=20, steps_per_epoch=100, batch_size=32,
                 lr=2e-4, max_time=None, device="auto", verbose=1, random_state=None):
        self.image_shape = image_shape
        self.noise_dim = noise_dim
        self.diversity_weight = diversity_weight
        self.n_filters = n_filters
        self.max_epochs = max_epochs
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.lr = lr
        self.max_time = max_time
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _validate_params(self):
        for name in ("noise_dim", "n_filters", "batch_size", "steps_per_epoch"):
            check_int(getattr(self, name), name, min_value=1)
        check_int(self.max_epochs, "max_epochs", min_value=0)
        check_int(self.verbose, "verbose", min_value=0)
        check_float(self.lr, "lr", min_value=0.0, strict_min=True)
        check_float(self.diversity_weight, "diversity_weight", min_value=0.0)
        check_float(self.max_time, "max_time", min_value=0.0, strict_min=True, allow_none=True)
        check_seed(self.random_state)
        return resolve_device(self.device)

    def _resolve_image_shape(self, n_features):
        shape = self.image_shape
        if isinstance(shape, str) and shape == "auto":
            shape = infer_image_shape(n_features)
            if shape is None:
                raise ValueError(
                    f"image_shape='auto' reads square single-channel images, but X has "
                    f"{n_features} features, not a square number; pass "
                    "image_shape=(channels, height, width)."
                )
        if (not isinstance(shape, (tuple, list)) or len(shape) != 3
                or not all(isinstance(d, (int, np.integer)) and d > 0 for d in shape)):
            raise ValueError(
                f"image_shape must be 'auto' or (channels, height, width); got {shape!r}."
            )
        channels, height, width = (int(d) for d in shape)
        if channels * height * width != n_features:
            raise ValueError(
                f"image_shape={tuple(shape)} holds {channels * height * width} values, "
                f"but X has {n_features} features."
            )
        if height % 4 or width % 4:
            raise ValueError(
                f"image_shape={tuple(shape)}: height and width must be multiples of 4."
            )
        return channels, height, width

    def meta_fit(self, X, y):
        """Train the generator and the discriminator on the classes of a pool.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images, one per row, values in [0, 1].
        y : array-like of shape (n_samples,)
            Their classes; a class needs two images or more to give pairs.

        Returns
        -------
        self : DataAugmentationGAN
        """
        device = self._validate_params()
        X, y = validate_inputs(self, X, y, reset=True)
        shape = self._resolve_image_shape(X.shape[1])
        classes, y_index = np.unique(y, return_inverse=True)
        members = [np.flatnonzero(y_index == c) for c in range(len(classes))]
        members = [m for m in members if len(m) >= 2]
        if not members:
            raise ValueError("y must hold a class with at least two images to make pairs.")
        rng = check_seed(self.random_state)
        init_seed, train_seed = rng.randint(2**31 - 1, size=2)
        with seeded(init_seed, device):
            self.generator_ = PairGenerator(shape, self.noise_dim, self.n_filters).to(device)
            self.discriminator_ = PairDiscriminator(shape, self.n_filters).to(device)
        self.image_shape_ = shape
        self.history_ = []
        self._train(torch.as_tensor(X, dtype=torch.float32, device=device), members,
                    train_seed, device)
        return self

    def _train(self, X, members, seed, device):
        betas = (0.5, 0.999)
        g_opt = torch.optim.Adam(self.generator_.parameters(), lr=self.lr, betas=betas)
        d_opt = torch.optim.Adam(self.discriminator_.parameters(), lr=self.lr, betas=betas)
        sampler = np.random.RandomState(seed)
        start = time.perf_counter()
        self.generator_.train()
        self.discriminator_.train()
        try:
            with seeded(seed, device):
                for epoch in range(self.max_epochs):
                    epoch_start = time.perf_counter()
                    g_losses, d_losses = [], []
                    for _ in range(self.steps_per_epoch):
                        source, other, stranger = _pairs(members, self.batch_size, sampler)
                        g_loss, d_loss = self._step(X[source], X[other], X[stranger],
                                                    g_opt, d_opt)
                        g_losses.append(g_loss)
                        d_losses.append(d_loss)
                        out_of_time = (self.max_time is not None
                                       and time.perf_counter() - start > self.max_time)
                        if out_of_time:
                            break
                    self.history_.append({
                        "epoch": epoch + 1, "generator_loss": float(np.mean(g_losses)),
                        "discriminator_loss": float(np.mean(d_losses)),
                        "dur": time.perf_counter() - epoch_start,
                    })
                    if self.verbose:
                        row = self.history_[-1]
                        print(f"epoch {row['epoch']:>3}  generator_loss "
                              f"{row['generator_loss']:.4f}  discriminator_loss "
                              f"{row['discriminator_loss']:.4f}  {row['dur']:.1f} s")
                    if out_of_time:
                        break
        except KeyboardInterrupt:
            warnings.warn(
                f"DataAugmentationGAN: training interrupted after {len(self.history_)} "
                "whole epochs; the networks keep what they learned.",
                MetaTrainingInterrupted, stacklevel=3,
            )
        finally:
            self.generator_.eval()
            self.discriminator_.eval()
            # spectral normalisation is a parametrization, which pickle and
            # deepcopy refuse: keep the normalised weights as plain ones
            for module in self.discriminator_.modules():
                if parametrize.is_parametrized(module, "weight"):
                    parametrize.remove_parametrizations(module, "weight")

    def _step(self, source, other, stranger, g_opt, d_opt):
        # two drawings of each source, to reward drawings that differ
        noise = torch.randn(2 * len(source), self.noise_dim, device=source.device)
        both = self.generator_(torch.cat([source, source]), noise)
        fake, twin = both.chunk(2)
        # discriminator, hinge loss: real pairs of one class against drawn
        # pairs and real pairs of two classes, so that it checks identity
        d_loss = (F.relu(1.0 - self.discriminator_(source, other)).mean()
                  + 0.5 * F.relu(1.0 + self.discriminator_(source, fake.detach())).mean()
                  + 0.5 * F.relu(1.0 + self.discriminator_(source, stranger)).mean())
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        g_loss = -self.discriminator_(source, fake).mean()
        # mode seeking (Mao et al., 2019): drawings from different noise
        # must differ, else the generator learns to ignore its noise
        spread = ((fake - twin).abs().mean(dim=1)
                  / (noise[:len(source)] - noise[len(source):]).abs().mean(dim=1))
        diversity = 1.0 / (spread.mean() + 1e-5)
        g_opt.zero_grad(set_to_none=True)
        (g_loss + self.diversity_weight * diversity).backward()
        g_opt.step()
        if not (torch.isfinite(g_loss) and torch.isfinite(d_loss)):
            raise DivergenceError(
                f"DataAugmentationGAN: training diverged (generator loss {g_loss.item()}, "
                f"discriminator loss {d_loss.item()}); lower lr={self.lr:g}, or give "
                "images with values in [0, 1]."
            )
        return g_loss.item(), d_loss.item()

    def generate(self, X, n_per_image=1, random_state=None):
        """Draw new images, each from one image of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_images, n_features)
            Source images, of any class, seen in training or not.
        n_per_image : int, default=1
            Drawings per source image.
        random_state : int, RandomState instance or None, default=None
            Seeds the noise; None uses the estimator's ``random_state``.

        Returns
        -------
        drawn : ndarray of shape (n_images * n_per_image, n_features)
            Rows ``i * n_per_image`` to ``(i + 1) * n_per_image - 1`` are
            drawn from ``X[i]``.
        """
        if not hasattr(self, "generator_"):
            raise NotFittedError(
                "This DataAugmentationGAN is not trained yet; call meta_fit on images of "
                "the meta-training classes first."
            )
        check_int(n_per_image, "n_per_image", min_value=1)
        X = validate_inputs(self, X, reset=False)
        seed = check_seed(self.random_state if random_state is None else random_state,
                          "random_state").randint(2**31 - 1)
        device = resolve_device(self.device)
        self.generator_.to(device).eval()
        source = torch.as_tensor(X, dtype=torch.float32, device=device)
        source = source.repeat_interleave(n_per_image, dim=0)
        with torch.no_grad(), seeded(seed, device):
            noise = torch.randn(len(source), self.noise_dim, device=device)
            # validate_inputs guarantees one row at least
            drawn = torch.cat([self.generator_(part, z) for part, z in
                               zip(source.split(1024), noise.split(1024))])
        return drawn.cpu().numpy().astype(X.dtype, copy=False)


def _pairs(members, batch_size, rng):
    """Indices of a source image, another image of its class and an image of
    another class (the source's own when there is one class), classes at
    random."""
    picks = rng.randint(len(members), size=batch_size)
    shift = rng.randint(1, max(len(members), 2), size=batch_size)
    source, other, stranger = [], [], []
    for k, step in zip(picks, shift):
        i, j = rng.choice(members[k], size=2, replace=False)
        source.append(i)
        other.append(j)
        stranger.append(rng.choice(members[(k + step) % len(members)]))
    return np.asarray(source), np.asarray(other), np.asarray(stranger)
