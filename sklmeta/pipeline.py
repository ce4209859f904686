"""Pipelines that are meta-trained once and then adapt only their last step.

scikit-learn's :class:`~sklearn.pipeline.Pipeline` has no ``meta_fit``, and
its ``fit`` refits every step: on a five-example support set that would
refit a scaler, a PCA or a vocabulary on five rows. :class:`MetaPipeline`
fits the preprocessing on the meta-training pool in :meth:`MetaPipeline.meta_fit`
and keeps it; ``fit`` then adapts the final step alone.
"""

import copy
import time
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, check_memory

from .base import _MISSING, _same_value
from .tasks import EpisodeSampler, Task, TaskMixture, as_task

__all__ = ["MetaPipeline", "make_meta_pipeline"]


def _final_has(attr):
    def check(self):
        getattr(self._final_estimator, attr)  # the final step's AttributeError
        return True

    return check


def _delegated(method, what, returns):
    """A method that runs ``X`` through the steps, then ``method`` of the final one."""

    def delegated(self, X, **params):
        return self._delegate(method, X, **params)

    delegated.__name__ = method
    delegated.__qualname__ = f"MetaPipeline.{method}"
    delegated.__doc__ = (
        f"""{what} of the final step; parameters as for :meth:`predict`.

        Returns
        -------
        {returns}
        """
    )
    return available_if(_final_has(method))(delegated)


def _can_transform(self):
    return self._final_estimator == "passthrough" or hasattr(
        self._final_estimator, "transform"
    )


class MetaPipeline(Pipeline):
    """A pipeline with ``meta_fit``: preprocessing is learned on the meta-training pool.

    :meth:`meta_fit` fits every step but the last on the meta-training data
    (a step with a ``meta_fit`` of its own, such as
    :class:`~sklmeta.transformers.EncoderTransformer`, is meta-fitted), passes
    the transformed data on, and meta-fits the final step when it has
    ``meta_fit``. Afterwards :meth:`fit` adapts to a new task by fitting the
    final step alone on the transformed support set: the preprocessing keeps
    what it learned from the pool, as a scaler, a PCA or a text vectorizer
    fitted on five examples would be useless. ``predict``, ``predict_proba``,
    ``score`` and the rest run through the whole chain. Before ``meta_fit``
    (or after a parameter that shapes meta-training changed), ``fit`` fits
    every step, as a plain :class:`~sklearn.pipeline.Pipeline` does.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        The steps, as for :class:`~sklearn.pipeline.Pipeline`; the last is
        usually a meta-learner.
    transform_input : None
        Only None is supported (it needs metadata routing).
    memory : str, joblib.Memory or None, default=None
        Cache of the fitted preprocessing steps, as in
        :class:`~sklearn.pipeline.Pipeline`: a step already fitted on the same
        data with the same parameters is loaded rather than fitted again, in
        :meth:`meta_fit` and in a ``fit`` that fits every step. A str is the
        cache folder. With a cache, the steps are cloned before fitting and
        ``steps`` then holds the fitted clones; None fits them in place.
    verbose : bool, default=False
        Whether to print the time each step takes to fit.

    Attributes
    ----------
    named_steps : :class:`~sklearn.utils.Bunch`
        The steps by name.
    classes_ : ndarray of shape (n_classes,)
        Labels of the task the final classifier was adapted to.
    n_features_in_ : int
        Number of input features of the first step.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Input column names of the first step, when it saw a DataFrame.

    See Also
    --------
    make_meta_pipeline : build one without naming the steps.
    sklmeta.transformers.EncoderTransformer : a meta-learned encoder as a step.

    Notes
    -----
    ``clone`` keeps everything meta-learned: the fitted preprocessing steps
    are deep-copied and the final learner is cloned with its meta-learned
    state, so ``cross_val_score`` and ``GridSearchCV`` with an
    :class:`~sklmeta.EpisodeSplit` adapt a copy of the meta-fitted pipeline
    to each episode, without redoing meta-training and without sharing
    weights between folds or processes. In a grid search, tune the final
    step's adaptation parameters (``protonetclassifier__device``,
    ``finetuneclassifier__adapt_lr``, ...): setting any parameter of another
    step, or replacing a step, discards the meta-training, as setting a
    meta-training parameter of a learner does.

    Sparse output of a step (a ``TfidfVectorizer``) is made dense before a
    step whose tags say it does not accept sparse input, such as the
    learners. ``meta_fit(tasks)`` takes an :class:`~sklmeta.EpisodeSampler`,
    whose pool fits the preprocessing, or a list of :class:`~sklmeta.Task`,
    whose inputs (support and query) are pooled to fit it, with their labels
    as given; each task is then transformed and handed on.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklmeta import ProtoNetClassifier
    >>> from sklmeta.pipeline import make_meta_pipeline
    >>> X, y = load_digits(return_X_y=True)
    >>> pipe = make_meta_pipeline(
    ...     StandardScaler(), PCA(16),
    ...     ProtoNetClassifier(encoder="mlp", max_epochs=2, verbose=0, random_state=0))
    >>> pipe = pipe.meta_fit(X[y < 6], y[y < 6]).fit(X[y >= 6][:20], y[y >= 6][:20])
    >>> pipe.named_steps["pca"].n_samples_  # fitted on the pool, not the support set
    1083
    """

    # ------------------------------------------------------------------
    # state
    # ------------------------------------------------------------------
    def _is_meta_fitted(self):
        if not getattr(self, "_meta_fitted", False):
            return False
        final = self._final_estimator
        return not hasattr(final, "_is_meta_fitted") or final._is_meta_fitted()

    def __sklearn_clone__(self):
        """Clone keeping the fitted preprocessing and the final step's meta state."""
        new = super().__sklearn_clone__()
        if self._is_meta_fitted():
            steps = list(new.steps)
            for i, (name, step) in enumerate(self.steps[:-1]):
                steps[i] = (name, copy.deepcopy(step))
            new.steps = steps
            new._meta_fitted = True
        return new

    def set_params(self, **params):
        """Set parameters; changing a preprocessing step discards meta-training.

        Parameters of the final step are handled by that step, which keeps
        its meta-learned state for adaptation parameters. Any other change
        (a parameter of another step, a step replaced) discards the
        meta-training of the whole pipeline: ``fit`` then fits every step.

        Parameters
        ----------
        **params : dict
            Pipeline parameters, ``<step>__<parameter>`` ones included.

        Returns
        -------
        self : MetaPipeline
        """
        changed = final_replaced = False
        if self._is_meta_fitted():
            final_name = self.steps[-1][0]
            current = self.get_params(deep=True)
            changed = any(
                not key.startswith(final_name + "__")
                and key not in ("verbose", "memory")
                and not _same_value(current.get(key, _MISSING), value)
                for key, value in params.items()
            )
            final_replaced = final_name in params and params[final_name] is not (
                self.steps[-1][1]
            )
        super().set_params(**params)
        if changed:
            self._meta_fitted = False
            final = self._final_estimator
            if not final_replaced and hasattr(final, "_drop_fitted_state"):
                final._drop_fitted_state()
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # sparse data is made dense for each step that needs it
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------
    # meta-training and adaptation
    # ------------------------------------------------------------------
    def meta_fit(self, X, y=None, *, validation_data=None, **params):
        """Fit the preprocessing on the meta-training data, then meta-fit the last step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or task collection
            A labelled pool (anything the first step accepts, e.g. a list of
            strings for a text vectorizer), or, with ``y=None``, an
            :class:`~sklmeta.EpisodeSampler` or a list of
            :class:`~sklmeta.Task`.
        y : array-like of shape (n_samples,), default=None
            Labels of the pool.
        validation_data : tuple (X_val, y_val) or task collection, default=None
            Transformed by the fitted preprocessing and passed to the final
            step's ``meta_fit``.
        **params : dict
            ``<step>__<parameter>`` arguments for the ``fit`` (or
            ``meta_fit``) of each step.

        Returns
        -------
        self : MetaPipeline
            The meta-fitted pipeline.
        """
        self._check_supported()
        self.steps = list(self.steps)
        self._validate_steps()
        self._meta_fitted = False
        step_params = self._split_params(params)
        memory = check_memory(self.memory)
        fit_step = memory.cache(_fit_step_on)
        data = _as_data(X, y)
        for idx, name, step in self._iter(with_final=False):
            with self._timed(idx):
                step, data = fit_step(_clone_for(memory, step), data, step_params[name])
            self.steps[idx] = (name, step)
        final_name, final = self.steps[-1]
        if final != "passthrough" and hasattr(final, "meta_fit"):
            kwargs = dict(step_params[final_name])
            if validation_data is not None:
                kwargs["validation_data"] = self._transform_validation(validation_data, final)
            with self._timed(len(self.steps) - 1):
                final.meta_fit(*_densified(data, final), **kwargs)
        elif validation_data is not None:
            raise ValueError(
                "validation_data is for the final step's meta_fit, but "
                f"{type(final).__name__} has no meta_fit."
            )
        self._meta_fitted = True
        return self

    def fit(self, X, y=None, **params):
        """Adapt to a new task: fit the final step on the transformed support set.

        After :meth:`meta_fit`, the preprocessing steps are only applied,
        never refitted. Without it, every step is fitted, as by
        :meth:`sklearn.pipeline.Pipeline.fit`.

        Parameters
        ----------
        X : array-like of shape (n_support, n_features)
            Support inputs.
        y : array-like of shape (n_support,), default=None
            Support labels.
        **params : dict
            ``<step>__<parameter>`` arguments for the ``fit`` of the steps.

        Returns
        -------
        self : MetaPipeline
            The adapted pipeline.
        """
        self._check_supported()
        step_params = self._split_params(params)
        if self._is_meta_fitted():
            Xt = self._transform_steps(X)
        else:
            self.steps = list(self.steps)
            self._validate_steps()
            self._meta_fitted = False
            memory = check_memory(self.memory)
            fit_transform = memory.cache(_fit_transform_one)
            Xt = X
            for idx, name, step in self._iter(with_final=False):
                with self._timed(idx):
                    step, Xt = fit_transform(
                        _clone_for(memory, step), Xt, y, step_params[name]
                    )
                self.steps[idx] = (name, step)
        final_name, final = self.steps[-1]
        if final != "passthrough":
            with self._timed(len(self.steps) - 1):
                final.fit(_densify_for(final, Xt), y, **step_params[final_name])
        return self

    @contextmanager
    def _timed(self, step_idx):
        """Print the time a step took to fit when ``verbose``, as Pipeline does."""
        start = time.perf_counter()
        yield
        if self.verbose:
            seconds = time.perf_counter() - start
            name = self.steps[step_idx][0]
            message = f"(step {step_idx + 1} of {len(self.steps)}) Processing {name}"
            print(_timing_message(type(self).__name__, message, seconds))

    def _check_supported(self):
        if self.transform_input is not None:
            raise ValueError(
                f"transform_input={self.transform_input!r} is not supported by "
                "MetaPipeline; leave it None."
            )

    def _split_params(self, params):
        names = [name for name, _ in self.steps]
        routed = {name: {} for name in names}
        for key, value in params.items():
            step, sep, param = key.partition("__")
            if not sep or step not in routed:
                raise ValueError(
                    f"MetaPipeline got the argument {key!r}; step arguments are "
                    f"named <step>__<parameter> with a step among {names}."
                )
            routed[step][param] = value
        return routed

    def _transform_steps(self, X):
        Xt = X
        for _, _, step in self._iter(with_final=False):
            Xt = step.transform(_densify_for(step, Xt))
        return Xt

    def _final_input(self, X):
        return _densify_for(self._final_estimator, self._transform_steps(X))

    def _transform_validation(self, validation_data, final):
        if isinstance(validation_data, tuple) and len(validation_data) == 2 and not (
            isinstance(validation_data[0], (Task, tuple))
        ):
            data = ("pool", validation_data[0], np.asarray(validation_data[1]))
        else:
            data = _as_data(validation_data, None)
        for _, _, step in self._iter(with_final=False):
            data = _map_data(data, lambda Z, s=step: s.transform(_densify_for(s, Z)))
        kind, X_val, y_val = data
        return (_densify_for(final, X_val), y_val) if kind == "pool" else X_val

    # ------------------------------------------------------------------
    # prediction through the whole chain
    # ------------------------------------------------------------------
    def _delegate(self, method, X, /, *args, **params):
        """Run ``X`` through the fitted steps, then ``method`` of the final one."""
        check_is_fitted(self)
        return getattr(self._final_estimator, method)(self._final_input(X), *args, **params)

    @available_if(_final_has("predict"))
    def predict(self, X, **params):
        """Transform ``X`` through the steps, then predict with the final one.

        Parameters
        ----------
        X : iterable
            Query inputs, as the first step accepts them.
        **params : dict
            Passed to the final step's method.

        Returns
        -------
        y_pred : ndarray
            Predictions of the final step.
        """
        return self._delegate("predict", X, **params)

    predict_proba = _delegated(
        "predict_proba", "Class probabilities",
        "y_proba : ndarray of shape (n_samples, n_classes)")
    predict_log_proba = _delegated(
        "predict_log_proba", "Log class probabilities",
        "y_log_proba : ndarray of shape (n_samples, n_classes)")
    decision_function = _delegated(
        "decision_function", "Decision function", "y_score : ndarray")

    @available_if(_final_has("score_samples"))
    def score_samples(self, X):
        """Sample scores of the final step; ``X`` as for :meth:`predict`.

        Returns
        -------
        y_score : ndarray of shape (n_samples,)
        """
        return self._delegate("score_samples", X)

    @available_if(_final_has("score"))
    def score(self, X, y=None, sample_weight=None, **params):
        """Transform ``X`` through the steps, then ``score`` with the final one.

        Parameters
        ----------
        X : iterable
            Query inputs.
        y : iterable, default=None
            Their labels.
        sample_weight : array-like, default=None
            Passed to the final step's ``score`` when given.
        **params : dict
            Passed to the final step's ``score``.

        Returns
        -------
        score : float
            Score of the final step, e.g. accuracy for a classifier.
        """
        if sample_weight is not None:
            params["sample_weight"] = sample_weight
        return self._delegate("score", X, y, **params)

    @available_if(_can_transform)
    def transform(self, X, **params):
        """Transform ``X`` through every step, the final one included.

        Parameters
        ----------
        X : iterable
            Inputs.
        **params : dict
            Passed to the final step's ``transform``.

        Returns
        -------
        Xt : ndarray or sparse matrix
            The transformed data.
        """
        check_is_fitted(self)
        Xt = self._transform_steps(X)
        final = self._final_estimator
        if final == "passthrough":
            return Xt
        return final.transform(_densify_for(final, Xt), **params)

    @available_if(_can_transform)
    def fit_transform(self, X, y=None, **params):
        """:meth:`fit`, then :meth:`transform` of the same data.

        Parameters
        ----------
        X : iterable
            Inputs.
        y : iterable, default=None
            Targets.
        **params : dict
            ``<step>__<parameter>`` arguments for the ``fit`` of the steps.

        Returns
        -------
        Xt : ndarray or sparse matrix
            The transformed data.
        """
        return self.fit(X, y, **params).transform(X)

    @available_if(_final_has("fit_predict"))
    def fit_predict(self, X, y=None, **params):
        """:meth:`fit`, then :meth:`predict` of the same data.

        Parameters
        ----------
        X : iterable
            Inputs.
        y : iterable, default=None
            Targets.
        **params : dict
            ``<step>__<parameter>`` arguments for the ``fit`` of the steps.

        Returns
        -------
        y_pred : ndarray
            Predictions of the final step.
        """
        return self.fit(X, y, **params).predict(X)


def make_meta_pipeline(*steps, memory=None, verbose=False):
    """Build a :class:`MetaPipeline`, naming the steps after their classes.

    Parameters
    ----------
    *steps : list of estimators
        The steps; the last is usually a meta-learner.
    memory : str, joblib.Memory or None, default=None
        Cache of the fitted preprocessing steps; see :class:`MetaPipeline`.
    verbose : bool, default=False
        Whether to print the time each step takes to fit.

    Returns
    -------
    pipeline : MetaPipeline

    See Also
    --------
    MetaPipeline : the class, with the meta-training rules.

    Examples
    --------
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sklmeta import ProtoNetClassifier
    >>> from sklmeta.pipeline import make_meta_pipeline
    >>> pipe = make_meta_pipeline(TfidfVectorizer(), ProtoNetClassifier(encoder="mlp"))
    >>> [name for name, _ in pipe.steps]
    ['tfidfvectorizer', 'protonetclassifier']
    """
    named = make_pipeline(*steps).steps
    return MetaPipeline(named, memory=memory, verbose=verbose)


# ----------------------------------------------------------------------
# meta-training data: a labelled pool, an episode sampler or a task list
# ----------------------------------------------------------------------
def _as_data(X, y):
    """Tag the meta-training data with its kind: pool, sampler or tasks."""
    if y is not None:
        return ("pool", X, y)
    if isinstance(X, EpisodeSampler):
        return ("sampler", X, None)
    if isinstance(X, TaskMixture):
        return ("mixture", X, None)
    if isinstance(X, (list, tuple)) and X:
        return ("tasks", [as_task(task, f"X[{i}]") for i, task in enumerate(X)], None)
    raise TypeError(
        "MetaPipeline.meta_fit takes a labelled pool (X, y), an EpisodeSampler, "
        "a TaskMixture or a non-empty list of Task objects; got "
        f"{type(X).__name__} with y=None."
    )


def _pooled(data):
    """The inputs and labels that fit a preprocessing step."""
    kind, X, y = data
    if kind == "pool":
        return X, y
    if kind == "sampler":
        return X.X, X.y
    if kind == "mixture":
        pooled = [_pooled(_source_data(source)) for source in X.sources]
        return (np.concatenate([np.asarray(p[0]) for p in pooled]),
                np.concatenate([p[1] for p in pooled]))
    parts = [(t.X_support, t.y_support) for t in X]
    parts += [(t.X_query, t.y_query) for t in X if t.y_query is not None]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _map_data(data, transform):
    """Apply a fitted transformation to every input of the data."""
    kind, X, y = data
    if kind == "pool":
        return ("pool", transform(X), y)
    if kind == "mixture":
        mapped = {name: _source_of(_map_data(_source_data(source), transform))
                  for name, source in zip(X.names, X.sources)}
        return ("mixture", TaskMixture(mapped, weights=X.probabilities), None)
    if kind == "sampler":
        return ("sampler", EpisodeSampler(
            _dense(transform(X.X)), X.y, n_way=X.n_way, n_shot=X.n_shot,
            n_query=X.n_query, n_episodes=X.n_episodes, random_state=X.random_state,
        ), None)
    tasks = [
        Task(
            _dense(transform(t.X_support)), t.y_support,
            None if t.X_query is None else _dense(transform(t.X_query)), t.y_query,
        )
        for t in X
    ]
    return ("tasks", tasks, None)


def _source_data(source):
    """One source of a :class:`~sklmeta.TaskMixture`, tagged as :func:`_as_data` does."""
    if isinstance(source, tuple):
        return ("pool", source[0], source[1])
    if isinstance(source, EpisodeSampler):
        return ("sampler", source, None)
    if isinstance(source, list):
        return ("tasks", [as_task(task) for task in source], None)
    raise TypeError(
        "a MetaPipeline with preprocessing steps needs the inputs of every source "
        f"of a TaskMixture; a {type(source).__name__} does not give them."
    )


def _source_of(data):
    """The mixture source that tagged ``data`` stands for."""
    kind, X, y = data
    return (_dense(X), y) if kind == "pool" else X


def _fit_step_on(step, data, params):
    """Fit (or meta-fit) one preprocessing step on the data.

    Returns the fitted step with the transformed data, so that
    ``joblib.Memory`` can cache both.
    """
    if hasattr(step, "meta_fit"):
        step.meta_fit(*_densified(data, step), **params)
    else:
        X, y = _pooled(data)
        step.fit(_densify_for(step, X), y, **params)
    return step, _map_data(data, lambda Z: step.transform(_densify_for(step, Z)))


def _fit_transform_one(step, X, y, params):
    """Fit one step on an adaptation set; return it with the transformed set."""
    X = _densify_for(step, X)
    if hasattr(step, "fit_transform"):
        return step, step.fit_transform(X, y, **params)
    return step, step.fit(X, y, **params).transform(X)


def _clone_for(memory, step):
    """The step itself without a cache; with one, a clone, which the cache may replace."""
    return step if memory.location is None else clone(step)


def _timing_message(source, message, seconds):
    """One line ``[source] ... message, total=   0.1s``, 70 characters as scikit-learn's."""
    total = f"{seconds / 60:4.1f}min" if seconds > 60 else f"{seconds:6.1f}s"
    head, tail = f"[{source}] ", f" {message}, total={total}"
    return head + "." * (70 - len(head) - len(tail)) + tail


def _densified(data, step):
    """Positional meta_fit arguments for ``step``: ``(X, y)`` or ``(tasks,)``."""
    kind, X, y = data
    if kind == "pool":
        return _densify_for(step, X), y
    return (X,)


def _densify_for(step, X):
    """Make sparse input dense for a step that does not accept sparse data."""
    if sp.issparse(X) and not get_tags(step).input_tags.sparse:
        return X.toarray()
    return X


def _dense(X):
    return X.toarray() if sp.issparse(X) else X
