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
from ..io._mocap import read_user_text
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
    stage2_steps: int = 750
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


def _keys(d: dict[str, Any], prefix: str = "") -> list[str]:
    """Every settable key of the config dict ``d`` as a dotted path (``optim.steps``, ``log_every``)."""
    out = []
    for k, v in d.items():
        out += _keys(v, f"{prefix}{k}.") if isinstance(v, dict) else [prefix + k]
    return out


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
            near = [".".join(parts[:-1] + [m]) for m in difflib.get_close_matches(parts[-1], list(node), n=1)]
            near = near or [k for k in _keys(d) if k.split(".")[-1] == parts[-1]]  # in another section
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
            text = read_user_text(p)
            user = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
        except (OSError, ValueError, RecursionError) as e:
            raise A4merError(f"{p}: cannot read config ({e})") from None
        if not isinstance(user, dict):
            raise A4merError(f"{p}: a config is a table of settings, this file holds a {type(user).__name__}")
        d = _merge(d, user, str(p))
    d = apply_sets(d, sets or [])
    cfg = from_dict(TrainConfig, d)
    if cfg.schema_version != SCHEMA_VERSION:
        raise A4merError(f"config schema_version {cfg.schema_version} is not {SCHEMA_VERSION}")
    if cfg.model.stage2.encoder.in_dim != cfg.model.stage1.encoder.dim:
        raise A4merError("model.stage2.encoder.in_dim must equal model.stage1.encoder.dim")
    check_ranges(cfg)
    return cfg


INF = float("inf")


def check_ranges(cfg: TrainConfig) -> None:
    """Values that would only fail deep inside training (a zero modulo, an empty window, a width not
    divisible by its heads, a negative learning rate): one :class:`A4merError` naming the key."""
    o, d, m = cfg.optim, cfg.data, cfg.model
    rules: list[tuple[str, Any, bool, str]] = [
        ("optim.steps", o.steps, o.steps >= 1, ">= 1"),
        ("optim.stage2_steps", o.stage2_steps, o.stage2_steps >= 0, ">= 0"),
        ("optim.warmup_steps", o.warmup_steps, o.warmup_steps >= 0, ">= 0"),
        ("optim.batch_size", o.batch_size, o.batch_size >= 1, ">= 1"),
        ("optim.lr", o.lr, 0 < o.lr < INF, "> 0 and finite"),
        ("optim.weight_decay", o.weight_decay, o.weight_decay >= 0, ">= 0"),
        ("optim.grad_clip", o.grad_clip, o.grad_clip > 0, "> 0"),
        ("optim.ema_start", o.ema_start, 0 <= o.ema_start <= 1, "in [0, 1]"),
        ("optim.ema_end", o.ema_end, 0 <= o.ema_end <= 1, "in [0, 1]"),
        ("log_every", cfg.log_every, cfg.log_every >= 1, ">= 1"),
        ("checkpoint_every", cfg.checkpoint_every, cfg.checkpoint_every >= 1, ">= 1"),
        ("threads", cfg.threads, cfg.threads >= 0, ">= 0 (0 = torch's default)"),
        ("time_limit_s", cfg.time_limit_s, cfg.time_limit_s >= 0, ">= 0 (0 = no limit)"),
        ("seed", cfg.seed, cfg.seed >= 0, ">= 0"),
        ("data.fps", d.fps, 0 < d.fps < INF, "> 0 and finite"),
        ("data.window_s", d.window_s, 0 < d.window_s < INF and 0 < d.fps < INF and d.window_frames >= 2,  # NaN: no int
         f"at least 2 model frames (>= {2 / d.fps if 0 < d.fps < INF else 0:g} s), finite"),
        ("data.max_segments", d.max_segments, d.max_segments >= 2, ">= 2 (one visible and one masked segment)"),
        ("data.speed_variants", d.speed_variants, d.speed_variants >= 0, ">= 0"),
        ("data.speed_range", list(d.speed_range), len(d.speed_range) == 2 and 0 < d.speed_range[0] <= d.speed_range[1],
         "two speeds 0 < low <= high"),
        ("data.max_clips", d.max_clips, d.max_clips >= 0, ">= 0 (0 = all)"),
        ("model.motifs.k", m.motifs.k, m.motifs.k >= 2, ">= 2"),
        ("model.motifs.min_support", m.motifs.min_support, m.motifs.min_support >= 1, ">= 1"),
        ("model.motifs.min_len", m.motifs.min_len, m.motifs.min_len >= 2, ">= 2"),
        ("model.motifs.max_len", m.motifs.max_len, m.motifs.max_len >= m.motifs.min_len, ">= model.motifs.min_len"),
        ("model.motifs.kmeans_iters", m.motifs.kmeans_iters, m.motifs.kmeans_iters >= 1, ">= 1"),
        ("model.motifs.temperature", m.motifs.temperature, 0 < m.motifs.temperature < float("inf"),
         "> 0 (the soft-assignment temperature)"),
    ]
    a = m.atoms
    rules += [("model.atoms.threshold", a.threshold, 0 <= a.threshold < INF, ">= 0 and finite"),
              ("model.atoms.refractory_s", a.refractory_s, 0 <= a.refractory_s < INF, ">= 0 and finite"),
              ("model.atoms.max_atom_s", a.max_atom_s, 0 <= a.max_atom_s < INF, ">= 0 and finite (0: no split)"),
              ("model.atoms.fixed_s", a.fixed_s, 0 < a.fixed_s < INF, "> 0 and finite")]
    for name, st in (("stage1", m.stage1), ("stage2", m.stage2)):
        e = st.encoder
        rules += [
            (f"model.{name}.encoder.dim", e.dim, e.dim >= 1 and e.heads >= 1 and e.dim % e.heads == 0,
             f"a positive multiple of model.{name}.encoder.heads ({e.heads})"),
            (f"model.{name}.encoder.layers", e.layers, e.layers >= 0, ">= 0"),
            (f"model.{name}.encoder.dropout", e.dropout, 0 <= e.dropout < 1, "in [0, 1)"),
            (f"model.{name}.latent_layers", st.latent_layers, st.latent_layers >= 0, ">= 0"),
            (f"model.{name}.predictor_layers", st.predictor_layers, st.predictor_layers >= 0, ">= 0"),
            (f"model.{name}.predictor_width", st.predictor_width,
             st.predictor_width >= 1 and st.predictor_heads >= 1 and st.predictor_width % st.predictor_heads == 0,
             f"a positive multiple of model.{name}.predictor_heads ({st.predictor_heads})"),
        ]
    for key, value, ok, need in rules:
        if not ok:
            raise A4merError(f"config {key} = {value!r}: must be {need}")


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
