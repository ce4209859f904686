"""Checks of user-given values that raise errors naming the argument."""

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

__all__ = [
    "check_bool",
    "check_float",
    "check_float32_range",
    "check_int",
    "check_label_types",
    "check_option",
    "check_seed",
    "validate_inputs",
]

# The networks compute in float32: larger finite values become inf there.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_int(value, name, *, min_value=None, allow_none=False):
    """Return ``value`` as an int, or raise naming ``name`` and the bound."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an int, got {value!r} of type {type(value).__name__}."
        )
    if min_value is not None and value < min_value:
        raise ValueError(f"{name} must be >= {min_value}, got {value}.")
    return int(value)


def check_float(value, name, *, min_value=None, max_value=None, strict_min=False,
                allow_none=False):
    """Return ``value`` as a float, or raise naming ``name`` and the range."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number, got {value!r} of type "
            f"{type(value).__name__}."
        )
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}.")
    if min_value is not None:
        too_small = value <= min_value if strict_min else value < min_value
        if too_small:
            sign = ">" if strict_min else ">="
            raise ValueError(f"{name} must be {sign} {min_value}, got {value}.")
    if max_value is not None and value > max_value:
        raise ValueError(f"{name} must be <= {max_value}, got {value}.")
    return value


def check_bool(value, name):
    """Return ``value`` as a bool, or raise naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}.")
    return bool(value)


def check_option(value, name, options):
    """Return ``value`` if it is one of ``options``, else raise naming ``name``."""
    if not isinstance(value, str) or value not in options:
        allowed = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}.")
    return value


def check_seed(random_state, name="random_state"):
    """Return ``random_state`` as a RandomState, or raise naming ``name``."""
    try:
        return check_random_state(random_state)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be None, an int in [0, 2**32 - 1] or a "
            f"numpy.random.RandomState; got {random_state!r}."
        ) from None


def check_float32_range(array, name):
    """Raise unless every value of ``array`` fits in float32.

    Finite float64 values beyond float32's range would become inf in the
    cast to the networks' dtype, and every output NaN after it.
    """
    array = np.asarray(array)
    if array.dtype.kind != "f" or array.dtype.itemsize <= 4 or array.size == 0:
        return
    largest = float(np.nanmax(np.abs(array)))
    if largest > FLOAT32_MAX:
        raise ValueError(
            f"{name} has values up to {largest:.3g} in magnitude, beyond float32's "
            f"range ({FLOAT32_MAX:.3g}) in which the networks compute; rescale it, "
            "for instance with sklearn.preprocessing.StandardScaler."
        )


def check_label_types(y, name):
    """Raise naming ``name`` when the labels mix types (say ints and strs),
    which cannot be sorted into classes."""
    if isinstance(y, (list, tuple)):
        # numpy would turn [0, "a"] into strings silently
        y = np.array(y, dtype=object)
    y = np.asarray(y)
    if y.dtype != object or y.size == 0:
        return
    kinds = {
        "str" if isinstance(v, str)
        else "number" if isinstance(v, numbers.Number)
        else type(v).__name__
        for v in y.ravel()
    }
    if len(kinds) > 1:
        raise TypeError(
            f"{name} mixes labels of the types {sorted(kinds)}; use labels of one "
            "type (all strings, or all numbers)."
        )


def validate_inputs(estimator, X, y="no_validation", *, reset, name="X"):
    """scikit-learn's ``validate_data`` in float32 or float64, then the
    checks it lacks: the float32 range, and labels of one type.

    Returns what ``validate_data`` returns: ``X``, or ``(X, y)``.
    """
    if isinstance(y, str) and y == "no_validation":
        X = validate_data(estimator, X, reset=reset, dtype=[np.float32, np.float64])
        check_float32_range(X, name)
        return X
    check_label_types(y, "y")
    X, y = validate_data(estimator, X, y, reset=reset, dtype=[np.float32, np.float64])
    check_float32_range(X, name)
    check_float32_range(y, "y")
    return X, y
