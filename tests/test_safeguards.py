"""Interruption, divergence and faults during meta-training and adaptation."""

import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklmeta import (
    MAMLClassifier,
    MAMLRegressor,
    ProtoNetClassifier,
    ReptileClassifier,
    ReptileRegressor,
)
from sklmeta.datasets import SinusoidTasks
from sklmeta.exceptions import (
    DivergenceError,
    MetaTrainingDiverged,
    MetaTrainingInterrupted,
)

FAST = dict(encoder="mlp", n_way=5, n_shot=2, n_query=3, max_epochs=4,
            episodes_per_epoch=6, verbose=0, random_state=0, device="cpu")


class InterruptAt(Callback):
    """Raise KeyboardInterrupt after the ``n``-th batch of the whole run,
    as Ctrl-C would between two batches."""

    def __init__(self, n):
        self.n = n

    def on_batch_end(self, net, **kwargs):
        if sum(len(epoch["batches"]) for epoch in net.history) == self.n:
            raise KeyboardInterrupt


class FailAt(Callback):
    def __init__(self, n):
        self.n = n

    def on_batch_end(self, net, **kwargs):
        if sum(len(epoch["batches"]) for epoch in net.history) == self.n:
            raise RuntimeError("a callback failed")


def _weights(est):
    return [p.detach().clone() for p in est.module_.parameters()]


def _history_values(est):
    """Every number of ``history_`` but the timings, in order, and its keys."""
    keys, values = [], []
    for epoch in est.history_:
        for key, value in epoch.items():
            if key == "batches":
                for batch in value:
                    keys += sorted(batch)
                    values += [batch[k] for k in sorted(batch)]
            elif key != "dur":
                keys.append(key)
                values.append(float(value))
    return keys, values


@pytest.mark.parametrize("make", [
    lambda **kw: ProtoNetClassifier(**FAST, lr_schedule="cosine", **kw),
    lambda **kw: MAMLClassifier(**{**FAST, "meta_batch_size": 2, "episodes_per_epoch": 12},
                                **kw),
], ids=["protonet-cosine", "maml"])
def test_interrupted_then_continued_run_equals_an_uninterrupted_one(blobs, make):
    X, y = blobs
    whole = make().meta_fit(X, y)

    est = make(callbacks=[InterruptAt(9)])  # mid-way through the second epoch
    with pytest.warns(MetaTrainingInterrupted, match="epoch 2 after 3 batches"):
        est.meta_fit(X, y)
    assert len(est.history_) == 2 and est.history_[-1]["interrupted"] is True
    assert len(est.history_[-1]["batches"]) == 3
    est.fit(X[:10], y[:10]).predict(X[:10])  # usable after the interrupt
    est.set_params(callbacks=None, warm_start=True, max_epochs=FAST["max_epochs"] - 1)
    est.meta_fit(X, y)

    assert len(est.history_) == len(whole.history_)
    assert "interrupted" not in est.history_[1]
    for a, b in zip(_weights(whole), _weights(est)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    keys, values = _history_values(whole)
    keys_continued, values_continued = _history_values(est)
    assert keys == keys_continued
    assert values == pytest.approx(values_continued, rel=1e-5)


def test_interrupt_before_any_batch_keeps_nothing_half_done(blobs):
    X, y = blobs
    est = ProtoNetClassifier(**FAST, callbacks=[InterruptAt(6)])  # end of epoch 1
    with pytest.warns(MetaTrainingInterrupted):
        est.meta_fit(X, y)
    assert len(est.history_) == 1 and est.history_[0]["interrupted"] is True
    assert len(est.history_[0]["batches"]) == 6


def test_a_failing_callback_leaves_a_fresh_estimator_not_meta_fitted(blobs):
    X, y = blobs
    est = ProtoNetClassifier(**FAST, callbacks=[FailAt(4)])
    with pytest.raises(RuntimeError, match="a callback failed"):
        est.meta_fit(X, y)
    assert not hasattr(est, "history_") and not hasattr(est, "encoder_")


def test_a_failing_callback_leaves_a_warm_start_as_it_was(blobs):
    X, y = blobs
    est = ProtoNetClassifier(**FAST).meta_fit(X, y)
    weights, n_epochs = _weights(est), len(est.history_)
    est.set_params(warm_start=True, callbacks=[FailAt(n_epochs * 6 + 2)])
    with pytest.raises(RuntimeError, match="a callback failed"):
        est.meta_fit(X, y)
    assert len(est.history_) == n_epochs
    for a, b in zip(weights, _weights(est)):
        assert torch.equal(a, b)
    assert not est.module_.training


@pytest.mark.parametrize("make", [
    lambda: ProtoNetClassifier(**{**FAST, "meta_lr": 1e6}),
    lambda: MAMLClassifier(**{**FAST, "meta_lr": 1e6}),
    lambda: ReptileClassifier(**{**FAST, "meta_lr": 1e6, "inner_lr": 1e6}),
], ids=["protonet", "maml", "reptile"])
def test_divergence_in_the_first_epoch_raises_and_leaves_nothing(blobs, make):
    X, y = blobs
    est = make()
    with pytest.raises(DivergenceError, match="diverged in epoch.*learning rate"):
        est.meta_fit(X, y)
    assert not hasattr(est, "history_")


@pytest.mark.parametrize("cls", [MAMLRegressor, ReptileRegressor])
def test_regressors_diverging_on_sinusoids_raise(cls):
    tasks = SinusoidTasks(n_shot=5, n_query=5, random_state=0)
    est = cls(meta_lr=1e6, max_epochs=3, episodes_per_epoch=8, random_state=0,
              verbose=0, device="cpu")
    with pytest.raises(DivergenceError):
        est.meta_fit(tasks)


class RaiseRateAfter(Callback):
    """Set a huge rate after the first epoch: a later divergence."""

    def on_epoch_end(self, net, **kwargs):
        for group in net.optimizer_.param_groups:
            group["lr"] = 1e6


def test_a_later_divergence_warns_and_keeps_the_last_good_epoch(blobs):
    X, y = blobs
    est = ProtoNetClassifier(**FAST, callbacks=[RaiseRateAfter()])
    first = ProtoNetClassifier(**{**FAST, "max_epochs": 1}).meta_fit(X, y)
    with pytest.warns(MetaTrainingDiverged, match="epoch 2"):
        est.meta_fit(X, y)
    assert len(est.history_) == 1 and est.history_[-1]["stopped_by"] == "diverged"
    for a, b in zip(_weights(first), _weights(est)):
        torch.testing.assert_close(a, b)
    proba = est.fit(X[:20], y[:20]).predict_proba(X[:20])
    assert np.isfinite(proba).all()


def test_no_warning_on_healthy_training(blobs):
    X, y = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("error", MetaTrainingDiverged)
        ProtoNetClassifier(**FAST).meta_fit(X, y)


MEMORY_PROBE = """
import resource, numpy as np
from sklmeta import MAMLClassifier
rng = np.random.RandomState(0)
X, y = rng.randn(25, 64).astype(np.float32), np.repeat(np.arange(5), 5)
est = MAMLClassifier(encoder="mlp", encoder__hidden_layer_sizes=(256, 256), adapt_lr=1e-3,
                     first_order={first_order}, device="cpu", verbose=0, random_state=0)
est.set_params(n_adapt_steps=1).fit(X, y)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
est.set_params(n_adapt_steps=3000).fit(X, y)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


@pytest.mark.parametrize("first_order", [False, True])
def test_adaptation_memory_does_not_grow_with_the_steps(first_order):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE.format(first_order=first_order)],
                         capture_output=True, text=True, check=True)
    growth_mb = float(out.stdout.strip().splitlines()[-1])
    assert growth_mb < 20, growth_mb


def test_adapting_gradient_learner_warns_and_keeps_the_last_good_step(blobs):
    from sklmeta.exceptions import AdaptationDiverged

    X, y = blobs
    est = MAMLClassifier(**FAST).meta_fit(X, y)
    support = np.isin(y, [0, 1, 2, 3, 4])
    X_support, y_support = X[support][::4], y[support][::4]
    est.set_params(adapt_lr=1e6, n_adapt_steps=5)
    with pytest.warns(AdaptationDiverged, match="adapt_lr"):
        est.fit(X_support, y_support)
    assert np.isfinite(est.predict_proba(X_support)).all()
    accuracy = est.score(X_support, y_support)
    est.set_params(n_adapt_steps=0).fit(X_support, y_support)
    assert accuracy == est.score(X_support, y_support)  # the weights before step 1


@pytest.mark.parametrize("cls", [ProtoNetClassifier, MAMLClassifier])
def test_inputs_beyond_float32_are_refused_before_any_work(blobs, cls):
    X, y = blobs
    with pytest.raises(ValueError, match="X has values up to .*beyond float32"):
        cls(**FAST).meta_fit(X.astype(np.float64) * 1e39, y)
    est = cls(**FAST).meta_fit(X, y).fit(X[:20], y[:20])
    with pytest.raises(ValueError, match="float32"):
        est.predict(X[:5].astype(np.float64) * 1e39)


def test_inputs_that_overflow_inside_the_network_are_reported(blobs):
    X, y = blobs
    with pytest.raises(DivergenceError, match="diverged in epoch 1.*overflows float32"):
        ProtoNetClassifier(**FAST).meta_fit(X * 1e30, y)
    est = ProtoNetClassifier(**FAST).meta_fit(X, y).fit(X[:20], y[:20])
    try:
        proba = est.predict_proba(X[:5] * 1e30)
    except ValueError as exc:
        assert "not finite" in str(exc)
    else:
        assert np.isfinite(proba).all()


def test_mixed_label_types_and_bad_seeds_are_named(blobs):
    from sklmeta import EncoderTransformer, Task

    X, y = blobs
    mixed = np.array([v if v % 2 else str(v) for v in y], dtype=object)
    with pytest.raises(TypeError, match="y mixes labels of the types"):
        ProtoNetClassifier(**FAST).meta_fit(X, mixed)
    est = ProtoNetClassifier(**FAST).meta_fit(X, y)
    with pytest.raises(TypeError, match="y mixes labels"):
        est.fit(X[:4], [0, "a", 1, "b"])
    for bad in (-1, "abc", 1.5):
        with pytest.raises(ValueError, match="random_state must be"):
            ProtoNetClassifier(**{**FAST, "random_state": bad}).meta_fit(X, y)
    with pytest.raises(ValueError, match="random_state must be"):
        EncoderTransformer(est, random_state="abc").fit(X)
    with pytest.raises(ValueError, match="y_support contains NaN"):
        Task(X[:4], [0.0, np.nan, 1.0, 2.0], X[:4], [0.0, 1.0, 2.0, 3.0])


def test_finetune_refuses_a_pool_of_one_class(blobs):
    from sklmeta import FineTuneClassifier

    X, y = blobs
    with pytest.raises(ValueError, match="at least 2 classes"):
        FineTuneClassifier(encoder="mlp", max_epochs=1, verbose=0).meta_fit(X[:5], y[:5] * 0)


def test_a_finished_run_continued_starts_a_new_schedule_from_the_base_rate(blobs):
    X, y = blobs
    est = ProtoNetClassifier(**{**FAST, "max_epochs": 2}, lr_schedule="cosine").meta_fit(X, y)
    assert est.optimizer_.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    weights = _weights(est)
    est.set_params(warm_start=True).meta_fit(X, y)
    assert est.history_[2]["lr"] == pytest.approx(est.meta_lr)
    assert any(not torch.equal(a, b) for a, b in zip(weights, _weights(est)))
