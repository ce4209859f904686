"""Meta-learned encoders as scikit-learn transformers."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklmeta import EpisodeSplit, ProtoNetClassifier
from sklmeta.baselines import FineTuneClassifier
from sklmeta.encoders import MLP
from sklmeta.transformers import EncoderTransformer


EXPECTED_FAILURES = {
    "check_methods_subset_invariance": (
        "the encoder computes in float32, whose matrix products differ in the "
        "last bits with the batch size (~1e-6 relative); the check asks 1e-7"
    ),
}


@parametrize_with_checks(
    [EncoderTransformer(encoder="mlp", random_state=0, device="cpu")],
    expected_failed_checks=lambda est: EXPECTED_FAILURES,
)
def test_sklearn_compatible_transformer(estimator, check):
    check(estimator)


def test_transform_is_the_meta_learned_embedding(meta_fitted_protonet, blobs):
    X, _ = blobs
    transformer = EncoderTransformer(meta_fitted_protonet, device="cpu").fit(X[:5])
    with torch.no_grad():
        expected = meta_fitted_protonet.encoder_(torch.as_tensor(X[:50])).numpy()
    np.testing.assert_allclose(transformer.transform(X[:50]), expected, rtol=1e-5, atol=1e-6)
    assert transformer.encoder_ is not meta_fitted_protonet.encoder_
    assert transformer.transform(X[:50].astype(np.float64)).dtype == np.float64
    # one row's embedding does not depend on the rows embedded with it
    np.testing.assert_allclose(transformer.transform(X[3:4]), expected[3:4], rtol=1e-5, atol=1e-6)


def test_fit_adapts_nothing(meta_fitted_protonet, blobs):
    X, _ = blobs
    transformer = EncoderTransformer(meta_fitted_protonet, device="cpu")
    a = transformer.fit(X[:5]).transform(X[:20])
    b = transformer.fit(X[100:300] * 10.0).transform(X[:20])
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="features"):
        transformer.fit(X[:, :4])


def test_set_output_pandas_round_trip(meta_fitted_protonet, blobs):
    X, _ = blobs
    frame = pd.DataFrame(X[:7], columns=[f"x{i}" for i in range(X.shape[1])],
                         index=list("abcdefg"))
    transformer = EncoderTransformer(
        meta_fitted_protonet, feature_prefix="emb", device="cpu"
    ).set_output(transform="pandas")
    out = transformer.fit_transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == list("abcdefg")
    assert list(out.columns) == [f"emb{i}" for i in range(64)]
    plain = clone(transformer).set_output(transform="default").fit(frame).transform(frame)
    np.testing.assert_array_equal(out.to_numpy(), plain)
    names = transformer.get_feature_names_out(frame.columns)
    assert names[0] == "emb0" and len(names) == 64
    with pytest.raises(ValueError, match="differ"):
        transformer.get_feature_names_out([f"z{i}" for i in range(X.shape[1])])


@pytest.mark.parametrize("head", [LogisticRegression(), SVC()])
def test_encoder_plus_sklearn_classifier_is_a_few_shot_classifier(
    meta_fitted_protonet, blobs, head
):
    X, y = blobs
    held_out = y >= 20
    few_shot = make_pipeline(EncoderTransformer(meta_fitted_protonet, device="cpu"), head)
    cv = EpisodeSplit(n_way=5, n_shot=2, n_query=5, n_episodes=6, random_state=0)
    scores = cross_val_score(few_shot, X[held_out], y[held_out], cv=cv)
    assert scores.shape == (6,) and scores.mean() > 0.3
    # the clones of each fold hold copies of the meta-learned encoder
    copy = clone(few_shot)
    inner = copy.steps[0][1].encoder
    assert inner is not meta_fitted_protonet and inner.encoder_ is not (
        meta_fitted_protonet.encoder_
    )
    for a, b in zip(inner.encoder_.parameters(), meta_fitted_protonet.encoder_.parameters()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()


def test_meta_fit_pretrains_or_meta_trains_the_transformer(blobs):
    X, y = blobs
    pool = y < 20
    transformer = EncoderTransformer(
        FineTuneClassifier(encoder="mlp", max_epochs=2, verbose=0, device="cpu"),
        random_state=0, device="cpu",
    ).meta_fit(X[pool], y[pool])
    assert transformer.learner_.random_state == 0
    assert len(transformer.learner_.history_) == 2
    assert transformer.encoder is not transformer.learner_
    assert not hasattr(transformer.encoder, "encoder_")  # the parameter is untouched
    embedded = transformer.fit(X[:3]).transform(X[:10])
    copy = clone(transformer)
    assert copy.encoder_ is not transformer.encoder_
    np.testing.assert_array_equal(copy.transform(X[:10]), embedded)
    restored = pickle.loads(pickle.dumps(transformer))
    np.testing.assert_array_equal(restored.transform(X[:10]), embedded)
    with pytest.raises(TypeError, match="meta-learner"):
        EncoderTransformer(MLP(12)).meta_fit(X, y)


def test_module_and_name_sources(blobs):
    X, _ = blobs
    module = MLP(X.shape[1], out_features=5)
    out = EncoderTransformer(module, device="cpu").fit_transform(X[:4])
    with torch.no_grad():
        np.testing.assert_allclose(out, module(torch.as_tensor(X[:4])).numpy(), rtol=1e-6)
    a = EncoderTransformer("mlp", random_state=1).fit_transform(X[:4])
    b = EncoderTransformer("mlp", random_state=1).fit_transform(X[:4])
    c = EncoderTransformer("mlp", random_state=2).fit_transform(X[:4])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    unfitted = ProtoNetClassifier(encoder="mlp", encoder__out_features=7)
    assert EncoderTransformer(unfitted).fit_transform(X[:4]).shape == (4, 7)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        EncoderTransformer(module, batch_size=0).fit(X[:4])
