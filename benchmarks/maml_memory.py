"""Memory and time of second-order MAML meta-training, with and without
``checkpoint_inner``, against the number of inner steps.

Meta-trains a MAMLClassifier (Conv4 on 28x28 images, ``--way``-way
``--shot``-shot tasks with 5 queries per class, meta-batches of 4 tasks
looped) for 3 meta-batches on random images, in a fresh process per setting, and prints the growth of peak
resident memory during meta-training over the process's state with the
network built, and the seconds per meta-batch.

Run: ``python benchmarks/maml_memory.py`` (about three minutes on two cores).
"""

import argparse
import subprocess
import sys

PROBE = """
import resource, time, numpy as np
from sklmeta import MAMLClassifier
rng = np.random.RandomState(0)
X = rng.rand(40 * 20, 784).astype(np.float32)
y = np.repeat(np.arange(40), 20)  # 40 classes of 20 random images
est = MAMLClassifier(encoder="conv4", encoder__input_shape=(1, 28, 28), n_way={way},
                     n_shot={shot}, n_query=5, n_inner_steps={steps}, checkpoint_inner={checkpoint},
                     meta_batch_size=4, batch_tasks=False, max_epochs=0,
                     episodes_per_epoch=12, device="cpu", verbose=0, random_state=0)
est.meta_fit(X, y)  # builds the network, trains nothing
est.set_params(warm_start=True, max_epochs=1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
est.meta_fit(X, y)
seconds = (time.perf_counter() - start) / 3
growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(f"{{growth:.1f}} {{seconds:.3f}}")
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 5, 10, 20])
    parser.add_argument("--way", type=int, default=20)
    parser.add_argument("--shot", type=int, default=5)
    args = parser.parse_args()
    print("inner steps | peak memory growth, MB (plain / checkpointed) | "
          "s per meta-batch (plain / checkpointed)")
    for steps in args.steps:
        results = []
        for checkpoint in (False, True):
            out = subprocess.run(
                [sys.executable, "-c", PROBE.format(steps=steps, checkpoint=checkpoint,
                                                      way=args.way, shot=args.shot)],
                capture_output=True, text=True, check=True,
            ).stdout.split()
            results.append((float(out[0]), float(out[1])))
        (m0, t0), (m1, t1) = results
        print(f"{steps:11d} | {m0:8.1f} / {m1:8.1f} | {t0:6.3f} / {t1:6.3f} "
              f"(x{t1 / t0:.2f} time)")


if __name__ == "__main__":
    main()
