"""Checkpoints: ``model.safetensors`` + ``config.json`` (+ ``optimizer.pt`` and ``state.json`` for
resume). Nothing is ever unpickled: weights are safetensors, the optimizer state is loaded with
``torch.load(weights_only=True)``."""
from __future__ import annotations

import hashlib
import json
import pickle  # only for the exception type of torch.load(weights_only=True)
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import A4merError
from ..io.outputs import write_atomic
from .config import TrainConfig, from_dict, to_dict


def state_hash(state: dict[str, torch.Tensor], prefix: str = "") -> str:
    """sha256 (first 16 hex) over the names, shapes and bytes of the tensors whose name starts with
    ``prefix`` (sorted by name): identifies an encoder independently of how it is stored."""
    h = hashlib.sha256()
    for k in sorted(state):
        if k.startswith(prefix):
            t = state[k].detach().to(torch.float32).contiguous().cpu()
            h.update(k.encode())
            h.update(str(tuple(t.shape)).encode())
            h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


def save_checkpoint(out: str | Path, model: torch.nn.Module, config: TrainConfig,
                    optimizer: torch.optim.Optimizer | None = None, state: dict[str, Any] | None = None) -> Path:
    """Write ``out/model.safetensors``, ``out/config.json`` and, for resume, ``out/optimizer.pt`` and
    ``out/state.json`` (step, generator state ...). Files are replaced atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    write_atomic(out / "model.safetensors", lambda p: save_file(sd, str(p), metadata={"format": "pt"}))
    write_atomic(out / "config.json", lambda p: p.write_text(json.dumps(to_dict(config), indent=1)))
    if optimizer is not None:
        write_atomic(out / "optimizer.pt", lambda p: torch.save(optimizer.state_dict(), p))
    if state is not None:
        write_atomic(out / "state.json", lambda p: p.write_text(json.dumps(state, indent=1)))
    return out


def load_config_json(path: str | Path) -> TrainConfig:
    """The TrainConfig stored in a checkpoint folder's ``config.json`` (clear error if bad)."""
    p = Path(path) / "config.json" if Path(path).is_dir() else Path(path)
    try:
        return from_dict(TrainConfig, json.loads(p.read_text()))
    except (OSError, json.JSONDecodeError) as e:
        raise A4merError(f"{p}: cannot read checkpoint config ({e})") from None


def load_weights(path: str | Path, model: torch.nn.Module) -> None:
    """Load ``model.safetensors`` into ``model`` strictly (missing/unexpected/mis-shaped tensors and
    corrupt files are clear errors)."""
    p = Path(path) / "model.safetensors" if Path(path).is_dir() else Path(path)
    try:
        sd = load_file(str(p))
    except (OSError, SafetensorError, ValueError) as e:
        raise A4merError(f"{p}: not a readable safetensors checkpoint ({e})") from None
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    extra = sorted(set(sd) - set(own))
    bad = sorted(k for k in set(own) & set(sd) if own[k].shape != sd[k].shape)
    if missing or extra or bad:
        raise A4merError(f"{p}: checkpoint does not match the model config "
                         f"(missing {missing[:3]}, unexpected {extra[:3]}, wrong shape {bad[:3]})")
    model.load_state_dict(sd, strict=True)


def load_resume(path: str | Path, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Optimizer state (``weights_only=True``) and ``state.json`` of a checkpoint folder."""
    p = Path(path)
    try:
        optimizer.load_state_dict(torch.load(p / "optimizer.pt", weights_only=True, map_location="cpu"))
        return json.loads((p / "state.json").read_text())
    except (OSError, RuntimeError, ValueError, KeyError, pickle.UnpicklingError) as e:
        raise A4merError(f"{p}: cannot resume from this checkpoint ({e})") from None
