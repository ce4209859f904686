"""Where a first-order MAML meta-step's time goes, beside the floor, in one process.

``speed_gradient.py`` measures each row in a fresh process, so that its peak
memory is its own; this script runs its contenders in turn in one process,
round after round, so that the machine's drift reaches them alike and every
contender runs in a warm process. Contenders, at the settings of
``speed_gradient.py`` (32 tasks of 5-way 1-shot with 15 queries per class,
the MAML Omniglot network, one inner step):

- ``floor``: one supervised forward + backward + Adam step over the same
  2,560 images in one batch (as in ``speed_gradient.py``);
- ``meta-step``: first-order MAML's whole meta-step, queries normalised with
  the support set's statistics (the default);
- ``meta-step transductive``: the same with ``transductive=True``;
- ``first step``: its first inner step alone, shared by the tasks
  (one :func:`torch.vmap` over the tasks with the weights shared);
- ``query loop``: its per-task query passes and backward alone, after that
  first step;
- ``body 1 x 2560`` and ``body 32 x 80``: forward + backward of the network
  alone over the 2,560 images, in one batch or in 32 batches of 80 (the cost
  of splitting a batch into tasks, with no meta-learning around it).

Usage::

    python benchmarks/speed_breakdown.py --rounds 8
    python benchmarks/speed_breakdown.py --rounds 8 --default-malloc

Wall-clock medians over ``--rounds`` after two untimed rounds, in
milliseconds, with each contender's ratio to the floor. The allocator
settings of ``fast_malloc.py`` apply unless ``--default-malloc``.
"""

import argparse
import os
import statistics
import time

import torch

from fast_malloc import use_fast_malloc
from speed_gradient import (META_BATCH, N_QUERY, N_SHOT, N_WAY, conv_learner, make_round,
                            omniglot_pool)


def meta_step_parts(transductive=False):
    """The meta-step and, for the default, its two parts on one fixed meta-batch."""
    X, y = omniglot_pool()
    device = torch.device("cpu")
    est = conv_learner("fomaml", device).set_params(
        max_epochs=0, transductive=transductive).meta_fit(X, y)
    episodes = est._episode_source(X, y, device, "X")
    episodes.seed(0)
    batch = [episodes.draw() for _ in range(est.meta_batch_size)]
    n_outputs = [est._n_outputs(ep.n_way) for ep in batch]
    first_grads = est._shared_first_step(batch, n_outputs)

    def query_loop():
        for episode, n_out, grads in zip(batch, n_outputs, first_grads):
            loss, _ = est._query_loss(*episode[:4], n_out, False, grads)
            (loss / len(batch)).backward()

    return (lambda: est._meta_step(batch),
            lambda: est._shared_first_step(batch, n_outputs),
            query_loop)


def body_passes(n_chunks):
    """Forward + backward of the network alone over 2,560 images in ``n_chunks`` batches."""
    from sklmeta.gradient_based._functional import ConvBody

    torch.manual_seed(0)
    body, head = ConvBody(), torch.nn.Linear(256, N_WAY)
    weights = [*body.parameters(), *head.parameters()]
    n_images = META_BATCH * N_WAY * (N_SHOT + N_QUERY)
    x, target = torch.randn(n_images, 784), torch.randint(N_WAY, (n_images,))

    def run():
        for rows, labels in zip(x.chunk(n_chunks), target.chunk(n_chunks)):
            loss = torch.nn.functional.cross_entropy(head(body(rows)), labels)
            torch.autograd.grad(loss, weights)

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--default-malloc", action="store_true",
                        help="keep glibc's default allocator settings (see fast_malloc.py)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if not args.default_malloc:
        use_fast_malloc()
    if args.threads:
        torch.set_num_threads(args.threads)
    meta_step, first_step, query_loop = meta_step_parts()
    contenders = {
        "floor": make_round("floor", torch.device("cpu")),
        "meta-step": meta_step,
        "meta-step transductive": meta_step_parts(transductive=True)[0],
        "first step": first_step,
        "query loop": query_loop,
        "body 1 x 2560": body_passes(1),
        "body 32 x 80": body_passes(META_BATCH),
    }
    times = {name: [] for name in contenders}
    for round_ in range(2 + args.rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            if round_ >= 2:
                times[name].append(time.perf_counter() - start)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, GLIBC_TUNABLES="
          f"{os.environ.get('GLIBC_TUNABLES', '')!r}; medians of {args.rounds} rounds, "
          f"contenders in turn in one process")
    floor = statistics.median(times["floor"])
    print(f"{'contender':<24}{'wall ms':>9}{'/ floor':>9}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<24}{median * 1e3:>9.1f}{median / floor:>9.2f}")


if __name__ == "__main__":
    main()
