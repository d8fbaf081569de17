"""The learned part of the heads: small MLPs that predict a smooth correction of the classical curve.

One MLP per task, each reading the poses around what it generates (canonical frame of the last key):
- ``gap0``, ``gap1``, ...: one per band of gap lengths (``gap_bands``): the ``context`` frames before
  the gap (ending with key s) and after it (starting with key e), plus the gap length -> correction of
  the cubic Hermite curve (key velocities from the frames beside the gap, ``gap_velocity_orders``).
  One MLP over every length from 2 to 120 missing frames learned no correction at all on some
  sources (CMU dance: 1.00 x Hermite at 30 frames, 0.85 x with an MLP trained on 20-45 frames only).
- ``blocking``: the keys k-1, k, k+1, k+2 around the gap (k, k+1) and their spacings -> correction of
  the Catmull-Rom curve through the keys (what Blender's auto handles give).
- ``extend``: the last ``context`` frames -> correction of damped constant velocity over up to
  ``horizon`` frames.
A correction is ``basis`` coefficients per channel (root translation 3, metres, canonical frame;
rotation vectors of the 22 joints, radians, applied on the right ``q = q_base exp(d)``) of sine bases
that vanish at the keys (gaps: ``sin(k pi u)``, u in (0, 1); extension: ``sin((k - 1/2) pi t / horizon)``),
so keys are met exactly and the result is continuous at them.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..config import from_dict
from ..errors import A4merError
from .baselines import GLOBAL_WEIGHT
from .torch_geom import quat_mul, rotvec_to_quat
from .windows import FEATURES

CHANNELS = 3 + 22 * 3
#: version of the MLP inputs / base curves; heads files of another version are refused (retrain)
SCHEMA_VERSION = 5


@dataclass(frozen=True)
class DecoderConfig:
    """Sizes of the task MLPs. context: frames read on each side; basis: sine coefficients per channel;
    horizon: frames one extension step covers (30 fps); out_scale: output scale of the last layer;
    extend_tau: damping (frames) of the extension's base curve (velocity decays as exp(-k / tau));
    gap_stride: frames between the ``context`` frames a gap example reads on each side;
    relative_rotations: local joint rotations enter relative to the reference key's (False: absolute);
    gap_bands: the most missing frames each gap MLP handles (30 fps; longer gaps use the last one);
    gap_velocity_orders: per band, the order of the one-sided differences that give the key velocities
    of its Hermite base curve (``baselines.key_velocity``; 2 up to 12 missing frames: see
    docs/bench/heads_notes.md); gap_global_weight: how far the body joints' rotations of that base move
    towards the Hermite of their global orientations (``baselines.hermite_from_sides``; files written
    before this field existed were trained on the local curve alone, 0). schema_version 5: per-band
    key-velocity orders. Since 4: one gap MLP per band of gap lengths. Since 3: canonical frames are
    also shifted to the reference frame's root height (inputs carry no absolute height, which differs between
    capture sources)."""

    features: int = FEATURES
    context: int = 8
    hidden: int = 256
    basis: int = 8
    horizon: int = 90
    out_scale: float = 0.2
    extend_tau: float = 20.0
    gap_stride: int = 1
    relative_rotations: bool = True
    gap_bands: tuple[int, ...] = (12, 24, 40, 120)
    gap_velocity_orders: tuple[int, ...] = (2, 1, 1, 1)
    gap_global_weight: float = GLOBAL_WEIGHT
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_dict(cls, d: dict) -> "DecoderConfig":
        v = d.get("schema_version")
        if v != SCHEMA_VERSION:
            raise A4merError(f"heads decoder schema_version {v} is not {SCHEMA_VERSION} (inputs changed): "
                             "retrain the heads with scripts/train_heads.py")
        return from_dict(cls, {"gap_global_weight": 0.0, **d}, "decoder")

    def __post_init__(self) -> None:
        orders = tuple(self.gap_velocity_orders)
        if len(orders) != len(self.gap_bands) or not set(orders) <= {1, 2}:
            raise A4merError(f"heads decoder: gap_velocity_orders {orders} must give 1 or 2 for each of the "
                             f"{len(self.gap_bands)} gap bands {tuple(self.gap_bands)}")
        if not 0.0 <= self.gap_global_weight <= 1.0:
            raise A4merError(f"heads decoder: gap_global_weight {self.gap_global_weight} is not in [0, 1]")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def input_dims(self) -> dict[str, int]:
        F, C = self.features, self.context
        gaps = {t: 2 * C * (F + 1) + 2 for t in self.gap_tasks()}
        return {**gaps, "blocking": 4 * (F + 1) + 3, "extend": C * (F + 1)}

    def gap_task(self, missing: int) -> str:
        """Name of the gap MLP for a gap of ``missing`` frames at 30 fps."""
        i = int(np.searchsorted(np.asarray(self.gap_bands), missing))
        return f"gap{min(i, len(self.gap_bands) - 1)}"

    def velocity_order(self, task: str) -> int:
        """Order of the key velocities of the Hermite base of gap MLP ``task`` (``gap0``, ...)."""
        return int(self.gap_velocity_orders[int(task[3:])])

    def gap_range(self, task: str) -> tuple[int, int]:
        """Missing frames ``(lo, hi)`` a gap MLP is trained on: its band, widened by 20 % on each side
        so that neighbouring bands overlap."""
        i = int(task[3:])
        lo = 2 if i == 0 else max(2, int(self.gap_bands[i - 1] * 0.8))
        return lo, min(int(np.ceil(self.gap_bands[i] * 1.2)), self.gap_bands[-1])

    def gap_tasks(self) -> tuple[str, ...]:
        """Names of the gap MLPs, one per band (``gap0``, ``gap1``, ...)."""
        return tuple(f"gap{i}" for i in range(len(self.gap_bands)))


class TaskMLP(nn.Module):
    """Standardise (fixed per-feature mean/std, set from data) -> Linear -> GELU -> Linear -> GELU ->
    Linear (zero-initialised) x out_scale."""

    def __init__(self, d_in: int, hidden: int, d_out: int, out_scale: float):
        super().__init__()
        self.register_buffer("x_mean", torch.zeros(d_in))
        self.register_buffer("x_std", torch.ones(d_in))
        # familiarity gate: mean squared standardised input above z_lo fades the correction out by z_hi
        self.register_buffer("z_band", torch.tensor([float("inf"), float("inf")]))
        self.net = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, d_out))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.out_scale = out_scale

    def set_normalization(self, x: torch.Tensor) -> None:
        """Per-feature mean/std from example inputs ``x (N, d_in)``. The std is floored at 0.05 (and
        inputs are clipped to +-5 std) so that features nearly constant in the training data cannot
        blow up on motion from other sources."""
        self.x_mean.copy_(x.mean(0))
        self.x_std.copy_(x.std(0).clamp(min=0.05))

    def set_familiarity(self, x: torch.Tensor, lo_pct: float, hi_pct: float) -> None:
        """Fade corrections out for inputs less familiar than the training data: between the
        ``lo_pct`` and ``hi_pct`` percentiles of the mean squared standardised input of ``x (N, d_in)``."""
        m = self.familiarity(x)
        self.z_band.copy_(torch.stack([torch.quantile(m, lo_pct / 100), torch.quantile(m, hi_pct / 100)]))

    def familiarity(self, x: torch.Tensor) -> torch.Tensor:
        """Mean squared standardised input ``(B,)`` (about 1 for typical training inputs)."""
        return (((x - self.x_mean) / self.x_std) ** 2).mean(-1)

    def weight(self, x: torch.Tensor) -> torch.Tensor:
        """Familiarity weight ``(B,)`` in [0, 1] the correction is scaled by (1 without a gate)."""
        lo, hi = self.z_band[0], self.z_band[1]
        if not torch.isfinite(hi):
            return torch.ones(x.shape[0], dtype=x.dtype)
        return ((hi - self.familiarity(x)) / (hi - lo).clamp(min=1e-6)).clamp(0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(((x - self.x_mean) / self.x_std).clamp(-5.0, 5.0)) * self.out_scale
        if torch.isfinite(self.z_band[1]):
            out = out * self.weight(x)[:, None]
        return out


class CorrectionDecoder(nn.Module):
    """The task MLPs (``gap0``.., ``blocking``, ``extend``).
    ``forward(task, x (B, D_task)) -> coefficients (B, basis, 69)``."""

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.cfg = cfg
        self.tasks = nn.ModuleDict({t: TaskMLP(d, cfg.hidden, cfg.basis * CHANNELS, cfg.out_scale)
                                    for t, d in cfg.input_dims().items()})

    def forward(self, task: str, x: torch.Tensor) -> torch.Tensor:
        return self.tasks[task](x).reshape(len(x), self.cfg.basis, CHANNELS)


def apply_correction(coef: torch.Tensor, basis: torch.Tensor, base_t: torch.Tensor, base_q: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrected canonical root translation ``(B, N, 3)`` and local rotations ``(B, N, 22, 4)``.

    coef ``(B, K, 69)``; basis ``(N, K)``; base_t ``(B, N, 3)``; base_q ``(B, N, 22, 4)`` wxyz."""
    corr = torch.einsum("nk,bkc->bnc", basis, coef)  # (B, N, 69)
    B, N, _ = corr.shape
    t = base_t + corr[..., :3]
    q = quat_mul(base_q, rotvec_to_quat(corr[..., 3:].reshape(B, N, 22, 3)))
    return t, q
