"""Speed and peak memory of the gradient-based learners beside a compute floor.

Rows (each measured in a fresh subprocess, so that its peak memory is its own):

- ``maml``, ``fomaml``, ``reptile``: one meta-iteration (the estimator's
  meta-step: inner loops, meta-gradient, optimizer step) on episode tensors
  drawn beforehand from the Omniglot training pool: 5-way
  1-shot, 15 queries per class, meta-batch 32, the MAML Omniglot network
  (four strided 3x3 convolutions of 64 filters with task batch norm), one
  inner step (Reptile: one full-batch step on the task's 80 images);
  ``-5steps``: five inner steps; ``maml-vmap``: the 32 tasks batched with
  :func:`torch.vmap` instead of looped (what ``batch_tasks='auto'`` avoids
  on a CPU);
- ``floor``: one plain supervised forward + backward + Adam step of the same
  network over the same 32 x 80 images in one batch, the least any of them
  can cost;
- ``sinusoid``: one MAML meta-iteration on sinusoids (MLP 1-40-40-1, K=10,
  meta-batch 25), tasks batched with ``vmap`` and looped;
- ``adapt``: adaptation latency, ``fit`` with 10 steps on a 5-way 5-shot
  task plus ``predict`` on its 75 queries.

Usage::

    python benchmarks/speed_gradient.py
    python benchmarks/speed_gradient.py --rows floor fomaml --repeats 3

Times are medians over ``--repeats`` after ``--warmup`` untimed rounds:
wall-clock seconds and the process's CPU seconds (on a machine shared with
other work the CPU time is the steadier figure). Peak memory is the growth
of the process's peak resident set (reset through ``/proc/self/clear_refs``
once data and model are loaded) over its resident set then (on CUDA:
``torch.cuda.max_memory_allocated``).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

N_WAY, N_SHOT, N_QUERY, META_BATCH = 5, 1, 15, 32
ROWS = ("floor", "fomaml", "maml", "reptile", "maml-5steps", "fomaml-5steps", "maml-vmap",
        "sinusoid-vmap", "sinusoid-loop", "adapt")


def use_fast_malloc():
    """Re-run with glibc's mmap of large blocks off (as benchmarks/speed.py does).

    Large tensors allocated through mmap are handed back to the system when
    freed and page-faulted in again at every step; every row shares the
    setting, so the comparison stays fair.
    """
    tunable = "glibc.malloc.mmap_max=0"
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if sys.platform == "linux" and tunable not in tunables:
        env = dict(os.environ, GLIBC_TUNABLES=":".join(filter(None, [tunables, tunable])))
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def rss_mb(field):
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss():
    """Make the kernel's peak RSS start again from the current RSS (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def omniglot_pool():
    from sklmeta.datasets import load_omniglot

    data = load_omniglot(split="train")
    return np.array(data.data), data.target


def conv_learner(row, device):
    from sklmeta.gradient_based import MAMLClassifier, ReptileClassifier

    common = dict(encoder="conv4", n_way=N_WAY, n_shot=N_SHOT, n_query=N_QUERY,
                  max_epochs=1, episodes_per_epoch=META_BATCH, meta_batch_size=META_BATCH,
                  verbose=0, random_state=0, device=device)
    steps = 5 if row.endswith("5steps") else 1
    common["batch_tasks"] = True if row.endswith("vmap") else "auto"
    if row.startswith("reptile"):
        return ReptileClassifier(n_inner_steps=steps, inner_batch_size=None,
                                 **common)
    return MAMLClassifier(n_inner_steps=steps, first_order=row.startswith("fomaml"),
                          **common)


def make_round(row, device):
    """A function running one timed round of ``row``."""
    if row == "floor":
        from sklmeta.gradient_based import MAMLClassifier

        X, y = omniglot_pool()
        est = MAMLClassifier(encoder="conv4", max_epochs=0, verbose=0, random_state=0,
                             device=device).meta_fit(X[:500], y[:500])
        network = est.network_
        optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
        rng = np.random.RandomState(0)
        n = META_BATCH * N_WAY * (N_SHOT + N_QUERY)
        pool = torch.as_tensor(X, device=device)

        def run():
            rows = torch.as_tensor(rng.randint(len(X), size=n), device=device)
            target = torch.as_tensor(rng.randint(N_WAY, size=n), device=device)
            out = network.output(network.task_params(N_WAY), pool[rows])
            loss = torch.nn.functional.cross_entropy(out, target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        return run
    if row.startswith(("maml", "fomaml", "reptile")):
        X, y = omniglot_pool()
        est = conv_learner(row, device).set_params(max_epochs=0).meta_fit(X, y)
        episodes = est._episode_source(X, y, device, "X")
        episodes.seed(0)
        batches = [[episodes.draw() for _ in range(META_BATCH)] for _ in range(3)]
        rounds = iter(range(10**9))
        # the meta-step alone, on episodes drawn beforehand
        return lambda: est._meta_step(batches[next(rounds) % 3])
    if row.startswith("sinusoid"):
        from sklmeta.datasets._sinusoid import SinusoidTasks
        from sklmeta.gradient_based import MAMLRegressor

        tasks = SinusoidTasks(n_shot=10, n_query=10, random_state=0)
        est = MAMLRegressor(max_epochs=1, episodes_per_epoch=25 * 20, meta_batch_size=25,
                            batch_tasks=row.endswith("vmap"), warm_start=True,
                            verbose=0, random_state=0, device=device)
        # 20 meta-iterations per round; the per-iteration time is printed
        return lambda: est.meta_fit(tasks)
    if row == "adapt":
        from sklmeta.gradient_based import MAMLClassifier
        from sklmeta.datasets import load_omniglot
        from sklmeta.model_selection import EpisodeSplit

        test = load_omniglot(split="test")
        X, y = np.array(test.data), test.target
        est = MAMLClassifier(encoder="conv4", n_adapt_steps=10, max_epochs=0, verbose=0,
                             random_state=0, device=device).meta_fit(X[:500], y[:500])
        splits = EpisodeSplit(n_way=5, n_shot=5, n_query=15, n_episodes=1000,
                              random_state=0).split(X, y)

        def run():
            support, query = next(splits)
            est.fit(X[support], y[support]).predict(X[query])

        return run
    raise ValueError(f"unknown row {row!r}; choose from {ROWS}")


def measure(row, device, warmup, repeats):
    run = make_round(row, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    reset_peak_rss()
    before = rss_mb("VmRSS")
    walls, cpus = [], []
    for i in range(warmup + repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if i >= warmup:
            walls.append(wall)
            cpus.append(cpu)
    per_round = 20 if row.startswith("sinusoid") else 1
    memory = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
              else rss_mb("VmHWM") - before)
    return {
        "row": row,
        "wall": statistics.median(walls) / per_round,
        "cpu": statistics.median(cpus) / per_round,
        "min_wall": min(walls) / per_round,
        "memory_mb": memory,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--default-malloc", action="store_true",
                        help="keep glibc's default mmap threshold")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.default_malloc and not args.child:
        use_fast_malloc()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.child:
        print(json.dumps(measure(args.child, device, args.warmup, args.repeats)))
        return

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} "
          f"CPUs, device {device}, GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '')!r}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '')!r}; median of {args.repeats} rounds after {args.warmup} "
          f"warm-up; load average before: {os.getloadavg()[0]:.1f}")
    results = {}
    for row in args.rows:
        command = [sys.executable, __file__, "--child", row, "--device", args.device,
                   "--repeats", str(args.repeats), "--warmup", str(args.warmup)]
        if args.threads:
            command += ["--threads", str(args.threads)]
        out = subprocess.run(command, capture_output=True, text=True, env=os.environ)
        if out.returncode:
            print(f"{row}: failed\n{out.stderr[-2000:]}")
            continue
        results[row] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  {row}: {out.stdout.strip().splitlines()[-1]}", flush=True)
    floor = results.get("floor")
    print(f"\n{'row':<16}{'wall ms':>10}{'(min)':>10}{'cpu ms':>10}{'peak MB':>10}"
          f"{'wall/floor':>12}{'cpu/floor':>11}")
    for row, r in results.items():
        ratio = ("" if floor is None or row.startswith(("sinusoid", "adapt")) else
                 f"{r['wall'] / floor['wall']:>12.2f}{r['cpu'] / floor['cpu']:>11.2f}")
        print(f"{row:<16}{1000 * r['wall']:>10.1f}{1000 * r['min_wall']:>10.1f}"
              f"{1000 * r['cpu']:>10.1f}{r['memory_mb']:>10.0f}{ratio}")
    print("\nmaml/fomaml/reptile: one meta-iteration of 32 tasks (5-way 1-shot, 15 "
          "queries); -5steps: five inner steps; floor: one supervised step over the "
          "same 2560 images; sinusoid: one meta-iteration of 25 tasks; adapt: fit "
          f"(10 steps, 5-way 5-shot) + predict (75 queries). Load average after: "
          f"{os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
