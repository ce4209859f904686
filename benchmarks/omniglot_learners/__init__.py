"""One module per learner for ``benchmarks/omniglot.py --learner NAME``.

Each module defines ``PAPER``, the paper's accuracies keyed by
``(n_way, n_shot)``, and ``build(args, callbacks)``, returning the estimator
to meta-train; it may define ``add_arguments(parser)`` for options of its own
and ``DEFAULTS``, a dict of default values for the shared options.
"""
