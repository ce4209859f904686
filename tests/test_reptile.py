"""Reptile: estimator checks, the meta-update, behaviour and learning."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklmeta import evaluate_episodes
from sklmeta.datasets._sinusoid import SinusoidTasks
from sklmeta.gradient_based import ReptileClassifier, ReptileRegressor
from sklmeta.gradient_based._functional import task_loss

ESTIMATORS = [
    ReptileClassifier(encoder="mlp", n_adapt_steps=10, verbose=0, random_state=0,
                      device="cpu"),
    ReptileRegressor(encoder="mlp", verbose=0, random_state=0, device="cpu"),
]
EXPECTED_FAILURES = {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("batch_tasks", [False, True])
def test_meta_update_moves_towards_the_adapted_weights(batch_tasks):
    """With meta_lr=1 and plain SGD, one meta-step lands on the mean adapted weights."""
    tasks = list(SinusoidTasks(n_shot=5, n_query=5, n_tasks=4, random_state=0))
    params = dict(n_inner_steps=3, inner_lr=0.01, meta_batch_size=4, max_epochs=0,
                  episodes_per_epoch=4, meta_lr=1.0, verbose=0, random_state=0,
                  device="cpu", batch_tasks=batch_tasks)
    est = ReptileRegressor(**params).meta_fit(tasks)
    theta = {k: v.detach().clone() for k, v in est.network_.named_parameters()}
    adapted = []
    for task in tasks:
        one = clone(est).set_params(n_adapt_steps=3)
        x = np.vstack([task.X_support, task.X_query])
        one.fit(x, np.concatenate([task.y_support, task.y_query]))
        adapted.append(one.adapted_params_)
    est.set_params(warm_start=True, max_epochs=1)
    est.meta_fit(task for task in tasks)  # one meta-step over the four tasks, in order
    for name, value in est.network_.named_parameters():
        expected = torch.stack([a[name] for a in adapted]).mean(0)
        torch.testing.assert_close(value.detach(), expected, rtol=1e-5, atol=1e-6)
        assert not torch.equal(value.detach(), theta[name])


def test_meta_training_helps_on_unseen_classes(blobs):
    X, y = blobs
    meta = ReptileClassifier(encoder="mlp", n_shot=2, n_query=3, n_inner_steps=5,
                             inner_batch_size=5, max_epochs=2, episodes_per_epoch=100,
                             verbose=0, random_state=0,
                             device="cpu")
    meta.meta_fit(X[y < 20], y[y < 20])
    untrained = ReptileClassifier(encoder="mlp", verbose=0, random_state=0, device="cpu")
    kwargs = dict(n_way=5, n_shot=1, n_query=5, n_episodes=30, random_state=1)
    held_out = y >= 20
    trained = evaluate_episodes(meta, X[held_out], y[held_out], **kwargs).mean
    baseline = evaluate_episodes(untrained, X[held_out], y[held_out], **kwargs).mean
    assert trained > baseline


def test_fit_keeps_meta_state_and_takes_any_labels(blobs):
    X, y = blobs
    est = ReptileClassifier(encoder="mlp", n_shot=2, n_query=2, max_epochs=1,
                            episodes_per_epoch=10, verbose=0, random_state=0,
                            device="cpu").meta_fit(X, y)
    before = {k: v.clone() for k, v in est.network_.state_dict().items()}
    labels = np.array(["x", "y", "z"])[y[:60] % 3]
    est.fit(X[:60], labels)
    assert est.predict_proba(X).shape == (len(X), 3)
    assert set(est.predict(X)) <= {"x", "y", "z"}
    for key, value in est.network_.state_dict().items():
        assert torch.equal(value, before[key])
    copy = clone(est)
    assert not hasattr(copy, "adapted_params_")


def test_adapt_lr_is_the_step_size_of_fit(blobs):
    X, y = blobs
    est = ReptileClassifier(encoder="mlp", n_shot=2, n_query=2, inner_optimizer="sgd",
                            inner_lr=0.05, n_adapt_steps=1, max_epochs=1, episodes_per_epoch=10,
                            verbose=0, random_state=0, device="cpu").meta_fit(X, y)
    start = est.network_.task_params(3)
    default = est.fit(X[:60], y[:60] % 3).adapted_params_
    smaller = est.set_params(adapt_lr=0.01).fit(X[:60], y[:60] % 3).adapted_params_
    # one SGD step moves each weight in proportion to the step size
    for key in start:
        torch.testing.assert_close(smaller[key] - start[key],
                                   0.2 * (default[key] - start[key]), rtol=1e-4, atol=1e-6)
    assert any(not torch.equal(default[k], start[k]) for k in start)


def test_adapt_batch_size_steps_fit_on_minibatches_of_the_support_set(blobs, monkeypatch):
    X, y = blobs
    est = ReptileClassifier(encoder="mlp", n_shot=2, n_query=2, inner_optimizer="sgd",
                            inner_lr=0.05, n_adapt_steps=3, max_epochs=1, episodes_per_epoch=10,
                            verbose=0, random_state=0, device="cpu").meta_fit(X, y)
    x, labels = np.vstack([X[y == 0][:4], X[y == 1][:4]]), np.repeat([0, 1], 4)
    full = est.fit(x, labels).adapted_params_
    network = est.network_
    est.set_params(adapt_batch_size=len(x))  # an adaptation option: meta state kept
    assert est.network_ is network
    whole = est.fit(x, labels).adapted_params_
    for key in full:
        assert torch.equal(whole[key], full[key])

    # fix the order the minibatches are cut from: 7, 6, ..., 0, then 7, 6, ...
    import sklmeta.gradient_based._reptile as reptile
    monkeypatch.setattr(reptile, "random_permutation",
                        lambda n, device=None: torch.arange(n - 1, -1, -1, device=device))
    adapted = est.set_params(adapt_batch_size=3).fit(x, labels).adapted_params_
    leaves = {k: v.clone().requires_grad_()
              for k, v in est.network_.task_params(2, detach=True).items()}
    optimizer = torch.optim.SGD(list(leaves.values()), lr=0.05)
    xs, ys = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(labels)
    for index in ([7, 6, 5], [4, 3, 2], [1, 0, 7]):
        optimizer.zero_grad()
        task_loss(est.network_.output(leaves, xs[index]), ys[index]).backward()
        optimizer.step()
    for name, value in leaves.items():
        torch.testing.assert_close(adapted[name], value.detach(), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(adapted["head.weight"], full["head.weight"])


def test_parameter_errors_name_the_argument(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="inner_optimizer must be one of 'sgd', 'adam'"):
        ReptileClassifier(inner_optimizer="rmsprop", verbose=0).fit(X, y)
    with pytest.raises(ValueError, match="inner_batch_size must be >= 1"):
        ReptileClassifier(inner_batch_size=0, verbose=0).fit(X, y)
    with pytest.raises(ValueError, match="adapt_batch_size must be >= 1"):
        ReptileClassifier(adapt_batch_size=0, verbose=0).fit(X, y)
    with pytest.raises(ValueError, match="adapt_lr must be > 0"):
        ReptileClassifier(adapt_lr=-1.0, verbose=0).fit(X, y)
    with pytest.raises(ValueError, match="needs a task collection"):
        ReptileRegressor(verbose=0).meta_fit(X, y.astype(float))


def test_transductive_prediction_and_validation_use_the_queries_statistics():
    from sklmeta._episodes import EpisodeTensors
    from sklmeta.datasets import load_omniglot

    data = load_omniglot(split="test")
    X, y = data.data[:100], data.target[:100]
    est = ReptileClassifier(encoder="conv4", encoder__hidden_channels=8, n_adapt_steps=3,
                            verbose=0, random_state=0, device="cpu").fit(X[::5], y[::5])
    inductive = est.predict_proba(X)
    est.set_params(transductive=True)
    network, params = est.network_, est.adapted_params_
    with torch.no_grad():
        logits = network.output(params, torch.as_tensor(X, dtype=torch.float32))
    transductive = est.predict_proba(X)
    np.testing.assert_allclose(transductive, torch.softmax(logits.double(), 1).numpy(),
                               atol=1e-6)
    assert np.abs(transductive - inductive).max() > 1e-3
    # a validation episode is scored as fit then predict score it
    support, query = np.arange(0, 100, 5), np.setdiff1d(np.arange(100), np.arange(0, 100, 5))
    codes = np.searchsorted(est.classes_, y)
    episode = EpisodeTensors(*(torch.as_tensor(a) for a in (
        X[support], codes[support], X[query], codes[query])), len(est.classes_))
    _, acc = est._evaluate_episode(episode)
    assert acc == pytest.approx(est.score(X[query], y[query]), abs=1e-6)


@pytest.mark.parametrize("inner_optimizer, torch_optimizer", [
    ("sgd", lambda params, lr: torch.optim.SGD(params, lr=lr)),
    ("adam", lambda params, lr: torch.optim.Adam(params, lr=lr, betas=(0.0, 0.999))),
])
@pytest.mark.parametrize("batched", [False, True])
def test_inner_steps_match_torch_optimizers(inner_optimizer, torch_optimizer, batched):
    """The functional inner loop takes the steps of torch's optimizers on leaf weights."""
    task = next(iter(SinusoidTasks(n_shot=10, n_query=0, n_tasks=1, random_state=0)))
    x = torch.as_tensor(task.X_support, dtype=torch.float32)
    y = torch.as_tensor(task.y_support, dtype=torch.float32)
    est = ReptileRegressor(inner_optimizer=inner_optimizer, inner_lr=0.05, max_epochs=0,
                           verbose=0, random_state=0, device="cpu").meta_fit(
        SinusoidTasks(n_tasks=1, random_state=0))
    network = est.network_
    start = network.task_params(1, detach=True)
    if batched:
        adapted = torch.vmap(lambda x, y: est._descend(start, x, y, 4, True)[0])(x[None], y[None])
        adapted = {k: v[0] for k, v in adapted.items()}
    else:
        adapted = est._descend(start, x, y, 4, False)[0]

    leaves = {k: v.clone().requires_grad_() for k, v in start.items()}
    optimizer = torch_optimizer(list(leaves.values()), 0.05)
    for _ in range(4):
        optimizer.zero_grad()
        task_loss(network.output(leaves, x), y).backward()
        optimizer.step()
    assert set(adapted) == set(leaves)
    for name, value in leaves.items():
        torch.testing.assert_close(adapted[name], value.detach(), rtol=1e-5, atol=1e-6)
        assert not torch.equal(value.detach(), start[name])


def _torch_adam(leaves, lr, state=None):
    optimizer = torch.optim.Adam(list(leaves.values()), lr=lr, betas=(0.0, 0.999))
    if state is not None:
        moments, steps = state
        for name, leaf in leaves.items():
            optimizer.state[leaf] = {
                "step": torch.tensor(float(steps)),
                "exp_avg": torch.zeros_like(leaf),
                "exp_avg_sq": moments[name].clone(),
            }
    return optimizer


def _adam_steps(network, leaves, optimizer, x, y, n_steps):
    for _ in range(n_steps):
        optimizer.zero_grad()
        task_loss(network.output(leaves, x), y).backward()
        optimizer.step()


@pytest.mark.parametrize("batch_tasks", [False, True])
def test_adam_state_is_carried_from_task_to_task(batch_tasks):
    """Looped tasks continue one Adam's second moments, as one torch.optim.Adam
    would; batched tasks start from the same state and keep their mean."""
    tasks = list(SinusoidTasks(n_shot=5, n_query=5, n_tasks=4, random_state=0))
    est = ReptileRegressor(inner_optimizer="adam", inner_lr=0.05, n_inner_steps=3,
                           meta_batch_size=2, episodes_per_epoch=2, max_epochs=1,
                           meta_lr=1.0, batch_tasks=batch_tasks, verbose=0,
                           random_state=0, device="cpu")
    est.meta_fit(task for task in tasks[:2])  # one meta-step: a non-zero state
    assert est.inner_step_count_ == 6
    theta = est.network_.task_params(1, detach=True)
    state = ({k: v.clone() for k, v in est.inner_moments_.items()}, est.inner_step_count_)
    data = [(torch.as_tensor(np.vstack([t.X_support, t.X_query]), dtype=torch.float32),
             torch.as_tensor(np.concatenate([t.y_support, t.y_query]), dtype=torch.float32))
            for t in tasks[2:]]

    network, adapted, moments = est.network_, [], []
    shared = None
    for x, y in data:
        leaves = {k: v.clone().requires_grad_() for k, v in theta.items()}
        if batch_tasks or shared is None:
            optimizer = _torch_adam(leaves, 0.05, state)
        else:  # the same optimizer's state, moved onto the new leaves
            optimizer = _torch_adam(leaves, 0.05, shared)
        _adam_steps(network, leaves, optimizer, x, y, 3)
        adapted.append({k: v.detach() for k, v in leaves.items()})
        moments.append({k: optimizer.state[v]["exp_avg_sq"] for k, v in leaves.items()})
        shared = (moments[-1], state[1] + 3)

    est.set_params(warm_start=True)
    est.meta_fit(task for task in tasks[2:])
    assert est.inner_step_count_ == 12
    expected = moments[-1] if not batch_tasks else {
        k: (moments[0][k] + moments[1][k]) / 2 for k in theta}
    for name, value in est.network_.task_params(1, detach=True).items():
        torch.testing.assert_close(value, (adapted[0][name] + adapted[1][name]) / 2,
                                   rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(est.inner_moments_[name], expected[name],
                                   rtol=1e-5, atol=1e-9)
        assert not torch.equal(est.inner_moments_[name], state[0][name])


def test_fit_starts_from_the_carried_adam_state_and_keeps_it(blobs):
    X, y = blobs
    est = ReptileClassifier(encoder="mlp", n_shot=2, n_query=2, n_adapt_steps=4,
                            max_epochs=1, episodes_per_epoch=10, verbose=0,
                            random_state=0, device="cpu").meta_fit(X, y)
    state = ({k: v.clone() for k, v in est.inner_moments_.items()}, est.inner_step_count_)
    assert state[1] == 10 * 5
    x, labels = X[y < 3], y[y < 3]
    est.fit(x, labels)
    leaves = {k: v.clone().requires_grad_()
              for k, v in est.network_.task_params(3, detach=True).items()}
    moments = {k: v.expand_as(leaves[k]) for k, v in state[0].items()}
    optimizer = _torch_adam(leaves, est.inner_lr, (moments, state[1]))
    _adam_steps(est.network_, leaves, optimizer, torch.as_tensor(x, dtype=torch.float32),
                torch.as_tensor(labels), 4)
    for name, value in leaves.items():
        torch.testing.assert_close(est.adapted_params_[name], value.detach(),
                                   rtol=1e-5, atol=1e-6)
    for name, value in est.inner_moments_.items():
        assert torch.equal(value, state[0][name])
    assert est.inner_step_count_ == state[1]
    copy = clone(est)
    for name, value in copy.inner_moments_.items():
        assert torch.equal(value, state[0][name])
    # Adam started afresh would have landed elsewhere
    fresh = {k: v.clone().requires_grad_()
             for k, v in est.network_.task_params(3, detach=True).items()}
    _adam_steps(est.network_, fresh, _torch_adam(fresh, est.inner_lr),
                torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(labels), 4)
    assert not torch.allclose(fresh["head.weight"], est.adapted_params_["head.weight"])
