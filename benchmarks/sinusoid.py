"""Sinusoid regression of the MAML paper: MAML against a pretrained network.

The network is the paper's MLP 1-40-40-1. MAML (:class:`MAMLRegressor`,
second-order, one inner step of 0.01, meta-batch 25, Adam 1e-3) meta-trains
on K=10 tasks; the baseline is the same network trained by plain regression
on the pooled points of as many tasks, then fine-tuned the same way. Both are
evaluated on 600 held-out tasks with K = 5 and K = 10 support points: mean
squared error on 100 query points after 1, 5 and 10 gradient steps of 0.01
(``fit`` with ``n_adapt_steps``).

Usage::

    python benchmarks/sinusoid.py                       # the paper's 70000 iterations
    python benchmarks/sinusoid.py --iterations 2000     # a quick look
"""

import argparse
import time

import numpy as np
import torch
from sklearn.base import clone

from sklmeta.datasets import SinusoidTasks
from sklmeta.gradient_based import MAMLRegressor

# Finn et al. (2017), Figure 3 / section 5.1: trained on K=10, tested on K=5
PAPER = {"maml": {1: 0.67, 5: 0.38, 10: 0.35}, "pretrained": {1: 2.41, 5: 2.23, 10: 2.19}}
STEPS = (1, 5, 10)


def pretrain(est, n_iterations, meta_batch_size, n_points, seed):
    """Plain regression on the pooled points of ``meta_batch_size`` tasks per step."""
    network = est.network_
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    blocks = SinusoidTasks(n_shot=n_points, n_query=0, random_state=seed).blocks()
    pending = []
    for _ in range(n_iterations):
        while len(pending) < meta_batch_size:
            x, y, _, _ = next(blocks)
            pending += list(zip(x, y))
        batch, pending = pending[:meta_batch_size], pending[meta_batch_size:]
        x = torch.as_tensor(np.concatenate([b[0] for b in batch]), dtype=torch.float32)
        y = torch.as_tensor(np.concatenate([b[1] for b in batch]), dtype=torch.float32)
        out = network.output(network.task_params(1), x[:, None]).squeeze(-1)
        loss = torch.nn.functional.mse_loss(out, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return est


def evaluate(est, k, n_tasks, seed):
    """Mean query MSE and 95% CI after each number of steps in STEPS."""
    tasks = list(SinusoidTasks(n_shot=k, n_query=100, n_tasks=n_tasks, random_state=seed))
    results = {}
    for steps in STEPS:
        adapted = clone(est).set_params(n_adapt_steps=steps)
        errors = np.array([
            np.mean((adapted.fit(t.X_support, t.y_support).predict(t.X_query) - t.y_query) ** 2)
            for t in tasks
        ])
        results[steps] = (errors.mean(), 1.96 * errors.std() / np.sqrt(len(errors)))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=70000,
                        help="meta-iterations of MAML and steps of pretraining")
    parser.add_argument("--meta-batch-size", type=int, default=25)
    parser.add_argument("--train-k", type=int, default=10)
    parser.add_argument("--n-tasks", type=int, default=600, help="held-out tasks")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="stop MAML's meta-training after the epoch that passes this")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    callbacks = []
    if args.budget_minutes:
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).parent))
        from time_budget import TimeBudget

        callbacks.append(TimeBudget(args.budget_minutes))
    episodes_per_epoch = 100 * args.meta_batch_size
    maml = MAMLRegressor(
        n_inner_steps=1, inner_lr=0.01, meta_batch_size=args.meta_batch_size, meta_lr=1e-3,
        max_epochs=-(-args.iterations // 100), episodes_per_epoch=episodes_per_epoch,
        callbacks=callbacks, verbose=0, random_state=args.seed, device="cpu",
    )
    train = SinusoidTasks(n_shot=args.train_k, n_query=10, random_state=args.seed)
    start = time.perf_counter()
    maml.meta_fit(train)
    maml_time = time.perf_counter() - start
    n_iterations = sum(len(h["batches"]) for h in maml.history_)
    print(f"MAML: {n_iterations} meta-iterations (K={args.train_k}, meta-batch "
          f"{args.meta_batch_size}) in {maml_time:.0f} s = "
          f"{1000 * maml_time / n_iterations:.2f} ms per meta-iteration; "
          f"last train_loss {maml.history_[-1, 'train_loss']:.3f}")

    pretrained = MAMLRegressor(max_epochs=0, verbose=0, random_state=args.seed,
                               device="cpu").meta_fit(train)
    start = time.perf_counter()
    pretrain(pretrained, n_iterations, args.meta_batch_size, args.train_k, args.seed + 7)
    print(f"pretrained: {n_iterations} steps of regression on {args.meta_batch_size} "
          f"tasks x {args.train_k} points in {time.perf_counter() - start:.0f} s")

    print(f"\nquery MSE on {args.n_tasks} held-out tasks (100 query points each), "
          "mean ± 95% CI; fine-tuning: SGD steps of 0.01 on the K support points")
    header = "".join(f"{f'{s} step' + ('s' if s > 1 else ''):>18}" for s in STEPS)
    print(f"{'model':<12}{'K':>3}{header}")
    for k in (5, 10):
        for name, est in (("maml", maml), ("pretrained", pretrained)):
            results = evaluate(est, k, args.n_tasks, seed=10_000 + args.seed)
            cells = "".join(f"{f'{m:.3f} ± {c:.3f}':>18}" for m, c in results.values())
            print(f"{name:<12}{k:>3}{cells}")
    paper = "".join(f"{PAPER['maml'][s]:>18.2f}" for s in STEPS)
    print(f"{'paper maml':<12}{5:>3}{paper}")
    paper = "".join(f"{PAPER['pretrained'][s]:>18.2f}" for s in STEPS)
    print(f"{'paper pre.':<12}{5:>3}{paper}")


if __name__ == "__main__":
    main()
