"""Meta-training on several task sources at once (TaskMixture)."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from sklmeta import (
    EncoderTransformer,
    EpisodeSampler,
    MAMLRegressor,
    ProtoNetClassifier,
    Task,
    TaskMixture,
    make_meta_pipeline,
)
from sklmeta._episodes import MixtureEpisodes, episode_source
from sklmeta.datasets import SinusoidTasks

FAST = dict(encoder="mlp", n_way=3, n_shot=2, n_query=3, max_epochs=2,
            episodes_per_epoch=8, verbose=0, random_state=0, device="cpu")


def pools(offsets=(0.0, 100.0), n_classes=6, n_features=4):
    """Pools whose inputs tell their source: source i lies near offsets[i]."""
    result = []
    for i, offset in enumerate(offsets):
        X, y = make_blobs(n_samples=[8] * n_classes, n_features=n_features,
                          random_state=i)
        result.append((X + offset, y + 10 * i))
    return result


def source_of(episode):
    """Which of :func:`pools`' sources every row of an episode came from."""
    rows = torch.cat([episode.x_support, episode.x_query]).mean(dim=1)
    return set((rows > 50).long().tolist())


def mixture_stream(mixture, n_way=3, seed=0):
    stream = episode_source(mixture, None, "cpu", classify=True, n_way=n_way, n_shot=2,
                            n_query=3, name="X")
    stream.seed(seed)
    return stream


def test_weights_are_normalised_to_probabilities():
    first, second = pools()
    assert np.allclose(TaskMixture([first, second]).probabilities, [0.5, 0.5])
    mixture = TaskMixture({"a": first, "b": second}, weights={"b": 1, "a": 3})
    assert mixture.names == ["a", "b"]
    assert np.allclose(mixture.probabilities, [0.75, 0.25])
    assert np.allclose(TaskMixture([first, second], weights=[1, 4]).probabilities,
                       [0.2, 0.8])
    assert "a: 0.75" in repr(mixture)


@pytest.mark.parametrize("sources, weights, error, match", [
    ([], None, ValueError, "sources is empty"),
    ("pool", None, TypeError, "sources must be"),
    ([np.zeros((4, 2))], None, TypeError, r"sources\['source0'\] must be"),
    ([(np.zeros((4, 2)), np.zeros(3))], None, ValueError, "4 samples but 3 labels"),
    ([(np.zeros((2, 2)), [0, 1])] * 2, [1], ValueError, "one value per source"),
    ([(np.zeros((2, 2)), [0, 1])] * 2, [1, -1], ValueError, "non-negative"),
    ([(np.zeros((2, 2)), [0, 1])] * 2, [0, 0], ValueError, "not all zero"),
    ([(np.zeros((2, 2)), [0, 1])] * 2, [1, np.nan], ValueError, "finite"),
    ([(np.zeros((2, 2)), [0, 1])] * 2, ["a", "b"], TypeError, "weights must be numbers"),
    ([(np.zeros((2, 2)), [0, 1])] * 2, {"source0": 1}, TypeError, "sources must be a dict"),
])
def test_bad_arguments_are_named(sources, weights, error, match):
    with pytest.raises(error, match=match):
        TaskMixture(sources, weights=weights)


def test_dict_weights_must_match_the_names():
    first, second = pools()
    with pytest.raises(ValueError, match=r"missing \['b'\], unknown \['c'\]"):
        TaskMixture({"a": first, "b": second}, weights={"a": 1, "c": 2})


def test_a_mixture_cannot_hold_a_mixture():
    inner = TaskMixture(pools())
    with pytest.raises(TypeError, match="list its sources in this one"):
        TaskMixture([inner])


def test_each_episode_comes_from_one_source_at_the_given_rates():
    mixture = TaskMixture(pools(), weights=[1, 3])
    stream = mixture_stream(mixture)
    origins = [source_of(stream.draw()) for _ in range(2000)]
    assert all(len(origin) == 1 for origin in origins)
    share = np.mean([origin == {1} for origin in origins])
    # binomial standard deviation at n=2000, p=0.75 is about 0.01
    assert abs(share - 0.75) < 0.04


def test_a_source_of_weight_zero_is_never_drawn():
    stream = mixture_stream(TaskMixture(pools(), weights=[0, 1]))
    assert all(source_of(stream.draw()) == {1} for _ in range(200))


def test_the_seed_repeats_the_episodes():
    mixture = TaskMixture(pools())
    a, b = mixture_stream(mixture, seed=3), mixture_stream(mixture, seed=3)
    for _ in range(20):
        x, y = a.draw(), b.draw()
        assert torch.equal(x.x_support, y.x_support) and torch.equal(x.x_query, y.x_query)
    other = mixture_stream(mixture, seed=4)
    assert not all(torch.equal(a.draw().x_support, other.draw().x_support)
                   for _ in range(20))


def test_a_sampler_source_keeps_its_episode_shape():
    first, second = pools()
    sampler = EpisodeSampler(*second, n_way=5, n_shot=1, n_query=2)
    stream = mixture_stream(TaskMixture([first, sampler], weights=[0, 1]))
    episode = stream.draw()
    assert episode.n_way == 5 and len(episode.x_support) == 5 and len(episode.x_query) == 10


def test_a_small_pool_gives_episodes_of_all_its_classes():
    small = make_blobs(n_samples=[8, 8], n_features=4, random_state=0)
    stream = mixture_stream(TaskMixture([small]), n_way=5)
    assert stream.draw().n_way == 2


def test_meta_fit_on_a_mixture_is_reproducible_and_leaves_the_inputs_alone():
    sources = pools()
    copies = [(X.copy(), y.copy()) for X, y in sources]
    mixture = TaskMixture({"a": sources[0], "b": sources[1]}, weights={"a": 1, "b": 2})
    one = ProtoNetClassifier(**FAST).meta_fit(mixture)
    two = ProtoNetClassifier(**FAST).meta_fit(mixture)
    for p, q in zip(one.encoder_.parameters(), two.encoder_.parameters()):
        assert torch.equal(p, q)
    for (X, y), (X0, y0) in zip(sources, copies):
        assert np.array_equal(X, X0) and np.array_equal(y, y0)
    X_new, y_new = make_blobs(n_samples=[10] * 3, n_features=4, random_state=7)
    one.fit(X_new[::2], y_new[::2])
    assert one.predict(X_new[1::2]).shape == (15,)


def test_meta_fit_on_a_mixture_learns():
    """Meta-trained on two sources, the learner beats its untrained start on
    new classes of either."""
    train = pools(offsets=(0.0, 0.0), n_classes=12)
    clf = ProtoNetClassifier(**{**FAST, "max_epochs": 6, "episodes_per_epoch": 30})
    clf.meta_fit(TaskMixture(train))
    losses = [row["train_loss"] for row in clf.history_]
    assert losses[-1] < losses[0]


def test_sources_of_different_widths_are_refused_at_meta_fit():
    narrow = make_blobs(n_samples=[8] * 4, n_features=3, random_state=0)
    wide = make_blobs(n_samples=[8] * 4, n_features=5, random_state=0)
    with pytest.raises(ValueError, match="same number of features; got source0: 3, "
                                         "source1: 5"):
        ProtoNetClassifier(**FAST).meta_fit(TaskMixture([narrow, wide]))


def test_a_mixture_holds_its_labels():
    with pytest.raises(ValueError, match="y must be None"):
        ProtoNetClassifier(**FAST).meta_fit(TaskMixture(pools()), np.zeros(3))


def test_task_lists_and_families_mix_for_regression():
    rng = np.random.RandomState(0)
    tasks = [Task(rng.randn(5, 1), rng.randn(5), rng.randn(5, 1), rng.randn(5))
             for _ in range(4)]
    mixture = TaskMixture([SinusoidTasks(n_shot=5, n_query=5), tasks], weights=[3, 1])
    reg = MAMLRegressor(max_epochs=2, episodes_per_epoch=8, meta_batch_size=4,
                        verbose=0, random_state=0, device="cpu")
    assert len(reg.meta_fit(mixture).history_) == 2


def test_a_pool_is_refused_in_a_regression_mixture():
    X, y = make_blobs(n_samples=[8] * 4, n_features=1, random_state=0)
    reg = MAMLRegressor(max_epochs=1, verbose=0, device="cpu")
    with pytest.raises(ValueError, match=r"X\['source0'\] is a labelled pool"):
        reg.meta_fit(TaskMixture([(X, y.astype(float))]))


def text_sources():
    """Two domains of four intents each, six short utterances per intent."""
    words = [["card", "bank", "money", "loan"], ["flight", "hotel", "train", "taxi"]]
    sources = {}
    for domain, vocabulary in enumerate(words):
        texts, labels = [], []
        for label, word in enumerate(vocabulary):
            for k in range(6):
                texts.append(f"{word} please {k} {word}s")
                labels.append(f"{domain}-{label}")
        sources[f"domain{domain}"] = (texts, labels)
    return sources


def test_a_text_pipeline_meta_fits_on_a_mixture_of_string_pools():
    sources = text_sources()
    pipe = make_meta_pipeline(TfidfVectorizer(), ProtoNetClassifier(**FAST))
    pipe.meta_fit(TaskMixture(sources))
    # the vectorizer was fitted on the words of both sources
    assert {"card", "flight"} <= set(pipe[0].vocabulary_)
    pipe.fit(["card please", "flight please", "hotel please"], ["a", "b", "c"])
    assert pipe.predict(["flight please now"]).tolist() == ["b"]


def test_sparse_pools_are_sources():
    sources = text_sources()
    vectorizer = TfidfVectorizer().fit(sources["domain0"][0] + sources["domain1"][0])
    sparse = {name: (vectorizer.transform(texts), labels)
              for name, (texts, labels) in sources.items()}
    mixture = TaskMixture(sparse)
    assert mixture.names == ["domain0", "domain1"]
    with pytest.raises(ValueError, match=r"sources\['domain0'\] has 24 samples but 3 labels"):
        TaskMixture({"domain0": (sparse["domain0"][0], ["a", "b", "c"])})


def test_a_meta_learned_encoder_feeds_a_plain_classifier_in_a_mixture_pipeline():
    learner = ProtoNetClassifier(**FAST)
    pipe = make_meta_pipeline(TfidfVectorizer(), EncoderTransformer(learner),
                              LogisticRegression())
    pipe.meta_fit(TaskMixture(text_sources()))
    assert len(pipe[1].learner_.history_) == FAST["max_epochs"]
    # the classifier is fitted on each support set only
    assert not hasattr(pipe[-1], "coef_")
    pipe.fit(["card please", "flight please", "hotel please"], ["a", "b", "c"])
    assert pipe[-1].coef_.shape == (3, pipe[1].n_features_out_)


def test_mixture_episodes_need_sources_of_one_width():
    class Fake:
        def __init__(self, width):
            self.n_features, self.feature_names = width, None

    with pytest.raises(ValueError, match="same number of features"):
        MixtureEpisodes([Fake(2), Fake(3)], np.array([0.5, 0.5]), ["a", "b"])
