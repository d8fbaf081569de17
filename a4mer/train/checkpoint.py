"""Checkpoints: ``model.safetensors`` + ``config.json`` (+ ``optimizer.pt`` and ``state.json`` for
resume). Nothing is ever unpickled: weights are safetensors, the optimizer state is loaded with
``torch.load(weights_only=True)``."""
from __future__ import annotations

import hashlib
import json
import pickle  # only for the exception type of torch.load(weights_only=True)
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import A4merError
from ..io.outputs import write_atomic, write_safetensors_atomic
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
    ``out/state.json`` (step, generator state ..., and ``model_hash``: which weights it belongs to). Each
    file is replaced atomically, ``state.json`` last: a run stopped between them leaves weights newer
    than the state, which :func:`check_state_matches` names on resume."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    write_safetensors_atomic(out / "model.safetensors", lambda p: save_file(sd, p, metadata={"format": "pt"}))
    write_atomic(out / "config.json", lambda p: p.write_text(json.dumps(to_dict(config), indent=1), encoding="utf-8", newline="\n"))
    if optimizer is not None:
        write_atomic(out / "optimizer.pt", lambda p: torch.save(optimizer.state_dict(), p))
    if state is not None:
        state = {**state, "model_hash": state_hash(sd)}
        write_atomic(out / "state.json", lambda p: p.write_text(json.dumps(state, indent=1), encoding="utf-8", newline="\n"))
    return out


def load_config_json(path: str | Path) -> TrainConfig:
    """The TrainConfig stored in a checkpoint folder's ``config.json`` (clear error if bad)."""
    from .config import check_ranges
    p = Path(path) / "config.json" if Path(path).is_dir() else Path(path)
    try:
        config = from_dict(TrainConfig, json.loads(p.read_text(encoding="utf-8")))
        check_ranges(config)  # as --set values are checked: a value that would fail deep in the model
    except (OSError, ValueError, RecursionError) as e:
        raise A4merError(f"{p}: cannot read checkpoint config ({e})") from None
    except A4merError as e:
        raise A4merError(f"{p}: {e}") from None
    return config


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
    kind = sorted(k for k in own if own[k].is_floating_point() != sd[k].is_floating_point())  # ints: truncated
    if kind:
        raise A4merError(f"{p}: checkpoint weights of another type ({kind[0]}: {sd[kind[0]].dtype}, "
                         f"expected {own[kind[0]].dtype})")
    from ..artefact import check_finite
    check_finite(p, sd, "training checkpoint")  # a run resumed, or a model loaded, from NaN weights
    model.load_state_dict(sd, strict=True)


def load_resume(path: str | Path, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Optimizer state (``weights_only=True``) and ``state.json`` of a checkpoint folder."""
    p = Path(path)
    try:
        with warnings.catch_warnings():  # torch's note on an unexpected pickle protocol: the error says it
            warnings.simplefilter("ignore", UserWarning)
            optimizer.load_state_dict(torch.load(p / "optimizer.pt", weights_only=True, map_location="cpu"))
    except pickle.UnpicklingError:  # torch's message advises unpickling it: never
        raise A4merError(f"{p / 'optimizer.pt'}: holds Python objects besides tensors, which a4mer never "
                         "unpickles; cannot resume from it") from None
    except (OSError, RuntimeError, ValueError, KeyError, EOFError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise A4merError(f"{p / 'optimizer.pt'}: not this run's optimizer state, cannot resume ({first})") from None
    return read_state(p)


def check_state_matches(net: torch.nn.Module, state: dict[str, Any]) -> str | None:
    """A note when the weights just loaded are not those ``state`` (its step, optimizer and generator) was
    saved with: the run was stopped while its checkpoint was written, after the weights and before
    ``state.json``. None when they match (or the state predates the hash)."""
    want = state.get("model_hash")
    if want is None or state_hash(net.state_dict()) == want:
        return None
    return (f"the weights in model.safetensors are newer than state.json (step {state['step']}): the run was stopped "
            "while a checkpoint was written; it resumes from those weights with the step, optimizer and random "
            f"state of step {state['step']}, so it will not end exactly as an uninterrupted run would")


def read_state(path: str | Path) -> dict[str, Any]:
    """``state.json`` of a checkpoint folder, checked: ``step`` (int >= 0), ``elapsed`` (s >= 0),
    ``world`` (>= 1) and a valid generator state ``rng``; :class:`A4merError` naming the file."""
    p = Path(path)
    try:
        state = json.loads((p / "state.json").read_text(encoding="utf-8"))
        if not isinstance(state, dict):
            raise ValueError("not a table")
        state["step"] = int(state["step"])
        state["elapsed"] = float(state.get("elapsed", 0.0))
        state["world"] = int(state.get("world", 1))
        if state["step"] < 0 or not state["elapsed"] >= 0 or state["world"] < 1:
            raise ValueError(f"step {state['step']}, elapsed {state['elapsed']}, world {state['world']}")
        np.random.default_rng().bit_generator.state = state["rng"]  # a valid generator state
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise A4merError(f"{p / 'state.json'}: cannot resume from this checkpoint ({type(e).__name__}: {e})") from None
    return state
