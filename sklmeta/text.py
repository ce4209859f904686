"""Features of short texts for the meta-learners.

:class:`TextFeatures` turns raw strings into hashed word and character
n-gram counts weighted by TF-IDF. Hashing needs no vocabulary, so the words
of classes never seen in meta-training still get features of their own.
Followed by a learner with ``encoder='text'`` in a
:class:`~sklmeta.MetaPipeline`, it meta-trains on raw strings::

    make_meta_pipeline(TextFeatures(), ProtoNetClassifier(encoder="text"))
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.utils.validation import check_is_fitted

from .utils._validation import check_bool, check_int

__all__ = ["TextFeatures"]


class TextFeatures(TransformerMixin, BaseEstimator):
    """Hashed word and character n-grams of texts, weighted by TF-IDF.

    Two blocks of features, each L2-normalised: word n-grams and character
    n-grams within word boundaries, each hashed into a fixed number of
    columns, counted with sublinear term frequency and weighted by inverse
    document frequency learned in ``fit``. A word ``fit`` never saw gets the
    largest weight, as a rare word would.

    Parameters
    ----------
    word_ngram_range : tuple (min_n, max_n), default=(1, 2)
        Word n-grams counted.
    char_ngram_range : tuple (min_n, max_n), default=(2, 4)
        Character n-grams counted, within word boundaries.
    n_word_features : int, default=8192
        Columns the word n-grams are hashed into.
    n_char_features : int, default=8192
        Columns the character n-grams are hashed into.
    sublinear_tf : bool, default=True
        Count ``1 + log(tf)`` instead of ``tf``.
    lowercase : bool, default=True
        Lowercase the texts first.

    Attributes
    ----------
    idf_ : ndarray of shape (n_word_features + n_char_features,)
        Inverse document frequency of each column, learned in ``fit``.
    n_features_out_ : int
        Number of output columns.
    tfidf_ : list of TfidfTransformer
        The fitted weighting of the word block and of the character block.

    See Also
    --------
    sklmeta.encoders.TextEncoder : the encoder of ``encoder='text'``.
    sklearn.feature_extraction.text.HashingVectorizer : the hashing used.

    Examples
    --------
    >>> from sklmeta.text import TextFeatures
    >>> features = TextFeatures(n_word_features=64, n_char_features=64)
    >>> Z = features.fit_transform(["what is my balance", "book a flight"])
    >>> Z.shape
    (2, 128)
    """

    def __init__(self, word_ngram_range=(1, 2), char_ngram_range=(2, 4),
                 n_word_features=8192, n_char_features=8192, sublinear_tf=True,
                 lowercase=True):
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.n_word_features = n_word_features
        self.n_char_features = n_char_features
        self.sublinear_tf = sublinear_tf
        self.lowercase = lowercase

    def fit(self, X, y=None):
        """Learn the inverse document frequencies of ``X``.

        Parameters
        ----------
        X : iterable of str
            Texts.
        y : None
            Ignored.

        Returns
        -------
        self : TextFeatures
        """
        self._validate_params()
        texts = _check_texts(X)
        blocks = self._hashers()
        self.tfidf_ = [
            TfidfTransformer(sublinear_tf=self.sublinear_tf).fit(hasher.transform(texts))
            for hasher in blocks
        ]
        self.idf_ = np.concatenate([weights.idf_ for weights in self.tfidf_])
        self.n_features_out_ = self.n_word_features + self.n_char_features
        return self

    def transform(self, X):
        """Features of the texts ``X``.

        Parameters
        ----------
        X : iterable of str
            Texts.

        Returns
        -------
        Z : sparse matrix of shape (n_texts, n_word_features + n_char_features), float32
        """
        check_is_fitted(self, "idf_")
        texts = _check_texts(X)
        parts = [weights.transform(hasher.transform(texts))
                 for hasher, weights in zip(self._hashers(), self.tfidf_)]
        return sp.hstack(parts, format="csr", dtype=np.float32)

    def _hashers(self):
        options = dict(alternate_sign=False, norm=None, dtype=np.float32,
                       lowercase=self.lowercase)
        return [
            HashingVectorizer(analyzer="word", ngram_range=tuple(self.word_ngram_range),
                              n_features=self.n_word_features, **options),
            HashingVectorizer(analyzer="char_wb", ngram_range=tuple(self.char_ngram_range),
                              n_features=self.n_char_features, **options),
        ]

    def _validate_params(self):
        check_int(self.n_word_features, "n_word_features", min_value=1)
        check_int(self.n_char_features, "n_char_features", min_value=1)
        check_bool(self.sublinear_tf, "sublinear_tf")
        check_bool(self.lowercase, "lowercase")
        for name in ("word_ngram_range", "char_ngram_range"):
            value = getattr(self, name)
            valid = (
                isinstance(value, (tuple, list)) and len(value) == 2
                and all(isinstance(n, numbers.Integral) and not isinstance(n, bool)
                        for n in value)
                and 1 <= value[0] <= value[1]
            )
            if not valid:
                raise ValueError(
                    f"{name} must be a pair of ints (min_n, max_n) with "
                    f"1 <= min_n <= max_n, got {value!r}."
                )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.input_tags.sparse = False
        return tags


def _check_texts(X):
    """``X`` as a list of str, or a TypeError naming it."""
    if isinstance(X, (str, bytes)):
        raise TypeError(
            "X must be an iterable of texts, not a single string; wrap it in a list."
        )
    try:
        texts = list(np.asarray(X, dtype=object).ravel()) if hasattr(X, "shape") else list(X)
    except TypeError:
        raise TypeError(f"X must be an iterable of texts, got {type(X).__name__}.") from None
    if not texts:
        raise ValueError("X is empty: give at least one text.")
    bad = next((t for t in texts if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"X must hold texts (str); found {bad!r} of type "
                        f"{type(bad).__name__}.")
    return texts
