"""Class-disjoint splitters and episodes as cross-validation splits.

:class:`EpisodeSplit` draws N-way K-shot episodes as ordinary ``(train,
test)`` splits; :class:`ClassShuffleSplit`, :class:`ClassKFold` and
:func:`train_test_class_split` split the classes, not the samples, so the
test side holds only classes the train side never saw.
"""

import numpy as np
from sklearn.model_selection import GroupKFold, GroupShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, column_or_1d

from ..tasks import _ClassIndex
from ..utils._validation import check_int

__all__ = [
    "ClassKFold",
    "ClassShuffleSplit",
    "EpisodeSplit",
    "train_test_class_split",
]


class EpisodeSplit:
    """Cross-validation over N-way K-shot episodes.

    Each split is one episode drawn from ``(X, y)``: the train indices are its
    support set, the test indices its query set. Passed as ``cv`` to
    ``cross_val_score`` or ``GridSearchCV``, every fold adapts a clone of the
    estimator to one episode's support set and scores it on the queries.
    The generator is rebuilt from ``random_state`` in each :meth:`split`, so an
    int seed gives the same episodes every time.

    Parameters
    ----------
    n_way : int, default=5
        Classes per episode.
    n_shot : int, default=1
        Support samples per class.
    n_query : int, default=15
        Query samples per class.
    n_episodes : int, default=100
        Number of episodes, i.e. of splits.
    random_state : int, RandomState instance or None, default=None
        Seed of the episode draws.

    See Also
    --------
    evaluate_episodes : mean accuracy and confidence interval over episodes.
    sklmeta.EpisodeSampler : the same episodes as :class:`~sklmeta.Task` objects.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta import EpisodeSplit
    >>> X = np.zeros((30, 2))
    >>> y = np.repeat([0, 1, 2], 10)
    >>> cv = EpisodeSplit(n_way=2, n_shot=1, n_query=3, n_episodes=5, random_state=0)
    >>> cv.get_n_splits()
    5
    >>> support, query = next(cv.split(X, y))
    >>> len(support), len(query)
    (2, 6)
    """

    def __init__(self, n_way=5, n_shot=1, n_query=15, n_episodes=100, random_state=None):
        self.n_way = n_way
        self.n_shot = n_shot
        self.n_query = n_query
        self.n_episodes = n_episodes
        self.random_state = random_state

    def split(self, X, y, groups=None):
        """Yield ``(support_indices, query_indices)`` for each episode.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs; only their number is used.
        y : array-like of shape (n_samples,)
            Class labels the episodes are drawn from.
        groups : None
            Ignored; present for API compatibility.

        Yields
        ------
        support : ndarray
            Indices of the episode's support set.
        query : ndarray
            Indices of its query set.
        """
        if y is None:
            raise ValueError("EpisodeSplit.split needs y: episodes are drawn by class.")
        y = column_or_1d(np.asarray(y), warn=True)
        if X is not None and len(X) != len(y):
            raise ValueError(f"X has {len(X)} samples but y has {len(y)}.")
        n_episodes = check_int(self.n_episodes, "n_episodes", min_value=1)
        index = _ClassIndex(y, self.n_way, self.n_shot, self.n_query)
        if index.n_query < 1:
            raise ValueError("n_query must be >= 1 for EpisodeSplit, got 0.")
        rng = check_random_state(self.random_state)
        for _ in range(n_episodes):
            episode = index.draw(rng)
            yield episode.support_indices, episode.query_indices

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of episodes."""
        return check_int(self.n_episodes, "n_episodes", min_value=1)

    def __repr__(self):
        return (
            f"{type(self).__name__}(n_way={self.n_way}, n_shot={self.n_shot}, "
            f"n_query={self.n_query}, n_episodes={self.n_episodes}, "
            f"random_state={self.random_state!r})"
        )



class ClassShuffleSplit(GroupShuffleSplit):
    """Random class-disjoint train/test splits: classes, not samples, are split.

    A :class:`~sklearn.model_selection.GroupShuffleSplit` whose groups are
    the class labels, so the test side holds only classes the train side
    never saw, as meta-testing requires.

    Parameters
    ----------
    n_splits : int, default=5
        Number of re-shuffling and splitting iterations.
    test_size : float or int, default=0.2
        Fraction (float) or number (int) of classes in the test side.
    train_size : float, int or None, default=None
        Fraction or number of classes in the train side; the rest if None.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffles.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta import ClassShuffleSplit
    >>> y = np.repeat(np.arange(10), 3)
    >>> train, test = next(ClassShuffleSplit(test_size=0.3, random_state=0).split(y, y))
    >>> len(np.unique(y[test])), set(y[train]) & set(y[test])
    (3, set())
    """

    def __init__(self, n_splits=5, *, test_size=0.2, train_size=None, random_state=None):
        super().__init__(
            n_splits=n_splits,
            test_size=test_size,
            train_size=train_size,
            random_state=random_state,
        )

    def split(self, X, y=None, groups=None):
        """Yield class-disjoint ``(train, test)`` index arrays; groups = y."""
        if y is None:
            raise ValueError(f"{type(self).__name__}.split needs y: classes are split.")
        return super().split(X, y, groups=np.asarray(y))


class ClassKFold(GroupKFold):
    """K-fold over classes: each test fold holds classes unseen in its train side.

    A :class:`~sklearn.model_selection.GroupKFold` whose groups are the class
    labels; useful to cross-validate meta-training itself.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta import ClassKFold
    >>> y = np.repeat(np.arange(6), 2)
    >>> [len(np.unique(y[test])) for _, test in ClassKFold(n_splits=3).split(y, y)]
    [2, 2, 2]
    """

    def __init__(self, n_splits=5):
        super().__init__(n_splits=n_splits)

    def split(self, X, y=None, groups=None):
        """Yield class-disjoint ``(train, test)`` index arrays; groups = y."""
        if y is None:
            raise ValueError(f"{type(self).__name__}.split needs y: classes are split.")
        return super().split(X, y, groups=np.asarray(y))


def train_test_class_split(X, y, *, test_size=0.2, train_size=None, random_state=None):
    """Split a labelled pool into meta-train and meta-test sides by class.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Inputs.
    y : array-like of shape (n_samples,)
        Class labels; no class appears on both sides.
    test_size : float or int, default=0.2
        Fraction (float) or number (int) of classes on the test side.
    train_size : float, int or None, default=None
        Fraction or number of classes on the train side.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffle.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarrays
        The two sides.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta import train_test_class_split
    >>> X = np.arange(20).reshape(10, 2)
    >>> y = np.repeat([0, 1, 2, 3, 4], 2)
    >>> X_tr, X_te, y_tr, y_te = train_test_class_split(X, y, test_size=2,
    ...                                                 random_state=0)
    >>> X_tr.shape, X_te.shape
    ((6, 2), (4, 2))
    """
    X = check_array(X, dtype=None, allow_nd=True, input_name="X")
    y = column_or_1d(np.asarray(y), warn=True)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}.")
    splitter = ClassShuffleSplit(
        n_splits=1, test_size=test_size, train_size=train_size, random_state=random_state
    )
    train, test = next(splitter.split(X, y))
    return X[train], X[test], y[train], y[test]
