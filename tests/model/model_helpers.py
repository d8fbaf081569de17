"""Helpers of the model tests: a tiny config and synthetic SMPL clips with kinematic changes."""
from __future__ import annotations

import numpy as np

from a4mer.geometry import axis_angle_to_quat
from a4mer.motion import Motion
from a4mer.train.config import TrainConfig, load_config

TINY = [
    "model.stage1.encoder.dim=32", "model.stage1.encoder.heads=2", "model.stage1.encoder.layers=1",
    "model.stage1.latent_layers=1", "model.stage1.predictor_width=32", "model.stage1.predictor_heads=2",
    "model.stage1.predictor_layers=1",
    "model.stage2.encoder.in_dim=32", "model.stage2.encoder.dim=32", "model.stage2.encoder.heads=2",
    "model.stage2.predictor_width=32", "model.stage2.predictor_heads=2",
    "model.motifs.k=6", "model.motifs.min_support=2", "model.motifs.kmeans_iters=10",
    "data.window_s=6.0", "data.max_segments=12", "data.speed_variants=0",
    "optim.batch_size=6", "optim.steps=12", "optim.stage2_steps=6", "optim.warmup_steps=3",
    "log_every=100", "checkpoint_every=6", "threads=1",
]


def tiny_config(*extra: str) -> TrainConfig:
    return load_config(sets=TINY + list(extra))


def synthetic_motion(T: int, seed: int, fps: float = 30.0) -> Motion:
    """An upright SMPL body whose joints turn at piecewise-constant angular velocities (changes
    every ~0.7 s on average) while the root drifts: kinematic changes at known random frames."""
    rng = np.random.default_rng(seed)
    aa = np.zeros((T, 24, 3))
    v = rng.normal(size=(24, 3)) * 0.02
    for t in range(1, T):
        if rng.random() < 1.0 / (0.7 * fps):
            v = rng.normal(size=(24, 3)) * 0.6 / fps
        aa[t] = aa[t - 1] + v
    aa[:, 0] = [np.pi / 2, 0.0, 0.0] + aa[:, 0] * 0.2
    root = np.cumsum(rng.normal(size=(T, 3)) * 0.003, axis=0) + [0.0, 0.0, 0.9]
    return Motion(fps, root, axis_angle_to_quat(aa))
