"""Saving and loading learners without running code from the file."""

import io
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import is_regressor
from torch import nn

from conftest import small_learners
from sklmeta import (
    MAMLClassifier,
    ProtoNetClassifier,
    load_estimator,
    save_estimator,
)
from sklmeta.datasets import SinusoidTasks

SMALL = dict(max_epochs=1, verbose=0, random_state=0, device="cpu")
EPISODES = dict(n_way=5, n_shot=2, n_query=2, episodes_per_epoch=4)
LEARNERS = small_learners(n_way=5, MatchingNetClassifier={"fce": True},
                          FineTuneClassifier={"head": "cosine"})


def _fitted(est, blobs):
    if is_regressor(est):
        x = np.linspace(-3, 3, 10)[:, None]
        est.meta_fit(SinusoidTasks(n_shot=5, n_query=5, random_state=0))
        return est.fit(x, np.sin(x).ravel()), x
    X, y = blobs
    est.meta_fit(X[y < 20], y[y < 20])
    new = (y >= 20) & (y < 25)
    return est.fit(X[new][::3], y[new][::3]), X[new]


@pytest.mark.parametrize("est", LEARNERS, ids=lambda e: type(e).__name__)
def test_a_saved_learner_loads_with_the_same_predictions_and_state(est, blobs, tmp_path):
    est, X = _fitted(est, blobs)
    path = tmp_path / "model.pt"
    save_estimator(est, path)
    loaded = load_estimator(path)
    assert type(loaded) is type(est)
    assert loaded.get_params()["random_state"] == 0
    assert len(loaded.history_) == len(est.history_)
    np.testing.assert_allclose(loaded.predict(X), est.predict(X), rtol=1e-5, atol=1e-6)
    if hasattr(est, "classes_"):
        np.testing.assert_array_equal(loaded.classes_, est.classes_)
        np.testing.assert_allclose(loaded.predict_proba(X), est.predict_proba(X), atol=1e-6)
    # still a working learner: adapts again and continues meta-training
    if not is_regressor(est):
        loaded.fit(X[:10], est.predict(X[:10]))


def test_loading_keeps_string_labels_and_routed_parameters(blobs):
    X, y = blobs
    labels = np.array([f"class-{v}" for v in y], dtype=object)
    est = ProtoNetClassifier(encoder="mlp", encoder__hidden_layer_sizes=(16,), **SMALL,
                             **EPISODES).meta_fit(X, labels).fit(X[:40], labels[:40])
    file = io.BytesIO()
    save_estimator(est, file)
    file.seek(0)
    loaded = load_estimator(file)
    assert loaded.get_params()["encoder__hidden_layer_sizes"] == (16,)
    assert list(loaded.predict(X[:40])) == list(est.predict(X[:40]))


def test_a_file_carrying_a_pickled_payload_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this ran",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "sklmeta-estimator", "version": 1, "class": "ProtoNetClassifier",
                "params": {}, "state": {"encoder_": Payload()}}, path)
    with pytest.raises(pickle.UnpicklingError, match="[Ww]eights only"):
        load_estimator(path)


def test_a_pickle_of_an_estimator_is_refused(meta_fitted_protonet, tmp_path):
    path = tmp_path / "pickled.pkl"
    with open(path, "wb") as f:
        pickle.dump(meta_fitted_protonet, f)
    with pytest.raises(pickle.UnpicklingError):
        load_estimator(path)


def test_unknown_classes_and_files_are_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"format": "sklmeta-estimator", "version": 1, "class": "os.system",
                "params": {}, "state": {}}, path)
    with pytest.raises(ValueError, match="not a learner of sklmeta"):
        load_estimator(path)
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not written by sklmeta.save_estimator"):
        load_estimator(path)
    torch.save({"format": "sklmeta-estimator", "version": 1, "class": "ProtoNetClassifier",
                "params": {"optimizer": ("__class__", "builtins", "eval")}, "state": {}}, path)
    with pytest.raises(ValueError, match="does not rebuild"):
        load_estimator(path)


def test_what_cannot_be_saved_as_plain_data_is_refused_by_name(blobs):
    X, y = blobs
    est = ProtoNetClassifier(encoder=nn.Linear(X.shape[1], 8), **SMALL, **EPISODES)
    with pytest.raises(TypeError, match="parameter encoder"):
        save_estimator(est, io.BytesIO())
    with pytest.raises(TypeError, match="learners of sklmeta"):
        save_estimator(object(), io.BytesIO())


def test_an_unfitted_learner_round_trips_its_parameters():
    file = io.BytesIO()
    save_estimator(MAMLClassifier(inner_lr=0.1, optimizer=torch.optim.SGD), file)
    file.seek(0)
    loaded = load_estimator(file)
    assert loaded.inner_lr == 0.1 and loaded.optimizer is torch.optim.SGD
    assert not hasattr(loaded, "history_")


def test_a_learner_saved_for_a_gpu_loads_on_the_cpu(meta_fitted_protonet, tmp_path):
    est = meta_fitted_protonet
    path = tmp_path / "gpu.pt"
    saved = ProtoNetClassifier(**{**est.get_params(), "device": "cuda"})
    vars(saved).update({k: v for k, v in vars(est).items() if k.endswith("_")})
    save_estimator(saved, path)
    loaded = load_estimator(path, device="cpu")
    assert next(loaded.encoder_.parameters()).device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_learner_trained_on_a_gpu_loads_on_the_cpu(blobs, tmp_path):
    X, y = blobs
    est = ProtoNetClassifier(encoder="mlp", **{**SMALL, "device": "cuda"}, **EPISODES)
    est.meta_fit(X, y).fit(X[:40], y[:40])
    save_estimator(est, tmp_path / "m.pt")
    loaded = load_estimator(tmp_path / "m.pt", device="cpu")
    np.testing.assert_array_equal(loaded.predict(X[:40]), est.predict(X[:40]))
