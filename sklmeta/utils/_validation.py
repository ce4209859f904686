"""Checks of user-given values that raise errors naming the argument."""

import numbers

import numpy as np

__all__ = ["check_bool", "check_int", "check_float", "check_option"]


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
