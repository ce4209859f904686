"""Speed of sklmeta's learners beside a bare PyTorch loop and peers.

Two sections, run one after the other by default:

- ``metric`` (this file): Prototypical Networks, below;
- ``gradient`` (:mod:`speed_gradient`): seconds per meta-iteration and
  peak memory of MAML (second- and first-order) and Reptile on Omniglot,
  sinusoid MAML, and adaptation latency, beside a compute floor and
  learn2learn's ``MAML`` at the same settings; its docstring has the details.

Prototypical Networks at 5-way 5-shot with 15 queries per class, the Conv4
encoder, on Omniglot episodes (Vinyals 'train' split for meta-training,
'test' for inference), all in one process:

- ``sklmeta``: :class:`~sklmeta.ProtoNetClassifier` through its public path,
  ``meta_fit`` for training and ``fit`` + ``predict`` for inference;
- ``floor``: a bare PyTorch loop doing the same arithmetic with the same
  :class:`~sklmeta.encoders.Conv4`, the least any library can cost;
- ``easyfsl`` (``PrototypicalNetworks`` around the same Conv4) and
  ``learn2learn`` (Conv4 then ``PrototypicalClassifier``), when installed;
  neither is a dependency. Their package ``__init__`` imports torchvision;
  without it, the one module needed (torch alone) is loaded by file path,
  and the output says so.

Usage::

    python benchmarks/speed.py                 # both sections
    python benchmarks/speed.py metric --episodes 10 --repeats 3   # a quick look
    python benchmarks/speed.py metric --threads 1 --no-peers
    python benchmarks/speed.py gradient --rows floor fomaml l2l-fomaml

Each contender trains on ``--episodes`` episodes and answers ``--episodes``
test episodes per round; after ``--warmup`` untimed rounds, ``--repeats``
timed rounds follow, contenders taking turns in a rotating order, and the
median of the rounds is reported.
"""

import argparse
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone

import numpy as np
import torch
import torch.nn.functional as F

from sklmeta import ProtoNetClassifier
from sklmeta.datasets import load_omniglot
from sklmeta.encoders import Conv4

from fast_malloc import use_fast_malloc

N_WAY, N_SHOT, N_QUERY = 5, 5, 15
META_LR = 1e-3
def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def malloc_setting():
    if sys.platform != "linux":
        return f"{sys.platform} default"
    tunables = os.environ.get("GLIBC_TUNABLES")
    return f"GLIBC_TUNABLES={tunables}" if tunables else "glibc default"


# ----------------------------------------------------------------------
# episodes
# ----------------------------------------------------------------------
class EpisodeRows:
    """Rows of n-way k-shot episodes of a labelled pool.

    An episode is one index array: the ``n_way * n_shot`` support rows, then
    the ``n_way * n_query`` query rows, each part grouped by class, so the
    local labels are ``arange(n_way)`` repeated.
    """

    def __init__(self, y, n_way=N_WAY, n_shot=N_SHOT, n_query=N_QUERY):
        self.n_way, self.n_shot, self.n_query = n_way, n_shot, n_query
        _, encoded = np.unique(y, return_inverse=True)
        self.order = np.argsort(encoded, kind="stable")
        self.counts = np.bincount(encoded)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])

    def stream(self, seed):
        """Endless episodes; the same seed gives the same ones."""
        rng = np.random.RandomState(seed)
        needed = self.n_shot + self.n_query
        while True:
            chosen = rng.choice(len(self.counts), size=self.n_way, replace=False)
            picks = np.stack([rng.permutation(self.counts[c])[:needed] for c in chosen])
            rows = self.order[self.starts[chosen][:, None] + picks]
            yield np.concatenate(
                [rows[:, :self.n_shot].reshape(-1), rows[:, self.n_shot:].reshape(-1)]
            )

    def draw(self, n_episodes, seed):
        stream = self.stream(seed)
        return [next(stream) for _ in range(n_episodes)]


def local_labels(n_per_class):
    return torch.arange(N_WAY).repeat_interleave(n_per_class)


# ----------------------------------------------------------------------
# contenders: train(n) returns seconds; infer(episodes) returns
# (seconds, accuracy)
# ----------------------------------------------------------------------
class SklmetaContender:
    """The public path: ``meta_fit`` to train, ``fit`` + ``predict`` to infer."""

    name = "sklmeta"

    def __init__(self, data, n_episodes, seed):
        self.X_train, self.y_train = data["X_train_user"], data["y_train"]
        self.X_test, self.y_test = data["X_test"], data["y_test"]
        # Each timed round is one warm-started meta_fit call of one epoch of
        # n_episodes; its time is the epoch's 'dur' in history_, which skorch's
        # EpochTimer measures around the episode loop (drawing episodes from
        # the pool, steps, history). The call's fixed cost (validating the
        # pool and copying it to a tensor, once per call whatever its length)
        # is reported apart as setup, since it does not grow with episodes.
        # warm_start keeps the weights and the Adam state across rounds.
        self.estimator = ProtoNetClassifier(
            encoder="conv4", n_way=N_WAY, n_shot=N_SHOT, n_query=N_QUERY,
            max_epochs=1, episodes_per_epoch=n_episodes, meta_lr=META_LR,
            warm_start=True, device="cpu", verbose=0, random_state=seed,
        )
        self.setup_seconds = []

    def train(self, n_episodes):
        start = time.perf_counter()
        self.estimator.meta_fit(self.X_train, self.y_train)
        wall = time.perf_counter() - start
        epoch = self.estimator.history_[-1]
        if len(epoch["batches"]) != n_episodes:
            raise RuntimeError(
                f"the timed epoch ran {len(epoch['batches'])} steps, not {n_episodes}"
            )
        self.setup_seconds.append(wall - epoch["dur"])
        return epoch["dur"]

    def infer(self, episodes):
        n_support = N_WAY * N_SHOT
        correct = 0
        start = time.perf_counter()
        for rows in episodes:
            support, query = rows[:n_support], rows[n_support:]
            self.estimator.fit(self.X_test[support], self.y_test[support])
            predicted = self.estimator.predict(self.X_test[query])
            correct += int((predicted == self.y_test[query]).sum())
        seconds = time.perf_counter() - start
        return seconds, correct / (len(episodes) * N_WAY * N_QUERY)


class TorchContender:
    """Shared by the hand-written loops: a tensor pool indexed by episode rows.

    Subclasses build ``self.module`` and define ``train_logits`` (query
    logits of one episode in training mode) and ``predict``.
    """

    # shape of one input as the contender takes it; None keeps flat rows
    image_shape = None

    def __init__(self, data, n_episodes, seed):
        self.train_pool = torch.from_numpy(data["X_train"])
        self.test_pool = torch.from_numpy(data["X_test"])
        if self.image_shape is not None:
            self.train_pool = self.train_pool.view(-1, *self.image_shape)
            self.test_pool = self.test_pool.view(-1, *self.image_shape)
        self.train_rows = data["train_rows"]
        self.seed = seed
        self.y_support = local_labels(N_SHOT)
        self.y_query = local_labels(N_QUERY)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.build()
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=META_LR)

    def train(self, n_episodes):
        # Drawing the rows and gathering them stands for episode sampling.
        stream = self.train_rows.stream(self.seed)
        self.module.train()
        start = time.perf_counter()
        for _ in range(n_episodes):
            x = self.train_pool[torch.from_numpy(next(stream))]
            loss = F.cross_entropy(self.train_logits(x), self.y_query)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        return time.perf_counter() - start

    def infer(self, episodes):
        self.module.eval()
        correct = 0
        start = time.perf_counter()
        with torch.no_grad():
            for rows in episodes:
                predicted = self.predict(self.test_pool[torch.from_numpy(rows)])
                correct += int((predicted == self.y_query).sum())
        seconds = time.perf_counter() - start
        return seconds, correct / (len(episodes) * N_WAY * N_QUERY)


def squared_distances(queries, prototypes):
    return (
        queries.pow(2).sum(1, keepdim=True)
        - 2.0 * queries @ prototypes.T
        + prototypes.pow(2).sum(1)
    )


class FloorContender(TorchContender):
    """The same arithmetic as sklmeta with nothing around it."""

    name = "floor (bare torch)"

    def build(self):
        self.module = Conv4()

    def logits(self, x):
        z = self.module(x)
        n_support = N_WAY * N_SHOT
        # support rows are grouped by class: a reshape gives the class means
        prototypes = z[:n_support].view(N_WAY, N_SHOT, -1).mean(1)
        return -squared_distances(z[n_support:], prototypes)

    train_logits = logits

    def predict(self, x):
        return self.logits(x).argmax(1)


class EasyfslContender(TorchContender):
    """easyfsl's PrototypicalNetworks around Conv4, fed 1x28x28 images.

    easyfsl embeds the support set in ``process_support_set`` and the
    queries in ``forward``, as its episodic training examples do.
    """

    name = "easyfsl"
    image_shape = (1, 28, 28)
    model_class = None  # set by load_peers

    def build(self):
        self.module = self.model_class(Conv4())

    def train_logits(self, x):
        n_support = N_WAY * N_SHOT
        self.module.process_support_set(x[:n_support], self.y_support)
        return self.module(x[n_support:])

    def predict(self, x):
        return self.train_logits(x).argmax(1)


class Learn2learnContender(TorchContender):
    """Conv4 embeddings of the whole episode, then learn2learn's
    PrototypicalClassifier, as its Prototypical Networks examples do."""

    name = "learn2learn"
    classifier_class = None  # set by load_peers

    def build(self):
        self.module = Conv4()

    def train_logits(self, x):
        z = self.module(x)
        n_support = N_WAY * N_SHOT
        classifier = self.classifier_class(support=z[:n_support], labels=self.y_support)
        return classifier(z[n_support:])

    def predict(self, x):
        return self.train_logits(x).argmax(1)


# ----------------------------------------------------------------------
# peers
# ----------------------------------------------------------------------
def import_skipping_package_inits(name):
    """Import module ``name`` without running the ``__init__`` of its packages.

    A peer's package ``__init__`` may import far more than the one module
    needed here (torchvision, compiled data loaders); the module itself may
    need torch alone.
    """
    parts = name.split(".")
    for depth in range(1, len(parts)):
        package = ".".join(parts[:depth])
        for key in [k for k in sys.modules if k == package or k.startswith(package + ".")]:
            del sys.modules[key]
        spec = importlib.util.find_spec(package)
        sys.modules[package] = importlib.util.module_from_spec(spec)
    return importlib.import_module(name)


def load_peer(distribution, public_module, file_module, attribute):
    """A peer's class and a note on how it was loaded, or (None, reason)."""
    top = public_module.split(".")[0]
    if importlib.util.find_spec(top) is None:
        return None, "not installed"
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:  # on sys.path, not installed
        version = "(version unknown)"
    try:
        return getattr(importlib.import_module(public_module), attribute), version
    except Exception as exc:  # a broken optional dependency; retry below
        reason = f"{type(exc).__name__}: {exc}"
    try:
        module = import_skipping_package_inits(file_module)
    except Exception as exc:
        return None, f"{version} not importable ({reason}; then {type(exc).__name__}: {exc})"
    path = file_module.replace(".", "/") + ".py"
    return getattr(module, attribute), (
        f"{version}; `import {public_module}` failed ({reason}), so {path} was "
        "loaded by file path, skipping its packages' __init__"
    )


def load_peers():
    peers = []
    cls, note = load_peer(
        "easyfsl", "easyfsl.methods", "easyfsl.methods.prototypical_networks",
        "PrototypicalNetworks",
    )
    if cls is not None:
        EasyfslContender.model_class = cls
    peers.append((EasyfslContender, cls is not None, note))
    cls, note = load_peer(
        "learn2learn", "learn2learn.nn", "learn2learn.nn.protonet", "PrototypicalClassifier",
    )
    if cls is not None:
        Learn2learnContender.classifier_class = cls
    peers.append((Learn2learnContender, cls is not None, note))
    return peers


# ----------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------
def load_data(n_episodes, seed):
    train = load_omniglot(split="train")
    test = load_omniglot(split="test")
    data = {
        # sklmeta gets the read-only arrays as a user would; the torch loops
        # get writable copies, since torch.from_numpy needs them
        "X_train_user": train.data, "X_train": np.array(train.data),
        "y_train": train.target,
        "X_test": np.array(test.data), "y_test": test.target,
        "train_rows": EpisodeRows(train.target),
    }
    data["test_episodes"] = EpisodeRows(test.target).draw(n_episodes, seed)
    return data


def measure(contenders, data, args):
    """Warm-up rounds, then timed rounds in a rotating order; per-round values."""
    results = {c.name: {"train": [], "infer": [], "acc": []} for c in contenders}
    episodes = data["test_episodes"]
    for round_ in range(args.warmup + args.repeats):
        kind = "warm-up" if round_ < args.warmup else "timed"
        print(f"round {round_ + 1}/{args.warmup + args.repeats} ({kind})",
              file=sys.stderr, flush=True)
        shift = round_ % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            train_seconds = contender.train(args.episodes)
            infer_seconds, accuracy = contender.infer(episodes)
            if round_ < args.warmup:
                continue
            result = results[contender.name]
            result["train"].append(args.episodes / train_seconds)
            result["infer"].append(1000 * infer_seconds / args.episodes)
            result["acc"].append(accuracy)
    return results


def format_table(results, skipped, reference="sklmeta"):
    ref_train = statistics.median(results[reference]["train"])
    ref_infer = statistics.median(results[reference]["infer"])
    lines = [
        f"{'contender':<22}{'train ep/s':>11}{'(min-max)':>16}{'infer ms/ep':>13}"
        f"{'(min-max)':>16}{'test acc':>10}   {'sklmeta/this: throughput':>24}"
        f"{'latency':>9}",
    ]
    for name, result in results.items():
        train, infer = result["train"], result["infer"]
        train_median, infer_median = statistics.median(train), statistics.median(infer)
        ratios = "" if name == reference else (
            f"{ref_train / train_median:>23.2f}x{ref_infer / infer_median:>8.2f}x"
        )
        lines.append(
            f"{name:<22}{train_median:>11.1f}{f'({min(train):.1f}-{max(train):.1f})':>16}"
            f"{infer_median:>13.2f}{f'({min(infer):.2f}-{max(infer):.2f})':>16}"
            f"{statistics.mean(result['acc']):>10.3f}   {ratios}"
        )
    for name, note in skipped:
        lines.append(f"{name:<22}{note}")
    return "\n".join(lines)


def main(argv=None):
    """``metric [options]``, ``gradient [options]`` or, with no arguments, both."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "gradient":
        import speed_gradient

        return speed_gradient.main(argv[1:])
    if argv and argv[0] == "metric":
        return metric_main(argv[1:])
    if argv and not argv[0].startswith("-"):
        sys.exit(f"unknown section {argv[0]!r}; choose 'metric' or 'gradient'")
    if argv:  # options alone: the metric section, as before the sections
        return metric_main(argv)
    use_fast_malloc()  # once here, before either section's output
    metric_main([])
    print("\n" + "=" * 78 + "\n", flush=True)
    import speed_gradient

    speed_gradient.main([])


def metric_main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--episodes", type=int, default=30,
                        help="training episodes and inference episodes per measurement")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed rounds; the median is reported")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the initial weights and of the episodes")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads; None leaves torch's choice")
    parser.add_argument("--no-peers", action="store_true", help="skip easyfsl and learn2learn")
    parser.add_argument("--default-malloc", action="store_true",
                        help="keep glibc's default allocator settings (see fast_malloc.py)")
    args = parser.parse_args(argv)
    for option in ("episodes", "repeats"):
        if getattr(args, option) < 1:
            parser.error(f"--{option} must be at least 1, got {getattr(args, option)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be at least 0, got {args.warmup}")
    if not args.default_malloc:
        use_fast_malloc()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    started = time.perf_counter()
    print(f"Prototypical Networks, {N_WAY}-way {N_SHOT}-shot, {N_QUERY} queries per "
          "class, Conv4 encoder, Omniglot episodes (train split to train, test to infer)")
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs ({cpu_name()}); "
          f"malloc: {malloc_setting()}; python {platform.python_version()}")
    print(f"{args.episodes} training + {args.episodes} inference episodes per contender "
          f"and round; {args.warmup} warm-up round(s), then the median of {args.repeats} "
          f"timed rounds, contenders taking turns in a rotating order; seed {args.seed}")
    data = load_data(args.episodes, args.seed)
    contenders = [
        SklmetaContender(data, args.episodes, args.seed),
        FloorContender(data, args.episodes, args.seed),
    ]
    skipped = []
    if args.no_peers:
        skipped = [("easyfsl", "skipped (--no-peers)"), ("learn2learn", "skipped (--no-peers)")]
    else:
        for contender_class, available, note in load_peers():
            if available:
                contenders.append(contender_class(data, args.episodes, args.seed))
                print(f"  {contender_class.name} {note}")
            else:
                skipped.append((contender_class.name, note))
    sys.stdout.flush()
    results = measure(contenders, data, args)

    print()
    print(format_table(results, skipped))
    print()
    setup = statistics.median(contenders[0].setup_seconds[args.warmup:])
    print("train: meta-training episodes per second (episode drawing, forward on 100 "
          "images, prototypes, loss, backward, Adam step);")
    print("infer: milliseconds per test episode (sklmeta: fit on 25 support images + "
          "predict on 75 queries; others: the same under no_grad);")
    print("test acc: query accuracy of those episodes, a sanity check that every "
          "contender learns;")
    print("sklmeta/this: throughput = sklmeta ep/s / this ep/s (below 1: sklmeta "
          "trains slower); latency = sklmeta ms / this ms (above 1: sklmeta answers "
          "slower).")
    print(f"sklmeta's meta_fit also spends {1000 * setup:.0f} ms per call outside its "
          "epochs (checking and copying the pool), not counted above.")
    print(f"total {time.perf_counter() - started:.0f} s")

if __name__ == "__main__":
    main()
