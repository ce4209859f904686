"""Text features and the text encoder."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.neighbors import NearestCentroid

from sklmeta import (
    MAMLClassifier,
    MatchingNetClassifier,
    ProtoNetClassifier,
    RelationNetClassifier,
    make_meta_pipeline,
)
from sklmeta.encoders import TextEncoder, build_encoder
from sklmeta.text import TextFeatures

TEXTS = ["what is my balance", "how much money is in my account", "book a flight",
         "I need a plane ticket to Paris", "play some music", "put on a song"]


def small_features(**params):
    return TextFeatures(n_word_features=256, n_char_features=256, **params)


def test_features_are_two_normalised_blocks():
    Z = small_features().fit_transform(TEXTS)
    assert Z.shape == (6, 512) and Z.dtype == np.float32
    dense = Z.toarray()
    assert np.allclose(np.linalg.norm(dense[:, :256], axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(dense[:, 256:], axis=1), 1, atol=1e-5)


def test_words_never_fitted_still_get_features():
    features = small_features().fit(TEXTS[:2])
    unseen = features.transform(["zebra giraffe"]).toarray()
    assert np.count_nonzero(unseen[0, :256]) >= 2
    # idf_ of columns no fitted text hit is the largest, as for a rare word
    assert features.idf_.max() == features.idf_[unseen[0] > 0].max()


def test_fit_learns_document_frequencies():
    features = small_features().fit(["my account", "my card", "my balance"])
    word = features.transform(["my"]).toarray()[0, :256]
    rare = features.transform(["card"]).toarray()[0, :256]
    assert np.count_nonzero(word) == np.count_nonzero(rare) == 1
    idf = features.idf_[:256]
    assert idf[word > 0][0] < idf[rare > 0][0]


def test_the_inputs_are_left_alone_and_arrays_work():
    texts = np.array(TEXTS, dtype=object)
    before = texts.copy()
    Z = small_features().fit_transform(texts)
    assert np.array_equal(texts, before)
    assert np.allclose(Z.toarray(), small_features().fit_transform(list(TEXTS)).toarray())


@pytest.mark.parametrize("X, error, match", [
    ("one text", TypeError, "not a single string"),
    ([], ValueError, "X is empty"),
    (["fine", 3], TypeError, "found 3 of type int"),
    (5, TypeError, "iterable of texts"),
])
def test_bad_texts_are_named(X, error, match):
    with pytest.raises(error, match=match):
        small_features().fit(X)


@pytest.mark.parametrize("params, match", [
    (dict(n_word_features=0), "n_word_features must be >= 1"),
    (dict(word_ngram_range=(2, 1)), "word_ngram_range must be a pair"),
    (dict(char_ngram_range=3), "char_ngram_range must be a pair"),
    (dict(sublinear_tf="yes"), "sublinear_tf"),
])
def test_bad_parameters_are_named(params, match):
    with pytest.raises((TypeError, ValueError), match=match):
        TextFeatures(**params).fit(TEXTS)


def test_transform_needs_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TextFeatures().transform(TEXTS)


def test_the_encoder_starts_as_the_nearest_centroid_of_its_input():
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    X = rng.rand(40, 30).astype(np.float32) ** 4
    y = np.repeat(np.arange(4), 10)
    encoder = TextEncoder(in_features=30, embedding_dim=8).eval()
    with torch.no_grad():
        Z = encoder(torch.from_numpy(X)).numpy()
    normalised = X / np.linalg.norm(X, axis=1, keepdims=True)
    support = np.arange(0, 40, 5)
    ours = NearestCentroid().fit(Z[support], y[support]).predict(Z)
    theirs = NearestCentroid().fit(normalised[support], y[support]).predict(normalised)
    assert np.array_equal(ours, theirs)
    assert np.allclose(np.linalg.norm(Z, axis=1), 4.0, atol=1e-4)


def test_the_encoder_is_built_by_name():
    encoder = build_encoder("text", 50, {"embedding_dim": 12})
    assert isinstance(encoder, TextEncoder)
    assert encoder(torch.rand(2, 50)).shape == (2, 62)


@pytest.mark.parametrize("learner", [MAMLClassifier, RelationNetClassifier])
def test_learners_with_networks_of_their_own_refuse_it(learner):
    with pytest.raises(ValueError, match="encoder='text' is for learners that compare"):
        learner(encoder="text", max_epochs=1, verbose=0).meta_fit(
            np.random.rand(160, 16), np.repeat(np.arange(8), 20))


def intents(n_intents=12, per_intent=8, seed=0):
    """Utterances whose intent is told by a keyword among shared filler words."""
    rng = np.random.RandomState(seed)
    keywords = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
                "india", "juliett", "kilo", "lima"][:n_intents]
    filler = ["please", "can", "you", "my", "the", "now", "help", "me", "with", "a"]
    texts, labels = [], []
    for label, keyword in enumerate(keywords):
        for _ in range(per_intent):
            words = list(rng.choice(filler, size=4)) + [keyword]
            rng.shuffle(words)
            texts.append(" ".join(words))
            labels.append(label)
    return texts, np.array(labels)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("n_hallucinated", [0, 2])  # with feature hallucination too
@pytest.mark.parametrize("learner", [ProtoNetClassifier, MatchingNetClassifier])
def test_a_text_pipeline_meta_trains_on_strings_and_adapts(learner, n_hallucinated):
    texts, labels = intents()
    pipe = make_meta_pipeline(
        small_features(),
        learner(encoder="text", encoder__embedding_dim=16, n_way=4, n_shot=1, n_query=3,
                n_hallucinated=n_hallucinated, max_epochs=3, episodes_per_epoch=20,
                verbose=0, random_state=0, device="cpu"),
    )
    train = labels < 8
    pipe.meta_fit(np.array(texts, dtype=object)[train], labels[train])
    history = pipe[-1].history_
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    test_texts = np.array(texts, dtype=object)[~train]
    test_labels = labels[~train]
    support = np.arange(0, len(test_labels), 8)
    adapted = clone(pipe)  # keeps what meta-training learned
    adapted.fit(test_texts[support], test_labels[support])
    assert adapted.score(test_texts, test_labels) > 0.9
    # the learned feature weights moved from their start at 1
    encoder = adapted[-1].encoder_
    assert encoder.log_feature_weight.abs().max() > 0


def test_the_learned_embedding_starts_with_a_small_weight():
    encoder = TextEncoder(in_features=30, embedding_dim=8)
    assert encoder.log_embedding_weight.exp().item() == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="embedding_weight must be positive"):
        TextEncoder(in_features=30, embedding_weight=0.0)
