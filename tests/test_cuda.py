"""Every learner on CUDA: meta-training, adaptation and prediction on the GPU
agree with the CPU, the gradient-based learners batch their tasks there, and
a model trained on a GPU loads on a machine without one.

The whole module is skipped where CUDA is not available (as in CI).
"""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from sklmeta import (
    FineTuneClassifier,
    MAMLClassifier,
    MAMLRegressor,
    MANNClassifier,
    MatchingNetClassifier,
    ProtoNetClassifier,
    RelationNetClassifier,
    ReptileClassifier,
    ReptileRegressor,
    SiameseClassifier,
)
from sklmeta.datasets._sinusoid import SinusoidTasks

from test_maml import conv_body_with_random_norms, meta_gradient

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

EPISODES = dict(encoder="mlp", n_way=5, n_shot=2, n_query=5, max_epochs=2,
                episodes_per_epoch=16, verbose=0, random_state=0)
CLASSIFIERS = {
    "protonet": ProtoNetClassifier(**EPISODES),
    "matching": MatchingNetClassifier(**EPISODES),
    "matching-fce": MatchingNetClassifier(fce=True, **EPISODES),
    "relation": RelationNetClassifier(**EPISODES),
    "siamese-bce": SiameseClassifier(**EPISODES),
    "siamese-contrastive": SiameseClassifier(loss="contrastive", aggregation="mean",
                                             **EPISODES),
    "mann": MANNClassifier(controller_size=32, n_slots=16, slot_size=8, n_heads=2,
                           **EPISODES),
    "maml": MAMLClassifier(meta_batch_size=4, **EPISODES),
    "fomaml": MAMLClassifier(first_order=True, meta_batch_size=4, **EPISODES),
    "metasgd": MAMLClassifier(learn_inner_lr=True, meta_batch_size=4, **EPISODES),
    "anil": MAMLClassifier(inner_params="head", meta_batch_size=4, **EPISODES),
    "reptile": ReptileClassifier(meta_batch_size=4, **EPISODES),
    "finetune": FineTuneClassifier(encoder="mlp", max_epochs=2, verbose=0, random_state=0),
}


def task(blobs, classes=(20, 21, 22, 23, 24), n_shot=2):
    X, y = blobs
    support = np.concatenate([np.flatnonzero(y == c)[:n_shot] for c in classes])
    query = np.concatenate([np.flatnonzero(y == c)[n_shot:] for c in classes])
    return X[support], y[support], X[query], y[query]


def trained(learner, blobs, device):
    X, y = blobs
    est = clone(learner).set_params(device=device)
    return est.meta_fit(X[y < 20], y[y < 20])


def parameters_of(est):
    return list(est.module_.parameters())


@pytest.fixture(scope="module", params=sorted(CLASSIFIERS))
def on_both_devices(request, blobs):
    learner = CLASSIFIERS[request.param]
    return request.param, trained(learner, blobs, "cuda"), trained(learner, blobs, "cpu")


def test_meta_training_and_adaptation_run_on_the_gpu(on_both_devices, blobs):
    name, gpu, _ = on_both_devices
    assert all(p.is_cuda for p in parameters_of(gpu)), name
    X_support, y_support, X_query, _ = task(blobs)
    proba = gpu.fit(X_support, y_support).predict_proba(X_query)
    assert isinstance(proba, np.ndarray) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(gpu.predict(X_query)) <= set(y_support)


def test_gpu_and_cpu_learn_the_same_model(on_both_devices, blobs):
    """Same seed: the same episodes, orders and pairs, so the same model up to
    float32 rounding.

    Outputs are compared, not parameters: a parameter whose gradient is zero
    in exact arithmetic (a shift that every class shares, such as the last
    bias before a distance) takes Adam steps driven by rounding noise alone,
    and those differ between devices without changing any output.
    """
    name, gpu, cpu = on_both_devices
    X_support, y_support, X_query, _ = task(blobs)
    gpu_proba = gpu.fit(X_support, y_support).predict_proba(X_query)
    cpu_proba = cpu.fit(X_support, y_support).predict_proba(X_query)
    np.testing.assert_allclose(gpu_proba, cpu_proba, atol=0.02, err_msg=name)


def test_clone_keeps_the_meta_state_on_the_gpu(on_both_devices, blobs):
    name, gpu, _ = on_both_devices
    X_support, y_support, X_query, _ = task(blobs)
    expected = gpu.fit(X_support, y_support).predict_proba(X_query)
    copy = clone(gpu)
    assert all(p.is_cuda for p in parameters_of(copy)), name
    np.testing.assert_allclose(copy.fit(X_support, y_support).predict_proba(X_query),
                               expected, rtol=1e-5, atol=1e-6)


def test_a_gpu_pickle_loads_and_predicts_without_cuda(on_both_devices, blobs, monkeypatch):
    name, gpu, _ = on_both_devices
    X_support, y_support, X_query, _ = task(blobs)
    expected = gpu.fit(X_support, y_support).predict_proba(X_query)
    payload = pickle.dumps(gpu)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    restored = pickle.loads(payload)
    assert not any(p.is_cuda for p in parameters_of(restored)), name
    restored.set_params(device="cpu")
    np.testing.assert_allclose(restored.fit(X_support, y_support).predict_proba(X_query),
                               expected, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("first_order", [False, True])
def test_maml_batches_tasks_on_the_gpu_with_the_looped_meta_gradient(blobs, first_order):
    """'auto' picks vmap on CUDA; it must give the looped loop's meta-gradient."""
    X, y = blobs
    est = MAMLClassifier(first_order=first_order, meta_batch_size=4, **EPISODES)
    est.set_params(device="cuda", max_epochs=0).meta_fit(X[y < 20], y[y < 20])
    episodes = est._episode_source(X[y < 20], y[y < 20], torch.device("cuda"), "X")
    episodes.seed(0)
    batch = [episodes.draw() for _ in range(4)]
    assert est._batched(batch)
    est.network_.double()
    tasks = [(ep.x_support.double(), ep.y_support, ep.x_query.double(), ep.y_query)
             for ep in batch]
    looped = meta_gradient(est, tasks, batched=False, n_outputs=5)
    batched = meta_gradient(est, tasks, batched=True, n_outputs=5)
    for name in looped:
        assert looped[name].is_cuda
        torch.testing.assert_close(batched[name], looped[name], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("learner", [MAMLRegressor(meta_batch_size=5),
                                     ReptileRegressor(meta_batch_size=5)],
                         ids=["maml", "reptile"])
def test_few_shot_regression_on_the_gpu_matches_the_cpu(learner):
    tasks = SinusoidTasks(n_shot=10, n_query=10, random_state=0)
    common = dict(max_epochs=2, episodes_per_epoch=20, verbose=0, random_state=0)
    gpu = clone(learner).set_params(device="cuda", **common).meta_fit(tasks)
    cpu = clone(learner).set_params(device="cpu", **common).meta_fit(tasks)
    assert all(p.is_cuda for p in parameters_of(gpu))
    rng = np.random.RandomState(1)
    x = rng.uniform(-5, 5, size=(10, 1)).astype(np.float32)
    y = 2.0 * np.sin(x[:, 0] + 0.5)
    grid = np.linspace(-5, 5, 50, dtype=np.float32)[:, None]
    np.testing.assert_allclose(gpu.fit(x, y).predict(grid), cpu.fit(x, y).predict(grid),
                               rtol=1e-3, atol=1e-3)


def test_leading_rows_batch_norm_on_the_gpu_matches_the_cpu():
    """Queries normalised with the support rows' statistics: torch's CUDA
    kernels and the hand-written backward give the CPU's output and gradients."""
    body = conv_body_with_random_norms(side=8, channels=4)
    x = torch.randn(12, 64, dtype=torch.float64)
    target = torch.randn(12, 4 * 2 * 2, dtype=torch.float64)
    results = []
    for device in ("cpu", "cuda"):
        body_on = body.to(device)
        x_on = x.to(device).requires_grad_()
        out = body_on(x_on, n_stats=5)
        grads = torch.autograd.grad((out * target.to(device)).sum(),
                                    [x_on, *body_on.parameters()])
        results.append([out.detach().cpu(), *(g.cpu() for g in grads)])
    for cpu, cuda in zip(*results):
        torch.testing.assert_close(cuda, cpu, rtol=1e-9, atol=1e-11)
