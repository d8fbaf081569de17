"""The token route of the heads (method.md §7): a decoder from A4Mer segment tokens back to poses,
and a predictor of the tokens (and lengths) of segments that are missing.

- :class:`TokenDecoder`: a segment's token, its neighbours' tokens (same window) and its length,
  plus where a frame lies in the segment (``u`` in [0, 1)) -> that frame's heading-free pose vector
  (:mod:`a4mer.heads.token_pose`). Frames are queried by time, so any frame rate is decoded.
- :class:`TokenPredictor`: the model's JEPA predictor shape (learnable mask tokens, segment positions
  from start and length, self-attention over the window's segments) over the segment-encoder tokens
  of the visible segments -> the token and log length of every masked segment. A masked segment
  shows the predictor its start but not its length (``placeholder_s`` instead), so the same network
  predicts the next segment's length when extending.

Tokens are the stage-1 *segment-encoder* tokens of the frozen shipped model
(``A4MerNet.encode(...)["atom_seg_tokens"]``: one per atom, from that atom's frames only). The
contextual tokens (after the LatentFormer) mix in every segment of the window, so a masked segment's
frames would leak into its neighbours' tokens.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..config import from_dict
from ..jepa.predictor import Predictor
from .token_pose import POSE_DIM

#: version of the token heads' inputs and outputs; files of another version are refused
TOKEN_SCHEMA = 1


@dataclass(frozen=True)
class TokenNetConfig:
    """dim: token width (the model's); hidden: decoder width; harmonics: sine/cosine pairs of the
    in-segment phase; predictor_*: the predictor; placeholder_s: the length a masked segment shows
    the predictor; min_len_s / max_len_s: clamp of predicted segment lengths (s)."""

    dim: int = 128
    hidden: int = 256
    harmonics: int = 6
    predictor_width: int = 96
    predictor_layers: int = 2
    predictor_heads: int = 4
    placeholder_s: float = 0.8
    min_len_s: float = 0.3
    max_len_s: float = 2.0
    schema_version: int = TOKEN_SCHEMA

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> "TokenNetConfig":
        return from_dict(cls, d)


def phase_features(u: torch.Tensor, harmonics: int) -> torch.Tensor:
    """(N,) phase in [0, 1) -> (N, 1 + 2 * harmonics): u, sin(k pi u), cos(k pi u), k = 1..harmonics."""
    k = torch.arange(1, harmonics + 1, dtype=u.dtype, device=u.device)
    a = torch.pi * u[:, None] * k
    return torch.cat([u[:, None], torch.sin(a), torch.cos(a)], 1)


class TokenDecoder(nn.Module):
    """(prev, own, next) tokens (N, D) each, neighbour flags (N, 2), segment length (N,) s, phase u (N,)
    -> normalised pose vectors (N, POSE_DIM)."""

    def __init__(self, cfg: TokenNetConfig):
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.segment = nn.Sequential(nn.Linear(3 * cfg.dim + 3, h), nn.GELU(), nn.Linear(h, h), nn.GELU())
        self.frame = nn.Sequential(nn.Linear(h + 1 + 2 * cfg.harmonics, h), nn.GELU(), nn.Linear(h, h), nn.GELU(),
                                   nn.Linear(h, POSE_DIM))

    def forward(self, prev: torch.Tensor, own: torch.Tensor, nxt: torch.Tensor, flags: torch.Tensor,
                length: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        seg = self.segment(torch.cat([prev, own, nxt, flags, length[:, None]], 1))
        return self.frame(torch.cat([seg, phase_features(u, self.cfg.harmonics)], 1))


class TokenNet(nn.Module):
    """Decoder + predictor + the pose normalisation (``pose_mean``, ``pose_std``, (POSE_DIM,))."""

    def __init__(self, cfg: TokenNetConfig):
        super().__init__()
        self.cfg = cfg
        self.decoder = TokenDecoder(cfg)
        self.predictor = Predictor(cfg.dim, cfg.predictor_width, cfg.predictor_heads, cfg.predictor_layers, cfg.dim + 1)
        self.register_buffer("pose_mean", torch.zeros(POSE_DIM))
        self.register_buffer("pose_std", torch.ones(POSE_DIM))

    def predict_raw(self, tokens: torch.Tensor, seg_start: torch.Tensor, seg_len: torch.Tensor, mask: torch.Tensor,
                    valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens (B, S, D) (masked ones ignored), seg_start / seg_len (B, S) s (a masked segment shows
        ``placeholder_s``), mask / valid (B, S) bool -> (predicted tokens (B, S, D), log lengths (B, S))."""
        shown_len = torch.where(mask, torch.full_like(seg_len, self.cfg.placeholder_s), seg_len)
        out = self.predictor(tokens, seg_start, shown_len, mask, valid)
        return out[..., :-1], out[..., -1]

    def predict(self, tokens: torch.Tensor, seg_start: torch.Tensor, seg_len: torch.Tensor, mask: torch.Tensor,
                valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`predict_raw` with the lengths in seconds, clamped to ``min_len_s .. max_len_s``."""
        tok, log_len = self.predict_raw(tokens, seg_start, seg_len, mask, valid)
        return tok, log_len.exp().clamp(self.cfg.min_len_s, self.cfg.max_len_s)

    def decode(self, tokens: torch.Tensor, seg_len: torch.Tensor, seg: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Pose vectors (N, POSE_DIM) (de-normalised) of N frames of one window: ``tokens (S, D)``,
        ``seg_len (S,)`` s, each frame's segment ``seg (N,)`` long and phase ``u (N,)``."""
        S = tokens.shape[0]
        zero = torch.zeros_like(tokens[:1])
        padded = torch.cat([zero, tokens, zero])  # index k + 1 = segment k
        prev, nxt = padded[seg], padded[seg + 2]
        flags = torch.stack([(seg > 0), (seg < S - 1)], 1).to(tokens.dtype)
        y = self.decoder(prev, tokens[seg], nxt, flags, seg_len[seg], u)
        return y * self.pose_std + self.pose_mean
