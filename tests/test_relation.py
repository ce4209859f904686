"""Relation Networks: behaviour, properties and learning."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklmeta import evaluate_episodes
from sklmeta.encoders import Conv4
from sklmeta.metric_based import RelationNetClassifier
from sklmeta.metric_based._relation import ConvRelation, MLPRelation

FAST = dict(encoder="mlp", n_way=5, n_shot=2, n_query=5, max_epochs=3,
            episodes_per_epoch=30, meta_lr=3e-3, verbose=0, random_state=0, device="cpu")


@parametrize_with_checks(
    [RelationNetClassifier(encoder="mlp", verbose=0, random_state=0, device="cpu")],
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def meta_fitted(blobs):
    X, y = blobs
    return RelationNetClassifier(**FAST).meta_fit(X[y < 20], y[y < 20])


def support_and_queries(blobs, classes=(20, 21, 22, 23, 24), n_shot=2):
    X, y = blobs
    support = np.concatenate([np.flatnonzero(y == c)[:n_shot] for c in classes])
    query = np.concatenate([np.flatnonzero(y == c)[n_shot:] for c in classes])
    return X[support], y[support], X[query], y[query]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 2))
def test_predictions_do_not_depend_on_support_order(meta_fitted, blobs, seed):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    order = np.random.RandomState(seed).permutation(len(y_s))
    a = clone(meta_fitted).fit(X_s, y_s).predict_proba(X_q)
    b = clone(meta_fitted).fit(X_s[order], y_s[order]).predict_proba(X_q)
    np.testing.assert_allclose(a, b, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 2))
def test_relabelling_classes_relabels_predictions(meta_fitted, blobs, seed):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    rng = np.random.RandomState(seed)
    names = np.array([f"class-{v}" for v in rng.permutation(1000)[:5]])
    mapping = dict(zip(np.unique(y_s), names))
    relabelled = np.array([mapping[v] for v in y_s])
    original = clone(meta_fitted).fit(X_s, y_s).predict(X_q)
    renamed = clone(meta_fitted).fit(X_s, relabelled).predict(X_q)
    np.testing.assert_array_equal(renamed, [mapping[v] for v in original])


def test_pairwise_first_layer_equals_scoring_concatenated_pairs():
    torch.manual_seed(0)
    queries, classes = torch.randn(6, 16), torch.randn(4, 16)
    mlp = MLPRelation(16, hidden_size=5)
    pairs = torch.cat([classes.unsqueeze(0).expand(6, 4, 16),
                       queries.unsqueeze(1).expand(6, 4, 16)], dim=2).reshape(24, 32)
    expected = mlp.rest(mlp.first.layer(pairs)).view(6, 4)
    torch.testing.assert_close(mlp(queries, classes), expected)

    conv = ConvRelation((8, 5, 5), hidden_size=3).eval()
    queries, classes = torch.randn(3, 200), torch.randn(2, 200)
    q_maps, c_maps = queries.view(3, 8, 5, 5), classes.view(2, 8, 5, 5)
    pairs = torch.cat([c_maps.unsqueeze(0).expand(3, 2, 8, 5, 5),
                       q_maps.unsqueeze(1).expand(3, 2, 8, 5, 5)], dim=2).reshape(6, 16, 5, 5)
    expected = conv.rest(conv.first.layer(pairs)).view(3, 2)
    torch.testing.assert_close(conv(queries, classes), expected, atol=1e-5, rtol=1e-5)


def test_module_holds_encoder_and_relation_and_clone_copies_both(meta_fitted, blobs):
    assert set(meta_fitted.module_) == {"encoder", "relation"}
    n_params = sum(p.numel() for p in meta_fitted.module_.parameters())
    assert n_params == sum(p.numel() for p in meta_fitted.encoder_.parameters()) + sum(
        p.numel() for p in meta_fitted.relation_.parameters())
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    adapted = clone(meta_fitted).fit(X_s, y_s)
    copy = clone(adapted)
    assert not hasattr(copy, "class_features_")
    assert copy.relation_ is not adapted.relation_
    for a, b in zip(copy.module_.parameters(), meta_fitted.module_.parameters()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
    np.testing.assert_array_equal(copy.fit(X_s, y_s).predict_proba(X_q),
                                  adapted.predict_proba(X_q))


def test_meta_training_trains_the_relation_module_and_fit_does_not(meta_fitted, blobs):
    X, y = blobs
    fresh = RelationNetClassifier(**{**FAST, "max_epochs": 0}).meta_fit(X[y < 20], y[y < 20])
    assert all(not torch.equal(a, b) for a, b in zip(
        fresh.relation_.parameters(), meta_fitted.relation_.parameters()))
    est = clone(meta_fitted)
    before = {k: v.clone() for k, v in est.module_.state_dict().items()}
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    est.fit(X_s, y_s).predict(X_q)
    for key, value in est.module_.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_fit_without_meta_fit_classifies_by_nearest_class_mean(blobs):
    X_s, y_s, X_q, y_q = support_and_queries(blobs, n_shot=5)
    clf = RelationNetClassifier(**FAST).fit(X_s, y_s)
    z_s = clf.encoder_(torch.as_tensor(X_s, dtype=torch.float32)).detach().double()
    z_q = clf.encoder_(torch.as_tensor(X_q, dtype=torch.float32)).detach().double()
    means = torch.stack([z_s[torch.as_tensor(y_s == c)].mean(0) for c in clf.classes_])
    nearest = clf.classes_[torch.cdist(z_q, means).argmin(1).numpy()]
    np.testing.assert_array_equal(clf.predict(X_q), nearest)


def test_support_pooling_sums_or_averages(meta_fitted, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs, n_shot=3)
    est = clone(meta_fitted).fit(X_s, y_s)  # the default: the mean
    summed = clone(meta_fitted).set_params(support_pooling="sum")
    assert not hasattr(summed, "relation_")  # a meta-training choice: state dropped
    summed = clone(meta_fitted)
    summed.support_pooling = "sum"
    summed.fit(X_s, y_s)
    torch.testing.assert_close(summed.class_features_, 3 * est.class_features_)
    proba = summed.predict_proba(X_q)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(summed.classes_[proba.argmax(axis=1)], summed.predict(X_q))


def test_conv_relation_module_on_feature_maps():
    rng = np.random.RandomState(0)
    X, y = rng.rand(12, 256).astype(np.float32), np.arange(12) % 3
    est = RelationNetClassifier(encoder="conv4", encoder__n_blocks=2, verbose=0,
                                random_state=0, device="cpu").fit(X, y)
    assert isinstance(est.relation_, ConvRelation)  # 'auto': 4x4 maps take the conv module
    assert est.relation_.feature_shape == (64, 4, 4)
    assert est.predict_proba(X).shape == (12, 3)
    flat = RelationNetClassifier(encoder="conv4", encoder__n_pooled_blocks=4, verbose=0,
                                 random_state=0, device="cpu")
    assert isinstance(flat.fit(X, y).relation_, MLPRelation)  # 1x1 maps: too small
    with pytest.raises(ValueError, match="relation_module='conv' needs a Conv4 encoder"):
        RelationNetClassifier(encoder="mlp", relation_module="conv", verbose=0).fit(X, y)
    user = Conv4(input_shape=(1, 16, 16), n_blocks=1)
    est = RelationNetClassifier(encoder=user, relation_module="conv", verbose=0).fit(X, y)
    assert est.relation_.feature_shape == (64, 8, 8)
    # the default: the paper's embedding, four blocks, only the first two pooled
    deep = RelationNetClassifier(encoder="conv4", verbose=0, random_state=0,
                                 device="cpu").fit(X, y)
    assert len(deep.encoder_.blocks) == 4
    assert deep.relation_.feature_shape == (64, 4, 4)
    assert deep.predict_proba(X).shape == (12, 3)


@pytest.mark.parametrize("n_pooled_blocks, error", [
    (-1, ValueError), (5, ValueError), (2.5, TypeError), (True, TypeError),
])
def test_conv4_rejects_bad_n_pooled_blocks(n_pooled_blocks, error):
    with pytest.raises(error, match="n_pooled_blocks"):
        Conv4(n_blocks=4, n_pooled_blocks=n_pooled_blocks)


def test_meta_training_helps_on_unseen_classes(blobs):
    X, y = blobs
    meta = RelationNetClassifier(**{**FAST, "n_shot": 1}).meta_fit(X[y < 20], y[y < 20])
    # meta-fitted for no epoch: the same networks, with the relation module untrained
    untrained = RelationNetClassifier(**{**FAST, "max_epochs": 0}).meta_fit(X[y < 20], y[y < 20])
    kwargs = dict(n_way=5, n_shot=1, n_query=5, n_episodes=30, random_state=1)
    trained = evaluate_episodes(meta, X[y >= 20], y[y >= 20], **kwargs)
    baseline = evaluate_episodes(untrained, X[y >= 20], y[y >= 20], **kwargs)
    assert trained.mean > baseline.mean + 0.1, (trained, baseline)


def test_tabular_few_shot_with_mlp_encoder():
    """30 classes in 5 informative features among 35 noise ones (scikit-learn's generator)."""
    X, y = make_classification(n_samples=1200, n_features=40, n_informative=5, n_redundant=0,
                               n_classes=30, n_clusters_per_class=1, class_sep=3.0,
                               random_state=0)
    X = X.astype(np.float32)
    train, test = y < 20, y >= 20
    meta = RelationNetClassifier(**{**FAST, "n_shot": 1, "max_epochs": 4})
    meta.meta_fit(X[train], y[train])
    # meta-fitted for no epoch: the same networks, with the relation module untrained
    untrained = RelationNetClassifier(**{**FAST, "max_epochs": 0}).meta_fit(X[train], y[train])
    kwargs = dict(n_way=5, n_shot=1, n_query=5, n_episodes=30, random_state=0)
    trained = evaluate_episodes(meta, X[test], y[test], **kwargs)
    baseline = evaluate_episodes(untrained, X[test], y[test], **kwargs)
    assert trained.mean > baseline.mean + 0.1, (trained, baseline)


def test_parameters_are_checked():
    X, y = np.zeros((4, 3)), [0, 1, 0, 1]
    with pytest.raises(ValueError, match="relation_module must be one of"):
        RelationNetClassifier(relation_module="deep", verbose=0).fit(X, y)
    with pytest.raises(ValueError, match="support_pooling must be one of"):
        RelationNetClassifier(support_pooling="max", verbose=0).fit(X, y)
    with pytest.raises(ValueError, match="relation_hidden_size must be >= 1"):
        RelationNetClassifier(relation_hidden_size=0, verbose=0).fit(X, y)
