"""Meta-train Prototypical Networks on the bundled Omniglot for eight minutes,
then test them on characters never seen in meta-training: 5-way 1-shot and
5-way 5-shot accuracy with 95% confidence intervals over 600 episodes each.

Run it with ``make demo``. Everything but the time budget is a default.
"""

import time

from sklmeta import ProtoNetClassifier, evaluate_episodes
from sklmeta.datasets import load_omniglot

MINUTES = 8


def main():
    start = time.perf_counter()
    # Vinyals et al.'s character split; rotated characters count as new classes
    train = load_omniglot(split="train", rotations=True)
    test = load_omniglot(split="test", rotations=True)
    print(f"meta-training on {len(set(train.target))} classes for {MINUTES} minutes, "
          f"testing on {len(set(test.target))} unseen ones")

    # the budget alone ends meta-training; the learning rate anneals over it
    learner = ProtoNetClassifier(max_time=60 * MINUTES, max_epochs=10_000, random_state=0)
    learner.meta_fit(train.data, train.target)
    n_episodes = sum(len(epoch["batches"]) for epoch in learner.history_)
    print(f"meta-training: {n_episodes} episodes in {time.perf_counter() - start:.0f} s\n")

    for n_shot in (1, 5):
        result = evaluate_episodes(
            learner, test.data, test.target,
            n_way=5, n_shot=n_shot, n_query=15, n_episodes=600, random_state=0,
        )
        print(f"5-way {n_shot}-shot accuracy on unseen characters: {result}")
    print(f"\ntotal wall time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
