"""Peak memory growth of ``fit`` with many adaptation steps.

Adapts a MAMLClassifier (an MLP of two hidden layers of 256 units, 64
features, a 5-way 5-shot support set) with one step, then with
``--steps`` steps, and prints how much the process's peak resident memory
grew between the two, for second- and first-order MAML.

Run: ``python benchmarks/adaptation_memory.py --steps 8000``.
"""

import argparse
import subprocess
import sys

PROBE = """
import resource, time, numpy as np
from sklmeta import MAMLClassifier
rng = np.random.RandomState(0)
X, y = rng.randn(25, 64).astype(np.float32), np.repeat(np.arange(5), 5)
est = MAMLClassifier(encoder="mlp", encoder__hidden_layer_sizes=(256, 256), adapt_lr=1e-3,
                     first_order={first_order}, device="cpu", verbose=0, random_state=0)
est.set_params(n_adapt_steps=1).fit(X, y)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
est.set_params(n_adapt_steps={steps}).fit(X, y)
seconds = time.perf_counter() - start
growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(f"{{growth:.1f}} {{seconds:.2f}}")
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=8000)
    args = parser.parse_args()
    for first_order in (False, True):
        # a fresh process each, so that the peak is this fit's alone
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(first_order=first_order, steps=args.steps)],
            capture_output=True, text=True, check=True,
        ).stdout.split()
        print(f"first_order={first_order!s:5}  n_adapt_steps={args.steps}: peak memory "
              f"+{float(out[0]):.1f} MB, fit {float(out[1]):.2f} s")


if __name__ == "__main__":
    main()
