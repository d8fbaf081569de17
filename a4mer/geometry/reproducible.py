"""NumPy's transcendental functions with the same last bit from run to run.

NumPy computes ``exp``, ``log``, ``arccos``, ``arctan2``, ``power`` ... with a vectorised routine or a
scalar one, which differ in the last bit, and takes the scalar one where the memory it writes to might
overlap an input's: in NumPy 1.26 on AVX-512 CPUs also where it merely lies right after it. Where a new
array lands is up to the allocator, so the same clip gave other bytes now and then (``a4mer extend``:
about 1 run in 30). These functions write into a fresh buffer with a margin on each side, which no
input can touch, so the routine, and the result, depend on the input only. Same arguments, broadcasting,
dtypes and scalar results as the NumPy functions.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

#: elements of margin on each side of a result (64 bytes of float64: a cache line, a vector register)
_MARGIN = 8


def _apart(ufunc: np.ufunc) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        with np.errstate(all="ignore"):  # the dtype NumPy gives these arguments (the real call warns)
            dtype = ufunc(*(np.ones(1, a.dtype) if isinstance(a, np.ndarray) and a.ndim else a for a in args)).dtype
        shape = np.broadcast_shapes(*(np.shape(a) for a in args))
        n = int(np.prod(shape))
        out = np.empty(n + 2 * _MARGIN, dtype)[_MARGIN:_MARGIN + n].reshape(shape)
        ufunc(*args, out=out)
        return out[()] if out.ndim == 0 else out

    call.__name__ = call.__qualname__ = ufunc.__name__
    call.__doc__ = f"``np.{ufunc.__name__}``, the same last bit whatever memory it lands in."
    return call


exp, log, sin, cos, tanh = _apart(np.exp), _apart(np.log), _apart(np.sin), _apart(np.cos), _apart(np.tanh)
arccos, arcsin, arctan2, power = _apart(np.arccos), _apart(np.arcsin), _apart(np.arctan2), _apart(np.power)
