"""Supervised pretraining of an encoder in one call.

The standard few-shot workflow is *pretrain, then meta-train, then adapt*:
the encoder is first trained as an ordinary classifier over all the
meta-training classes, in minibatches, then (optionally) meta-trained on
episodes, then adapted to each new task. :func:`pretrain_encoder` does the
first step and returns the encoder module, which any learner accepts as its
``encoder`` (the learners copy it, so it is never changed afterwards).
"""

from ._finetune import FineTuneClassifier

__all__ = ["pretrain_encoder"]


def pretrain_encoder(
    X,
    y,
    *,
    encoder="auto",
    head="linear",
    max_epochs=10,
    batch_size=64,
    lr=1e-3,
    validation_data=None,
    callbacks=None,
    device="auto",
    verbose=1,
    random_state=None,
    **kwargs,
):
    """Train an encoder as a plain classifier over all classes of a pool.

    The first step of the *pretrain, meta-train, adapt* workflow: the encoder
    with a new ``head`` on top is trained by minibatch cross-entropy over all
    the classes of ``(X, y)``; the head is then dropped and the encoder is
    returned. Hand it to any learner, whose ``meta_fit`` then meta-trains
    from it (or which can adapt from it directly, without meta-training):
    ``ProtoNetClassifier(encoder=pretrain_encoder(X, y))``.

    This is :meth:`FineTuneClassifier.meta_fit
    <sklmeta.baselines.FineTuneClassifier.meta_fit>` with the encoder taken
    out; use that estimator to keep the history or to adapt with a new head.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The meta-training pool.
    y : array-like of shape (n_samples,)
        Its class labels; the head has one output per class.
    encoder : {'auto', 'conv4', 'mlp', 'text'}, torch.nn.Module class or instance, \
            default='auto'
        The network to train, as the learners' ``encoder``; an instance is
        copied, never trained in place.
    head : {'linear', 'cosine'}, default='linear'
        Classifier on top of the encoder during pretraining.
    max_epochs : int, default=10
        Passes over the pool.
    batch_size : int, default=64
        Samples per minibatch.
    lr : float, default=1e-3
        Learning rate of the optimizer (Adam unless ``optimizer`` is given).
    validation_data : tuple (X_val, y_val), default=None
        A pool of held-out classes scored every epoch by nearest class mean
        on few-shot episodes (see :class:`~sklmeta.baselines.FineTuneClassifier`).
    callbacks : list of skorch callbacks or None, default=None
        Callbacks of the training loop, e.g. ``EarlyStopping``.
    device : 'auto', str or torch.device, default='auto'
        Where training runs.
    verbose : int, default=1
        0 is silent; 1 shows a progress bar and a table of epochs.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial weights and of the minibatch order.
    **kwargs
        Further :class:`~sklmeta.baselines.FineTuneClassifier` parameters:
        ``encoder__*``, ``optimizer``, ``optimizer__*``, ``cosine_scale``.

    Returns
    -------
    encoder : torch.nn.Module
        The trained encoder, in eval mode, on ``device``.

    See Also
    --------
    sklmeta.baselines.FineTuneClassifier : the pretrained encoder with a new
        head trained on each support set.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklmeta import ProtoNetClassifier
    >>> from sklmeta.baselines import pretrain_encoder
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(200, 6)), np.repeat(np.arange(10), 20)
    >>> module = pretrain_encoder(X, y, encoder="mlp", max_epochs=2, verbose=0,
    ...                           random_state=0)
    >>> module(torch.zeros(1, 6)).shape
    torch.Size([1, 64])
    >>> clf = ProtoNetClassifier(encoder=module, max_epochs=1, episodes_per_epoch=5,
    ...                          n_shot=2, n_query=3, verbose=0, random_state=0)
    >>> clf.meta_fit(X, y).encoder_ is module
    False
    """
    learner = FineTuneClassifier(
        encoder,
        head=head,
        max_epochs=max_epochs,
        batch_size=batch_size,
        meta_lr=lr,
        callbacks=callbacks,
        device=device,
        verbose=verbose,
        random_state=random_state,
        **kwargs,
    )
    learner.meta_fit(X, y, validation_data=validation_data)
    return learner.encoder_.eval()
