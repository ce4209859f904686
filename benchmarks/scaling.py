"""Scaling out: data-parallel meta-training, and evaluation on a cluster.

Two sections, run one after the other by default:

- ``train``: meta-training throughput (episodes per second) of
  :class:`~sklmeta.ProtoNetClassifier` (Conv4, 5-way 1-shot, 15 queries,
  one episode per step: the processes share its queries) and of
  :class:`~sklmeta.MAMLClassifier` (Conv4, 5-way 1-shot, meta-batches of
  32 episodes: the processes share the episodes) on Omniglot, with one
  process and one thread, one process and two threads, and two processes
  of one thread each joined by :mod:`sklmeta.distributed` (gloo on the
  loopback interface, started here as ``torchrun`` would);
- ``evaluate``: :func:`~sklmeta.evaluate_episodes` over 600 test episodes
  of a Prototypical Network, serially and under joblib's dask and ray
  backends with two workers of one thread (each when installed), their
  workers started with glibc keeping freed memory (``KEEP_FREED_MEMORY``);
  the cluster's start-up is timed apart.

Every figure is the median of ``--repeats`` timed rounds after one untimed
round. Usage::

    python benchmarks/scaling.py
    python benchmarks/scaling.py train --episodes 64
    python benchmarks/scaling.py evaluate --n-episodes 600
"""

import argparse
import socket
import statistics
import time

import numpy as np
import torch
import torch.multiprocessing as mp

from sklmeta import MAMLClassifier, ProtoNetClassifier, evaluate_episodes
from sklmeta.datasets import load_omniglot

# glibc's settings of the Makefile's FAST_MALLOC, as environment variables
# for the workers of a cluster
KEEP_FREED_MEMORY = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(2**40)}

LEARNERS = {
    "ProtoNet": lambda episodes: ProtoNetClassifier(
        n_way=5, n_shot=1, n_query=15, episodes_per_epoch=episodes, max_epochs=1,
        verbose=0, random_state=0),
    "MAML": lambda episodes: MAMLClassifier(
        n_way=5, n_shot=1, n_query=15, episodes_per_epoch=episodes, meta_batch_size=32,
        max_epochs=1, verbose=0, random_state=0),
}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank, world_size, port, name, episodes, repeats, queue):
    """One process of the group: the timed meta-training rounds."""
    import torch.distributed as dist

    from sklmeta.distributed import init_process_group

    torch.set_num_threads(1)
    init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                       world_size=world_size)
    X, y = load_omniglot(split="train", return_X_y=True)
    times = []
    for _ in range(repeats + 1):
        dist.barrier()
        start = time.perf_counter()
        LEARNERS[name](episodes).meta_fit(X, y)
        dist.barrier()
        times.append(time.perf_counter() - start)
    if rank == 0:
        queue.put(statistics.median(times[1:]))
    dist.destroy_process_group()


def time_processes(name, episodes, repeats, world_size):
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.start_processes(_rank_main, args=(world_size, _free_port(), name, episodes, repeats,
                                         queue), nprocs=world_size, start_method="spawn")
    return queue.get()


def time_one_process(name, episodes, repeats, threads):
    torch.set_num_threads(threads)
    X, y = load_omniglot(split="train", return_X_y=True)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        LEARNERS[name](episodes).meta_fit(X, y)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def train_section(args):
    print(f"meta-training, {args.episodes} episodes per round, episodes per second "
          f"(median of {args.repeats})")
    print(f"{'learner':>9} {'1 proc x 1 thr':>15} {'1 proc x 2 thr':>15} "
          f"{'2 proc x 1 thr':>15} {'2 proc / 1x1':>13} {'2 proc / 1x2':>13}")
    for name in args.learners:
        one = args.episodes / time_one_process(name, args.episodes, args.repeats, 1)
        two_threads = args.episodes / time_one_process(name, args.episodes, args.repeats, 2)
        two_procs = args.episodes / time_processes(name, args.episodes, args.repeats, 2)
        print(f"{name:>9} {one:15.1f} {two_threads:15.1f} {two_procs:15.1f} "
              f"{two_procs / one:12.2f}x {two_procs / two_threads:12.2f}x", flush=True)


def evaluate_section(args):
    from joblib import parallel_config

    torch.set_num_threads(1)
    X, y = load_omniglot(split="train", return_X_y=True)
    X_test, y_test = load_omniglot(split="test", return_X_y=True)
    learner = LEARNERS["ProtoNet"](100).meta_fit(X, y)

    def run(**config):
        times = []
        for _ in range(args.repeats + 1):
            start = time.perf_counter()
            with parallel_config(**config):
                result = evaluate_episodes(learner, X_test, y_test, n_way=5, n_shot=1,
                                           n_query=15, n_episodes=args.n_episodes,
                                           random_state=0, n_jobs=-1)
            times.append(time.perf_counter() - start)
        return statistics.median(times[1:]), result

    print(f"evaluate_episodes, {args.n_episodes} episodes of 5-way 1-shot, seconds "
          f"(median of {args.repeats})")
    serial, reference = run(backend="sequential")
    print(f"{'serial':>22} {serial:8.2f} s   accuracy {reference}", flush=True)
    try:
        import dask
        from dask.distributed import Client, LocalCluster
    except ImportError:
        print(f"{'dask':>22} not installed (pip install sklmeta[cluster])")
    else:
        # dask sets MALLOC_TRIM_THRESHOLD_ in its workers, which makes glibc
        # hand freed memory back at once and fault it in again: Conv4
        # episodes ran 2.5 times slower; keep the memory instead
        dask.config.set({f"distributed.nanny.pre-spawn-environ.{key}": value
                         for key, value in KEEP_FREED_MEMORY.items()})
        start = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster):
            started = time.perf_counter() - start
            seconds, result = run(backend="dask")
        same = np.array_equal(result.scores, reference.scores)
        print(f"{'dask, 2 workers':>22} {seconds:8.2f} s   {serial / seconds:.2f}x serial, "
              f"start-up {started:.1f} s, same scores: {same}", flush=True)
    try:
        import ray
        from ray.util.joblib import register_ray
    except ImportError:
        print(f"{'ray':>22} not installed (pip install ray)")
    else:
        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": KEEP_FREED_MEMORY})
        register_ray()
        started = time.perf_counter() - start
        seconds, result = run(backend="ray")
        ray.shutdown()
        same = np.array_equal(result.scores, reference.scores)
        print(f"{'ray, 2 workers':>22} {seconds:8.2f} s   {serial / seconds:.2f}x serial, "
              f"start-up {started:.1f} s, same scores: {same}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="*", default=["train", "evaluate"],
                        help="train, evaluate or both (default)")
    parser.add_argument("--learners", nargs="+", default=list(LEARNERS), choices=list(LEARNERS))
    parser.add_argument("--episodes", type=int, default=64,
                        help="meta-training episodes per timed round")
    parser.add_argument("--n-episodes", type=int, default=600, help="evaluation episodes")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    unknown = set(args.sections) - {"train", "evaluate"}
    if unknown:
        parser.error(f"sections are train and evaluate; got {sorted(unknown)}")
    if "train" in args.sections:
        train_section(args)
    if "evaluate" in args.sections:
        evaluate_section(args)


if __name__ == "__main__":
    main()
