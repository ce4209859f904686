"""What the ``*_hallucination`` learners add to the learner they build on."""


def add_arguments(parser):
    parser.add_argument("--n-hallucinated", type=int, default=4,
                        help="hallucinated examples per class, in training episodes "
                             "and test support sets")


def hallucinating(build):
    """``build`` with ``n_hallucinated`` set from ``--n-hallucinated``."""
    def build_hallucinating(args, callbacks):
        return build(args, callbacks).set_params(n_hallucinated=args.n_hallucinated)
    return build_hallucinating
