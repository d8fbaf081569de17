"""High-level light-core API: load any supported clip as an SMPL Motion (numpy only)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import A4merError, MotionFileError
from .motion import Motion

#: file suffix -> format name
FORMATS = {".npz": "npz", ".bvh": "bvh", ".amc": "amc"}


@dataclass(frozen=True)
class LoadOptions:
    """How to read a clip. fps: resample the result to this rate (None = keep the source rate).
    source_fps: override a wrong header rate. asf: skeleton file of an AMC. bone_map: JSON map for
    unknown BVH/ASF skeletons. scale: root-translation factor overriding the leg-length ratio.
    up: a BVH file's up axis, ``"y"``, ``"z"`` or ``"auto"`` (the axis its rest pose stands along)."""

    fps: float | None = None
    source_fps: float | None = None
    asf: str | None = None
    bone_map: str | None = None
    scale: float | None = None
    up: str = "auto"

    def __post_init__(self):
        for name in ("fps", "source_fps", "scale"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise A4merError(f"{name.replace('_', '-')} must be a positive number, got {v:g}")
        if self.up not in ("auto", "y", "z"):
            raise A4merError(f"up must be 'auto', 'y' or 'z', got {self.up!r}")


def clip_format(path: str | os.PathLike) -> str:
    """'npz', 'bvh' or 'amc' from the file suffix; MotionFileError for anything else."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise MotionFileError(path, f"unsupported file type {Path(path).suffix!r}; expected .npz, .bvh or .amc")
    return fmt


def _up_scores(src, bmap) -> tuple[float, float]:
    """Z components of the unit pelvis -> head (or neck) vector of ``src`` in the Z-up world: in its
    rest pose, and the median over its frames. Near 1 when the file's up axis was read right."""
    top = bmap.joints.get("head") or bmap.joints.get("neck")
    if top is None or "pelvis" not in bmap.joints:
        return 1.0, 1.0
    i, j = src.names.index(top), src.names.index(bmap.joints["pelvis"])
    out = []
    for v in (src.rest_positions[i] - src.rest_positions[j])[None], src.positions[:, i] - src.positions[:, j]:
        n = np.linalg.norm(v, axis=-1)
        out.append(float(np.median(v[n > 0, 2] / n[n > 0])) if np.any(n > 0) else 1.0)
    return out[0], out[1]


def _bvh_upright(path, fps, bmap, src_y):
    """The reading of a BVH file whose body stands up: ``src_y`` (read as Y-up) unless its rest pose
    lies and the Z-up reading's stands, or (rest poses with bones along X say neither) its frames lie
    and the Z-up reading's stand."""
    from .io.bvh import read_bvh
    rest_y, anim_y = _up_scores(src_y, bmap)
    if rest_y > 0.5 or (abs(rest_y) < 0.5 and anim_y > 0.5):
        return src_y
    src_z = read_bvh(path, fps=fps, up="z")
    rest_z, anim_z = _up_scores(src_z, bmap)
    return src_z if rest_z > 0.5 or (abs(rest_z) < 0.5 and anim_z > 0.5) else src_y


def load_motion(path: str | os.PathLike, options: LoadOptions | None = None, **kw) -> Motion:
    """Read ``path`` (AMASS npz, BVH or ASF/AMC) as a Z-up SMPL-family Motion.

    BVH and AMC clips are retargeted onto SMPL-24 (see :mod:`a4mer.retarget`); their meta holds
    the scheme and the per-bone direction error. Keyword arguments fill :class:`LoadOptions`.
    Raises :class:`MotionFileError` / :class:`SkeletonError` with the file named.
    """
    opts = options or LoadOptions(**kw)
    fmt = clip_format(path)
    if not Path(path).is_file():
        raise MotionFileError(path, "file not found")
    if fmt == "npz":
        from .io.amass import read_amass_npz
        motion = read_amass_npz(path, fps=opts.source_fps)
    else:
        from .retarget import detect_scheme, load_bone_map, retarget
        if fmt == "bvh":
            from .io.bvh import read_bvh
            src = read_bvh(path, fps=opts.source_fps, up="y" if opts.up == "auto" else opts.up)
        else:
            from .io.asfamc import read_amc
            src = read_amc(path, asf=opts.asf, fps=opts.source_fps)
        try:
            bmap = load_bone_map(opts.bone_map, src.names) if opts.bone_map else detect_scheme(src.names)
            if fmt == "bvh" and opts.up == "auto":
                src = _bvh_upright(path, opts.source_fps, bmap, src)
            motion = retarget(src, bmap, scale=opts.scale).motion
        except MotionFileError:
            raise
        except A4merError as e:
            raise MotionFileError(path, str(e)) from None
    if opts.fps is not None:
        motion = motion.resample(opts.fps)
    return motion

