"""Speed and peak memory of the gradient-based learners beside a compute floor.

Rows (each measured in a fresh subprocess, so that its peak memory is its own):

- ``maml``, ``fomaml``, ``reptile``: one meta-iteration (inner loops,
  meta-gradient, optimizer step), run as a warm-started ``meta_fit`` of one
  meta-batch, on episodes drawn beforehand from the Omniglot training pool
  and passed as a task family (``DrawnBatches``; ``meta_fit``'s own work
  per call, a few milliseconds, and on CUDA the meta-batch's copy to the
  device are timed with it): 5-way 1-shot, 15 queries per class, meta-batch
  32, the MAML Omniglot network (four strided 3x3 convolutions of 64
  filters with task batch norm), one inner step (Reptile: one full-batch
  step on the task's 80 images);
  ``-5steps``: five inner steps; ``-vmap``: the tasks batched with
  :func:`torch.vmap`, ``-loop``: looped, whatever ``batch_tasks='auto'``
  would choose (``fomaml-loop``: strictly, without the batched first
  inner step that ``'auto'`` gives looped first-order tasks); ``reptile-paper``: Reptile at the Omniglot benchmark's
  settings (Nichol et al.'s): meta-batch 5 of 5-way tasks with 10 images
  per class, five Adam steps on minibatches of 10; ``-transductive``:
  queries batch-normalised with their own statistics
  (``transductive=True``), as learn2learn's loop does, instead
  of with the support set's, which costs a second pass of the support set
  through the network;
- ``floor``: one plain supervised forward + backward + Adam step of the same
  network over the same 32 x 80 images in one batch, the least any of them
  can cost;
- ``sinusoid``: one MAML meta-iteration on sinusoids (MLP 1-40-40-1, K=10,
  meta-batch 25), tasks batched with ``vmap`` and looped;
- ``adapt``: adaptation latency, ``fit`` with 10 steps on a 5-way 5-shot
  task plus ``predict`` on its 75 queries;
- ``l2l-maml``, ``l2l-fomaml``, ``l2l-sinusoid``, ``l2l-adapt``: learn2learn's
  ``MAML`` wrapper (``clone()`` then ``adapt()`` per task) at the settings of
  the matching sklmeta rows, on the same network as a plain module; skipped
  when learn2learn is not installed (it is never a dependency). Sinusoid
  tasks are drawn beforehand for it, so its loop is timed alone.

Usage::

    python benchmarks/speed_gradient.py
    python benchmarks/speed_gradient.py --rows floor fomaml --repeats 3
    python benchmarks/speed.py gradient       # the same, as a section of speed.py

Times are medians over ``--repeats`` after ``--warmup`` untimed rounds (and
over ``--cycles`` passes through the rows, each row in turn):
wall-clock seconds and the process's CPU seconds (on a machine shared with
other work the CPU time is the steadier figure). Peak memory is the growth
of the process's peak resident set (reset through ``/proc/self/clear_refs``
once data and model are loaded, and free heap memory handed back) over its
resident set then (on CUDA: ``torch.cuda.max_memory_allocated``). Every row
runs with the allocator settings of ``fast_malloc.py`` unless
``--default-malloc``.
"""

import argparse
import ctypes
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

from fast_malloc import use_fast_malloc

N_WAY, N_SHOT, N_QUERY, META_BATCH = 5, 1, 15, 32
SKLMETA_ROWS = ("floor", "fomaml", "maml", "maml-transductive", "fomaml-transductive",
                "reptile", "maml-5steps", "fomaml-5steps", "maml-vmap", "maml-loop",
                "fomaml-loop",
                "reptile-vmap", "reptile-loop", "reptile-paper", "reptile-paper-vmap",
                "reptile-paper-loop", "sinusoid-vmap", "sinusoid-loop", "adapt")
PEER_ROWS = ("l2l-maml", "l2l-fomaml", "l2l-sinusoid", "l2l-adapt")
ROWS = SKLMETA_ROWS + PEER_ROWS
# (learn2learn row, sklmeta row) pairs compared: the transductive rows do the
# same computation as learn2learn's loop, the others a little more
PEER_PAIRS = (("l2l-maml", "maml-transductive"), ("l2l-maml", "maml"),
              ("l2l-fomaml", "fomaml-transductive"), ("l2l-fomaml", "fomaml"),
              ("l2l-sinusoid", "sinusoid-vmap"), ("l2l-adapt", "adapt"))


def rss_mb(field):
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def release_free_heap():
    """Hand the heap's free memory back to the system (glibc), so that the
    peak measured from here counts every page a row touches, although
    :mod:`fast_malloc` keeps glibc from trimming on its own."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


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


def drawn_batches(X, y, n_batches, batch_size, n_way=N_WAY, n_shot=N_SHOT,
                  n_query=N_QUERY, seed=0):
    """``n_batches`` meta-batches of episodes of the pool ``X, y``, drawn
    beforehand: each four arrays ``(X_support, y_support, X_query, y_query)``
    of ``batch_size`` tasks, rows grouped by class, labels ``0..n_way-1``
    (sklmeta's task family protocol)."""
    from sklmeta import EpisodeSampler

    X = np.asarray(X, dtype=np.float32)
    sampler = EpisodeSampler(X, y, n_way=n_way, n_shot=n_shot, n_query=n_query,
                             n_episodes=n_batches * batch_size, random_state=seed)
    episodes = list(sampler.episodes())
    labels = np.arange(n_way)
    batches = []
    for start in range(0, len(episodes), batch_size):
        chunk = episodes[start:start + batch_size]
        batches.append((
            np.stack([X[ep.support_indices] for ep in chunk]),
            np.tile(np.repeat(labels, n_shot), (len(chunk), 1)),
            np.stack([X[ep.query_indices] for ep in chunk]),
            np.tile(np.repeat(labels, n_query), (len(chunk), 1)),
        ))
    return batches


class DrawnBatches:
    """A task family that yields meta-batches drawn beforehand, in turn.

    ``meta_fit`` takes its tasks from a fresh ``episode_arrays`` at each call
    and one block per meta-batch; the turn is kept across calls, so that a
    warm-started ``meta_fit`` of one meta-batch trains on the next one.
    """

    def __init__(self, batches):
        self.batches = batches
        self.n_features = batches[0][0].shape[-1]
        self.turn = 0

    def episode_arrays(self, random_state=None):
        while True:
            block = self.batches[self.turn % len(self.batches)]
            self.turn += 1
            yield block


def conv_learner(row, device):
    from sklmeta.gradient_based import MAMLClassifier, ReptileClassifier

    common = dict(encoder="conv4", n_way=N_WAY, n_shot=N_SHOT, n_query=N_QUERY,
                  max_epochs=1, episodes_per_epoch=META_BATCH, meta_batch_size=META_BATCH,
                  verbose=0, random_state=0, device=device)
    steps = 5 if row.endswith("5steps") else 1
    common["batch_tasks"] = {"vmap": True, "loop": False}.get(row.rsplit("-", 1)[-1], "auto")
    if row.startswith("reptile-paper"):
        common.update(n_shot=5, n_query=5, meta_batch_size=5)
        return ReptileClassifier(n_inner_steps=5, inner_batch_size=10, **common)
    if row.startswith("reptile"):
        return ReptileClassifier(n_inner_steps=steps, inner_batch_size=None,
                                 **common)
    return MAMLClassifier(n_inner_steps=steps, first_order=row.startswith("fomaml"),
                          transductive=row.endswith("transductive"), **common)


def load_learn2learn_maml():
    """learn2learn's ``MAML`` wrapper, or raise ImportError saying why not.

    Its package ``__init__`` imports torchvision, which may not import beside
    the installed torch; ``algorithms/maml.py`` itself needs torch alone, so
    it is loaded skipping the packages' ``__init__`` (as benchmarks/speed.py
    loads the metric-based peers).
    """
    from speed import load_peer

    cls, note = load_peer("learn2learn", "learn2learn.algorithms",
                          "learn2learn.algorithms.maml", "MAML")
    if cls is None:
        raise ImportError(f"learn2learn: {note}")
    return cls


def l2l_conv_network():
    """The network of the sklmeta rows as a plain module: four strided 3x3
    convolutions of 64 filters, batch norm from the batch's statistics, ReLU,
    then a 5-way linear head."""
    layers, c_in = [], 1
    for _ in range(4):
        layers += [torch.nn.Conv2d(c_in, 64, 3, stride=2, padding=1),
                   torch.nn.BatchNorm2d(64, track_running_stats=False), torch.nn.ReLU()]
        c_in = 64
    return torch.nn.Sequential(torch.nn.Unflatten(1, (1, 28, 28)), *layers,
                               torch.nn.Flatten(), torch.nn.Linear(256, N_WAY))


def l2l_round(row, device):
    """learn2learn's ``clone()``/``adapt()`` loop at the sklmeta rows' settings."""
    MAML = load_learn2learn_maml()
    F = torch.nn.functional
    torch.manual_seed(0)
    if row == "l2l-sinusoid":
        from sklmeta.datasets import SinusoidTasks

        network = torch.nn.Sequential(torch.nn.Linear(1, 40), torch.nn.ReLU(),
                                      torch.nn.Linear(40, 40), torch.nn.ReLU(),
                                      torch.nn.Linear(40, 1)).to(device)
        maml = MAML(network, lr=0.01)
        optimizer = torch.optim.Adam(maml.parameters(), lr=1e-3)
        # tasks drawn beforehand as tensors: learn2learn's loop is timed alone
        tasks = SinusoidTasks(n_shot=10, n_query=10, n_tasks=3 * 20 * 25, random_state=0)
        tensors = [[torch.as_tensor(np.asarray(a), dtype=torch.float32, device=device)
                    .reshape(-1, 1) for a in (t.X_support, t.y_support, t.X_query, t.y_query)]
                   for t in tasks]
        rounds = iter(range(10**9))

        def run():
            start = (next(rounds) % 3) * 20 * 25
            for it in range(20):  # 20 meta-iterations per round, as the sklmeta rows
                optimizer.zero_grad()
                for xs, ys, xq, yq in tensors[start + 25 * it:start + 25 * (it + 1)]:
                    learner = maml.clone()
                    learner.adapt(F.mse_loss(learner(xs), ys))
                    (F.mse_loss(learner(xq), yq) / 25).backward()
                optimizer.step()

        return run
    network = l2l_conv_network().to(device)
    if row == "l2l-adapt":
        from sklmeta.datasets import load_omniglot
        from sklmeta.model_selection import EpisodeSplit

        test = load_omniglot(split="test")
        X, y = np.array(test.data), test.target
        maml = MAML(network, lr=0.4)
        splits = EpisodeSplit(n_way=5, n_shot=5, n_query=15, n_episodes=1000,
                              random_state=0).split(X, y)

        def run():
            support, query = next(splits)
            xs = torch.as_tensor(X[support], device=device)
            ys = torch.as_tensor(np.unique(y[support], return_inverse=True)[1], device=device)
            learner = maml.clone()
            for _ in range(10):
                learner.adapt(F.cross_entropy(learner(xs), ys))
            with torch.no_grad():
                learner(torch.as_tensor(X[query], device=device)).argmax(1).cpu()

        return run
    X, y = omniglot_pool()
    maml = MAML(network, lr=0.4, first_order=row == "l2l-fomaml")
    optimizer = torch.optim.Adam(maml.parameters(), lr=1e-3)
    # the same episodes as the sklmeta rows, drawn beforehand, on the device
    batches = [list(zip(*(torch.as_tensor(a, device=device) for a in batch)))
               for batch in drawn_batches(X, y, 3, META_BATCH)]
    rounds = iter(range(10**9))

    def run():
        optimizer.zero_grad()
        for x_support, y_support, x_query, y_query in batches[next(rounds) % 3]:
            learner = maml.clone()
            learner.adapt(F.cross_entropy(learner(x_support), y_support))
            loss = F.cross_entropy(learner(x_query), y_query)
            (loss / META_BATCH).backward()
        optimizer.step()

    return run


def make_round(row, device):
    """A function running one timed round of ``row``."""
    if row.startswith("l2l-"):
        return l2l_round(row, device)
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
        est = conv_learner(row, device)
        tasks = DrawnBatches(drawn_batches(X, y, 3, est.meta_batch_size, est.n_way,
                                           est.n_shot, est.n_query))
        # built untimed; then each round is one meta-step, a warm-started
        # meta_fit of one meta-batch, on the episodes drawn beforehand
        est.set_params(max_epochs=0).meta_fit(tasks)
        est.set_params(max_epochs=1, episodes_per_epoch=est.meta_batch_size, warm_start=True)
        return lambda: est.meta_fit(tasks)
    if row.startswith("sinusoid"):
        from sklmeta.datasets import SinusoidTasks
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
    release_free_heap()
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
    per_round = 20 if "sinusoid" in row else 1
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
    parser.add_argument("--cycles", type=int, default=1,
                        help="run the rows in turn this many times (a slow drift of "
                             "the machine's speed then reaches every row alike); "
                             "the median over cycles is reported")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--default-malloc", action="store_true",
                        help="keep glibc's default allocator settings (see fast_malloc.py)")
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
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '')!r}; median of "
          f"{args.repeats} rounds after {args.warmup} warm-up, over {args.cycles} "
          f"cycle(s) through the rows; load average before: {os.getloadavg()[0]:.1f}")
    if args.cycles < 1:
        parser.error(f"--cycles must be at least 1, got {args.cycles}")
    cycles, skipped = {}, set()
    for cycle in range(args.cycles):
        for row in args.rows:
            if row in skipped:
                continue
            command = [sys.executable, __file__, "--child", row, "--device", args.device,
                       "--repeats", str(args.repeats), "--warmup", str(args.warmup)]
            if args.threads:
                command += ["--threads", str(args.threads)]
            out = subprocess.run(command, capture_output=True, text=True, env=os.environ)
            if out.returncode and "ImportError: learn2learn" in out.stderr:
                print(f"  {row}: skipped, {out.stderr.strip().splitlines()[-1]}")
                skipped.add(row)
                continue
            if out.returncode:
                print(f"{row}: failed\n{out.stderr[-2000:]}")
                skipped.add(row)
                continue
            cycles.setdefault(row, []).append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  cycle {cycle + 1} {row}: {out.stdout.strip().splitlines()[-1]}",
                  flush=True)
    results = {row: combine_cycles(runs) for row, runs in cycles.items()}
    print()
    print(format_table(results))


def combine_cycles(runs):
    """One row's figures over cycles: median times, least minimum, largest peak."""
    return {
        "row": runs[0]["row"],
        "wall": statistics.median(r["wall"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "min_wall": min(r["min_wall"] for r in runs),
        "memory_mb": max(r["memory_mb"] for r in runs),
    }


def format_table(results):
    """The rows with their ratios to the floor and learn2learn's speed-ups."""
    floor = results.get("floor")
    lines = [f"{'row':<20}{'wall ms':>10}{'(min)':>10}{'cpu ms':>10}{'peak MB':>10}"
             f"{'wall/floor':>12}{'cpu/floor':>11}"]
    for row, r in results.items():
        # the floor is over the 2560 images of the 32-task rows only
        other_data = any(word in row for word in ("sinusoid", "adapt", "paper"))
        ratio = ("" if floor is None or other_data else
                 f"{r['wall'] / floor['wall']:>12.2f}{r['cpu'] / floor['cpu']:>11.2f}")
        lines.append(f"{row:<20}{1000 * r['wall']:>10.1f}{1000 * r['min_wall']:>10.1f}"
                     f"{1000 * r['cpu']:>10.1f}{r['memory_mb']:>10.0f}{ratio}")
    pairs = [(peer, ours) for peer, ours in PEER_PAIRS
             if peer in results and ours in results]
    if pairs:
        lines += ["", f"{'sklmeta vs learn2learn':<36}{'speed-up (l2l wall / sklmeta wall)':>36}"
                      f"{'memory (sklmeta / l2l)':>26}"]
        for peer, ours in pairs:
            speedup = results[peer]["wall"] / results[ours]["wall"]
            memory = results[ours]["memory_mb"] / max(results[peer]["memory_mb"], 1e-9)
            lines.append(f"{ours + ' vs ' + peer:<36}{speedup:>35.2f}x{memory:>25.2f}x")
    lines += ["", "maml/fomaml/reptile: one meta-iteration of 32 tasks (5-way 1-shot, 15 "
              "queries); -5steps: five inner steps; reptile-paper: 5 tasks of 5-way x 10 "
              "images, 5 Adam steps on 10-image minibatches; floor: one supervised step "
              "over the same 2560 images; sinusoid: one meta-iteration of 25 tasks; adapt: fit "
              "(10 steps, 5-way 5-shot) + predict (75 queries); l2l-*: learn2learn's "
              "MAML clone()/adapt() loop at the same settings. Load average after: "
              f"{os.getloadavg()[0]:.1f}"]
    return "\n".join(lines)

if __name__ == "__main__":
    main()
