"""Networks and inner loops of the gradient-based learners, as pure functions.

Adaptation never copies a module: a task's weights are a dict of tensors,
which the built-in bodies take directly (any other module runs through
:func:`torch.func.functional_call`), and every inner step maps one dict to
the next. Gradients come from :func:`torch.autograd.grad` when tasks are
looped and from :func:`torch.func.grad` when they are batched with
:func:`torch.vmap`; both give exact second-order meta-gradients.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable
from torch.func import functional_call

__all__ = [
    "ConvBody",
    "MLPBody",
    "MetaNetwork",
    "SharedRowHead",
    "TaskBatchNorm",
    "batch_moments",
]

# Inner learning rates are stored under parameter names with dots replaced,
# since ParameterDict keys cannot hold dots.
_DOT = "__"


def _is_functorch_wrapped(x):
    """Whether ``x`` is a tensor inside a torch.func transform (vmap, grad)."""
    check = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)
    return True if check is None else bool(check(x))


def batch_moments(x, n_stats=None):
    """Per-channel mean and biased variance over the first ``n_stats`` rows.

    Its higher derivatives are exact under :func:`torch.vmap` as well as in
    a loop (the tests check both against finite differences).
    """
    ref = x if n_stats is None else x[:n_stats]
    dims = [0, *range(2, x.dim())]
    var, mean = torch.var_mean(ref, dim=dims, correction=0, keepdim=True)
    return mean, var


class _LeadingRowsBatchNorm(torch.autograd.Function):
    """Batch norm of all rows with the statistics of the first ``n_stats``.

    The same function as :func:`batch_moments` followed by
    :meth:`TaskBatchNorm.normalize`, in torch's fused inference kernels: the
    backward is torch's inference-mode batch-norm backward, plus the terms
    that flow through the mean and variance into the leading rows, so the
    first derivative stays exact without materialising a full-size gradient
    for a row slice. Differentiable once: used in plain autograd only.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, n_stats, eps):
        # the training kernel's moments are faster than var_mean here; with
        # eps=0 its inverse deviation gives back the biased variance
        _, mean, invstd = torch.native_batch_norm(
            x[:n_stats], None, None, None, None, True, 0.0, 0.0
        )
        var = invstd.pow(-2)
        ctx.save_for_backward(x, weight, mean, var)
        ctx.n_stats, ctx.eps = n_stats, eps
        return F.batch_norm(x, mean, var, weight, bias, training=False, eps=eps)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x, weight, mean, var = ctx.saved_tensors
        n_stats, eps = ctx.n_stats, ctx.eps
        # the gradient with the moments held fixed; grad_weight and grad_bias
        # are exact as they stand (they do not see the moments' dependence)
        grad_x, grad_weight, grad_bias = torch.ops.aten.native_batch_norm_backward(
            grad_out.contiguous(), x, weight, mean, var, None, None, False, eps,
            [True, True, True],
        )
        # through the moments to the leading rows: d loss / d mean is
        # -w * invstd * grad_bias and d loss / d var is
        # -w * invstd**2 * grad_weight / 2, each spread over n elements
        invstd = torch.rsqrt(var + eps)
        scale = weight * invstd / (n_stats * x[0, 0].numel())
        slope = -scale * invstd * grad_weight
        shift = -scale * grad_bias - slope * mean
        shape = (1, -1) + (1,) * (x.dim() - 2)
        leading = grad_x[:n_stats]
        leading.addcmul_(x[:n_stats], slope.view(shape)).add_(shift.view(shape))
        return grad_x, grad_weight, grad_bias, None, None


class TaskBatchNorm(nn.Module):
    """Batch norm with the statistics of the current task, never running ones.

    Parameters
    ----------
    n_channels : int
        Channels normalised.
    eps : float, default=1e-5
        Added to the variance.
    """

    def __init__(self, n_channels, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_channels))
        self.bias = nn.Parameter(torch.zeros(n_channels))

    def forward(self, x, mean, var):
        return self.normalize(x, mean, var, self.weight, self.bias, self.eps)

    @staticmethod
    def normalize(x, mean, var, weight, bias, eps):
        """``(x - mean) / sqrt(var + eps) * weight + bias``, per channel."""
        shape = (1, -1) + (1,) * (x.dim() - 2)
        # per-channel scale and shift first: one pass over x instead of four
        scale = weight.view(shape) * torch.rsqrt(var + eps)
        return torch.addcmul(bias.view(shape) - mean * scale, x, scale)


class ConvBody(nn.Module):
    """Four 3x3 convolution blocks with task batch norm (Finn et al., 2017).

    Each block is a convolution with ``hidden_channels`` filters, batch norm
    from the statistics of the task, and ReLU, then downsampling: a stride
    of 2 in the convolution (the MAML paper's Omniglot network, 28x28 ->
    2x2x64) or 2x2 max-pooling (its MiniImagenet network).

    Parameters
    ----------
    input_shape : tuple of int, default=(1, 28, 28)
        ``(channels, height, width)`` of one image; inputs are flat rows.
    hidden_channels : int, default=64
        Filters per convolution.
    n_blocks : int, default=4
        Number of blocks.
    downsample : {'stride', 'max'}, default='stride'
        Strided convolutions or max-pooling.
    """

    def __init__(self, input_shape=(1, 28, 28), hidden_channels=64, n_blocks=4,
                 downsample="stride"):
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(
                f"input_shape must be (channels, height, width), got {input_shape!r}."
            )
        if downsample not in ("stride", "max"):
            raise ValueError(f"downsample must be 'stride' or 'max'; got {downsample!r}.")
        self.input_shape = tuple(int(d) for d in input_shape)
        self.downsample = downsample
        stride = 2 if downsample == "stride" else 1
        channels = [self.input_shape[0]] + [int(hidden_channels)] * int(n_blocks)
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1)
            for c_in, c_out in zip(channels, channels[1:])
        )
        self.norms = nn.ModuleList(TaskBatchNorm(c) for c in channels[1:])

    def forward(self, x, n_stats=None, stats=None):
        """Embed ``x``; batch norm uses the first ``n_stats`` rows' statistics.

        ``stats``, a list, is read from when it holds the moments of every
        layer and filled otherwise.
        """
        return self.forward_with(dict(self.named_parameters()), x, n_stats, stats)

    def forward_with(self, params, x, n_stats=None, stats=None):
        """:meth:`forward` with the weights in ``params`` (names as in
        ``named_parameters``), as :func:`~torch.func.functional_call` would
        run it, without swapping the module's parameters at every call."""
        x = x.reshape(x.shape[0], *self.input_shape)
        stride = 2 if self.downsample == "stride" else 1
        # torch's fused batch norm is faster, and exact in a plain loop; under
        # torch.func transforms its second-order gradient is not, so the
        # mean/var form is used there, and when statistics are shared. With
        # the statistics of leading rows (the support set's, for the queries
        # behind it), the fused form can be differentiated once only.
        plain = stats is None and not _is_functorch_wrapped(x)
        fused = plain and (n_stats is None or n_stats >= x.shape[0])
        leading = plain and not fused
        for i, norm in enumerate(self.norms):
            x = F.conv2d(x, params[f"convs.{i}.weight"], params[f"convs.{i}.bias"],
                         stride=stride, padding=1)
            weight, bias = params[f"norms.{i}.weight"], params[f"norms.{i}.bias"]
            if fused:
                x = F.batch_norm(x, None, None, weight, bias, training=True, eps=norm.eps)
            elif leading:
                x = _LeadingRowsBatchNorm.apply(x, weight, bias, n_stats, norm.eps)
            else:
                if stats is not None and i < len(stats):
                    mean, var = stats[i]
                else:
                    mean, var = batch_moments(x, n_stats)
                    if stats is not None:
                        stats.append((mean, var))
                x = TaskBatchNorm.normalize(x, mean, var, weight, bias, norm.eps)
            x = F.relu(x)
            if self.downsample == "max":
                x = F.max_pool2d(x, 2)
        return x.flatten(start_dim=1)


class MLPBody(nn.Module):
    """``Linear -> ReLU`` for each hidden layer; the head comes after.

    Parameters
    ----------
    in_features : int
        Input features.
    hidden_layer_sizes : tuple of int, default=(40, 40)
        Widths of the hidden layers (the MAML paper's sinusoid network).
    """

    def __init__(self, in_features, hidden_layer_sizes=(40, 40)):
        super().__init__()
        sizes = [int(in_features), *map(int, hidden_layer_sizes)]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))

    def forward(self, x, n_stats=None, stats=None):
        return self.forward_with(dict(self.named_parameters()), x, n_stats, stats)

    def forward_with(self, params, x, n_stats=None, stats=None):
        """:meth:`forward` with the weights in ``params``."""
        x = x.flatten(start_dim=1)
        for i in range(len(self.layers)):
            x = F.relu(F.linear(x, params[f"layers.{i}.weight"], params[f"layers.{i}.bias"]))
        return x


class SharedRowHead(nn.Module):
    """A classification head whose every class starts from one learned row.

    A task with ``n`` classes starts from ``n`` copies of ``weight`` and
    ``bias`` (Ye & Chao, 2022); initialised at zero. The start is the same
    for every class, so any number of classes works and relabelling classes
    relabels the predictions.
    """

    def __init__(self, in_features):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(in_features))
        self.bias = nn.Parameter(torch.zeros(()))

    def task_params(self, n_outputs):
        return {
            "head.weight": self.weight.expand(n_outputs, -1),
            "head.bias": self.bias.expand(n_outputs),
        }


class LinearHead(nn.Linear):
    """A plain linear output layer, for regression."""

    def task_params(self, n_outputs):
        return {"head.weight": self.weight, "head.bias": self.bias}


class MetaNetwork(nn.Module):
    """Everything meta-learned: body, head and (Meta-SGD) inner learning rates.

    Parameters
    ----------
    body : nn.Module
        Maps inputs to features. :class:`ConvBody` and :class:`MLPBody` take
        ``n_stats``/``stats``; any other module is called on the inputs alone.
    head : SharedRowHead or LinearHead
        The output layer.
    inner_lr : float
        Inner learning rate (the initial value when it is learned).
    learn_inner_lr : bool
        Whether every adapted parameter has its own learned learning rate
        (Meta-SGD, Li et al., 2017).
    adapted : {'all', 'head'}
        Parameters changed by the inner loop: all of them, or the head only
        (ANIL, Raghu et al., 2020).
    """

    def __init__(self, body, head, inner_lr, learn_inner_lr=False, adapted="all"):
        super().__init__()
        self.body = body
        self.head = head
        self.adapted = adapted
        # a frozen body (requires_grad=False, e.g. a PretrainedEncoder) is
        # neither meta-trained nor adapted
        self.frozen = frozenset(f"body.{name}" for name, p in body.named_parameters()
                                if not p.requires_grad)
        self.stats_aware = isinstance(body, (ConvBody, MLPBody))
        self.has_conv = any(isinstance(m, nn.modules.conv._ConvNd) for m in body.modules())
        self.fixed_lr = float(inner_lr)
        self.inner_lrs = None
        if learn_inner_lr:
            self.inner_lrs = nn.ParameterDict({
                name.replace(".", _DOT): nn.Parameter(torch.full_like(p, float(inner_lr)))
                for name, p in self.named_parameters()
                if self._is_adapted(name)
            })

    def _is_adapted(self, name):
        return name.startswith("head.") or (
            self.adapted == "all" and name.startswith("body.")
            and name not in getattr(self, "frozen", ()))

    def task_params(self, n_outputs, detach=False):
        """The weights a task starts from, as a dict; the head fitted to ``n_outputs``."""
        params = {
            f"body.{name}": p for name, p in self.body.named_parameters()
        }
        params.update(self.head.task_params(n_outputs))
        if detach:
            params = {k: v.detach() for k, v in params.items()}
        return params

    def learning_rates(self, names):
        """Inner learning rate of each adapted parameter: a tensor or a float."""
        if self.inner_lrs is None:
            return {name: self.fixed_lr for name in names}
        return {name: self.inner_lrs[name.replace(".", _DOT)] for name in names}

    def adapted_names(self, params):
        return [name for name in params if self._is_adapted(name)]

    def features(self, params, x, n_stats=None, stats=None):
        body = {k[5:]: v for k, v in params.items() if k.startswith("body.")}
        # functional_call swaps every parameter in and out at each call, about
        # a third of a one-image Conv4 forward here; the built-in bodies take
        # the weights directly (a subclass may override forward, so not it)
        if type(self.body) in (ConvBody, MLPBody):
            return self.body.forward_with(body, x, n_stats, stats)
        if self.stats_aware:
            return functional_call(self.body, body, (x,), {"n_stats": n_stats, "stats": stats})
        return functional_call(self.body, body, (x,))

    @staticmethod
    def head_output(params, z):
        return F.linear(z, params["head.weight"], params["head.bias"])

    def output(self, params, x, n_stats=None, stats=None):
        return self.head_output(params, self.features(params, x, n_stats, stats))


def task_loss(output, y):
    """Cross-entropy for class indices, mean squared error for float targets."""
    if y.dtype == torch.long:
        return F.cross_entropy(output, y)
    return F.mse_loss(output.squeeze(-1), y)


def accuracy(output, y):
    """Fraction of correct classes (a tensor; NaN for regression)."""
    if y.dtype == torch.long:
        return (output.argmax(dim=-1) == y).to(output.dtype).mean()
    return torch.full((), math.nan, dtype=output.dtype, device=output.device)


def gradient(loss_fn, params, *, create_graph, batched):
    """Gradient of a loss w.r.t. a dict of tensors, with the loss and an aux value.

    ``loss_fn(params)`` returns ``(loss, aux)``. ``batched`` uses
    :func:`torch.func.grad_and_value` (composable with :func:`torch.vmap`);
    otherwise :func:`torch.autograd.grad`, which needs ``params`` to require
    grad. Without ``create_graph`` the gradients are constants: first-order.
    """
    if batched:
        grads, (loss, aux) = torch.func.grad_and_value(loss_fn, has_aux=True)(params)
        if not create_graph:
            grads = {k: g.detach() for k, g in grads.items()}
        return grads, loss, aux
    loss, aux = loss_fn(params)
    values = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
    return dict(zip(params, values)), loss, aux


def sgd_steps(network, params, n_steps, loss_of, *, create_graph, batched, lr=None,
              first_grads=None, detach=False, guard=None, checkpoint=False):
    """``n_steps`` of gradient descent on the adapted parameters (Finn et al., eq. 1).

    ``loss_of(params)`` gives the support loss; only the names the network
    adapts change, each with its (possibly learned) learning rate, or with
    ``lr`` when given: one float for all, or a dict of rates by name.
    ``first_grads``, constant gradients of the first step computed beforehand
    (first-order only), replace that step's support pass. ``detach`` cuts
    the graph after every step, so that memory does not grow with
    ``n_steps`` where no gradient flows back to ``params`` (adaptation).
    ``guard``, an :class:`~sklmeta._safeguards.AdaptationGuard` (with
    ``detach``), checks each step's support loss: the weights of the last
    step it accepts are returned. ``checkpoint`` (second order, not
    batched) keeps only each step's output weights for the backward pass
    and recomputes the step there: memory no longer grows with the
    activations of every step, for about one more support pass per step.
    """
    names = network.adapted_names(params)
    if lr is None:
        lrs = network.learning_rates(names)
    elif isinstance(lr, dict):
        lrs = lr
    else:
        lrs = {name: lr for name in names}
    accepted = params
    for step in range(n_steps):
        adapted = {name: params[name] for name in names}
        if step == 0 and first_grads is not None:
            params = {**params, **{k: adapted[k] - lrs[k] * first_grads[k] for k in names}}
            continue
        if checkpoint and create_graph and not batched:
            params = _checkpointed_step(params, names, lrs, loss_of)
            continue
        if detach:
            adapted = {k: v.detach().requires_grad_() for k, v in adapted.items()}
        elif not batched and not create_graph:
            adapted = {k: v if v.requires_grad else v.detach().requires_grad_()
                       for k, v in adapted.items()}

        def loss_fn(sub, frozen=params):
            loss = loss_of({**frozen, **sub})
            return loss, loss.detach()

        grads, loss, _ = gradient(loss_fn, adapted, create_graph=create_graph, batched=batched)
        if guard is not None:
            if not guard.accept(loss, step):
                return accepted
            accepted = params
        if detach:
            with torch.no_grad():
                params = {**params, **{k: adapted[k] - lrs[k] * grads[k] for k in names}}
        else:
            params = {**params, **{k: adapted[k] - lrs[k] * grads[k] for k in names}}
    return _checked_last_step(params, accepted, loss_of, guard, n_steps)


def _checkpointed_step(params, names, lrs, loss_of):
    """One second-order inner step under activation checkpointing."""

    def step(*values):
        current = {**params, **dict(zip(names, values))}
        grads = torch.autograd.grad(loss_of(current), values, create_graph=True)
        return tuple(v - lrs[k] * g for k, v, g in zip(names, values, grads))

    new = torch.utils.checkpoint.checkpoint(step, *(params[k] for k in names),
                                            use_reentrant=False)
    return {**params, **dict(zip(names, new))}


def _checked_last_step(params, accepted, loss_of, guard, n_steps):
    """``params``, the weights after the last step, or ``accepted``, those
    of the step before, when their support loss fails ``guard``."""
    if guard is None or n_steps == 0:
        return params
    with torch.no_grad():
        loss = loss_of(params)
    return params if guard.accept(loss, n_steps) else accepted


def descent_steps(network, params, n_steps, loss_of, lr, *, optimizer, batched,
                  batches=None, betas=(0.0, 0.999), eps=1e-8, adam_state=None, guard=None):
    """``n_steps`` of SGD or Adam on detached weights (Reptile's inner loop).

    ``batches``, when given, holds one minibatch index tensor per step,
    passed to ``loss_of(params, index)``; else the index is None. Adam's
    first moment starts at zero; its second moment and step count start
    from ``adam_state``, a pair ``(moments, steps)`` with ``moments`` a dict
    of tensors shaped like ``params`` (left unchanged), else from zero.
    Returns the adapted weights, the last step's loss and auxiliary output,
    and the second moments reached (an empty dict for SGD). ``guard`` (at
    adaptation) stops at the first step whose loss it refuses and keeps the
    weights of the step before, as in :func:`sgd_steps`.
    """
    names = network.adapted_names(params)
    params = {k: v.detach() for k, v in params.items()}
    m = [torch.zeros_like(params[k]) for k in names]
    if adam_state is None:
        v, start = [torch.zeros_like(params[k]) for k in names], 0
    else:
        v, start = [adam_state[0][k].clone() for k in names], adam_state[1]
    loss = aux = None
    accepted = params
    for t in range(start + 1, start + n_steps + 1):
        index = None if batches is None else batches[t - start - 1]
        adapted = {k: params[k] if batched else params[k].requires_grad_() for k in names}

        def loss_fn(sub, frozen=params, index=index):
            return loss_of({**frozen, **sub}, index)

        grads, loss, aux = gradient(loss_fn, adapted, create_graph=False, batched=batched)
        if guard is not None:
            if not guard.accept(loss, t - start - 1):
                params = accepted
                break
            accepted = params
        weights = [adapted[k].detach() for k in names]
        grads = [grads[k] for k in names]
        if optimizer == "sgd":
            new = _sgd_update(weights, grads, lr, batched)
        else:
            new = _adam_update(weights, grads, m, v, t, lr, betas, eps, batched)
        params = {**params, **dict(zip(names, new))}
    else:
        params = _checked_last_step(
            params, accepted, lambda p: loss_of(p, None)[0], guard, n_steps
        )
    if loss is not None:
        loss, aux = loss.detach(), aux.detach()
    moments = {} if optimizer == "sgd" else dict(zip(names, v))
    return params, loss, aux, moments


def _sgd_update(weights, grads, lr, batched):
    if batched:
        return [w - lr * g for w, g in zip(weights, grads)]
    # one multi-tensor call instead of one small op per weight: on a CPU, Conv4's
    # 18 tensors made the per-op overhead a sizeable part of a 10-image step
    return torch._foreach_add(weights, grads, alpha=-lr)


def _adam_update(weights, grads, m, v, t, lr, betas, eps, batched):
    """One Adam step; updates the moment lists ``m`` and ``v`` in place."""
    beta1, beta2 = betas
    step_size = lr / (1 - beta1 ** t)
    root_correction = math.sqrt(1 - beta2 ** t)
    if batched:  # the multi-tensor ops have no vmap rule
        for i, g in enumerate(grads):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
        return [w - step_size * mi / ((vi.sqrt() / root_correction) + eps)
                for w, mi, vi in zip(weights, m, v)]
    torch._foreach_lerp_(m, grads, 1 - beta1)
    torch._foreach_mul_(v, beta2)
    torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
    denominators = torch._foreach_sqrt(v)
    torch._foreach_div_(denominators, root_correction)
    torch._foreach_add_(denominators, eps)
    return torch._foreach_addcdiv(weights, m, denominators, value=-step_size)
