"""Heads files and the heads in a model bundle: reading, finding the shipped one, and the ``heads.*`` tensors.

A heads file (``heads.safetensors``, written by :meth:`~.inbetween.LearnedHeads.save`) holds the
decoder weights (float16) and metadata ``format`` ("a4mer-heads"), ``config`` (DecoderConfig JSON),
``gates`` (JSON: task -> whether the learned correction is used; otherwise the classical curve),
``encoder_hash`` (the A4Mer bundle the heads were trained with, "" when not token-conditioned) and
``training`` (JSON summary); :func:`load_heads` reads it back strictly and :func:`default_heads` gives
the packaged one (``a4mer/assets/heads.safetensors``) or the classical curves. An A4Mer bundle can
carry the heads itself as ``heads.decoder.*`` weights and a ``heads.meta`` JSON tensor
(:func:`heads_to_tensors`, :func:`heads_from_tensors`); :func:`heads_for` picks a model's heads.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import A4merError
from .inbetween import FORMAT, TASKS, LearnedHeads


def read_heads_metadata(path: str | os.PathLike) -> dict:
    """Metadata of a heads file (reads no weights; no torch needed)."""
    from ..artefact import read_artefact
    return read_artefact(path, FORMAT, "heads file", keys=())[0]


def load_heads(path: str | os.PathLike) -> LearnedHeads:
    """Load a heads file (strict: every weight must match the stored config)."""
    from ..artefact import build_to_fit, built_from, check_finite, read_artefact
    from .decoder import CorrectionDecoder, DecoderConfig
    path = Path(path)
    meta, tensors = read_artefact(path, FORMAT, "heads file", framework="pt")
    check_finite(path, tensors, "heads file", inf_ok=("z_band",))  # inf: the familiarity gate is off
    with built_from(path, "heads file"):
        cfg = DecoderConfig.from_dict(json.loads(meta["config"]))
    net = build_to_fit(path, "heads file", lambda: CorrectionDecoder(cfg), tensors)
    with built_from(path, "heads file"):
        gates = json.loads(meta.get("gates", "{}")) or None
        if gates is not None and not isinstance(gates, dict):
            raise TypeError(f"gates must be a table, got {gates!r}")
        return LearnedHeads(net, gates, {"config": meta["config"], "encoder_hash": meta.get("encoder_hash", ""),
                                         "training": json.loads(meta.get("training", "{}")), "path": str(path)})


def find_heads() -> Path | None:
    """The bundled heads file (``a4mer/assets/heads.safetensors``) if present."""
    from ..shipped import HEADS
    return HEADS if HEADS.is_file() else None


def default_heads() -> LearnedHeads:
    """The bundled heads, or the classical curves (with a note in ``meta``) when none is bundled."""
    p = find_heads()
    if p is None:
        return LearnedHeads(None, {t: False for t in TASKS}, {"note": "no bundled heads: classical curves"},
                            name="classical")
    return load_heads(p)


def heads_to_tensors(heads: LearnedHeads, encoder_hash: str = "") -> dict:
    """The heads as ``heads.*`` tensors for the A4Mer bundle (which passes ``heads.*`` through):
    ``heads.decoder.<param>`` weights and ``heads.meta`` (uint8 JSON: config, gates, encoder hash)."""
    import torch
    if heads.net is None:
        raise A4merError("nothing to bundle: no decoder")
    meta = {"format": FORMAT, "config": heads.net.cfg.to_json(), "gates": heads.gates, "encoder_hash": encoder_hash}
    out = {f"heads.decoder.{k}": v.detach().half().contiguous() for k, v in heads.net.state_dict().items()}
    out["heads.meta"] = torch.tensor(list(json.dumps(meta).encode()), dtype=torch.uint8)
    return out


#: what the heads embedded in a model bundle are called in errors
BUNDLE_HEADS = "model bundle heads"


def _bundled(tensors: dict, path: str | os.PathLike) -> tuple[dict, Any, dict | None, dict]:
    """``heads.meta`` (JSON), its DecoderConfig and gates, and the decoder weights (``heads.decoder.*`` without
    the prefix) of a bundle's heads tensors; malformed metadata is one :class:`A4merError` naming ``path``."""
    from ..artefact import built_from
    from .decoder import DecoderConfig
    if "heads.meta" not in tensors:
        raise A4merError(f"{path}: no heads in this bundle (missing heads.meta)")
    with built_from(path, BUNDLE_HEADS):
        meta = json.loads(bytes(tensors["heads.meta"].tolist()).decode())
        cfg = DecoderConfig.from_dict(json.loads(meta["config"]))
        gates = meta.get("gates")  # (as heads_to_tensors wrote it: a table)
        if gates is not None and not isinstance(gates, dict):
            raise TypeError(f"gates must be a table, got {gates!r}")
    state = {k[len("heads.decoder."):]: v for k, v in tensors.items() if k.startswith("heads.decoder.")}
    return meta, cfg, gates, state


def check_bundled_heads(tensors: dict, path: str | os.PathLike) -> None:
    """:class:`A4merError` naming the bundle ``path`` unless its ``heads.*`` tensors are heads whose weights fit
    their config, checked on torch's meta device (:func:`a4mer.artefact.check_fits`): the bundle's config is its
    own, as a heads file's is. Run when the bundle is loaded; the heads are built on first use."""
    from ..artefact import check_fits
    from .decoder import CorrectionDecoder
    _, cfg, _, state = _bundled(tensors, path)
    check_fits(path, BUNDLE_HEADS, lambda: CorrectionDecoder(cfg), state)


def heads_from_tensors(tensors: dict, path: str | os.PathLike = "model bundle") -> LearnedHeads:
    """Inverse of :func:`heads_to_tensors` (strict load, built only once the weights fit their config:
    :func:`a4mer.artefact.build_to_fit`); errors name ``path``, the bundle the tensors are from."""
    from ..artefact import build_to_fit
    from .decoder import CorrectionDecoder
    meta, cfg, gates, state = _bundled(tensors, path)
    net = build_to_fit(path, BUNDLE_HEADS, lambda: CorrectionDecoder(cfg), state)
    return LearnedHeads(net, gates, {"config": meta["config"], "encoder_hash": meta.get("encoder_hash", "")})


def heads_for(model) -> LearnedHeads:
    """Heads of an :class:`a4mer.model.A4Mer`: its bundled ``heads.*`` tensors when present, else the
    packaged heads file, else the classical curves."""
    tensors = getattr(model, "heads", None) or {}
    if "heads.meta" in tensors:
        return heads_from_tensors(tensors, model.info.get("source") or "model bundle")
    return default_heads()
