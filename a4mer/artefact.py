"""Reading the project's safetensors artefacts (bundle, vocabulary, heads, prototypes) with one
set of clear errors. Never unpickles; safetensors is imported only when a file is read."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import A4merError

#: metadata ``format`` of the A4Mer model bundle (a4mer/assets/default.safetensors)
BUNDLE_FORMAT = "a4mer-bundle"
#: the tensor types a4mer writes (others, e.g. float8, would fail deep inside a check or the network)
DTYPES = frozenset({"F16", "BF16", "F32", "F64", "I32", "I64", "U8", "BOOL"})


def read_artefact(path: str | os.PathLike, fmt: str, what: str, framework: str = "np",
                  keys: tuple[str, ...] | None = None) -> tuple[dict[str, str], dict[str, Any]]:
    """Metadata and tensors (all, or only ``keys``) of the safetensors file ``path`` whose metadata
    ``format`` is ``fmt``. ``what`` names the artefact in errors ("motif vocabulary" ...).

    Raises :class:`A4merError` naming the file when it is missing, unreadable (truncated, not
    safetensors, a key absent) or of another format."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise A4merError(f"{path}: {what} not found")
    try:
        with safe_open(str(path), framework=framework) as f:
            meta = f.metadata() or {}
            names = list(f.keys() if keys is None else keys)
            odd = next((k for k in names if f.get_slice(k).get_dtype() not in DTYPES), None)
            if odd is not None:
                raise A4merError(f"{path}: not a readable {what} (the tensor {odd!r} is of type "
                                 f"{f.get_slice(odd).get_dtype()}, which a4mer does not write)")
            tensors = {k: f.get_tensor(k) for k in names}
    except (OSError, SafetensorError, ValueError, KeyError) as e:
        raise A4merError(f"{path}: not a readable {what} ({e})") from None
    if meta.get("format") != fmt:
        raise A4merError(f"{path}: not an a4mer {what} (format {meta.get('format')!r})")
    return meta, tensors


def check_finite(path: str | os.PathLike, tensors: dict[str, Any], what: str, inf_ok: tuple[str, ...] = ()) -> None:
    """:class:`A4merError` naming the file and the first tensor holding NaN (or inf) values among
    ``tensors`` (torch tensors or numpy arrays, as :func:`read_artefact` returns them): weights like that
    would make every answer NaN, which would then be blamed on the user's clip. ``what`` names the
    artefact; ``inf_ok``: name endings of tensors where infinity is a setting, not damage (a heads MLP's
    ``z_band`` is inf when its familiarity gate is off)."""
    for name, value in tensors.items():
        nan, inf = _nonfinite(value)
        if nan or (inf and not name.endswith(inf_ok)):
            raise A4merError(f"{path}: corrupt {what}: the weights {name!r} hold {'NaN' if nan else 'inf'} values")


def _nonfinite(value: Any) -> tuple[bool, bool]:
    """Whether a torch tensor or numpy array holds NaN, and whether it holds +-inf (non-float ones hold neither)."""
    if hasattr(value, "isnan"):  # a torch tensor
        return bool(value.isnan().any()), bool(value.isinf().any())
    import numpy as np
    arr = np.asarray(value)
    if arr.dtype.kind not in "fc":
        return False, False
    return bool(np.isnan(arr).any()), bool(np.isinf(arr).any())


def build_to_fit(path: str | os.PathLike, what: str, make: Callable[[], Any], tensors: dict[str, Any]) -> Any:
    """``make()`` (a torch module built from a file's own config), loaded strictly with ``tensors``, once the
    shapes it would have are those of ``tensors`` (:func:`check_fits`: a config asking for a huge network
    allocates nothing; a 400-byte heads file asked for 4 GB a layer). :class:`A4merError` naming the file
    otherwise."""
    check_fits(path, what, make, tensors)
    with built_from(path, what):
        net = make()
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}, strict=True)
    return net


def check_fits(path: str | os.PathLike, what: str, make: Callable[[], Any], tensors: dict[str, Any]) -> None:
    """:class:`A4merError` naming the file unless ``make()`` (a torch module built from the file's own config),
    built on torch's meta device (nothing allocated), has the weight shapes of ``tensors``. For a file
    whose module is built later (the heads of a model bundle, built on first use)."""
    import torch
    with built_from(path, what), torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in make().state_dict().items()}
    check_shapes(path, what, expected, {k: tuple(v.shape) for k, v in tensors.items()})


def check_shapes(path: str | os.PathLike, what: str, expected: dict[str, tuple[int, ...]],
                 given: dict[str, tuple[int, ...]]) -> None:
    """:class:`A4merError` naming the file unless the tensors ``given`` (name -> shape) are those ``expected``."""
    missing, extra = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
    bad = sorted(k for k in set(expected) & set(given) if expected[k] != given[k])
    if missing or extra or bad:
        raise A4merError(f"{path}: {what} weights do not match its config (missing {missing[:3]}, "
                         f"unexpected {extra[:3]}, wrong shape {bad[:3]})")


@contextlib.contextmanager
def built_from(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Around building an artefact from what :func:`read_artefact` read: malformed metadata JSON, a
    value of the wrong type, a missing key or weights of the wrong shape become one
    :class:`A4merError` line naming the file (they were tracebacks)."""
    try:
        yield
    except A4merError as e:  # e.g. a config of the wrong shape: named with the file it is in
        if str(path) in str(e):
            raise
        raise A4merError(f"{path}: {e}") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, RuntimeError, AssertionError,
            ArithmeticError) as e:
        lines = [x.strip() for x in str(e).splitlines() if x.strip()]
        detail = "; ".join(lines[:2])[:240] or type(e).__name__
        raise A4merError(f"{path}: corrupt {what} ({type(e).__name__}: {detail})") from None
