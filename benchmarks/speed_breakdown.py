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
  the support set's statistics (the default), whose first inner step is
  shared by the tasks (one :func:`torch.vmap` over the tasks with the
  weights shared);
- ``meta-step transductive``: the same with ``transductive=True``;
- ``meta-step loop``: the strict loop (``batch_tasks=False``), every task's
  first inner step its own: beside ``meta-step``, what sharing it saves;
- ``body 1 x 2560`` and ``body 32 x 80``: forward + backward of the network
  alone over the 2,560 images, in one batch or in 32 batches of 80 (the cost
  of splitting a batch into tasks, with no meta-learning around it).

Each meta-step is the row of the same name in ``speed_gradient.py``: a
warm-started ``meta_fit`` of one meta-batch drawn beforehand. The parts of
a meta-step (its shared first step, its query passes) are not public
sklmeta API, so they are not timed apart; the gap between ``meta-step``
and ``meta-step loop`` is what the shared first step saves.

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
from speed_gradient import META_BATCH, N_QUERY, N_SHOT, N_WAY, make_round, omniglot_pool


def maml_body():
    """The body of the MAML Omniglot network (``network_.body`` of a
    :class:`~sklmeta.gradient_based.MAMLClassifier` built without training)."""
    from sklmeta.gradient_based import MAMLClassifier

    X, y = omniglot_pool()
    est = MAMLClassifier(encoder="conv4", max_epochs=0, verbose=0, random_state=0,
                         device="cpu").meta_fit(X[:500], y[:500])
    return est.network_.body


def body_passes(body, n_chunks):
    """Forward + backward of ``body`` and a linear head alone over 2,560
    images in ``n_chunks`` batches."""
    torch.manual_seed(0)
    with torch.no_grad():
        n_features = body(torch.zeros(2, 784)).shape[1]
    head = torch.nn.Linear(n_features, N_WAY)
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
    cpu = torch.device("cpu")
    body = maml_body()
    contenders = {
        "floor": make_round("floor", cpu),
        "meta-step": make_round("fomaml", cpu),
        "meta-step transductive": make_round("fomaml-transductive", cpu),
        "meta-step loop": make_round("fomaml-loop", cpu),
        "body 1 x 2560": body_passes(body, 1),
        "body 32 x 80": body_passes(body, META_BATCH),
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
