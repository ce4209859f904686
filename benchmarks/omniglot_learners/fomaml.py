"""First-order MAML (Finn et al., 2017) on Omniglot."""


from . import maml

# Nichol et al. (2018), Table 1, first-order MAML (transductive)
PAPER = {(5, 1): 98.3, (5, 5): 99.2, (20, 1): 89.4, (20, 5): 97.9}
DEFAULTS = maml.DEFAULTS
add_arguments = maml.add_arguments


def build(args, callbacks):
    return maml.build(args, callbacks, first_order=True)
