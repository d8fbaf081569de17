"""One level of A4Mer: feature extractor f (segment encoder + LatentFormer), its EMA target and the
predictor g, trained by masked segment prediction in latent space (method.md §3-4)."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from ..nn.latentformer import LatentFormer
from ..nn.segment_encoder import EncoderConfig, SegmentEncoder
from .loss import jepa_loss
from .predictor import Predictor


@dataclass(frozen=True)
class StageConfig:
    """encoder: the segment encoder; latent_layers: LatentFormer depth; predictor_*: predictor g;
    target: "latent" (EMA tokens, the method) or "reconstruction" (ablation: predict the segment's
    mean normalised input features); loss_split: global/local split (alpha = 0.05)."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    latent_layers: int = 2
    predictor_width: int = 96
    predictor_layers: int = 2
    predictor_heads: int = 4
    target: str = "latent"
    loss_split: bool = True
    alpha: float = 0.05


class Extractor(nn.Module):
    """f = segment encoder + LatentFormer. Returns (segment tokens, contextual tokens), both (B, S, D)."""

    def __init__(self, config: StageConfig):
        super().__init__()
        e = config.encoder
        self.encoder = SegmentEncoder(e)
        self.latent = LatentFormer(e.dim, e.heads, config.latent_layers, e.dropout)

    def forward(self, frames: torch.Tensor, frame_seg: torch.Tensor, frame_time: torch.Tensor,
                seg_start: torch.Tensor, seg_len: torch.Tensor, visible: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        S = seg_start.shape[1]
        fvis = torch.gather(visible, 1, frame_seg.clamp_min(0)) & (frame_seg >= 0)  # (B, T)
        seg_tok = self.encoder(frames, frame_seg, frame_time, S, fvis)
        return seg_tok, self.latent(seg_tok, seg_start, seg_len, visible)


def time_in_segment(frame_time: torch.Tensor, frame_seg: torch.Tensor, seg_start: torch.Tensor) -> torch.Tensor:
    """(B, T) seconds since each frame's segment start (0 on padding)."""
    st = torch.gather(seg_start, 1, frame_seg.clamp_min(0))
    return torch.where(frame_seg >= 0, frame_time - st, torch.zeros_like(frame_time))


def segment_mean(x: torch.Tensor, frame_seg: torch.Tensor, num_segments: int) -> torch.Tensor:
    """(B, T, F) -> (B, S, F) mean of each segment's frames."""
    B, T, Fd = x.shape
    idx = torch.where(frame_seg < 0, torch.full_like(frame_seg, num_segments), frame_seg)
    s = torch.zeros(B, num_segments + 1, Fd, dtype=x.dtype, device=x.device)
    s = s.scatter_add(1, idx[..., None].expand(-1, -1, Fd), x)
    n = torch.zeros(B, num_segments + 1, 1, dtype=x.dtype, device=x.device)
    n = n.scatter_add(1, idx[..., None], torch.ones_like(x[..., :1]))
    return (s / n.clamp_min(1))[:, :num_segments]


#: floor of the per-feature std used to normalise the inputs (set from training data)
FEATURE_STD_FLOOR = 1e-3


class StageJEPA(nn.Module):
    """Context extractor, EMA target extractor, predictor, and input normalisation buffers.

    Inputs are "frames" (B, T, in_dim) with times (B, T) s from the window start, grouped into
    segments by ``frame_seg``; for stage 1 frames are pose features, for stage 2 they are atom tokens.
    """

    def __init__(self, config: StageConfig):
        super().__init__()
        self.config = config
        if config.target not in ("latent", "reconstruction"):
            raise ValueError(f"target must be 'latent' or 'reconstruction', got {config.target!r}")
        e = config.encoder
        self.register_buffer("feat_mean", torch.zeros(e.in_dim))
        self.register_buffer("feat_std", torch.ones(e.in_dim))
        self.context = Extractor(config)
        self.target = copy.deepcopy(self.context)
        self.target.requires_grad_(False)
        out = e.dim if config.target == "latent" else e.in_dim
        self.predictor = Predictor(e.dim, config.predictor_width, config.predictor_heads, config.predictor_layers, out)

    def normalize(self, frames: torch.Tensor) -> torch.Tensor:
        """``(frames - feat_mean) / feat_std`` (..., F). Features the training data held constant (std at
        ``FEATURE_STD_FLOOR``; 1 % tolerance, bundles store float16) are held at their training mean (0):
        a source where they do move (HDM05's spine2, constant in the Bandai and CMU retargets) would
        otherwise feed the network values hundreds of standard deviations out, which the network never
        learned to read and which swamp every other feature."""
        held = self.feat_std <= FEATURE_STD_FLOOR * 1.01
        return torch.where(held, torch.zeros_like(frames), (frames - self.feat_mean) / self.feat_std)

    def _inputs(self, frames, frame_time, frame_seg, seg_start):
        x = self.normalize(frames) * (frame_seg >= 0)[..., None]
        return x, time_in_segment(frame_time, frame_seg, seg_start)

    def loss(self, frames: torch.Tensor, frame_time: torch.Tensor, frame_seg: torch.Tensor, seg_start: torch.Tensor,
             seg_len: torch.Tensor, seg_valid: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Masked-segment prediction loss and stats (``token_std``: mean per-dimension std of the
        target tokens, the collapse guard)."""
        x, tin = self._inputs(frames, frame_time, frame_seg, seg_start)
        mask = mask & seg_valid
        visible = seg_valid & ~mask
        _, ctx = self.context(x, frame_seg, tin, seg_start, seg_len, visible)
        pred = self.predictor(ctx, seg_start, seg_len, mask, seg_valid)
        with torch.no_grad():
            _, tgt = self.target(x, frame_seg, tin, seg_start, seg_len, seg_valid)
            token_std = tgt[seg_valid].float().std(0).mean()
        if self.config.target == "reconstruction":
            tgt = segment_mean(x, frame_seg, seg_start.shape[1])
        loss = jepa_loss(pred, tgt, mask, self.config.loss_split, self.config.alpha)
        return loss, {"token_std": float(token_std)}

    @torch.no_grad()
    def encode(self, frames: torch.Tensor, frame_time: torch.Tensor, frame_seg: torch.Tensor,
               seg_start: torch.Tensor, seg_len: torch.Tensor, seg_valid: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Target-network tokens of every segment: (segment-encoder tokens, contextual tokens), (B, S, D)."""
        x, tin = self._inputs(frames, frame_time, frame_seg, seg_start)
        return self.target(x, frame_seg, tin, seg_start, seg_len, seg_valid)

