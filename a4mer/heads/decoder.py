"""The learned decoder of the heads: per-frame poses (and optionally A4Mer atom tokens) -> a
correction of the classical curve, as SMPL local rotations + root trajectory.

Input per frame: :data:`a4mer.heads.windows.FEATURES` numbers (canonical pose of the known frame or of
the classical curve, known flag, distance to the nearest key). When ``token_dim > 0`` each frame also
receives the A4Mer token of the atom segment it lies in (tokens broadcast over their spans); frames
of missing segments receive a learnable mask token instead ("learnable tokens stand in for the
missing segments"). Output per frame: root translation correction (3, metres, canonical frame) and a
rotation-vector correction per joint (22 x 3, radians, applied on the right: ``q = q_base exp(d)``),
multiplied by an envelope that is 0 on known frames, so keys are met exactly.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from ..errors import A4merError
from .torch_geom import quat_mul, rotvec_to_quat
from .windows import FEATURES

OUT = 3 + 22 * 3


@dataclass(frozen=True)
class DecoderConfig:
    """Sizes of the correction decoder (a small Transformer over the frames of a window)."""

    features: int = FEATURES
    width: int = 128
    layers: int = 4
    heads: int = 4
    ff: int = 256
    max_frames: int = 192
    token_dim: int = 0
    stride: int = 3
    schema_version: int = 1

    @classmethod
    def from_dict(cls, d: dict) -> "DecoderConfig":
        names = {f.name for f in fields(cls)}
        bad = sorted(set(d) - names)
        if bad:
            raise A4merError(f"unknown decoder config keys {bad}; expected some of {sorted(names)}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


class CorrectionDecoder(nn.Module):
    """Transformer encoder over window frames -> per-frame correction ``(B, W, 69)``."""

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.cfg = cfg
        self.inp = nn.Linear(cfg.features, cfg.width)
        self.group = nn.Linear(cfg.stride * cfg.width, cfg.width)
        self.pos = nn.Parameter(torch.zeros((cfg.max_frames + cfg.stride - 1) // cfg.stride, cfg.width))
        nn.init.normal_(self.pos, std=0.02)
        if cfg.token_dim > 0:
            self.tok = nn.Linear(cfg.token_dim, cfg.width)
            self.mask_token = nn.Parameter(torch.zeros(cfg.token_dim))
        layer = nn.TransformerEncoderLayer(cfg.width, cfg.heads, cfg.ff, dropout=0.0, batch_first=True,
                                           norm_first=True, activation="gelu")
        self.body = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.width)
        self.frame_mlp = nn.Sequential(nn.Linear(2 * cfg.width, cfg.width), nn.GELU(), nn.Linear(cfg.width, cfg.width))
        self.out = nn.Linear(cfg.width, OUT)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, known: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        """x ``(B, W, F)``, known ``(B, W)`` bool, tokens ``(B, W, token_dim)`` or None -> ``(B, W, 69)``."""
        B, W, _ = x.shape
        if W > self.cfg.max_frames:
            raise A4merError(f"window of {W} frames exceeds the decoder's {self.cfg.max_frames}")
        e = self.inp(x)  # (B, W, D) per-frame embedding
        if self.cfg.token_dim > 0:
            if tokens is None:
                tokens = self.mask_token.expand(B, W, -1)
            else:
                tokens = torch.where(known[..., None], tokens, self.mask_token.expand(B, W, -1))
            e = e + self.tok(tokens)
        s = self.cfg.stride
        pad = (-W) % s
        ep = torch.nn.functional.pad(e, (0, 0, 0, pad), mode="replicate") if pad else e
        n = (W + pad) // s
        h = self.group(ep.reshape(B, n, s * e.shape[-1])) + self.pos[:n]  # (B, W/s, D) coarse tokens
        h = self.norm(self.body(h))
        # back to frames: linear interpolation between coarse token centres
        h = torch.nn.functional.interpolate(h.transpose(1, 2), size=W + pad, mode="linear",
                                            align_corners=False).transpose(1, 2)[:, :W]
        return self.out(h + self.frame_mlp(torch.cat([h, e], -1)))


def apply_correction(out: torch.Tensor, base_t: torch.Tensor, base_q: torch.Tensor, env: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrected canonical root translation ``(B, W, 3)`` and local rotations ``(B, W, 22, 4)``.

    out ``(B, W, 69)``; base_t ``(B, W, 3)``; base_q ``(B, W, 22, 4)`` wxyz; env ``(B, W)`` in [0, 1]."""
    B, W, _ = out.shape
    t = base_t + out[..., :3] * env[..., None]
    d = out[..., 3:].reshape(B, W, 22, 3) * env[..., None, None]
    q = quat_mul(base_q, rotvec_to_quat(d))
    return t, q
