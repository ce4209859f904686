"""Meta-train Prototypical Networks on the bundled Omniglot, then test them
on characters never seen in meta-training: 5-way 1-shot and 5-way 5-shot
accuracy with 95% confidence intervals over 600 episodes each.

Run it with ``make demo`` (a few minutes on a laptop CPU).
"""

import time

from sklmeta import ProtoNetClassifier, evaluate_episodes
from sklmeta.datasets import load_omniglot


def main():
    # Vinyals et al.'s character split; rotated characters count as new classes
    train = load_omniglot(split="train", rotations=True)
    test = load_omniglot(split="test", rotations=True)
    print(f"meta-training on {len(set(train.target))} classes, "
          f"testing on {len(set(test.target))} unseen ones")

    learner = ProtoNetClassifier(
        encoder="conv4",
        n_way=20, n_shot=5, n_query=5,          # harder episodes than at test time
        max_epochs=8, episodes_per_epoch=100,
        verbose=1, random_state=0,
    )
    start = time.perf_counter()
    learner.meta_fit(train.data, train.target)
    print(f"meta-training took {time.perf_counter() - start:.0f} s\n")

    for n_shot in (1, 5):
        result = evaluate_episodes(
            learner, test.data, test.target,
            n_way=5, n_shot=n_shot, n_query=15, n_episodes=600, random_state=0,
        )
        print(f"5-way {n_shot}-shot accuracy on unseen characters: {result}")


if __name__ == "__main__":
    main()
