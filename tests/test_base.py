"""The shared meta-estimator contract, exercised through ProtoNetClassifier."""

import io
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Checkpoint, EarlyStopping, LRScheduler

from sklmeta import EpisodeSplit, ProtoNetClassifier, evaluate_episodes
from sklmeta.exceptions import NotInitializedError

FAST = dict(encoder="mlp", n_way=5, n_shot=2, n_query=3, max_epochs=2,
            episodes_per_epoch=6, verbose=0, random_state=0, device="cpu")


def test_set_params_of_meta_training_parameter_drops_meta_state(meta_fitted_protonet):
    est = clone(meta_fitted_protonet)
    est.set_params(verbose=0, device="cpu")  # adaptation-only: state kept
    assert hasattr(est, "encoder_") and hasattr(est, "history_")
    est.set_params(n_shot=est.n_shot)  # unchanged value: state kept
    assert hasattr(est, "history_")
    est.set_params(meta_lr=0.5)
    assert not hasattr(est, "encoder_") and not hasattr(est, "history_")
    est = clone(meta_fitted_protonet).set_params(encoder__out_features=8)
    assert est.get_params()["encoder__out_features"] == 8
    assert not hasattr(est, "history_")


def test_grid_search_over_episodes_keeps_meta_training(meta_fitted_protonet, blobs):
    X, y = blobs
    held_out = y >= 20
    cv = EpisodeSplit(n_way=5, n_shot=2, n_query=5, n_episodes=5, random_state=0)
    search = GridSearchCV(meta_fitted_protonet, {"device": ["cpu"]}, cv=cv, refit=False)
    search.fit(X[held_out], y[held_out])
    expected = evaluate_episodes(meta_fitted_protonet, X[held_out], y[held_out], n_way=5,
                                 n_shot=2, n_query=5, n_episodes=5, random_state=0)
    assert search.best_score_ == pytest.approx(expected.mean)
    untrained = GridSearchCV(ProtoNetClassifier(**FAST), {"device": ["cpu"]}, cv=cv,
                             refit=False).fit(X[held_out], y[held_out])
    assert search.best_score_ > untrained.best_score_


def test_pickle_round_trip_keeps_everything(meta_fitted_protonet, blobs):
    X, y = blobs
    est = clone(meta_fitted_protonet).fit(X[y >= 25], y[y >= 25])
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    assert len(restored.history_) == len(est.history_)
    again = clone(restored)  # the meta state survives pickling and cloning
    np.testing.assert_array_equal(again.fit(X[y >= 25], y[y >= 25]).predict(X), est.predict(X))


def test_a_pickle_from_before_a_new_parameter_loads_with_its_default(meta_fitted_protonet, blobs):
    X, y = blobs
    est = clone(meta_fitted_protonet).set_params(verbose=2)
    state = est.__getstate__()
    older = ProtoNetClassifier.__new__(ProtoNetClassifier)
    saved = torch.load(io.BytesIO(state["_torch_payload"]), weights_only=False)
    payload = {k: v for k, v in saved.items() if k not in ("verbose", "n_val_episodes")}
    older.__setstate__(payload)  # as a pickle written before the two existed
    assert older.verbose == 1 and older.n_val_episodes == ProtoNetClassifier().n_val_episodes
    assert older.get_params()["n_way"] == est.n_way
    np.testing.assert_array_equal(older.fit(X[y >= 25], y[y >= 25]).predict(X),
                                  est.fit(X[y >= 25], y[y >= 25]).predict(X))


def test_routed_keyword_arguments_are_checked():
    with pytest.raises(TypeError, match="Did you mean encoder__out_features"):
        ProtoNetClassifier(encoder_out_features=3, verbose=0).fit(np.zeros((4, 2)), [0, 1, 0, 1])
    with pytest.raises(TypeError, match="unexpected keyword argument 'depth'"):
        ProtoNetClassifier(depth=3).fit(np.zeros((4, 2)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="Invalid parameter"):
        ProtoNetClassifier().set_params(depth=3)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"n_way": 0}, ValueError, "n_way must be >= 1, got 0"),
        ({"n_shot": "5"}, TypeError, "n_shot must be an int"),
        ({"meta_lr": -1.0}, ValueError, "meta_lr must be > 0"),
        ({"max_epochs": 1.5}, TypeError, "max_epochs must be an int"),
        ({"warm_start": "yes"}, TypeError, "warm_start must be a bool"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be a torch.optim.Optimizer"),
        ({"callbacks": "early"}, TypeError, "callbacks must be None or a list"),
        ({"device": "tpu"}, ValueError, "device='tpu'"),
        ({"device": 3}, TypeError, "device must be"),
        ({"optimizer__nonsense": 1}, TypeError, "optimizer=Adam rejected"),
    ],
)
def test_bad_parameters_fail_before_work_naming_the_argument(params, error, match, blobs):
    X, y = blobs
    with pytest.raises(error, match=match):
        ProtoNetClassifier(**{**FAST, **params}).meta_fit(X, y)


def test_n_way_is_capped_at_the_classes_of_the_pool(blobs):
    X, y = blobs
    est = ProtoNetClassifier(**{**FAST, "n_way": 40, "max_epochs": 1}).meta_fit(X, y)
    assert est.history_[-1, "train_loss"] > 0
    few = y < 3
    ProtoNetClassifier(**{**FAST, "n_way": 20, "max_epochs": 1}).meta_fit(X[few], y[few])


def test_impossible_episode_request_names_the_class(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match=r"exceeds the 20 samples of class 0"):
        ProtoNetClassifier(**{**FAST, "n_shot": 10, "n_query": 11}).meta_fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_explicit_cuda_without_cuda_fails_clearly(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="CUDA is not available"):
        ProtoNetClassifier(**{**FAST, "device": "cuda"}).fit(X, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_meta_fit_and_cpu_unpickle(blobs, monkeypatch):
    X, y = blobs
    est = ProtoNetClassifier(**{**FAST, "device": "cuda"}).meta_fit(X, y).fit(X, y)
    assert next(est.encoder_.parameters()).is_cuda
    expected = est.predict(X)  # while CUDA is still visible
    payload = pickle.dumps(est)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    restored = pickle.loads(payload)
    assert not next(restored.encoder_.parameters()).is_cuda
    restored.set_params(device="cpu")
    np.testing.assert_array_equal(restored.predict(X), expected)


def test_inputs_are_not_modified(blobs):
    X, y = blobs
    X_copy, y_copy = X.copy(), y.copy()
    est = ProtoNetClassifier(**FAST).meta_fit(X, y, validation_data=(X, y))
    est.fit(X, y).predict(X)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)


def test_history_records_train_and_validation(blobs):
    X, y = blobs
    est = ProtoNetClassifier(**{**FAST, "n_val_episodes": 4}).meta_fit(
        X[y < 20], y[y < 20], validation_data=(X[y >= 20], y[y >= 20])
    )
    assert len(est.history_) == 2
    for key in ("epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "dur"):
        assert len(est.history_[:, key]) == 2
    assert len(est.history_[-1, "batches"]) == FAST["episodes_per_epoch"]


def test_validation_tasks_must_match_features(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="validation_data has 3 features"):
        ProtoNetClassifier(**FAST).meta_fit(X, y, validation_data=(X[:, :3], y))


def test_early_stopping_and_lr_scheduler_from_skorch(blobs):
    X, y = blobs
    stopper = EarlyStopping(monitor="valid_acc", lower_is_better=False, patience=1,
                            threshold=1.0)  # impossible improvement: stops at once
    scheduler = LRScheduler("StepLR", step_size=1, gamma=0.5)
    est = ProtoNetClassifier(**{**FAST, "max_epochs": 10, "n_val_episodes": 3,
                                "callbacks": [stopper, scheduler]})
    est.meta_fit(X, y, validation_data=(X, y))
    assert len(est.history_) == 2  # best at epoch 1, one miss, then stop
    # halved after epoch 1; epoch 2 ends in the stop before the scheduler runs
    assert est.optimizer_.param_groups[0]["lr"] == pytest.approx(1e-3 / 2)
    assert stopper.misses_ == 0  # the user's callback object is not modified


def test_checkpoint_save_and_load_params(blobs, tmp_path):
    X, y = blobs
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    est = ProtoNetClassifier(**{**FAST, "callbacks": [checkpoint]}).meta_fit(X, y)
    assert (tmp_path / "params.pt").exists() and (tmp_path / "history.json").exists()
    fresh = ProtoNetClassifier(**{**FAST, "max_epochs": 0}).meta_fit(X, y)
    fresh.load_params(checkpoint=checkpoint)
    np.testing.assert_allclose(fresh.fit(X, y).predict_proba(X), est.fit(X, y).predict_proba(X))
    assert len(fresh.history_) == 2
    est.save_params(f_params=tmp_path / "w.pt")
    fresh.load_params(f_params=tmp_path / "w.pt")
    with pytest.raises(NotInitializedError, match="meta_fit"):
        ProtoNetClassifier().save_params(f_params=tmp_path / "x.pt")
    assert issubclass(NotInitializedError, NotFittedError)


def test_verbose_shows_progress_and_zero_is_silent(blobs, capsys):
    X, y = blobs
    ProtoNetClassifier(**{**FAST, "verbose": 1}).meta_fit(X, y)
    out = capsys.readouterr()
    assert "train_loss" in out.out and "%" in out.err
    ProtoNetClassifier(**FAST).meta_fit(X, y)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_predict_before_fit_and_wrong_features(blobs):
    X, y = blobs
    with pytest.raises(NotFittedError):
        ProtoNetClassifier().predict(X)
    est = ProtoNetClassifier(**FAST).meta_fit(X, y)
    with pytest.raises(NotFittedError):
        est.predict(X)  # meta-fitted, but not adapted to a task yet
    with pytest.raises(ValueError, match="X has 3 features"):
        est.fit(X[:, :3], y)
