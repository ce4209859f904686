"""The one meta-training loop: learning-rate schedules and warm starts."""

import numpy as np
import pytest
import torch

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


def test_bad_schedules_are_named(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="lr_schedule must be None, 'step'"):
        ProtoNetClassifier(lr_schedule="linear", **FAST).meta_fit(X, y)
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
