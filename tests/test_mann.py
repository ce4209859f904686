"""Memory-augmented neural network: behaviour, properties and learning."""

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback

from sklmeta import (
    EncoderTransformer,
    EpisodeSampler,
    ProtoNetClassifier,
    evaluate_episodes,
    make_meta_pipeline,
)
from sklmeta.memory_based import MANNClassifier
from sklmeta.memory_based._controller import MemoryController

from conftest import make_few_shot_blobs

# A small network: the checks and these tests fit it many times.
SMALL = dict(encoder="mlp", controller_size=32, n_slots=16, slot_size=8, n_heads=2,
             verbose=0, random_state=0, device="cpu")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # recurrent steps on tiny tensors run faster on one thread than on two
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@parametrize_with_checks(
    [MANNClassifier(**SMALL)],
    expected_failed_checks=lambda est: {},
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def easy_blobs():
    # separable classes, so that a short meta-training already helps
    return make_few_shot_blobs(n_classes=40, per_class=20, n_informative=6, n_noise=0)


@pytest.fixture(scope="module")
def meta_fitted(easy_blobs):
    X, y = easy_blobs
    clf = MANNClassifier(**{**SMALL, "encoder__out_features": 16}, n_way=5, n_shot=2,
                         n_query=3, max_epochs=1, episodes_per_epoch=32)
    return clf.meta_fit(X[y < 30], y[y < 30])


def task(blobs, classes=(30, 31, 32, 33, 34), n_shot=2):
    X, y = blobs
    support = np.concatenate([np.flatnonzero(y == c)[:n_shot] for c in classes])
    query = np.concatenate([np.flatnonzero(y == c)[n_shot:] for c in classes])
    return X[support], y[support], X[query], y[query]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 2))
def test_predictions_do_not_depend_on_the_queries_asked_together(meta_fitted, easy_blobs,
                                                                 seed):
    X_s, y_s, X_q, _ = task(easy_blobs)
    est = clone(meta_fitted).fit(X_s, y_s)
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(X_q))
    subset = order[: rng.randint(1, len(X_q))]
    proba = est.predict_proba(X_q)
    np.testing.assert_allclose(est.predict_proba(X_q[order]), proba[order], atol=1e-6)
    np.testing.assert_allclose(est.predict_proba(X_q[subset]), proba[subset], atol=1e-6)
    # asking never changes the stored memory
    np.testing.assert_allclose(est.predict_proba(X_q), proba, atol=1e-6)


def test_fit_writes_the_support_set_and_leaves_the_network_alone(meta_fitted, easy_blobs):
    est = clone(meta_fitted)
    before = {k: v.clone() for k, v in est.module_.state_dict().items()}
    X_s, y_s, X_q, _ = task(easy_blobs)
    est.set_params(n_support_orders=3).fit(X_s, y_s)
    state = est.memory_state_
    assert state["memory"].shape == (3, 16, 8)
    assert state["label"].shape == (3, 5)
    # the stored memory holds what the support stream wrote
    assert state["usage"].sum() > 0
    assert not torch.allclose(state["memory"], torch.full_like(state["memory"], 1e-6))
    est.predict(X_q)
    for key, value in est.module_.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_support_orders_average_their_predictions(meta_fitted, easy_blobs):
    X_s, y_s, X_q, _ = task(easy_blobs)
    est = clone(meta_fitted).set_params(n_support_orders=4).fit(X_s, y_s)
    proba = est.predict_proba(X_q)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    single = []
    for order in range(4):
        one = clone(meta_fitted).set_params(n_support_orders=1).fit(X_s, y_s)
        one.memory_state_ = {k: v[order:order + 1] for k, v in est.memory_state_.items()}
        single.append(one.predict_proba(X_q))
    np.testing.assert_allclose(np.mean(single, axis=0), proba, atol=1e-6)
    # the stored orders count, not a later change of the parameter
    np.testing.assert_allclose(est.set_params(n_support_orders=1).predict_proba(X_q), proba)


def test_clone_keeps_the_controller_but_not_the_memory(meta_fitted, easy_blobs):
    X_s, y_s, X_q, _ = task(easy_blobs)
    adapted = clone(meta_fitted).fit(X_s, y_s)
    copy = clone(adapted)
    assert not hasattr(copy, "memory_state_") and not hasattr(copy, "classes_")
    assert copy.controller_ is not adapted.controller_
    for a, b in zip(copy.module_.parameters(), meta_fitted.module_.parameters()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
    np.testing.assert_array_equal(copy.fit(X_s, y_s).predict_proba(X_q),
                                  adapted.predict_proba(X_q))
    restored = pickle.loads(pickle.dumps(adapted))
    np.testing.assert_array_equal(restored.predict_proba(X_q), adapted.predict_proba(X_q))


def test_any_labels_up_to_n_way_classes(meta_fitted, easy_blobs):
    X_s, y_s, X_q, _ = task(easy_blobs)
    letters = np.array(["a", "b", "c", "d", "e"])
    est = clone(meta_fitted)
    original = est.fit(X_s, y_s).predict(X_q)
    # labels in the same sorted order get the same label slots
    np.testing.assert_array_equal(est.fit(X_s, letters[y_s - 30]).predict(X_q),
                                  letters[original - 30])
    X3, y3, Xq3, _ = task(easy_blobs, classes=(35, 36, 37))
    assert est.fit(X3, y3).predict_proba(Xq3).shape == (len(Xq3), 3)
    X6, y6, _, _ = task(easy_blobs, classes=(30, 31, 32, 33, 34, 35))
    with pytest.raises(ValueError, match=r"6 classes .* n_way=5 .* n_way >= 6"):
        clone(meta_fitted).fit(X6, y6)


def test_meta_fit_checks_tasks_against_n_way(easy_blobs):
    X, y = easy_blobs
    small_tasks = list(EpisodeSampler(X, y, n_way=3, n_shot=1, n_query=2, n_episodes=4,
                                      random_state=0))
    est = MANNClassifier(**SMALL, n_way=5, max_epochs=1, episodes_per_epoch=4,
                         meta_batch_size=2).meta_fit(small_tasks)
    assert est.controller_.n_way == 5 and len(est.history_) == 1
    wide = EpisodeSampler(X, y, n_way=6, n_shot=1, n_query=1, random_state=0)
    with pytest.raises(ValueError, match="n_way=5"):
        MANNClassifier(**SMALL, n_way=5, max_epochs=1, episodes_per_epoch=2).meta_fit(wide)


@pytest.mark.parametrize(
    "params, match",
    [({"n_heads": 0}, "n_heads"), ({"n_slots": 2, "n_heads": 3}, "n_slots=2"),
     ({"usage_decay": 1.5}, "usage_decay"), ({"n_support_orders": 0}, "n_support_orders"),
     ({"controller_size": 2.5}, "controller_size"),
     ({"encoder_training": "frozen"}, "encoder_training"),
     ({"pretraining_share": 1.5}, "pretraining_share")],
)
def test_invalid_parameters_are_named(easy_blobs, params, match):
    X, y = easy_blobs
    with pytest.raises((ValueError, TypeError), match=match):
        MANNClassifier(**{**SMALL, **params}).fit(X[:20], y[:20])


def test_predict_online_scores_each_step_before_its_label(meta_fitted, easy_blobs):
    X, y = easy_blobs
    rows = np.flatnonzero(np.isin(y, [30, 31, 32]))[::3]
    predictions = meta_fitted.predict_online(X[rows], y[rows])
    assert predictions.shape == rows.shape and set(predictions) <= {30, 31, 32}
    # a prediction never depends on later rows or on its own label
    head = meta_fitted.predict_online(X[rows[:7]], np.r_[y[rows[:6]], 31])
    np.testing.assert_array_equal(head, predictions[:7])


def test_controller_only_sees_the_previous_label():
    torch.manual_seed(0)
    controller = MemoryController(4, 3, controller_size=8, n_slots=6, slot_size=4, n_heads=2)
    features = torch.randn(2, 5, 4)
    labels = torch.randint(0, 3, (2, 5))
    logits, state = controller(features, labels, controller.initial_state(2, "cpu"))
    changed = labels.clone()
    changed[:, 2] = (changed[:, 2] + 1) % 3
    other, _ = controller(features, changed, controller.initial_state(2, "cpu"))
    torch.testing.assert_close(other[:, :3], logits[:, :3])
    assert not torch.allclose(other[:, 3:], logits[:, 3:])
    torch.testing.assert_close(state["label"], torch.eye(3)[labels[:, -1]])


def test_meta_training_learns_to_bind_labels_in_memory(easy_blobs):
    """Beats chance clearly on classes never seen in meta-training."""
    X, y = easy_blobs
    params = dict(encoder=torch.nn.LayerNorm(X.shape[1]), controller_size=32, n_slots=16,
                  slot_size=8, n_heads=2, n_way=2, n_shot=2, n_query=2, verbose=0,
                  random_state=0, device="cpu")
    clf = MANNClassifier(**params, encoder_training="joint", max_epochs=12,
                         episodes_per_epoch=160, meta_batch_size=8, meta_lr=1e-2)
    clf.meta_fit(X[y < 30], y[y < 30])
    untrained = MANNClassifier(**params)
    kwargs = dict(n_way=2, n_shot=2, n_query=5, n_episodes=100, random_state=0)
    trained = evaluate_episodes(clf, X[y >= 30], y[y >= 30], **kwargs)
    baseline = evaluate_episodes(untrained, X[y >= 30], y[y >= 30], **kwargs)
    assert trained.mean > 0.6 and trained.mean > baseline.mean + 0.1, (trained, baseline)


def test_a_meta_learned_front_end_in_a_meta_pipeline(easy_blobs):
    """The documented recipe: a Prototypical Network embeds, the MANN binds."""
    X, y = easy_blobs
    front = EncoderTransformer(ProtoNetClassifier(
        encoder="mlp", encoder__out_features=8, n_way=5, n_shot=2, n_query=3,
        max_epochs=1, episodes_per_epoch=10, verbose=0, random_state=0, device="cpu"))
    mann = MANNClassifier(**{**SMALL, "encoder": torch.nn.LayerNorm(8)}, n_way=5, n_shot=2,
                          n_query=3, max_epochs=1, episodes_per_epoch=16)
    pipe = make_meta_pipeline(front, mann).meta_fit(X[y < 30], y[y < 30])
    embedder, fitted_mann = pipe[:-1], pipe.steps[-1][1]
    assert fitted_mann.n_features_in_ == 8
    X_support, y_support, X_query, _ = task(easy_blobs)
    predicted = pipe.fit(X_support, y_support).predict(X_query)
    by_hand = clone(fitted_mann).fit(embedder.transform(X_support), y_support)
    np.testing.assert_array_equal(predicted, by_hand.predict(embedder.transform(X_query)))


class _Snapshots(Callback):
    """Copies of the front end's and the controller's weights after each epoch."""

    def on_train_begin(self, net, **kwargs):
        self.encoder, self.controller = [], []

    def on_epoch_end(self, net, **kwargs):
        self.encoder.append(torch.nn.utils.parameters_to_vector(net.encoder_.parameters()))
        self.controller.append(
            torch.nn.utils.parameters_to_vector(net.controller_.parameters()))


@pytest.mark.parametrize("encoder_training", ["prototypical", "joint"])
def test_front_end_is_pretrained_then_frozen_or_trained_jointly(easy_blobs, encoder_training):
    X, y = easy_blobs
    clf = MANNClassifier(**SMALL, encoder_training=encoder_training, pretraining_share=0.5,
                         n_way=5, n_shot=2, n_query=2, max_epochs=4, episodes_per_epoch=8,
                         meta_batch_size=2, callbacks=[_Snapshots()])
    clf.meta_fit(X[y < 30], y[y < 30])
    # meta_fit works on a copy of each callback
    snapshots = next(cb for cb in clf.callbacks_ if isinstance(cb, _Snapshots))
    encoder_moved = [not torch.equal(a, b) for a, b in zip(snapshots.encoder, snapshots.encoder[1:])]
    controller_moved = [not torch.equal(a, b)
                        for a, b in zip(snapshots.controller, snapshots.controller[1:])]
    if encoder_training == "prototypical":
        # epochs 1-2 train the front end alone (a Prototypical Network), 3-4 the controller
        assert encoder_moved == [True, False, False]
        assert controller_moved == [False, True, True]
    else:
        assert all(encoder_moved) and all(controller_moved)
    assert clf.fit(X[y >= 30][:10], y[y >= 30][:10]).predict(X[:3]).shape == (3,)
