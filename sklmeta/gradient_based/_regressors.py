"""The regressors of the gradient-based families: MAML and Reptile."""

import torch
from sklearn.base import RegressorMixin

from .._docstrings import meta_training_params
from ..base import RegressorOutputMixin
from ._docs import (
    MAML_FITTED, MAML_NOTES, MAML_PARAMS, REPTILE_FITTED, REPTILE_NOTES, REPTILE_OPTIMIZER,
    REPTILE_PARAMS, REPTILE_REFERENCES,
)
from ._maml import _MAML
from ._reptile import _Reptile

__all__ = ["MAMLRegressor", "ReptileRegressor"]


class MAMLRegressor(RegressorOutputMixin, RegressorMixin, _MAML):
    __doc__ = """Model-Agnostic Meta-Learning for few-shot regression.

    MAML meta-learns initial weights from which a few gradient steps on a
    new task's support set fit that task (Finn et al., 2017), e.g. a new
    sinusoid from five points. ``first_order=True`` gives first-order MAML,
    ``learn_inner_lr=True`` Meta-SGD, ``inner_params='head'`` ANIL.
""" + MAML_PARAMS.format(
        encoder="mlp",
        task_doc="",
        n_inner_steps=1, inner_lr=0.01, n_adapt_steps=10,
        steps_doc="the MAML paper reports up to 10 on sinusoids",
        training_doc=meta_training_params(episodes_per_epoch=1000, meta_batch_size=25),
        fitted_doc=MAML_FITTED,
    ) + """

    See Also
    --------
    ReptileRegressor : first-order meta-learning without a query loss.
    sklmeta.datasets.SinusoidTasks : the paper's regression tasks.

    Notes
    -----
    ``meta_fit`` takes a task collection, not a labelled pool. A task
    family such as :class:`~sklmeta.datasets.SinusoidTasks` is drawn from
    as arrays in blocks (the same tasks its iteration yields), which keeps
    the cost per meta-iteration down to the network's. ``history_`` records ``train_acc``
    as NaN: accuracy has no meaning here.
""" + MAML_NOTES + """

    References
    ----------
    .. [1] C. Finn, P. Abbeel and S. Levine, "Model-Agnostic Meta-Learning
       for Fast Adaptation of Deep Networks", ICML 2017.
    .. [2] Z. Li, F. Zhou, F. Chen and H. Li, "Meta-SGD: Learning to Learn
       Quickly for Few-Shot Learning", arXiv:1707.09835, 2017.
    .. [3] A. Raghu, M. Raghu, S. Bengio and O. Vinyals, "Rapid Learning or
       Feature Reuse? Towards Understanding the Effectiveness of MAML",
       ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta import MAMLRegressor
    >>> from sklmeta.datasets import SinusoidTasks
    >>> reg = MAMLRegressor(max_epochs=2, episodes_per_epoch=100, verbose=0,
    ...                     random_state=0)
    >>> reg = reg.meta_fit(SinusoidTasks(n_shot=5, random_state=0))
    >>> x = np.linspace(-5, 5, 5).reshape(-1, 1)
    >>> reg.fit(x, 2.0 * np.sin(x.ravel() - 1.0)).predict(x).shape
    (5,)
    """

    def __init__(self, encoder="mlp", *, n_inner_steps=1, inner_lr=0.01,
                 n_adapt_steps=10, adapt_lr=None, first_order=False, checkpoint_inner=False,
                 learn_inner_lr=False, inner_params="all", transductive=False,
                 batch_tasks="auto", max_epochs=10, max_time=None, episodes_per_epoch=1000,
                 meta_batch_size=25, meta_lr=1e-3, optimizer=torch.optim.Adam,
                 lr_schedule=None, init_from=None, callbacks=None, n_val_episodes=100,
                 warm_start=False, device="auto", verbose=1, random_state=None,
                 **kwargs):
        self._store_init_params(locals())

    _adapted_attributes = ("adapted_params_",)


class ReptileRegressor(RegressorOutputMixin, RegressorMixin, _Reptile):
    __doc__ = """Reptile for few-shot regression.

    Reptile meta-learns initial weights by repeatedly training on a task
    and moving the weights towards the result (Nichol et al., 2018); a few
    optimizer steps on a new task's support set then fit it.
""" + REPTILE_PARAMS.format(
        encoder="mlp",
        task_doc="",
        n_inner_steps=5, inner_lr=0.02, inner_optimizer="sgd", inner_batch_size=None,
        n_adapt_steps=10,
        training_doc=meta_training_params(
            episodes_per_epoch=1000, meta_batch_size=25,
            optimizer=REPTILE_OPTIMIZER.format(meta_lr=0.1)),
        fitted_doc=REPTILE_FITTED,
    ) + """

    See Also
    --------
    MAMLRegressor : meta-learning through the inner loop's gradient.
    sklmeta.datasets.SinusoidTasks : sinusoid regression tasks.

    Notes
    -----
    ``meta_fit`` takes a task collection, not a labelled pool; a
    :class:`~sklmeta.datasets.SinusoidTasks` is drawn from as arrays.
    ``history_`` records ``train_acc`` as NaN.
""" + REPTILE_NOTES + "\n" + REPTILE_REFERENCES + """

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta import ReptileRegressor
    >>> from sklmeta.datasets import SinusoidTasks
    >>> reg = ReptileRegressor(max_epochs=2, episodes_per_epoch=100, verbose=0,
    ...                        random_state=0)
    >>> reg = reg.meta_fit(SinusoidTasks(n_shot=5, random_state=0))
    >>> x = np.linspace(-5, 5, 5).reshape(-1, 1)
    >>> reg.fit(x, 2.0 * np.sin(x.ravel() - 1.0)).predict(x).shape
    (5,)
    """

    def __init__(self, encoder="mlp", *, n_inner_steps=5, inner_lr=0.02,
                 inner_optimizer="sgd", carry_inner_state=True, inner_batch_size=None,
                 n_adapt_steps=10, adapt_lr=None, adapt_batch_size=None,
                 transductive=False, batch_tasks="auto", max_epochs=10, max_time=None,
                 episodes_per_epoch=1000, meta_batch_size=25, meta_lr=0.1,
                 optimizer=torch.optim.SGD, lr_schedule=None, init_from=None,
                 callbacks=None, n_val_episodes=100, warm_start=False, device="auto",
                 verbose=1, random_state=None, **kwargs):
        self._store_init_params(locals())

    _adapted_attributes = ("adapted_params_",)
