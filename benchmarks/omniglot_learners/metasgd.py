"""Meta-SGD (Li et al., 2017) on Omniglot: MAML with learned inner learning rates."""

from . import maml

# Li et al., Table 1 (their 5-way and 20-way Omniglot results)
PAPER = {(5, 1): 99.53, (5, 5): 99.93, (20, 1): 95.93, (20, 5): 98.97}
DEFAULTS = maml.DEFAULTS
add_arguments = maml.add_arguments


def build(args, callbacks):
    return maml.build(args, callbacks, learn_inner_lr=True)
