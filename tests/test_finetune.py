"""The fine-tuning baseline and supervised pretraining."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklmeta import EpisodeSampler, ProtoNetClassifier, evaluate_episodes
from sklmeta.baselines import FineTuneClassifier, pretrain_encoder

FAST = dict(encoder="mlp", n_adapt_steps=30, verbose=0, random_state=0, device="cpu")


@parametrize_with_checks(
    [FineTuneClassifier(encoder="mlp", verbose=0, random_state=0, device="cpu")],
    expected_failed_checks=lambda est: {},
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def pretrained(blobs):
    X, y = blobs
    return FineTuneClassifier(max_epochs=20, batch_size=32, **FAST).meta_fit(
        X[y < 20], y[y < 20]
    )


def support_and_queries(blobs, classes=(20, 21, 22, 23, 24), n_shot=2):
    X, y = blobs
    support = np.concatenate([np.flatnonzero(y == c)[:n_shot] for c in classes])
    query = np.concatenate([np.flatnonzero(y == c)[n_shot:] for c in classes])
    return X[support], y[support], X[query], y[query]


def test_pretraining_helps_on_unseen_classes(pretrained, blobs):
    X, y = blobs
    held_out = y >= 20
    untrained = FineTuneClassifier(max_epochs=0, **FAST).meta_fit(X[y < 20], y[y < 20])
    kwargs = dict(n_way=5, n_shot=2, n_query=5, n_episodes=15, random_state=0)
    before = evaluate_episodes(untrained, X[held_out], y[held_out], **kwargs)
    after = evaluate_episodes(pretrained, X[held_out], y[held_out], **kwargs)
    assert after.mean > before.mean + 0.15, (before, after)
    assert pretrained.history_[-1, "train_acc"] > 0.8
    assert list(pretrained.pretrain_classes_) == list(range(20))


def test_fit_never_changes_the_pretrained_encoder(pretrained, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    for finetune in (False, True):
        est = clone(pretrained).set_params(finetune_encoder=finetune)
        assert hasattr(est, "history_")  # an adaptation parameter keeps pretraining
        before = {k: v.clone() for k, v in est.encoder_.state_dict().items()}
        est.fit(X_s, y_s).predict(X_q)
        for key, value in est.encoder_.state_dict().items():
            assert torch.equal(value, before[key]), key
        assert hasattr(est, "adapted_encoder_") == finetune
    changed = [
        not torch.equal(a, b)
        for a, b in zip(est.adapted_encoder_.parameters(), est.encoder_.parameters())
    ]
    assert any(changed)


def test_clone_keeps_pretraining_not_the_head(pretrained, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    adapted = clone(pretrained).fit(X_s, y_s)
    copy = clone(adapted)
    assert not hasattr(copy, "head_") and not hasattr(copy, "classes_")
    assert copy.pretrain_head_ is not adapted.pretrain_head_
    for a, b in zip(copy.encoder_.parameters(), pretrained.encoder_.parameters()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
    np.testing.assert_array_equal(copy.fit(X_s, y_s).predict_proba(X_q),
                                  adapted.predict_proba(X_q))


@pytest.mark.parametrize("head", ["linear", "cosine"])
def test_heads_adapt_to_any_labels(pretrained, blobs, head):
    X_s, y_s, X_q, y_q = support_and_queries(blobs, classes=(20, 21, 22))
    names = np.array(["ant", "bee", "cat"])[y_s - 20]
    est = clone(pretrained).set_params(head=head)
    if head == "cosine":  # the head kind shapes pretraining: it starts over
        assert not hasattr(est, "history_")
    est.fit(X_s, names)
    proba = est.predict_proba(X_q)
    assert proba.shape == (len(X_q), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(est.predict(X_q)) <= set(names)


def test_pretraining_on_task_collections(blobs):
    X, y = blobs
    sampler = EpisodeSampler(X[y < 20], y[y < 20], n_way=5, n_shot=2, n_query=3,
                             random_state=0)
    est = FineTuneClassifier(max_epochs=1, **FAST).meta_fit(sampler)
    assert len(est.pretrain_classes_) == 20
    tasks = list(EpisodeSampler(X[y < 10], y[y < 10], n_way=3, n_shot=2, n_query=3,
                                n_episodes=4, random_state=0))
    est = FineTuneClassifier(max_epochs=1, **FAST).meta_fit(tasks)
    seen = np.unique(np.concatenate([np.r_[t.y_support, t.y_query] for t in tasks]))
    np.testing.assert_array_equal(est.pretrain_classes_, seen)
    with pytest.raises(TypeError, match="labelled pool"):
        FineTuneClassifier(**FAST).meta_fit(iter(tasks))


def test_validation_episodes_and_warm_start(blobs):
    X, y = blobs
    est = FineTuneClassifier(max_epochs=2, n_val_episodes=3, n_shot=2, n_query=3, **FAST)
    est.meta_fit(X[y < 20], y[y < 20], validation_data=(X[y >= 20], y[y >= 20]))
    assert 0.0 <= est.history_[-1, "valid_acc"] <= 1.0
    est.set_params(warm_start=True, max_epochs=1).meta_fit(X[y < 20], y[y < 20])
    assert len(est.history_) == 3
    with pytest.raises(ValueError, match="same 20 classes"):
        est.meta_fit(X[y < 10], y[y < 10])


@pytest.mark.parametrize("params, match", [
    ({"head": "softmax"}, "head must be one of"),
    ({"n_adapt_steps": 0}, "n_adapt_steps must be >= 1"),
    ({"adapt_lr": -1.0}, "adapt_lr must be > 0"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"cosine_scale": 0.0}, "cosine_scale must be > 0"),
])
def test_invalid_parameters_fail_before_work(blobs, params, match):
    X, y = blobs
    with pytest.raises(ValueError, match=match):
        FineTuneClassifier(**{**FAST, **params}).meta_fit(X, y)


def test_pickle_round_trip(pretrained, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    adapted = clone(pretrained).fit(X_s, y_s)
    restored = pickle.loads(pickle.dumps(adapted))
    np.testing.assert_array_equal(restored.predict_proba(X_q), adapted.predict_proba(X_q))


def test_pretrained_encoder_starts_a_meta_learner(blobs):
    X, y = blobs
    module = pretrain_encoder(X[y < 20], y[y < 20], encoder="mlp", max_epochs=2,
                              verbose=0, random_state=0, device="cpu")
    assert not module.training
    saved = [p.detach().clone() for p in module.parameters()]
    learner = ProtoNetClassifier(encoder=module, max_epochs=0, verbose=0,
                                 random_state=0, device="cpu").meta_fit(X, y)
    assert learner.encoder_ is not module
    for a, b in zip(learner.encoder_.parameters(), module.parameters()):
        assert torch.equal(a, b)
    learner.set_params(max_epochs=1, episodes_per_epoch=3, n_shot=2, n_query=3)
    learner.meta_fit(X[y < 20], y[y < 20])
    assert any(not torch.equal(a, b)
               for a, b in zip(learner.encoder_.parameters(), module.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(saved, module.parameters()))
