"""Prototypical Networks on support sets enlarged by a data-augmentation GAN.

``meta_fit`` trains a :class:`~sklmeta.generative.DataAugmentationGAN` on
the meta-training characters, then meta-trains
:class:`~sklmeta.ProtoNetClassifier` from its defaults on episodes whose
support sets hold ``--n-generated`` drawings per image besides the real
ones; each test support set is enlarged the same way. With
``--test-time-only`` the ProtoNet meta-trains on the real episodes, and is
then the one ``--learner protonet`` meta-trains with the same options and
seed: the two runs differ only by the drawings at test time.
"""

from omniglot_learners import protonet

from sklmeta.generative import AugmentedSupportClassifier, DataAugmentationGAN

PAPER = protonet.PAPER  # the same learner: the same paper figures
DEFAULTS = protonet.DEFAULTS


def add_arguments(parser):
    parser.add_argument("--n-generated", type=int, default=3,
                        help="drawings per support image")
    parser.add_argument("--gan-epochs", type=int, default=40,
                        help="training epochs of the GAN, 100 steps each")
    parser.add_argument("--test-time-only", action="store_true",
                        help="meta-train the ProtoNet on real episodes; enlarge test "
                             "support sets only")


def build(args, callbacks):
    gan = DataAugmentationGAN(max_epochs=args.gan_epochs, verbose=args.verbose,
                              random_state=args.seed)
    return AugmentedSupportClassifier(protonet.build(args, callbacks), gan,
                                      n_generated=args.n_generated,
                                      augment_meta_training=not args.test_time_only,
                                      random_state=args.seed)
