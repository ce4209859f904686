"""Transformers built on meta-learned encoders.

:class:`EncoderTransformer` embeds inputs with the encoder of a meta-fitted
learner (or a module, or one it meta-trains or pretrains itself), so that
any scikit-learn estimator can be put on top of a meta-learned embedding.
"""

from ._encoder_transformer import EncoderTransformer

__all__ = ["EncoderTransformer"]
