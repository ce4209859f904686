"""MAML, first-order MAML, Meta-SGD and ANIL: gradients, behaviour, learning."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklmeta.datasets._sinusoid import SinusoidTasks
from sklmeta.gradient_based import MAMLClassifier, MAMLRegressor
from sklmeta.gradient_based._functional import ConvBody

ESTIMATORS = [
    MAMLClassifier(encoder="mlp", verbose=0, random_state=0, device="cpu"),
    MAMLRegressor(encoder="mlp", verbose=0, random_state=0, device="cpu"),
]
EXPECTED_FAILURES = {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# ----------------------------------------------------------------------
# exact meta-gradients, in float64 on tiny networks
# ----------------------------------------------------------------------
def tiny_learner(body, **params):
    """A MAMLClassifier holding a float64 network built around ``body``."""
    from sklmeta.gradient_based._functional import MetaNetwork, SharedRowHead

    est = MAMLClassifier(n_inner_steps=2, inner_lr=0.3, **params)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        width = body(torch.zeros(1, 36, dtype=torch.float64)).shape[1]
        network = MetaNetwork(body, SharedRowHead(width), est.inner_lr,
                              learn_inner_lr=est.learn_inner_lr, adapted=est.inner_params)
        network.head.weight.data.normal_()  # away from the zero start
        if network.inner_lrs is not None:
            for lr in network.inner_lrs.values():
                lr.data.uniform_(0.1, 0.5)
        est.network_ = network.double()
    return est


def tiny_tasks(n_tasks=3, n_way=3, n_shot=2, n_query=2, seed=0):
    rng = np.random.RandomState(seed)
    labels = torch.arange(n_way)
    return [
        (torch.from_numpy(rng.normal(size=(n_way * n_shot, 36))),
         labels.repeat_interleave(n_shot),
         torch.from_numpy(rng.normal(size=(n_way * n_query, 36))),
         labels.repeat_interleave(n_query))
        for _ in range(n_tasks)
    ]


def meta_gradient(est, tasks, batched, n_outputs=3):
    network = est.network_
    network.zero_grad(set_to_none=True)
    if batched:
        stacked = [torch.stack(parts) for parts in zip(*tasks)]
        losses, _ = torch.vmap(lambda *t: est._query_loss(*t, n_outputs, True))(*stacked)
        losses.sum().backward()
    else:
        for task in tasks:
            est._query_loss(*task, n_outputs, False)[0].backward()
    return {name: p.grad.clone() for name, p in network.named_parameters()}


def bodies():
    from sklmeta.gradient_based._functional import ConvBody, MLPBody

    yield "conv", lambda: ConvBody(input_shape=(1, 6, 6), hidden_channels=2, n_blocks=2)
    yield "mlp", lambda: MLPBody(36, hidden_layer_sizes=(5,))


CONFIGS = [
    dict(),
    dict(learn_inner_lr=True),
    dict(inner_params="head"),
    dict(transductive=True),
    dict(transductive=True, inner_params="head"),
    dict(first_order=True),
]
CONFIG_IDS = ["maml", "metasgd", "anil", "transductive", "transductive-anil", "fomaml"]
SECOND_ORDER = [c for c in CONFIGS if not c.get("first_order")]
SECOND_ORDER_IDS = [i for c, i in zip(CONFIGS, CONFIG_IDS) if not c.get("first_order")]


@pytest.mark.parametrize("params", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("name, make_body", list(bodies()), ids=["conv", "mlp"])
def test_batched_and_looped_meta_gradients_agree(name, make_body, params):
    est = tiny_learner(make_body().double(), **params)
    tasks = tiny_tasks()
    looped = meta_gradient(est, tasks, batched=False)
    batched = meta_gradient(est, tasks, batched=True)
    for key in looped:
        torch.testing.assert_close(batched[key], looped[key], rtol=1e-9, atol=1e-12)


def conv_body_with_random_norms(side, channels, seed=0):
    """A float64 two-block ConvBody whose batch-norm weights and biases are
    not the identity, so that gradients through them are not trivial."""
    from sklmeta.gradient_based._functional import ConvBody

    torch.manual_seed(seed)
    body = ConvBody(input_shape=(1, side, side), hidden_channels=channels,
                    n_blocks=2).double()
    for norm in body.norms:
        norm.weight.data.uniform_(0.5, 1.5)
        norm.bias.data.normal_()
    return body


def test_fused_batch_norm_matches_the_mean_var_form():
    """Outside torch.func transforms the body uses torch's fused batch norm."""
    body = conv_body_with_random_norms(side=6, channels=3)
    x = torch.randn(7, 36, dtype=torch.float64)
    fused = body(x)
    explicit = body(x, stats=[])  # recording the statistics takes the mean/var form
    torch.testing.assert_close(fused, explicit, rtol=1e-12, atol=1e-12)
    weights = list(body.parameters())
    g_fused = torch.autograd.grad(fused.pow(2).sum(), weights)
    g_explicit = torch.autograd.grad(body(x, stats=[]).pow(2).sum(), weights)
    for a, b in zip(g_fused, g_explicit):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def _graph_node_names(tensor):
    """Class names of the autograd nodes behind ``tensor``."""
    names, seen, stack = set(), set(), [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return names


def test_leading_rows_batch_norm_matches_the_mean_var_form():
    """Queries normalised with the support rows' statistics: torch's fused
    inference kernel and a hand-written backward give the mean/var form's
    output and first derivatives, through the statistics too."""
    body = conv_body_with_random_norms(side=6, channels=3)
    x = torch.randn(9, 36, dtype=torch.float64, requires_grad=True)
    weights = [x, *body.parameters()]
    target = torch.randn(9, 3 * 2 * 2, dtype=torch.float64)
    fast = body(x, n_stats=4)
    explicit = body(x, n_stats=4, stats=[])  # recording statistics takes the mean/var form
    torch.testing.assert_close(fast, explicit, rtol=1e-12, atol=1e-12)
    assert _graph_node_names(fast) >= {"_LeadingRowsBatchNormBackward"}
    assert "_LeadingRowsBatchNormBackward" not in _graph_node_names(explicit)
    g_fast = torch.autograd.grad((fast * target).sum(), weights)
    g_explicit = torch.autograd.grad((explicit * target).sum(), weights)
    for a, b in zip(g_fast, g_explicit):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert g_fast[0][:4].abs().sum() > 0 and g_fast[0][4:].abs().sum() > 0


def test_leading_rows_batch_norm_against_finite_differences():
    from sklmeta.gradient_based._functional import _LeadingRowsBatchNorm

    torch.manual_seed(1)
    inputs = (torch.randn(6, 3, 4, 4, dtype=torch.float64, requires_grad=True),
              (torch.rand(3, dtype=torch.float64) + 0.5).requires_grad_(),
              torch.randn(3, dtype=torch.float64, requires_grad=True))
    assert torch.autograd.gradcheck(
        lambda x, w, b: _LeadingRowsBatchNorm.apply(x, w, b, 2, 1e-5), inputs
    )


def test_leading_rows_batch_norm_refuses_a_second_derivative():
    """Differentiable once: a second derivative through it fails loudly."""
    from sklmeta.gradient_based._functional import _LeadingRowsBatchNorm

    x = torch.randn(6, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    w, b = torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    out = _LeadingRowsBatchNorm.apply(x, w, b, 2, 1e-5)
    (grad,) = torch.autograd.grad(out.pow(3).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once"):
        grad.sum().backward()


@pytest.mark.parametrize("downsample", ["stride", "max"])
def test_conv_body_with_given_weights_runs_its_own_layers(downsample):
    """The dict path (no functional_call) computes what the modules would."""
    from sklmeta.gradient_based._functional import ConvBody

    torch.manual_seed(0)
    body = ConvBody(input_shape=(1, 8, 8), hidden_channels=3, n_blocks=2,
                    downsample=downsample).double()
    x = torch.randn(5, 64, dtype=torch.float64)
    weights = {k: v.detach() + 0.1 * torch.randn_like(v) for k, v in body.named_parameters()}
    with torch.no_grad():
        for name, value in weights.items():
            body.get_parameter(name).copy_(value)
        h = x.reshape(5, 1, 8, 8)
        for conv, norm in zip(body.convs, body.norms):
            h = F.batch_norm(conv(h), None, None, norm.weight, norm.bias, training=True,
                             eps=norm.eps).relu()
            if downsample == "max":
                h = F.max_pool2d(h, 2)
        expected = h.flatten(start_dim=1)
        fresh = ConvBody(input_shape=(1, 8, 8), hidden_channels=3, n_blocks=2,
                         downsample=downsample).double()
        torch.testing.assert_close(fresh.forward_with(weights, x), expected)
        torch.testing.assert_close(fresh.forward_with(weights, x, stats=[]), expected)


def test_network_keeps_the_forward_of_a_body_subclass():
    from sklmeta.gradient_based._functional import MetaNetwork, MLPBody, SharedRowHead

    class Doubled(MLPBody):
        def forward(self, x, n_stats=None, stats=None):
            return 2 * super().forward(x, n_stats, stats)

    torch.manual_seed(0)
    plain = MLPBody(4, hidden_layer_sizes=(3,))
    doubled = Doubled(4, hidden_layer_sizes=(3,))
    doubled.load_state_dict(plain.state_dict())
    x = torch.randn(6, 4)
    outputs = []
    for body in (plain, doubled):
        network = MetaNetwork(body, SharedRowHead(3), inner_lr=0.1)
        outputs.append(network.features(network.task_params(2, detach=True), x))
    torch.testing.assert_close(outputs[1], 2 * outputs[0])


@pytest.mark.parametrize("params", SECOND_ORDER, ids=SECOND_ORDER_IDS)
@pytest.mark.parametrize("name, make_body", list(bodies()), ids=["conv", "mlp"])
def test_second_order_meta_gradient_matches_finite_differences(name, make_body, params):
    """Two inner steps through task batch norm: autograd against central differences."""
    est = tiny_learner(make_body().double(), **params)
    tasks = tiny_tasks(n_tasks=2)
    analytic = meta_gradient(est, tasks, batched=False)

    def total_loss():
        with torch.enable_grad():
            return sum(est._query_loss(*task, 3, False)[0].item() for task in tasks)

    h = 1e-6
    for key, p in est.network_.named_parameters():
        numeric = torch.zeros_like(p)
        flat, out = p.data.view(-1), numeric.view(-1)
        for i in range(flat.numel()):
            flat[i] += h
            up = total_loss()
            flat[i] -= 2 * h
            down = total_loss()
            flat[i] += h
            out[i] = (up - down) / (2 * h)
        torch.testing.assert_close(analytic[key], numeric, rtol=1e-5, atol=1e-7,
                                   msg=lambda m, key=key: f"{key}: {m}")


@pytest.mark.parametrize("params", [dict(), dict(learn_inner_lr=True),
                                    dict(transductive=True)],
                         ids=["fomaml", "fo-metasgd", "fo-transductive"])
@pytest.mark.parametrize("name, make_body", list(bodies()), ids=["conv", "mlp"])
def test_shared_first_step_gives_the_looped_first_order_meta_gradient(name, make_body,
                                                                      params):
    """Looping tasks under batch_tasks='auto', first-order MAML computes all
    their first support gradients in one batched call; the meta-gradient is
    that of the plain loop."""
    from sklmeta._episodes import EpisodeTensors

    est = tiny_learner(make_body().double(), first_order=True, batch_tasks="auto", **params)
    tasks = tiny_tasks()
    episodes = [EpisodeTensors(*task, 3) for task in tasks]
    first_grads = est._shared_first_step(episodes, [3] * len(tasks))
    assert first_grads is not None
    looped = meta_gradient(est, tasks, batched=False)
    est.network_.zero_grad(set_to_none=True)
    for task, grads in zip(tasks, first_grads):
        est._query_loss(*task, 3, False, grads)[0].backward()
    for key, p in est.network_.named_parameters():
        torch.testing.assert_close(p.grad, looped[key], rtol=1e-9, atol=1e-12)
    if name == "conv":  # on a CPU the meta-step loops over conv tasks, taking this path
        assert not est._batched(episodes)
        calls, shared_first_step = [], est._shared_first_step
        est._shared_first_step = lambda *args: calls.append(args) or shared_first_step(*args)
        est.network_.zero_grad(set_to_none=True)
        est.optimizer_ = torch.optim.SGD(est.network_.parameters(), lr=0.0)
        est.callbacks_ = []
        est._train_step(episodes)
        assert len(calls) == 1
        for key, p in est.network_.named_parameters():
            torch.testing.assert_close(p.grad * len(tasks), looped[key], rtol=1e-9,
                                       atol=1e-12)


def custom_body():
    return torch.nn.Sequential(torch.nn.Linear(36, 5), torch.nn.ReLU())


@pytest.mark.parametrize("make_body, params", [
    (None, dict(first_order=False)), (None, dict(inner_params="head")),
    (None, dict(batch_tasks=False)), (custom_body, dict()),
], ids=["second-order", "anil", "strict-loop", "custom-body"])
def test_shared_first_step_only_where_it_is_exact_and_asked(make_body, params):
    from sklmeta._episodes import EpisodeTensors
    from sklmeta.gradient_based._functional import MLPBody

    body = MLPBody(36, (5,)) if make_body is None else make_body()
    est = tiny_learner(body.double(), **{"first_order": True, "batch_tasks": "auto", **params})
    episodes = [EpisodeTensors(*task, 3) for task in tiny_tasks()]
    assert est._shared_first_step(episodes, [3] * len(episodes)) is None
    # nor with support sets of different shapes
    est = tiny_learner(MLPBody(36, (5,)).double(), first_order=True, batch_tasks="auto")
    mixed = episodes[:1] + [EpisodeTensors(*task, 3) for task in tiny_tasks(n_shot=3)]
    assert est._shared_first_step(mixed, [3] * len(mixed)) is None


def test_first_order_drops_second_order_terms():
    from sklmeta.gradient_based._functional import MLPBody

    tasks = tiny_tasks()
    exact = meta_gradient(tiny_learner(MLPBody(36, (5,)).double()), tasks, False)
    first = meta_gradient(tiny_learner(MLPBody(36, (5,)).double(), first_order=True),
                          tasks, False)
    assert not torch.allclose(exact["body.layers.0.weight"], first["body.layers.0.weight"])


# ----------------------------------------------------------------------
# behaviour of the estimators
# ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def meta_fitted_maml(blobs):
    X, y = blobs
    clf = MAMLClassifier(encoder="mlp", n_way=5, n_shot=2, n_query=5, max_epochs=2,
                         episodes_per_epoch=64, meta_batch_size=16, meta_lr=3e-3,
                         verbose=0, random_state=0, device="cpu")
    return clf.meta_fit(X[y < 20], y[y < 20])


def support_and_queries(blobs, classes=(20, 21, 22, 23, 24), n_shot=2):
    X, y = blobs
    support = np.concatenate([np.flatnonzero(y == c)[:n_shot] for c in classes])
    query = np.concatenate([np.flatnonzero(y == c)[n_shot:] for c in classes])
    return X[support], y[support], X[query], y[query]


def meta_state(est):
    return {k: v.detach().clone() for k, v in est.network_.state_dict().items()}


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 2), n_classes=st.integers(1, 6))
def test_adaptation_never_changes_the_meta_learned_network(meta_fitted_maml, blobs, seed,
                                                           n_classes):
    X, y = blobs
    rng = np.random.RandomState(seed)
    classes = rng.choice(np.arange(20, 30), size=n_classes, replace=False)
    X_s, y_s, X_q, _ = support_and_queries(blobs, classes, n_shot=int(rng.randint(1, 4)))
    est = clone(meta_fitted_maml)
    before = meta_state(est)
    est.fit(X_s, y_s).predict(X_q)
    assert set(est.classes_) == set(classes)
    for key, value in est.network_.state_dict().items():
        assert torch.equal(value, before[key]), key
    moved = [k for k in est.adapted_params_ if not torch.equal(
        est.adapted_params_[k], est.network_.task_params(n_classes)[k])]
    assert moved or n_classes == 1  # adaptation happened, elsewhere


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 2))
def test_relabelling_classes_relabels_predictions(meta_fitted_maml, blobs, seed):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    rng = np.random.RandomState(seed)
    names = np.array([f"class-{v}" for v in rng.permutation(1000)[:5]])
    mapping = dict(zip(np.unique(y_s), names))
    relabelled = np.array([mapping[v] for v in y_s])
    original = clone(meta_fitted_maml).fit(X_s, y_s)
    renamed = clone(meta_fitted_maml).fit(X_s, relabelled)
    np.testing.assert_array_equal(renamed.predict(X_q),
                                  [mapping[v] for v in original.predict(X_q)])
    order = np.argsort([mapping[c] for c in original.classes_])
    np.testing.assert_allclose(renamed.predict_proba(X_q),
                               original.predict_proba(X_q)[:, order], atol=1e-5)


def test_clone_keeps_meta_state_but_not_adaptation(meta_fitted_maml, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    adapted = clone(meta_fitted_maml).fit(X_s, y_s)
    copy = clone(adapted)
    assert not hasattr(copy, "classes_") and not hasattr(copy, "adapted_params_")
    assert copy.network_ is not adapted.network_
    for a, b in zip(copy.network_.parameters(), meta_fitted_maml.network_.parameters()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
    np.testing.assert_array_equal(copy.fit(X_s, y_s).predict(X_q), adapted.predict(X_q))


def test_any_number_of_ways_and_string_labels(meta_fitted_maml, blobs):
    X, y = blobs
    keep = y >= 20  # ten unseen classes; meta-trained 5-way
    labels = np.array([f"char-{v}" for v in y[keep]])
    est = clone(meta_fitted_maml).fit(X[keep][::4], labels[::4])
    assert list(est.classes_) == sorted(set(labels))
    proba = est.predict_proba(X[keep])
    assert proba.shape == (keep.sum(), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert est.score(X[keep], labels) > 0.3  # chance is 0.1
    two = clone(meta_fitted_maml).fit(X[keep][:4], ["a", "b", "a", "b"])
    assert set(two.predict(X[keep])) <= {"a", "b"}


def test_predictions_do_not_depend_on_which_queries_come_together():
    from sklmeta.datasets import load_omniglot

    data = load_omniglot(split="test")
    X, y = data.data[:100], data.target[:100]
    est = MAMLClassifier(encoder="conv4", encoder__hidden_channels=8, verbose=0,
                         random_state=0, device="cpu").fit(X[::5], y[::5])
    assert isinstance(est.encoder_, ConvBody)
    assert len(est.batch_stats_) == 8  # mean and variance of four blocks
    together = est.predict_proba(X)
    alone = np.vstack([est.predict_proba(X[i:i + 1]) for i in range(0, 100, 9)])
    np.testing.assert_allclose(alone, together[::9], atol=1e-5)


@pytest.mark.parametrize("inner_params", ["all", "head"])
def test_transductive_query_loss_normalises_queries_with_their_own_statistics(inner_params):
    """The meta-training query loss: the queries alone through the adapted network."""
    from sklmeta.gradient_based._functional import task_loss

    body = ConvBody(input_shape=(1, 6, 6), hidden_channels=2, n_blocks=2).double()
    est = tiny_learner(body, transductive=True, inner_params=inner_params)
    x_s, y_s, x_q, y_q = tiny_tasks(n_tasks=1)[0]
    params = est.network_.task_params(3)
    adapted, _ = est._inner_loop(params, x_s, y_s, None, est.n_inner_steps, False, False)
    expected = task_loss(est.network_.output(adapted, x_q), y_q)
    loss, _ = est._query_loss(x_s, y_s, x_q, y_q, 3, False)
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-12)
    est.set_params(transductive=False)
    support_normalised, _ = est._query_loss(x_s, y_s, x_q, y_q, 3, False)
    assert abs(support_normalised.item() - loss.item()) > 1e-6


def test_transductive_predictions_use_the_batch_statistics(monkeypatch):
    from sklmeta.datasets import load_omniglot

    data = load_omniglot(split="test")
    X, y = data.data[:100], data.target[:100]
    est = MAMLClassifier(encoder="conv4", encoder__hidden_channels=8, verbose=0,
                         random_state=0, device="cpu").fit(X[::5], y[::5])
    inductive = est.predict_proba(X)
    network, params = est.network_, est.adapted_params_
    est.set_params(transductive=True)
    assert est.network_ is network and est.adapted_params_ is params  # nothing refitted
    together = est.predict_proba(X)
    with torch.no_grad():
        logits = network.output(params, torch.as_tensor(X, dtype=torch.float32))
    np.testing.assert_allclose(together, torch.softmax(logits.double(), 1).numpy(),
                               atol=1e-6)
    assert np.abs(together - inductive).max() > 1e-3
    # which queries come together now matters, their order does not
    assert np.abs(est.predict_proba(X[:10]) - together[:10]).max() > 1e-3
    order = np.random.RandomState(0).permutation(100)
    np.testing.assert_allclose(est.predict_proba(X[order]), together[order], atol=1e-5)
    # X is one batch however long: never cut into chunks
    monkeypatch.setattr("sklmeta.base.PREDICT_CHUNK", 7)
    np.testing.assert_allclose(est.predict_proba(X), together, atol=1e-6)


def test_adapt_lr_is_the_step_size_of_fit_and_keeps_the_meta_state(meta_fitted_maml, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    est = clone(meta_fitted_maml).set_params(n_adapt_steps=1)
    start = est.network_.task_params(5)
    default = est.fit(X_s, y_s).adapted_params_
    network = est.network_
    est.set_params(adapt_lr=0.1)
    assert est.network_ is network  # an adaptation option: nothing is dropped
    smaller = est.fit(X_s, y_s).adapted_params_
    # one gradient step moves each weight in proportion to the step size
    ratio = 0.1 / est.inner_lr
    for key in start:
        torch.testing.assert_close(smaller[key] - start[key],
                                   ratio * (default[key] - start[key]), rtol=1e-4, atol=1e-6)
    assert any(not torch.equal(default[k], start[k]) for k in start)
    same = est.set_params(adapt_lr=est.inner_lr).fit(X_s, y_s).adapted_params_
    for key in start:
        torch.testing.assert_close(same[key], default[key])


def test_anil_adapts_the_head_only_and_meta_sgd_learns_rates(blobs):
    X, y = blobs
    kwargs = dict(encoder="mlp", n_shot=2, n_query=3, max_epochs=1, episodes_per_epoch=16,
                  meta_batch_size=8, verbose=0, random_state=0, device="cpu")
    anil = MAMLClassifier(inner_params="head", **kwargs).meta_fit(X, y).fit(X[:40], y[:40])
    for key, value in anil.adapted_params_.items():
        start = anil.network_.task_params(2)[key]
        assert torch.equal(value, start) != key.startswith("head."), key
    metasgd = MAMLClassifier(learn_inner_lr=True, **kwargs).meta_fit(X, y)
    rates = dict(metasgd.network_.inner_lrs.items())
    assert set(rates) == {n.replace(".", "__") for n, _ in
                          metasgd.network_.named_parameters() if not n.startswith("inner")}
    assert not all(torch.all(r == 0.4) for r in rates.values())  # learned
    copy = clone(metasgd)
    for key, rate in copy.network_.inner_lrs.items():
        assert torch.equal(rate, rates[key])


def test_meta_sgd_adapt_lr_scales_the_learned_rates(blobs):
    X, y = blobs
    est = MAMLClassifier(encoder="mlp", learn_inner_lr=True, n_adapt_steps=1, n_shot=2,
                         n_query=3, max_epochs=1, episodes_per_epoch=16, meta_batch_size=8,
                         verbose=0, random_state=0, device="cpu").meta_fit(X, y)
    start = est.network_.task_params(2)
    rates = {k: r.detach().clone() for k, r in est.network_.inner_lrs.items()}
    learned = est.fit(X[:40], y[:40]).adapted_params_
    quarter = est.set_params(adapt_lr=est.inner_lr / 4).fit(X[:40], y[:40]).adapted_params_
    # one step with a quarter of each learned rate moves each weight a quarter as far
    for key in start:
        torch.testing.assert_close(quarter[key] - start[key],
                                   (learned[key] - start[key]) / 4, rtol=1e-4, atol=1e-6)
    assert any(not torch.equal(learned[k], start[k]) for k in start)
    # a single rate of adapt_lr would not be proportional: the rates were learned
    assert not all(torch.all(r == est.inner_lr) for r in rates.values())
    for key, rate in est.network_.inner_lrs.items():
        assert torch.equal(rate, rates[key])  # adaptation leaves the rates as learned


def test_parameter_errors_name_the_argument(blobs):
    X, y = blobs
    for params, match in [
        ({"inner_params": "body"}, "inner_params must be one of 'all', 'head'"),
        ({"first_order": 1}, "first_order must be a bool"),
        ({"n_inner_steps": 0}, "n_inner_steps must be >= 1, got 0"),
        ({"inner_lr": -0.1}, "inner_lr must be > 0"),
        ({"batch_tasks": "yes"}, "batch_tasks must be a bool"),
        ({"transductive": "yes"}, "transductive must be a bool"),
        ({"adapt_lr": 0.0}, "adapt_lr must be > 0"),
        ({"adapt_lr": "0.1"}, "adapt_lr must be a real number"),
        ({"learn_inner_lr": True, "adapt_lr": -0.1}, "adapt_lr must be > 0"),
    ]:
        with pytest.raises((ValueError, TypeError), match=match):
            MAMLClassifier(verbose=0, **params).fit(X[:10], y[:10])
    with pytest.raises(ValueError, match="needs a task collection"):
        MAMLRegressor(verbose=0).meta_fit(X, y.astype(float))


def test_same_random_state_same_model(blobs):
    X, y = blobs
    params = dict(encoder="mlp", n_shot=1, n_query=3, max_epochs=1, episodes_per_epoch=8,
                  meta_batch_size=4, verbose=0, random_state=3, device="cpu")
    a = MAMLClassifier(**params).meta_fit(X, y).fit(X[:50], y[:50])
    b = MAMLClassifier(**params).meta_fit(X, y).fit(X[:50], y[:50])
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_short_meta_training_on_sinusoids_beats_the_untrained_network():
    """One gradient step on 10 points of a held-out sinusoid, after meta-training."""
    train = SinusoidTasks(n_shot=10, n_query=10, random_state=0)
    held_out = list(SinusoidTasks(n_shot=10, n_query=50, n_tasks=60, random_state=1))
    kwargs = dict(n_adapt_steps=1, verbose=0, random_state=0, device="cpu")
    meta = MAMLRegressor(max_epochs=1, episodes_per_epoch=1500, meta_lr=3e-3, **kwargs)
    meta.meta_fit(train)
    untrained = MAMLRegressor(**kwargs)

    def mse(est):
        return np.mean([
            np.mean((clone(est).fit(t.X_support, t.y_support).predict(t.X_query)
                     - t.y_query) ** 2)
            for t in held_out
        ])

    assert mse(meta) < 0.85 * mse(untrained)


def test_pickle_validation_data_and_warm_start(meta_fitted_maml, blobs):
    import pickle

    X, y = blobs
    est = clone(meta_fitted_maml).fit(X[y >= 25], y[y >= 25])
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    again = clone(restored).set_params(warm_start=True, max_epochs=1)
    again.meta_fit(X[y < 20], y[y < 20], validation_data=(X[y >= 20], y[y >= 20]))
    assert len(again.history_) == len(meta_fitted_maml.history_) + 1
    assert 0.0 <= again.history_[-1, "valid_acc"] <= 1.0
    reg = MAMLRegressor(max_epochs=1, episodes_per_epoch=50, n_val_episodes=5, verbose=0,
                        random_state=0, device="cpu")
    reg.meta_fit(SinusoidTasks(random_state=0),
                 validation_data=SinusoidTasks(n_tasks=5, random_state=1))
    assert np.isfinite(reg.history_[-1, "valid_loss"])


def test_a_user_module_is_the_body(blobs):
    X, y = blobs
    body = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 16), torch.nn.Tanh())
    est = MAMLClassifier(encoder=body, n_shot=2, n_query=3, max_epochs=1,
                         episodes_per_epoch=8, meta_batch_size=4, verbose=0,
                         random_state=0, device="cpu").meta_fit(X, y)
    assert est.encoder_ is not body and isinstance(est.encoder_, torch.nn.Sequential)
    assert not torch.equal(est.encoder_[0].weight, body[0].weight)  # meta-trained copy
    assert est.fit(X[:30], y[:30]).predict(X).shape == (len(X),)


def test_checkpointed_inner_steps_give_the_same_meta_training(blobs, monkeypatch):
    X, y = blobs
    calls, checkpoint = [], torch.utils.checkpoint.checkpoint
    monkeypatch.setattr(torch.utils.checkpoint, "checkpoint",
                        lambda *args, **kw: calls.append(1) or checkpoint(*args, **kw))
    params = dict(encoder="mlp", n_way=5, n_shot=2, n_query=3, n_inner_steps=3,
                  max_epochs=2, episodes_per_epoch=8, meta_batch_size=4,
                  batch_tasks=False, verbose=0, random_state=0, device="cpu")
    plain = MAMLClassifier(**params).meta_fit(X, y)
    assert not calls
    checkpointed = MAMLClassifier(**params, checkpoint_inner=True).meta_fit(X, y)
    assert len(calls) >= 2 * 8 * 3  # every inner step of every task
    for a, b in zip(plain.network_.parameters(), checkpointed.network_.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert plain.history_[:, "train_loss"] == pytest.approx(
        checkpointed.history_[:, "train_loss"], rel=1e-5)
