"""A classifier whose support sets a trained generator enlarges."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from ..tasks import EpisodeSampler
from ..utils._validation import check_bool, check_int, check_seed, validate_inputs
from ._dagan import DataAugmentationGAN

__all__ = ["AugmentedSupportClassifier"]


class AugmentedSupportClassifier(ClassifierMixin, BaseEstimator):
    """Any classifier, fitted on a support set enlarged by a generator.

    ``fit(X, y)`` draws ``n_generated`` new examples from every support
    example with the generator, gives them the label of their source, and
    fits the classifier on the real and the drawn examples together. The
    generator is trained in ``meta_fit`` on the meta-training classes only
    and is never changed by ``fit``, so it never sees the classes of the
    tasks it enlarges.

    Parameters
    ----------
    estimator : classifier
        Fitted on each enlarged support set: a meta-learner such as
        :class:`~sklmeta.ProtoNetClassifier` (meta-fitted with the generator
        by ``meta_fit``, or already meta-fitted: ``clone`` keeps what it
        learned), or any scikit-learn classifier.
    generator : estimator with ``meta_fit`` and ``generate``, default=None
        The generator; None is a
        :class:`~sklmeta.generative.DataAugmentationGAN` with its defaults.
        One already trained is used as it is when ``meta_fit`` is not called.
    n_generated : int, default=2
        Examples drawn from each support example; 0 fits on the support set
        alone.
    augment_meta_training : bool, default=True
        Whether ``meta_fit`` meta-trains the estimator (when it has
        ``meta_fit``) on episodes whose support sets are enlarged the same
        way, so that it learns to use the drawings; else on the real
        episodes alone. Episodes have the estimator's ``n_way``,
        ``n_shot`` and ``n_query``.
    random_state : int, RandomState instance or None, default=None
        Seeds the drawings of ``fit``.

    Attributes
    ----------
    estimator_ : classifier
        The classifier fitted on the last enlarged support set.
    generator_ : estimator
        The trained generator.
    meta_estimator_ : classifier
        The estimator as ``meta_fit`` left it (meta-trained when it has
        ``meta_fit``); each ``fit`` starts from a clone of it.
    classes_ : ndarray of shape (n_classes,)
        Labels of the task adapted to by ``fit``.
    n_features_in_ : int
        Number of features of the inputs.

    See Also
    --------
    DataAugmentationGAN : the default generator.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklmeta.generative import AugmentedSupportClassifier, DataAugmentationGAN
    >>> rng = np.random.RandomState(0)
    >>> X = rng.rand(60, 64).astype("float32")  # 8x8 images
    >>> y = np.repeat(np.arange(15), 4)
    >>> gan = DataAugmentationGAN(max_epochs=1, steps_per_epoch=5, verbose=0, random_state=0)
    >>> clf = AugmentedSupportClassifier(KNeighborsClassifier(1), gan, n_generated=3)
    >>> clf = clf.meta_fit(X[y < 10], y[y < 10])  # classes 10 to 14 stay unseen
    >>> new = y >= 10
    >>> clf.fit(X[new][::4], y[new][::4]).estimator_.n_samples_fit_  # 5 real, 15 drawn
    20
    """

    def __init__(self, estimator, generator=None, *, n_generated=2,
                 augment_meta_training=True, random_state=None):
        self.estimator = estimator
        self.generator = generator
        self.n_generated = n_generated
        self.augment_meta_training = augment_meta_training
        self.random_state = random_state

    def __sklearn_clone__(self):
        new = super().__sklearn_clone__()
        if hasattr(self, "generator_"):
            new.generator_ = clone(self.generator_, safe=False)
            new.meta_estimator_ = clone(self.meta_estimator_)
        return new

    def _validate_params(self):
        check_int(self.n_generated, "n_generated", min_value=0)
        check_bool(self.augment_meta_training, "augment_meta_training")
        check_seed(self.random_state)
        if not hasattr(self.estimator, "fit"):
            raise TypeError(
                f"estimator must be a classifier with fit; got {type(self.estimator).__name__}."
            )
        generator = self.generator
        if generator is not None and not (hasattr(generator, "meta_fit")
                                          and hasattr(generator, "generate")):
            raise TypeError(
                "generator must be None or have meta_fit and generate, like "
                f"DataAugmentationGAN; got {type(generator).__name__}."
            )

    def meta_fit(self, X, y, **params):
        """Train the generator, then meta-train the estimator, on a labelled pool.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Examples of the meta-training classes.
        y : array-like of shape (n_samples,)
            Their classes.
        **params : dict
            Passed to the estimator's ``meta_fit`` (``validation_data``, say).

        Returns
        -------
        self : AugmentedSupportClassifier
        """
        self._validate_params()
        generator = DataAugmentationGAN() if self.generator is None else self.generator
        self.generator_ = clone(generator, safe=False).meta_fit(X, y)
        estimator = clone(self.estimator)
        if hasattr(estimator, "meta_fit"):
            if self.augment_meta_training and self.n_generated:
                X_pool, y_pool = validate_inputs(self, X, y, reset=True)
                X = _EnlargedEpisodes(X_pool, y_pool, self.generator_, self.n_generated,
                                      estimator, self.random_state)
                y = None
            estimator.meta_fit(X, y, **params)
        self.meta_estimator_ = estimator
        for name in ("estimator_", "classes_", "n_features_in_"):
            self.__dict__.pop(name, None)
        return self

    def _trained_generator(self):
        if hasattr(self, "generator_"):
            return self.generator_
        if self.generator is None or not hasattr(self.generator, "generator_"):
            raise NotFittedError(
                "AugmentedSupportClassifier needs a trained generator: call meta_fit, "
                "or pass a generator whose meta_fit already ran."
            )
        return self.generator

    def fit(self, X, y):
        """Fit the estimator on the support set enlarged by the generator.

        Parameters
        ----------
        X : array-like of shape (n_support, n_features)
            Support inputs of a new task.
        y : array-like of shape (n_support,)
            Their labels.

        Returns
        -------
        self : AugmentedSupportClassifier
        """
        self._validate_params()
        X, y = validate_inputs(self, X, y, reset=True)
        check_classification_targets(y)
        seed = check_seed(self.random_state).randint(2**31 - 1)
        if self.n_generated:
            generator = self._trained_generator()
            drawn = generator.generate(X, self.n_generated, random_state=seed)
            X = np.concatenate([X, drawn])
            y = np.concatenate([y, np.repeat(y, self.n_generated)])
        source = getattr(self, "meta_estimator_", self.estimator)
        self.estimator_ = clone(source).fit(X, y)
        self.classes_ = self.estimator_.classes_
        return self

    def _fitted(self):
        if not hasattr(self, "estimator_"):
            raise NotFittedError(
                "This AugmentedSupportClassifier is not fitted to a task yet; call fit "
                "with a support set first."
            )
        return self.estimator_

    def predict(self, X):
        """Predicted labels of the queries ``X``."""
        return self._fitted().predict(X)

    @available_if(lambda self: hasattr(self.estimator, "predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the queries ``X``, columns in ``classes_`` order."""
        return self._fitted().predict_proba(X)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "estimator_")


class _EnlargedEpisodes:
    """Episodes of a pool whose support sets the generator enlarges: a task
    family (``n_features`` and ``episode_arrays``) for ``meta_fit``."""

    def __init__(self, X, y, generator, n_generated, estimator, random_state):
        self.X, self.y = X, y
        self.generator = generator
        self.n_generated = n_generated
        self.n_way = min(estimator.n_way, len(np.unique(y)))
        self.n_shot, self.n_query = estimator.n_shot, estimator.n_query
        self.random_state = random_state
        self.n_features = X.shape[1]

    def episode_arrays(self, random_state=None):
        rng = check_seed(random_state if self.random_state is None else self.random_state)
        sampler = EpisodeSampler(self.X, self.y, n_way=self.n_way, n_shot=self.n_shot,
                                 n_query=self.n_query, random_state=rng.randint(2**31 - 1))
        for task in sampler:
            classes, y_support = np.unique(task.y_support, return_inverse=True)
            y_query = np.searchsorted(classes, task.y_query)
            drawn = self.generator.generate(task.X_support, self.n_generated,
                                            random_state=rng.randint(2**31 - 1))
            X_support = np.concatenate([task.X_support, drawn])
            y_support = np.concatenate([y_support, np.repeat(y_support, self.n_generated)])
            yield X_support[None], y_support[None], task.X_query[None], y_query[None]
