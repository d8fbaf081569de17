"""High-level light-core API: load any supported clip as an SMPL Motion (numpy only)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import A4merError, MotionFileError
from .motion import Motion

#: file suffix -> format name
FORMATS = {".npz": "npz", ".bvh": "bvh", ".amc": "amc"}


@dataclass(frozen=True)
class LoadOptions:
    """How to read a clip. fps: resample the result to this rate (None = keep the source rate).
    source_fps: override a wrong header rate. asf: skeleton file of an AMC. bone_map: JSON map for
    unknown BVH/ASF skeletons. scale: root-translation factor overriding the leg-length ratio."""

    fps: float | None = None
    source_fps: float | None = None
    asf: str | None = None
    bone_map: str | None = None
    scale: float | None = None


def clip_format(path: str | os.PathLike) -> str:
    """'npz', 'bvh' or 'amc' from the file suffix; MotionFileError for anything else."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise MotionFileError(path, f"unsupported file type {Path(path).suffix!r}; expected .npz, .bvh or .amc")
    return fmt


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
            src = read_bvh(path, fps=opts.source_fps)
        else:
            from .io.asfamc import read_amc
            src = read_amc(path, asf=opts.asf, fps=opts.source_fps)
        try:
            bmap = load_bone_map(opts.bone_map, src.names) if opts.bone_map else detect_scheme(src.names)
            motion = retarget(src, bmap, scale=opts.scale).motion
        except MotionFileError:
            raise
        except A4merError as e:
            raise MotionFileError(path, str(e)) from None
    if opts.fps is not None:
        motion = motion.resample(opts.fps)
    return motion

