"""Prototypical Networks: behaviour, properties and learning."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from sklmeta import EpisodeSampler, EpisodeSplit, ProtoNetClassifier, evaluate_episodes
from sklmeta.datasets import load_omniglot
from sklmeta.encoders import MLP, Conv4


def support_and_queries(blobs, classes=(20, 21, 22, 23, 24), n_shot=2):
    X, y = blobs
    support = np.concatenate([np.flatnonzero(y == c)[:n_shot] for c in classes])
    query = np.concatenate([np.flatnonzero(y == c)[n_shot:] for c in classes])
    return X[support], y[support], X[query], y[query]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 2))
def test_predictions_do_not_depend_on_support_order(meta_fitted_protonet, blobs, seed):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    order = np.random.RandomState(seed).permutation(len(y_s))
    a = clone(meta_fitted_protonet).fit(X_s, y_s).predict_proba(X_q)
    b = clone(meta_fitted_protonet).fit(X_s[order], y_s[order]).predict_proba(X_q)
    np.testing.assert_allclose(a, b, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 2))
def test_relabelling_classes_relabels_predictions(meta_fitted_protonet, blobs, seed):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    rng = np.random.RandomState(seed)
    names = np.array([f"class-{v}" for v in rng.permutation(1000)[:5]])
    mapping = dict(zip(np.unique(y_s), names))
    relabelled = np.array([mapping[v] for v in y_s])
    original = clone(meta_fitted_protonet).fit(X_s, y_s).predict(X_q)
    renamed = clone(meta_fitted_protonet).fit(X_s, relabelled).predict(X_q)
    np.testing.assert_array_equal(renamed, [mapping[v] for v in original])


def test_clone_keeps_meta_state_but_not_adaptation(meta_fitted_protonet, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    adapted = clone(meta_fitted_protonet).fit(X_s, y_s)
    copy = clone(adapted)
    assert not hasattr(copy, "classes_") and not hasattr(copy, "prototypes_")
    assert copy.encoder_ is not adapted.encoder_
    for a, b in zip(copy.encoder_.parameters(), meta_fitted_protonet.encoder_.parameters()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
    assert len(copy.history_) == len(meta_fitted_protonet.history_)
    np.testing.assert_array_equal(copy.fit(X_s, y_s).predict(X_q), adapted.predict(X_q))


def test_fit_never_changes_the_meta_learned_encoder(meta_fitted_protonet, blobs):
    est = clone(meta_fitted_protonet)
    before = {k: v.clone() for k, v in est.encoder_.state_dict().items()}
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    est.fit(X_s, y_s).predict(X_q)
    for key, value in est.encoder_.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_same_random_state_same_model(blobs):
    X, y = blobs
    params = dict(encoder="mlp", n_way=4, n_shot=1, n_query=3, max_epochs=1,
                  episodes_per_epoch=10, verbose=0, random_state=3)
    a = ProtoNetClassifier(**params).meta_fit(X, y)
    b = ProtoNetClassifier(**params).meta_fit(X, y)
    c = ProtoNetClassifier(**{**params, "random_state": 4}).meta_fit(X, y)
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    np.testing.assert_array_equal(a.fit(X_s, y_s).predict_proba(X_q),
                                  b.fit(X_s, y_s).predict_proba(X_q))
    assert not np.allclose(a.predict_proba(X_q), c.fit(X_s, y_s).predict_proba(X_q))


def test_meta_fit_leaves_global_torch_rng_alone(blobs):
    X, y = blobs
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ProtoNetClassifier(encoder="mlp", max_epochs=1, episodes_per_epoch=2, n_shot=1,
                       n_query=2, verbose=0, random_state=0).meta_fit(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_one_shot_predict_proba(meta_fitted_protonet, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs, n_shot=1)
    proba = clone(meta_fitted_protonet).fit(X_s, y_s).predict_proba(X_q)
    assert proba.shape == (len(X_q), 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(proba > 0)


def test_any_number_of_classes_at_adaptation(meta_fitted_protonet, blobs):
    X, y = blobs
    keep = y >= 20  # ten classes unseen in meta-training; meta-trained 5-way
    est = clone(meta_fitted_protonet).fit(X[keep][::4], y[keep][::4])
    assert list(est.classes_) == list(range(20, 30))
    assert est.predict_proba(X[keep]).shape == (keep.sum(), 10)


def test_meta_training_helps_on_unseen_classes(blobs):
    X, y = blobs
    meta = ProtoNetClassifier(encoder="mlp", n_way=5, n_shot=1, n_query=5, max_epochs=3,
                              episodes_per_epoch=30, verbose=0, random_state=0)
    meta.meta_fit(X[y < 20], y[y < 20])
    untrained = ProtoNetClassifier(encoder="mlp", verbose=0, random_state=0)
    held_out = y >= 20
    kwargs = dict(n_way=5, n_shot=1, n_query=5, n_episodes=40, random_state=1)
    trained_acc = evaluate_episodes(meta, X[held_out], y[held_out], **kwargs).mean
    untrained_acc = evaluate_episodes(untrained, X[held_out], y[held_out], **kwargs).mean
    assert trained_acc > untrained_acc


def test_meta_fit_on_task_collections(blobs):
    X, y = blobs
    sampler = EpisodeSampler(X, y, n_way=3, n_shot=2, n_query=2, random_state=0)
    from_sampler = ProtoNetClassifier(encoder="mlp", max_epochs=1, episodes_per_epoch=5,
                                      verbose=0, random_state=0).meta_fit(sampler)
    tasks = list(EpisodeSampler(X, y, 4, 1, 3, n_episodes=6, random_state=0))
    from_list = ProtoNetClassifier(encoder="mlp", max_epochs=2, episodes_per_epoch=5,
                                   verbose=0, random_state=0).meta_fit(tasks)
    generator = (task for task in tasks)
    with pytest.raises(ValueError, match="ran out of tasks"):
        ProtoNetClassifier(encoder="mlp", max_epochs=2, episodes_per_epoch=5,
                           verbose=0).meta_fit(generator)
    for est in (from_sampler, from_list):
        assert len(est.history_) == est.max_epochs
        assert est.n_features_in_ == X.shape[1]


def test_cross_val_score_over_episodes_reuses_meta_training(meta_fitted_protonet, blobs):
    X, y = blobs
    held_out = y >= 20
    cv = EpisodeSplit(n_way=5, n_shot=2, n_query=5, n_episodes=8, random_state=0)
    scores = cross_val_score(meta_fitted_protonet, X[held_out], y[held_out], cv=cv)
    assert scores.shape == (8,)
    untrained = ProtoNetClassifier(encoder="mlp", verbose=0, random_state=0)
    baseline = cross_val_score(untrained, X[held_out], y[held_out], cv=cv)
    assert scores.mean() > baseline.mean()


def test_encoder_choices(blobs):
    X, y = blobs
    assert isinstance(ProtoNetClassifier(verbose=0).fit(X, y).encoder_, MLP)
    images = np.random.RandomState(0).rand(10, 256)
    est = ProtoNetClassifier(verbose=0).fit(images, np.arange(10) % 2)
    assert isinstance(est.encoder_, Conv4) and est.encoder_.input_shape == (1, 16, 16)
    wide = ProtoNetClassifier(encoder="mlp", encoder__out_features=7,
                              encoder__hidden_layer_sizes=(5,), verbose=0).fit(X, y)
    assert wide.prototypes_.shape == (30, 7)
    user_module = MLP(in_features=X.shape[1], out_features=3)
    est = ProtoNetClassifier(encoder=user_module, verbose=0).fit(X, y)
    assert est.encoder_ is not user_module
    assert ProtoNetClassifier(encoder=MLP, encoder__in_features=X.shape[1],
                              verbose=0).fit(X, y).prototypes_.shape == (30, 64)
    with pytest.raises(ValueError, match="not a square number"):
        ProtoNetClassifier(encoder="conv4", verbose=0).fit(X, y)
    with pytest.raises(TypeError, match="encoder must be"):
        ProtoNetClassifier(encoder="resnet", verbose=0).fit(X, y)


def test_short_meta_training_on_omniglot_beats_untrained_encoder():
    """End to end on real data: 150 training characters, held-out test characters."""
    train = load_omniglot(split="train")
    test = load_omniglot(split="test")
    keep = train.target < np.unique(train.target)[150]
    learner = ProtoNetClassifier(encoder="conv4", n_way=10, n_shot=1, n_query=5,
                                 max_epochs=2, episodes_per_epoch=40, verbose=0,
                                 random_state=0, device="cpu")
    learner.meta_fit(train.data[keep], train.target[keep])
    untrained = ProtoNetClassifier(encoder="conv4", verbose=0, random_state=0, device="cpu")
    kwargs = dict(n_way=5, n_shot=1, n_query=5, n_episodes=40, random_state=0)
    trained = evaluate_episodes(learner, test.data, test.target, **kwargs)
    baseline = evaluate_episodes(untrained, test.data, test.target, **kwargs)
    assert trained.mean > baseline.mean + 0.1, (trained, baseline)
