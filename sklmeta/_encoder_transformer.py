"""The encoder of a meta-learner as a scikit-learn transformer."""

import copy

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ._persistence import TorchPicklingMixin
from ._torch import resolve_device, seeded, to_numpy, to_tensor
from .base import BaseMetaEstimator
from .encoders import build_encoder, output_dim
from .utils._validation import check_int, check_seed, validate_inputs

__all__ = ["EncoderTransformer"]


class EncoderTransformer(TorchPicklingMixin, TransformerMixin, BaseEstimator):
    """Embed inputs with a (meta-)trained encoder, as a scikit-learn transformer.

    Puts the encoder of any sklmeta learner in front of any scikit-learn
    estimator: ``make_pipeline(EncoderTransformer(learner),
    LogisticRegression())`` is a few-shot classifier whose ``fit`` trains
    only the logistic regression on the support set. ``fit`` adapts
    nothing: it takes the encoder, unchanged, from where ``encoder`` says.
    The transformer can also be (meta-)trained itself with :meth:`meta_fit`,
    which meta-trains a copy of the learner given as ``encoder``; with a
    :class:`~sklmeta.baselines.FineTuneClassifier` that is supervised
    pretraining.

    Parameters
    ----------
    encoder : meta-learner, torch.nn.Module instance or class, or \
            {'auto', 'conv4', 'mlp'}, default='auto'
        Where the encoder comes from. A meta-learner (an estimator with
        ``meta_fit``): its ``encoder_`` once meta-fitted, else a freshly
        initialised network built from its ``encoder`` parameters; a module
        instance: a copy of it; a module class or name: a freshly
        initialised network, as the learners build them.
    feature_prefix : str, default='embedding'
        Output feature names are ``feature_prefix`` followed by the index:
        ``embedding0``, ``embedding1``, ...
    batch_size : int, default=2048
        Inputs embedded per forward pass in ``transform``.
    device : 'auto', str or torch.device, default='auto'
        Where the encoder runs: CUDA when present with ``'auto'``, else CPU.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial weights when the encoder is built fresh, and of
        the meta-training run by :meth:`meta_fit`, unless the learner has its
        own seed.

    Attributes
    ----------
    encoder_ : torch.nn.Module
        The encoder used by ``transform``, in eval mode; a copy, so the
        ``encoder`` parameter is never changed.
    learner_ : estimator
        The learner meta-trained by :meth:`meta_fit`, with its ``history_``;
        only after ``meta_fit``.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Input column names, when given as a DataFrame with string columns.
    n_features_out_ : int
        Embedding dimension.

    See Also
    --------
    sklmeta.pipeline.MetaPipeline : pipelines whose steps are fitted on the
        meta-training pool, then adapt only the final step.
    sklmeta.baselines.FineTuneClassifier : a pretrained encoder with a new
        head per task.

    Notes
    -----
    ``clone`` keeps what :meth:`meta_fit` learned (deep-copied, so clones
    never share weights) and a meta-fitted learner given as ``encoder`` is
    cloned with its meta-learned state, so ``cross_val_score`` of a pipeline
    holding this transformer reuses the meta-training in every fold.
    Embeddings are computed without gradients and with batch norm in eval
    mode, so a row's embedding does not depend on the rows transformed with
    it; they come back in the dtype of the input (float32 or float64).

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklmeta import ProtoNetClassifier
    >>> from sklmeta.transformers import EncoderTransformer
    >>> X, y = make_blobs(n_samples=400, centers=20, n_features=8, random_state=0)
    >>> learner = ProtoNetClassifier(encoder="mlp", max_epochs=2, verbose=0)
    >>> embed = EncoderTransformer(learner.meta_fit(X[y < 15], y[y < 15]))
    >>> embed.fit_transform(X[:3]).shape
    (3, 64)
    >>> clf = make_pipeline(embed, LogisticRegression())  # on the 5 unseen classes
    >>> clf.fit(X[y >= 15][:25], y[y >= 15][:25]).classes_
    array([15, 16, 17, 18, 19])
    """

    def __init__(
        self,
        encoder="auto",
        *,
        feature_prefix="embedding",
        batch_size=2048,
        device="auto",
        random_state=None,
    ):
        self.encoder = encoder
        self.feature_prefix = feature_prefix
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    def _validate_params(self):
        if not isinstance(self.feature_prefix, str):
            raise TypeError(
                f"feature_prefix must be a str, got {self.feature_prefix!r}."
            )
        check_int(self.batch_size, "batch_size", min_value=1)
        check_seed(self.random_state)
        return resolve_device(self.device)

    def _is_meta_fitted(self):
        return hasattr(self, "learner_")

    def meta_fit(self, X, y=None, **meta_fit_params):
        """Meta-train (or pretrain) a copy of the learner given as ``encoder``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or task collection
            What the learner's ``meta_fit`` accepts: a labelled pool or tasks.
        y : array-like of shape (n_samples,), default=None
            Labels of the pool.
        **meta_fit_params : dict
            Passed to the learner's ``meta_fit``, e.g. ``validation_data``.

        Returns
        -------
        self : object
            The transformer, embedding with the meta-trained encoder.
        """
        device = self._validate_params()
        if not hasattr(self.encoder, "meta_fit"):
            raise TypeError(
                "meta_fit needs encoder to be a meta-learner with a meta_fit "
                "method, such as ProtoNetClassifier or FineTuneClassifier; got "
                f"{self.encoder!r}."
            )
        learner = clone(self.encoder)
        if "random_state" in learner.get_params() and learner.random_state is None:
            learner.set_params(random_state=self.random_state)
        learner.meta_fit(X, y, **meta_fit_params)
        for key in ("encoder_", "n_features_out_", "feature_names_in_"):
            self.__dict__.pop(key, None)
        self.learner_ = learner
        self.encoder_ = learner.encoder_.to(device).eval()
        self.n_features_in_ = learner.n_features_in_
        if hasattr(learner, "feature_names_in_"):
            self.feature_names_in_ = learner.feature_names_in_
        self.n_features_out_ = output_dim(self.encoder_, self.n_features_in_, device)
        return self

    def fit(self, X, y=None):
        """Take the encoder; nothing is learned from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs; only their number of features is checked and recorded.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        device = self._validate_params()
        if self._is_meta_fitted():
            validate_inputs(self, X, reset=False)
            self.encoder_ = self.encoder_.to(device).eval()
            return self
        for key in ("encoder_", "n_features_out_", "feature_names_in_"):
            self.__dict__.pop(key, None)
        X = validate_inputs(self, X, reset=True)
        n_features = X.shape[1]
        encoder = self._resolve_encoder(n_features)
        self.encoder_ = encoder.to(device).eval()
        self.n_features_out_ = output_dim(self.encoder_, n_features, device)
        return self

    def _resolve_encoder(self, n_features):
        source = self.encoder
        if isinstance(source, BaseMetaEstimator) or hasattr(source, "meta_fit"):
            trained = getattr(source, "encoder_", None)
            if trained is not None:
                expected = getattr(source, "n_features_in_", n_features)
                if expected != n_features:
                    raise ValueError(
                        f"X has {n_features} features, but the encoder of "
                        f"{type(source).__name__} takes {expected}."
                    )
                return copy.deepcopy(trained)
            params = source._routed_params("encoder__") if hasattr(
                source, "_routed_params"
            ) else {}
            source = source.encoder
        else:
            params = {}
        seed = check_seed(self.random_state).randint(2**31 - 1)
        with seeded(seed):
            return build_encoder(source, n_features, params)

    def transform(self, X):
        """Embed ``X`` with the encoder.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        X_embedded : ndarray of shape (n_samples, `n_features_out_`)
            Embeddings, in the dtype of ``X`` (float32 or float64).
        """
        check_is_fitted(self)
        device = resolve_device(self.device)
        X = validate_inputs(self, X, reset=False)
        self.encoder_ = self.encoder_.to(device).eval()
        with torch.no_grad():
            out = [
                to_numpy(self.encoder_(chunk))
                for chunk in to_tensor(X, device).split(self.batch_size)
            ]
        if not out:
            return np.empty((0, self.n_features_out_), dtype=X.dtype)
        out = np.concatenate(out)
        if not np.isfinite(out).all():
            raise ValueError(
                "the encoder's outputs for some rows of X are not finite: X (largest "
                f"magnitude {np.abs(X).max():.3g}) is on a scale that overflows float32 "
                "arithmetic in the network; standardise it."
            )
        return out.astype(X.dtype, copy=False)

    def get_feature_names_out(self, input_features=None):
        """Names of the embedding dimensions: ``feature_prefix`` plus index.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in ``fit``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``[f"{feature_prefix}0", f"{feature_prefix}1", ...]``.
        """
        check_is_fitted(self)
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            if len(input_features) != self.n_features_in_:
                raise ValueError(
                    f"input_features has {len(input_features)} names but the "
                    f"transformer was fitted on {self.n_features_in_} features."
                )
            seen = getattr(self, "feature_names_in_", None)
            if seen is not None and not np.array_equal(seen, input_features):
                raise ValueError(
                    "input_features differ from the feature names seen in fit."
                )
        return np.asarray(
            [f"{self.feature_prefix}{i}" for i in range(self.n_features_out_)],
            dtype=object,
        )

    def __sklearn_clone__(self):
        """Clone with the same parameters and a copy of what meta_fit learned."""
        new = super().__sklearn_clone__()
        if self._is_meta_fitted():
            learner = copy.deepcopy(self.learner_)
            new.learner_ = learner
            new.encoder_ = learner.encoder_
            for key in ("n_features_in_", "feature_names_in_", "n_features_out_"):
                if hasattr(self, key):
                    setattr(new, key, copy.deepcopy(getattr(self, key)))
        return new

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
