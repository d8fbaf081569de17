"""Configs of the A4Mer model and its training (frozen dataclasses, strict from_dict, --set k=v)."""
from __future__ import annotations

import difflib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import from_dict, to_dict
from ..data.dataset import DataConfig
from ..errors import A4merError
from ..jepa.masking import MaskConfig
from ..jepa.model import StageConfig
from ..motifs.config import MotifConfig
from ..nn.segment_encoder import EncoderConfig
from ..segment.atoms import AtomConfig

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ModelConfig:
    """atoms: boundary detector; stage1: atom level (pose features -> atom tokens); stage2: motif
    level (atom tokens -> motif tokens; its encoder.in_dim must equal stage1's width); motifs: mining."""

    atoms: AtomConfig = field(default_factory=AtomConfig)
    stage1: StageConfig = field(default_factory=StageConfig)
    stage2: StageConfig = field(default_factory=lambda: StageConfig(
        encoder=EncoderConfig(in_dim=128, dim=128, layers=1), latent_layers=1, predictor_layers=1))
    motifs: MotifConfig = field(default_factory=MotifConfig)


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warm-up then cosine decay; ``steps`` = stage-1 steps, ``stage2_steps`` =
    joint (stage 1 + 2, hierarchical masking) steps after motif mining (0 = no stage 2)."""

    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup_steps: int = 200
    batch_size: int = 32
    steps: int = 3000
    stage2_steps: int = 0
    grad_clip: float = 1.0
    ema_start: float = 0.996
    ema_end: float = 1.0


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs (saved as config.json beside the weights)."""

    schema_version: int = SCHEMA_VERSION
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    seed: int = 0
    threads: int = 0
    log_every: int = 10
    checkpoint_every: int = 500
    time_limit_s: float = 0.0


def apply_sets(d: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (value parsed as JSON, else taken as a string)."""
    d = json.loads(json.dumps(d))
    for s in sets:
        if "=" not in s:
            raise A4merError(f"--set expects key=value, got {s!r}")
        key, raw = s.split("=", 1)
        try:
            val = json.loads(raw)
        except json.JSONDecodeError:
            val = raw
        node = d
        parts = key.strip().split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise A4merError(f"--set {key}: {p!r} is not a config section")
            node = node[p]
        if parts[-1] not in node:
            near = difflib.get_close_matches(parts[-1], list(node), n=1)
            raise A4merError(f"--set {key}: unknown key" + (f" (did you mean {near[0]}?)" if near else ""))
        node[parts[-1]] = val
    return d


def load_config(path: str | Path | None = None, sets: list[str] | None = None,
                base: TrainConfig | None = None) -> TrainConfig:
    """TrainConfig from defaults (or ``base``), an optional TOML/JSON file, then ``--set`` overrides."""
    d = to_dict(base or TrainConfig())
    if path is not None:
        p = Path(path)
        try:
            user = tomllib.loads(p.read_text()) if p.suffix.lower() == ".toml" else json.loads(p.read_text())
        except (OSError, ValueError) as e:
            raise A4merError(f"{p}: cannot read config ({e})") from None
        d = _merge(d, user, str(p))
    d = apply_sets(d, sets or [])
    cfg = from_dict(TrainConfig, d)
    if cfg.schema_version != SCHEMA_VERSION:
        raise A4merError(f"config schema_version {cfg.schema_version} is not {SCHEMA_VERSION}")
    if cfg.model.stage2.encoder.in_dim != cfg.model.stage1.encoder.dim:
        raise A4merError("model.stage2.encoder.in_dim must equal model.stage1.encoder.dim")
    return cfg


def _merge(base: dict, user: dict, where: str) -> dict:
    out = dict(base)
    for k, v in user.items():
        if k in out and isinstance(out[k], dict) and isinstance(v, dict):
            out[k] = _merge(out[k], v, where)
        else:
            out[k] = v  # unknown keys are reported by from_dict
    return out


__all__ = ["TrainConfig", "ModelConfig", "OptimConfig", "DataConfig", "MaskConfig", "StageConfig",
           "EncoderConfig", "AtomConfig", "MotifConfig", "load_config", "from_dict", "to_dict", "apply_sets"]
