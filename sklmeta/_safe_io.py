"""Saving and loading learners in a file that runs no code when loaded.

A pickle (or ``torch.save`` of an estimator) rebuilds objects by calling
whatever the file names, so loading one from someone else runs their code.
:func:`save_estimator` writes only plain data: the class's name, the
parameters, and the fitted state as tensors, numbers, strings, lists and
dicts. :func:`load_estimator` reads it with ``torch.load(weights_only=True)``,
which refuses anything else, accepts only the package's own learners as
classes, and rebuilds their networks from the parameters before loading
the weights into them.
"""

import importlib

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.history import History

from ._safeguards import is_fitted_name
from ._torch import resolve_device, seeded

__all__ = ["load_estimator", "save_estimator"]

_FORMAT = "sklmeta-estimator"
_VERSION = 1
# Modules whose classes may be named as parameter values (optimizers, schedules).
_CLASS_NAMESPACES = ("torch.optim", "torch.optim.lr_scheduler")
# Parameters that act only while meta-training starts or runs: not stored.
_TRANSIENT_PARAMS = ("callbacks", "init_from")
# Fitted attributes rebuilt by the next meta_fit rather than stored.
_TRANSIENT_STATE = ("optimizer_", "lr_scheduler_", "callbacks_")


def _learner_classes():
    import sklmeta
    from .base import BaseMetaEstimator

    return {
        name: getattr(sklmeta, name)
        for name in sklmeta.__all__
        if isinstance(getattr(sklmeta, name), type)
        and issubclass(getattr(sklmeta, name), BaseMetaEstimator)
    }


def save_estimator(estimator, file):
    """Save a learner, meta-trained or adapted, to a file that runs no code.

    Stores the parameters and every fitted attribute (weights, classes,
    prototypes, adapted weights, ``history_``) as plain data. Not stored:
    ``callbacks`` and ``init_from`` (they act during meta-training; the
    loaded learner has None), and the meta-optimizer's state (a warm start
    after loading begins a fresh optimizer).

    Parameters
    ----------
    estimator : learner of this package
        For instance a meta-fitted :class:`~sklmeta.ProtoNetClassifier`.
    file : str, path or writable binary file
        Where to write.

    Raises
    ------
    TypeError
        If ``estimator`` is not one of the package's learners, or holds a
        parameter that is not plain data (a custom ``encoder`` module, say):
        such an estimator can only be pickled, for use among trusted parties.

    See Also
    --------
    load_estimator : the way back.

    Examples
    --------
    >>> import io
    >>> from sklearn.datasets import load_digits
    >>> from sklmeta import ProtoNetClassifier, load_estimator, save_estimator
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> learner = ProtoNetClassifier(encoder="mlp", n_way=5, max_epochs=1,
    ...                              episodes_per_epoch=20, verbose=0,
    ...                              random_state=0).meta_fit(X[y < 7], y[y < 7])
    >>> file = io.BytesIO()
    >>> save_estimator(learner.fit(X[y >= 7][:15], y[y >= 7][:15]), file)
    >>> _ = file.seek(0)
    >>> loaded = load_estimator(file)
    >>> bool((loaded.predict(X[y >= 7]) == learner.predict(X[y >= 7])).all())
    True
    """
    classes = _learner_classes()
    name = type(estimator).__name__
    if classes.get(name) is not type(estimator):
        raise TypeError(
            f"save_estimator saves the learners of sklmeta ({', '.join(sorted(classes))}); "
            f"got {type(estimator).__module__}.{name}."
        )
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if key in _TRANSIENT_PARAMS:
            continue
        if isinstance(value, torch.nn.Module):
            _refuse(value, f"parameter {key}")
        params[key] = _encode(value, f"parameter {key}")
    state = {}
    for key, value in vars(estimator).items():
        if is_fitted_name(key) and key not in _TRANSIENT_STATE:
            state[key] = _encode(value, f"attribute {key}")
    import sklmeta

    payload = {"format": _FORMAT, "version": _VERSION, "sklmeta_version": sklmeta.__version__,
               "class": name, "params": params, "state": state}
    torch.save(payload, file)


def load_estimator(file, *, device=None):
    """Load a learner saved by :func:`save_estimator`, running no code from the file.

    Parameters
    ----------
    file : str, path or readable binary file
        A file written by :func:`save_estimator`.
    device : str, default=None
        Where the loaded learner runs (its ``device`` parameter); None keeps
        the saved value. A model saved on a GPU loads on a machine without
        one: with the saved ``'auto'`` it runs on the CPU.

    Returns
    -------
    estimator : learner
        Meta-trained (and adapted) as when saved.

    Raises
    ------
    ValueError
        If the file was not written by :func:`save_estimator`, or names a
        class or parameter value this function does not rebuild.
    pickle.UnpicklingError
        If the file holds anything but plain data (such as a pickle that
        would run code): ``torch.load(weights_only=True)`` refuses it.

    See Also
    --------
    save_estimator : the way there.

    Examples
    --------
    >>> import io
    >>> import pickle
    >>> from sklearn.datasets import load_digits
    >>> from sklmeta import ProtoNetClassifier, load_estimator, save_estimator
    >>> X, y = load_digits(return_X_y=True)
    >>> learner = ProtoNetClassifier(encoder="mlp", n_way=5, max_epochs=1,
    ...                              episodes_per_epoch=20, verbose=0,
    ...                              random_state=0).meta_fit(X[y < 7] / 16, y[y < 7])
    >>> file = io.BytesIO()
    >>> save_estimator(learner, file)
    >>> _ = file.seek(0)
    >>> load_estimator(file, device="cpu").device
    'cpu'

    A pickle, which could run code as it loads, is refused:

    >>> load_estimator(io.BytesIO(pickle.dumps(learner, protocol=2)))
    Traceback (most recent call last):
    ...
    _pickle.UnpicklingError: Weights only load failed...
    """
    payload = torch.load(file, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError("the file was not written by sklmeta.save_estimator.")
    if payload.get("version") != _VERSION:
        raise ValueError(
            f"the file has format version {payload.get('version')!r}; this version of "
            f"sklmeta reads version {_VERSION}."
        )
    classes = _learner_classes()
    cls = classes.get(payload["class"])
    if cls is None:
        raise ValueError(f"the file names the class {payload['class']!r}, not a learner "
                         "of sklmeta.")
    params = {key: _decode(value) for key, value in payload["params"].items()}
    if device is not None:
        params["device"] = device
    estimator = cls(**params)
    state = payload["state"]
    target = resolve_device(estimator.device)
    if "n_features_in_" in state:
        with seeded(0, target):
            estimator._initialize_modules(int(state["n_features_in_"]), target)
    for key, value in state.items():
        current = getattr(estimator, key, None)
        if _is_tagged(value, "module"):
            module = current if isinstance(current, torch.nn.Module) else None
            if module is None:
                module = estimator._module_from_state(key, value[1])
            module.load_state_dict(value[1])
            module.to(target).eval()
            setattr(estimator, key, module)
        else:
            setattr(estimator, key, _decode(value))
    estimator._move_to(target)
    return estimator


def _is_tagged(value, tag):
    return isinstance(value, tuple) and len(value) >= 2 and value[0] == f"__{tag}__"


def _encode(value, where):
    """``value`` as plain data that ``torch.load(weights_only=True)`` reads."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return ("__ndarray__", torch.from_numpy(np.array(value)), str(value.dtype))
        if value.dtype.kind in "UO" and all(
            isinstance(v, (str, int, float, bool)) for v in value.ravel()
        ):
            return ("__ndarray__", [_encode(v, where) for v in value.ravel().tolist()],
                    str(value.dtype), list(value.shape))
    if isinstance(value, torch.nn.Module):
        state = {k: v.detach().cpu() for k, v in value.state_dict().items()}
        return ("__module__", state)
    if isinstance(value, History):
        return ("__history__", [_encode(dict(epoch), where) for epoch in value])
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _encode(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, tuple):
        return ("__tuple__", [_encode(v, where) for v in value])
    if isinstance(value, type):
        for namespace in _CLASS_NAMESPACES:
            if getattr(importlib.import_module(namespace), value.__name__, None) is value:
                return ("__class__", namespace, value.__name__)
    if isinstance(value, Callback):
        return None
    _refuse(value, where)


def _refuse(value, where):
    raise TypeError(
        f"save_estimator stores plain data only, but {where} is {value!r} "
        f"(a {type(value).__name__}). Give it as a name with routed options "
        "(encoder='conv4', encoder__...), or pickle the estimator to share it among "
        "trusted parties only."
    )


def _decode(value):
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        tag = value[0]
        if tag == "__tuple__":
            return tuple(_decode(v) for v in value[1])
        if tag == "__ndarray__":
            if isinstance(value[1], torch.Tensor):
                return value[1].numpy().astype(np.dtype(value[2]), copy=False)
            dtype = np.dtype(value[2])
            if dtype.kind not in "UO":
                raise ValueError(f"the file holds an array of unexpected dtype {dtype}.")
            return np.array(value[1], dtype=dtype).reshape(value[3])
        if tag == "__history__":
            return History([_decode(epoch) for epoch in value[1]])
        if tag == "__class__":
            module, name = value[1], value[2]
            if module not in _CLASS_NAMESPACES:
                raise ValueError(f"the file names the class {module}.{name}, which "
                                 "load_estimator does not rebuild.")
            cls = getattr(importlib.import_module(module), name, None)
            if not isinstance(cls, type):
                raise ValueError(f"{module} has no class {name}.")
            return cls
    raise ValueError(f"the file holds a value load_estimator does not read: {value!r}.")
