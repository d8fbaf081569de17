"""``a4mer.geometry.reproducible``: NumPy's exp, log, arccos, arctan2 ... with one result per input. NumPy
takes its scalar routine (another last bit) where the output's memory might overlap an input's, in 1.26
also where it lies right after it: ``a4mer extend`` wrote other bytes about 1 run in 30."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from a4mer.geometry import reproducible as rp

UNARY = ["exp", "log", "sin", "cos", "tanh", "arccos", "arcsin"]


def _far(fn, *args):
    """``np.fn`` written into a buffer apart from everything (the vector routine where there is one)."""
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    out = np.empty(int(np.prod(shape)) + 64)[32:32 + int(np.prod(shape))].reshape(shape)
    return getattr(np, fn)(*args, out=out)


@pytest.mark.parametrize("fn", UNARY)
def test_unary_functions_are_numpys_whatever_memory_lies_next_to_the_input(fn):
    rng = np.random.default_rng(0)
    n = 150
    buf = np.empty(3 * n)  # the input in the middle, a would-be output right after it
    x = buf[n:2 * n]
    x[:] = rng.uniform(0.01, 0.99, n)
    want = _far(fn, x).tobytes()
    adjacent = getattr(np, fn)(x, out=buf[2 * n:]).tobytes()  # NumPy itself may differ here (its scalar routine)
    got = {getattr(rp, fn)(x).tobytes() for _ in range(50)}
    assert got == {want}, (fn, adjacent == want)


def test_arctan2_and_power_with_strided_and_broadcast_inputs():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(150, 3))
    assert rp.arctan2(-f[:, 0], f[:, 1]).tobytes() == _far("arctan2", -f[:, 0], f[:, 1]).tobytes()
    base = np.abs(f) + 0.1
    assert rp.power(base, 1.7).tobytes() == _far("power", base, 1.7).tobytes()
    assert rp.arctan2(f[:, :1], f[0]).shape == (150, 3)


@pytest.mark.parametrize("x", [0.5, np.float32(0.5), np.array(0.5), np.array(0.5, np.float32), [0.1, 0.2],
                               np.linspace(0.1, 0.9, 12).reshape(3, 4), np.linspace(0.1, 0.9, 5, dtype=np.float32)])
@pytest.mark.parametrize("fn", UNARY)
def test_same_types_dtypes_and_values_as_numpy(fn, x):
    want, got = getattr(np, fn)(x), getattr(rp, fn)(x)
    assert type(got) is type(want) and np.asarray(got).dtype == np.asarray(want).dtype
    assert np.shape(got) == np.shape(want) and np.array_equal(got, _far(fn, x) if np.ndim(x) else want)


def test_mixed_dtypes_and_scalars_follow_numpy():
    a32 = np.linspace(0.1, 0.9, 4, dtype=np.float32)
    for args in ((a32, 2.0), (2.0, a32), (a32, np.arange(4)), (1.0, 2.0)):
        want, got = np.arctan2(*args), rp.arctan2(*args)
        assert type(got) is type(want) and np.asarray(got).dtype == np.asarray(want).dtype
        assert np.array_equal(got, _far("arctan2", *args) if np.ndim(got) else want)


def test_warnings_are_numpys_once():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        out = rp.log(np.array([0.0, 1.0]))
    assert out[0] == -np.inf and out[1] == 0.0
    assert [str(w.message) for w in seen] == ["divide by zero encountered in log"]
