"""Saving and loading a meta-estimator: pickles and skorch-style files."""

import inspect
import io

import torch
from skorch.history import History

from ._torch import resolve_device
from .exceptions import NotInitializedError

__all__ = ["PersistenceMixin", "TorchPicklingMixin"]


class TorchPicklingMixin:
    """Pickling of torch state that survives a move from GPU to CPU, and
    that fills in parameters added since the object was pickled."""

    def __getstate__(self):
        state = super().__getstate__()
        version = state.pop("_sklearn_version", None)
        buffer = io.BytesIO()
        torch.save(state, buffer)
        packed = {"_torch_payload": buffer.getvalue()}
        if version is not None:
            packed["_sklearn_version"] = version
        return packed

    def __setstate__(self, state):
        state = dict(state)
        payload = state.pop("_torch_payload", None)
        if payload is not None:
            # a model fitted on a GPU unpickles on a machine without one
            map_location = None if torch.cuda.is_available() else "cpu"
            state.update(
                torch.load(io.BytesIO(payload), map_location=map_location, weights_only=False)
            )
        # a parameter added since the estimator was pickled takes its default
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if name not in state and param.default is not inspect.Parameter.empty:
                state[name] = param.default
        super().__setstate__(state)


class PersistenceMixin(TorchPicklingMixin):
    """Pickling, and skorch's ``save_params``/``load_params`` for the
    meta-learned modules."""

    def save_params(self, f_params=None, f_optimizer=None, f_history=None,
                    use_safetensors=False, **kwargs):
        """Save the meta-learned weights, optimizer state or history to files.

        The same interface as skorch's ``save_params``, so skorch's
        ``Checkpoint`` callback works. To save the whole estimator, adapted
        state included, pickle it (``pickle`` or ``joblib``).

        Parameters
        ----------
        f_params : str, path or file-like, default=None
            Where to save the weights of the meta-learned module.
        f_optimizer : str, path or file-like, default=None
            Where to save the meta-optimizer state.
        f_history : str, path or file-like, default=None
            Where to save ``history_`` as JSON.
        use_safetensors : bool, default=False
            Accepted for skorch compatibility; only False is supported.
        **kwargs
            Other ``f_<name>`` targets for ``<name>_`` attributes, as in
            skorch; names this estimator lacks (``f_criterion``) are skipped.
        """
        _check_no_safetensors(use_safetensors)
        for target, obj in self._save_targets(f_params, f_optimizer, kwargs, "save_params"):
            torch.save(obj.state_dict(), target)
        if f_history is not None:
            self._require_modules("save_params")
            self.history_.to_file(f_history)

    def load_params(self, f_params=None, f_optimizer=None, f_history=None,
                    checkpoint=None, use_safetensors=False, **kwargs):
        """Load weights, optimizer state or history saved by :meth:`save_params`.

        The estimator must already hold a network of the same shape, for
        instance after ``meta_fit`` with ``max_epochs=0``.

        Parameters
        ----------
        f_params, f_optimizer, f_history : str, path or file-like, default=None
            Files written by :meth:`save_params`.
        checkpoint : skorch.callbacks.Checkpoint, default=None
            Load the files of this checkpoint; other file arguments are then
            ignored.
        use_safetensors : bool, default=False
            Accepted for skorch compatibility; only False is supported.
        **kwargs
            Other ``f_<name>`` sources, as in skorch.
        """
        _check_no_safetensors(use_safetensors)
        if checkpoint is not None:
            self._require_modules("load_params")
            if checkpoint.f_history is not None:
                # the history first: file names may be formatted from it
                self.history_ = History.from_file(checkpoint.f_history_)
            files = checkpoint.get_formatted_files(self)
            f_params = files.get("f_params")
            f_optimizer = files.get("f_optimizer")
            f_history = files.get("f_history")
            kwargs = {}
        device = resolve_device(self.device)
        for source, obj in self._save_targets(f_params, f_optimizer, kwargs, "load_params"):
            obj.load_state_dict(torch.load(source, map_location=device, weights_only=True))
        if f_history is not None:
            self._require_modules("load_params")
            self.history_ = History.from_file(f_history)

    def _require_modules(self, caller):
        if not hasattr(self, "encoder_"):
            raise NotInitializedError(
                f"{type(self).__name__} has no network yet, so {caller} cannot run; "
                "call meta_fit (max_epochs=0 builds the network untrained) or fit first."
            )

    def _save_targets(self, f_params, f_optimizer, kwargs, caller):
        files = {"module_": f_params, "optimizer_": f_optimizer}
        for key, value in kwargs.items():
            if not key.startswith("f_"):
                raise TypeError(
                    f"{caller} got an unexpected argument {key!r}; did you mean 'f_{key}'?"
                )
            name = "module_" if key == "f_module" else key[2:] + "_"
            files[name] = value
        pairs = []
        for name, target in files.items():
            if target is None:
                continue
            self._require_modules(caller)
            obj = getattr(self, name, None)
            if obj is not None and hasattr(obj, "state_dict"):
                pairs.append((target, obj))
        return pairs


def _check_no_safetensors(use_safetensors):
    if use_safetensors:
        raise ValueError(
            "use_safetensors=True is not supported; weights are saved with torch.save."
        )

