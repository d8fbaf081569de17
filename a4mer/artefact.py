"""Reading the project's safetensors artefacts (bundle, vocabulary, heads, prototypes) with one
set of clear errors. Never unpickles; safetensors is imported only when a file is read."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import A4merError

#: metadata ``format`` of the A4Mer model bundle (a4mer/assets/default.safetensors)
BUNDLE_FORMAT = "a4mer-bundle"


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
            tensors = {k: f.get_tensor(k) for k in (f.keys() if keys is None else keys)}
    except (OSError, SafetensorError, ValueError, KeyError) as e:
        raise A4merError(f"{path}: not a readable {what} ({e})") from None
    if meta.get("format") != fmt:
        raise A4merError(f"{path}: not an a4mer {what} (format {meta.get('format')!r})")
    return meta, tensors
