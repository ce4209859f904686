"""The one meta-training loop: learning-rate schedules and warm starts."""

import time

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklmeta import FineTuneClassifier, MAMLClassifier, ProtoNetClassifier

FAST = dict(encoder="mlp", n_way=5, n_shot=2, n_query=3, episodes_per_epoch=4,
            verbose=0, random_state=0, device="cpu")


def test_step_schedule_halves_the_rate_each_epoch_and_records_it(blobs):
    X, y = blobs
    est = ProtoNetClassifier(max_epochs=3, meta_lr=0.01, lr_schedule="step",
                             lr_schedule__step_size=1, **FAST).meta_fit(X, y)
    np.testing.assert_allclose(est.history_[:, "lr"], [0.01, 0.005, 0.0025])
    assert est.optimizer_.param_groups[0]["lr"] == pytest.approx(0.00125)


def test_cosine_schedule_and_a_scheduler_class(blobs):
    X, y = blobs
    est = ProtoNetClassifier(max_epochs=4, meta_lr=0.01, lr_schedule="cosine", **FAST)
    rates = est.meta_fit(X, y).history_[:, "lr"]
    assert rates[0] == pytest.approx(0.01) and np.all(np.diff(rates) < 0)
    plateau = ProtoNetClassifier(max_epochs=2, lr_schedule=torch.optim.lr_scheduler.ReduceLROnPlateau,
                                 lr_schedule__patience=0, **FAST).meta_fit(X, y)
    assert len(plateau.history_[:, "lr"]) == 2


def test_linear_schedule_reaches_eta_min_at_the_planned_end(blobs):
    X, y = blobs
    est = ProtoNetClassifier(max_epochs=4, meta_lr=0.01, lr_schedule="linear",
                             lr_schedule__eta_min=0.001, **FAST).meta_fit(X, y)
    np.testing.assert_allclose(est.history_[:, "lr"], [0.01, 0.00775, 0.0055, 0.00325])
    assert est.optimizer_.param_groups[0]["lr"] == pytest.approx(0.001)


class _Slow(Callback):
    """Makes every batch take at least ``seconds``."""

    def __init__(self, seconds):
        self.seconds = seconds

    def on_batch_end(self, net, **kwargs):
        time.sleep(self.seconds)


def test_max_time_stops_meta_training_and_the_schedule_follows_the_clock(blobs):
    X, y = blobs
    est = ProtoNetClassifier(max_epochs=1000, max_time=0.3, meta_lr=0.01,
                             lr_schedule="cosine", callbacks=[_Slow(0.02)], **FAST)
    start = time.perf_counter()
    est.meta_fit(X, y)
    assert time.perf_counter() - start < 5.0
    assert 1 <= len(est.history_) < 1000
    assert est.history_[-1, "stopped_by"] == "max_time"
    # planned over 1,000 epochs, the cosine still ends near zero as time runs out
    assert est.optimizer_.param_groups[0]["lr"] < 0.01 * 0.05
    assert est.fit(X[:20], y[:20]).predict(X[:3]).shape == (3,)


def test_max_time_is_checked(blobs):
    X, y = blobs
    for bad in (0, -1.0, "10"):
        with pytest.raises((ValueError, TypeError), match="max_time"):
            ProtoNetClassifier(max_time=bad, **FAST).meta_fit(X, y)


def test_bad_schedules_are_named(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="lr_schedule must be None, 'step'"):
        ProtoNetClassifier(lr_schedule="exponential", **FAST).meta_fit(X, y)
    with pytest.raises(TypeError, match="lr_schedule='cosine' takes lr_schedule__T_max"):
        ProtoNetClassifier(lr_schedule="cosine", lr_schedule__gamma=0.1, **FAST).meta_fit(X, y)
    with pytest.raises(ValueError, match="lr_schedule__step_size must be positive"):
        ProtoNetClassifier(lr_schedule="step", lr_schedule__step_size=0, **FAST).meta_fit(X, y)
    with pytest.raises(TypeError, match="lr_schedule='StepLR' rejected"):
        ProtoNetClassifier(lr_schedule=torch.optim.lr_scheduler.StepLR, **FAST).meta_fit(X, y)


def test_init_from_starts_from_a_copy_and_leaves_the_source(blobs):
    X, y = blobs
    source = FineTuneClassifier(encoder="mlp", max_epochs=1, verbose=0, random_state=0,
                                device="cpu").meta_fit(X, y)
    before = {k: v.clone() for k, v in source.encoder_.state_dict().items()}
    est = ProtoNetClassifier(max_epochs=0, init_from=source, **FAST).meta_fit(X, y)
    for key, value in est.encoder_.state_dict().items():
        torch.testing.assert_close(value, before[key])
    assert est.encoder_ is not source.encoder_ and len(est.history_) == 0
    est.set_params(max_epochs=1).meta_fit(X, y)
    for key, value in source.encoder_.state_dict().items():
        torch.testing.assert_close(value, before[key])


def test_init_from_a_maml_model_starts_meta_sgd(blobs):
    X, y = blobs
    maml = MAMLClassifier(max_epochs=1, meta_batch_size=2, **FAST).meta_fit(X, y)
    sgd = MAMLClassifier(max_epochs=0, learn_inner_lr=True, inner_lr=0.3, init_from=maml,
                         meta_batch_size=2, **FAST).meta_fit(X, y)
    for rate in sgd.network_.inner_lrs.values():
        torch.testing.assert_close(rate, torch.full_like(rate, 0.3))
    source_body = maml.network_.body.state_dict()
    for key, value in sgd.network_.body.state_dict().items():
        torch.testing.assert_close(value, source_body[key])
    halved = MAMLClassifier(max_epochs=0, learn_inner_lr=True, inner_lr=0.15, init_from=sgd,
                            **FAST).meta_fit(X, y)
    for rate in halved.network_.inner_lrs.values():
        torch.testing.assert_close(rate, torch.full_like(rate, 0.15))
    with pytest.raises(ValueError, match="learn_inner_lr=True"):
        MAMLClassifier(max_epochs=0, init_from=sgd, **FAST).meta_fit(X, y)


def test_init_from_errors_name_the_argument(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="init_from is a ProtoNetClassifier that was never"):
        ProtoNetClassifier(init_from=ProtoNetClassifier(), **FAST).meta_fit(X, y)
    with pytest.raises(TypeError, match="init_from must be None or a meta-fitted"):
        ProtoNetClassifier(init_from="model.pkl", **FAST).meta_fit(X, y)
    proto = ProtoNetClassifier(max_epochs=1, **FAST).meta_fit(X, y)
    with pytest.raises(TypeError, match="init_from is a ProtoNetClassifier without"):
        MAMLClassifier(init_from=proto, **FAST).meta_fit(X, y)
    with pytest.raises(ValueError, match="init_from was meta-trained on 12 features"):
        ProtoNetClassifier(init_from=proto, **FAST).meta_fit(X[:, :5], y)
