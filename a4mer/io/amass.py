"""AMASS-style SMPL npz: read (SMPL / SMPL+H / SMPL-X layouts) and write (SMPL-24 layout).

AMASS ``trans`` is the translation added to the posed body, so the pelvis sits at
``trans + J0_rest`` (SMPL's global orientation rotates about the pelvis). ``Motion`` stores the
pelvis position itself; both directions use the neutral SMPL pelvis rest position.
Files are read with ``allow_pickle=False``: object arrays (which would need unpickling) are skipped.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from ..conventions import snap_fps
from ..errors import A4merError, MotionFileError
from ..geometry import axis_angle_to_quat, quat_to_axis_angle
from ..motion import Motion, same_rate
from ..skeleton import SMPL, SMPLH, SMPLX
from ..skeleton.smpl import SMPL_OFFSETS
from ._mocap import check_regular_file, hold_nonfinite_rows, source_fps
from .outputs import save_npz_atomic

PELVIS_REST = SMPL_OFFSETS[0]
FPS_KEYS = ("mocap_framerate", "mocap_frame_rate", "fps", "frame_rate", "framerate")
_LAYOUTS = {72: SMPL, 156: SMPLH, 165: SMPLX}
#: the largest array an npz may unpack to (an hour of SMPL-X poses at 120 fps is 0.6 GB)
MAX_MEMBER_BYTES = 4 * 2 ** 30
#: larger values are corrupt data, refused like the BVH/AMC readers' implausible positions
POSITION_LIMIT = 1e6   # metres
ANGLE_LIMIT = 1e4      # radians per axis-angle component (real data stays within a few pi)


def _load_arrays(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """The numeric and string arrays of the npz at ``path``, and the names of the object arrays left
    unread (reading them would unpickle)."""
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise MotionFileError(path, "a single .npy array, not an npz archive of named arrays (poses, trans ...)")
        with z:
            out, pickled = {}, []
            members = {i.filename: i for i in z.zip.infolist()}
            for k in z.files:
                _check_member(path, k, z.zip, members.get(k + ".npy") or members[k])  # a raw member: its size
                try:
                    out[k] = z[k]
                except ValueError as e:
                    if "allow_pickle" not in str(e):  # a damaged member, not an object array
                        raise MotionFileError(path, f"the array {k!r} is unreadable ({e})") from None
                    pickled.append(k)  # object array: would need pickle, never enabled
            return out, pickled
    except FileNotFoundError:
        raise MotionFileError(path, "file not found") from None
    except MotionFileError:
        raise
    except ValueError as e:
        if "pickled" in str(e):  # neither a zip archive nor an .npy array: numpy falls back to pickle
            raise MotionFileError(path, "not a readable npz file (no zip archive or .npy header)") from None
        raise MotionFileError(path, f"not a readable npz file ({type(e).__name__}: {e})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as e:
        raise MotionFileError(path, f"not a readable npz file ({type(e).__name__}: {e})") from None
    except MemoryError:
        raise MotionFileError(path, "an array too large to hold in memory (damaged or hostile file?)") from None


def _check_member(path: Path, key: str, archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """MotionFileError before an array of the npz is read when it would not fit (over ``MAX_MEMBER_BYTES``
    unpacked: a small zip bomb took 2 GB and 15 s) or its header promises more than the member holds (a
    500-byte file claimed terabytes, and numpy tried to allocate them)."""
    if member.file_size > MAX_MEMBER_BYTES:
        raise MotionFileError(path, f"the array {key!r} unpacks to {member.file_size / 2 ** 30:.1f} GiB; at most "
                                    f"{MAX_MEMBER_BYTES / 2 ** 30:g} GiB")
    if not member.filename.endswith(".npy"):
        return
    try:
        with archive.open(member) as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                return  # numpy reads (or refuses) the rarer formats itself
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f, max_header_size=2 ** 16)
    except ValueError as e:  # a damaged member
        raise MotionFileError(path, f"the array {key!r} is unreadable ({e})") from None
    if not dtype.hasobject and int(np.prod(shape, dtype=object)) * dtype.itemsize > member.file_size:
        raise MotionFileError(path, f"the array {key!r} claims shape {tuple(shape)} but its file holds "
                                    f"{member.file_size} bytes (damaged or hostile file)")


#: AMASS's split keys -> their joints (first, last + 1) in ``poses``, by joints per row (SMPL 24,
#: SMPL-H 52, SMPL-X 55)
SPLIT_KEYS = {24: {"root_orient": (0, 1), "pose_body": (1, 22)},
              52: {"root_orient": (0, 1), "pose_body": (1, 22), "pose_hand": (22, 52)},
              55: {"root_orient": (0, 1), "pose_body": (1, 22), "pose_hand": (25, 55), "pose_jaw": (22, 23),
                   "pose_eye": (23, 25)}}


def joined_poses(path: Path, arrays: dict[str, np.ndarray]) -> np.ndarray | None:
    """``poses (N, 72|156|165)`` assembled from the split keys of an npz without ``poses`` (``root_orient``
    (N, 3), ``pose_body`` (N, 63), optional ``pose_hand`` (N, 90), ``pose_jaw`` (N, 3), ``pose_eye`` (N, 6)):
    SMPL-X where jaw or eyes are given (a part not given is zeros), SMPL-H where only hands are, else SMPL
    (its two hand joints zero). None where the file has no ``root_orient`` and ``pose_body``."""
    if not {"root_orient", "pose_body"} <= set(arrays):
        return None
    J = 55 if {"pose_jaw", "pose_eye"} & set(arrays) else 52 if "pose_hand" in arrays else 24
    root = np.asarray(arrays["root_orient"])
    if root.ndim != 2:
        raise MotionFileError(path, f"'root_orient' has shape {root.shape}; expected (N, 3)")
    n = root.shape[0]
    poses = np.zeros((n, 3 * J))
    for k, (a, b) in SPLIT_KEYS[J].items():
        if k not in arrays:
            continue
        v = np.asarray(arrays[k])
        if v.dtype.kind not in "fiu" or v.shape != (n, 3 * (b - a)):
            raise MotionFileError(path, f"{k!r} has shape {v.shape} and dtype {v.dtype}; expected ({n}, {3 * (b - a)}) "
                                        f"numbers beside root_orient ({n}, 3)")
        poses[:, 3 * a:3 * b] = v
    return poses


def _scalar_fps(path: Path, arrays: dict[str, np.ndarray], override: float | None) -> float:
    """The clip's frame rate: ``override``, else the file's frame-rate key (several: they must agree)."""
    if override is not None:
        try:
            return source_fps(override)
        except A4merError as e:
            raise MotionFileError(path, str(e)) from None
    found = {k: _fps_key(path, k, arrays[k]) for k in FPS_KEYS if k in arrays}
    if not found:
        raise MotionFileError(path, f"no frame rate: expected one of {', '.join(FPS_KEYS)} (or pass --source-fps)")
    if not same_rate(max(found.values()), min(found.values())):  # one rate as float32 and float64 agrees
        said = ", ".join(f"{k}={v:g}" for k, v in found.items())
        raise MotionFileError(path, f"its frame-rate keys disagree ({said}): pass --source-fps with the true rate")
    return next(iter(found.values()))


def _fps_key(path: Path, k: str, value: np.ndarray) -> float:
    """The frame rate the key ``k`` of the npz at ``path`` holds (a standard rate stored in float32,
    29.970000017863512, reads as that rate)."""
    if np.size(value) != 1:
        raise MotionFileError(path, f"frame-rate key {k!r} holds {np.size(value)} values; expected one")
    try:
        fps = float(np.asarray(value).reshape(-1)[0])
    except (ValueError, TypeError, IndexError):
        raise MotionFileError(path, f"frame-rate key {k!r} is not a number") from None
    try:
        return snap_fps(fps)
    except A4merError as e:
        raise MotionFileError(path, f"{k}={fps}: {e}") from None


def read_amass_npz(path: str | os.PathLike, fps: float | None = None, nonfinite_ok: bool = False) -> Motion:
    """Read an AMASS-style npz into a Motion on SMPL (72), SMPL-H (156) or SMPL-X (165) joints (``poses``,
    or the split keys ``root_orient``, ``pose_body`` ...: :func:`joined_poses`).

    ``fps`` overrides the file's frame rate. nonfinite_ok: frames whose ``poses``/``trans`` hold NaN/inf
    are read as the nearest finite frame and listed in ``meta["nonfinite_frames"]`` (else an error).
    Raises :class:`MotionFileError` naming the problem.
    """
    path = Path(path)
    check_regular_file(path)  # np.load of a FIFO would block
    a, pickled = _load_arrays(path)
    needed = ("poses", "trans") + (FPS_KEYS if fps is None else ())
    if "poses" not in a:  # the clip comes from its split keys
        needed += tuple(SPLIT_KEYS[55])
    for k in (k for k in (*needed, "betas", "gender") if k in pickled):  # not read as absent: lost silently
        kind = "a string array (np.array('female'))" if k == "gender" else "a numeric array"
        raise MotionFileError(path, f"{k!r} is stored as a Python object array, which a4mer does not read (it "
                                    f"would need unpickling); save it as {kind}")
    if "poses" not in a and (split := joined_poses(path, a)) is not None:
        a["poses"] = split
    if "poses" not in a and "betas" in a:
        raise MotionFileError(path, "a body-shape file (betas, no 'poses'), not a motion clip: AMASS keeps each "
                                    "subject's shape.npz beside the clips")
    if "poses" not in a:
        raise MotionFileError(path, "missing 'poses' array (an AMASS npz needs poses (N, 72|156|165), or "
                                    "root_orient (N, 3) and pose_body (N, 63))")
    poses = np.asarray(a["poses"])
    if poses.dtype.kind not in "fiu":
        raise MotionFileError(path, f"'poses' has dtype {poses.dtype}, expected numbers")
    if poses.ndim != 2 or poses.shape[1] not in _LAYOUTS:
        raise MotionFileError(path, f"'poses' has shape {poses.shape}; expected (N, 72), (N, 156) or (N, 165)")
    if len(poses) == 0:
        raise MotionFileError(path, "zero frames")
    T = len(poses)
    trans = np.asarray(a.get("trans", np.zeros((T, 3))))
    if trans.dtype.kind not in "fiu" or trans.shape != (T, 3):
        raise MotionFileError(path, f"'trans' has shape {trans.shape}; expected ({T}, 3)")
    rows, bad = hold_nonfinite_rows(path, np.concatenate([poses, trans], axis=1).astype(np.float64), nonfinite_ok,
                                    "contains NaN or infinite values (first in frame {frame})")
    if len(bad):
        poses, trans = rows[:, :poses.shape[1]], rows[:, poses.shape[1]:]
    if np.abs(trans).max() > POSITION_LIMIT:
        raise MotionFileError(path, f"implausible 'trans' values (up to {np.abs(trans).max():.3g} m from the origin; "
                                    f"at most {POSITION_LIMIT:g} m)")
    if np.abs(poses).max() > ANGLE_LIMIT:
        raise MotionFileError(path, f"implausible 'poses' values (axis-angle components up to "
                                    f"{np.abs(poses).max():.3g} rad; at most {ANGLE_LIMIT:g})")
    if "betas" in a:  # the body shape: any number of SMPL-family shape components (10, 16, 300 ...)
        betas = np.asarray(a["betas"])
        if betas.ndim > 2:
            raise MotionFileError(path, f"'betas' has shape {betas.shape}: expected (K,) or per frame (T, K)")
        if betas.shape[-1:] and betas.shape[-1] > MAX_BETAS:
            raise MotionFileError(path, f"'betas' has {betas.shape[-1]} values; a body shape has at most {MAX_BETAS}")
        if betas.dtype.kind in "fiu" and not np.all(np.isfinite(betas)):
            raise MotionFileError(path, "'betas' contains NaN or infinite values")
    rate = _scalar_fps(path, a, fps)
    skel = _LAYOUTS[poses.shape[1]]
    rot = axis_angle_to_quat(poses.reshape(T, -1, 3).astype(np.float64))  # (T, J, 4)
    meta = {"source": str(path), "source_format": "amass-npz", "source_fps": rate, "source_up": "z",
            "gender": _text(a.get("gender")) or "neutral"}
    if _text(a.get("surface_model_type")):  # SMPL-X AMASS files name their body model ("smplx")
        meta["surface_model_type"] = _text(a["surface_model_type"])
    if len(bad):
        meta["nonfinite_frames"] = bad.tolist()
    if "trans" not in a:  # legal (a pose-only clip), but the body then stands with its pelvis at the origin
        meta["no_trans"] = True
    if "betas" in a and np.asarray(a["betas"]).dtype.kind in "fiu":
        betas = np.asarray(a["betas"], np.float64)
        if betas.ndim == 2:  # one row per frame (video fits) or (1, K): the body shape is their mean
            meta["betas_rows"] = len(betas)
            betas = betas.mean(axis=0) if len(betas) else np.zeros(betas.shape[1])
        meta["betas"] = [float(b) for b in betas.reshape(-1)]
    try:
        return Motion(fps=rate, root_translation=trans.astype(np.float64) + PELVIS_REST, rotations=rot,
                      skeleton=skel, meta=meta)
    except (ValueError, A4merError) as e:
        raise MotionFileError(path, str(e)) from None


def _text(value: np.ndarray | None) -> str | None:
    """The string of a one-element string array of an npz (``gender``, ``surface_model_type``), else None."""
    if value is None or value.dtype.kind not in "SU" or value.size != 1:
        return None
    v = value.reshape(-1)[0]
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


#: most body-shape components an npz may hold (SMPL-X models have up to 300)
MAX_BETAS = 300

#: AMASS keeps each subject's body shape beside its clips in a file of this name (betas and gender,
#: no poses): folder scans skip it instead of reporting a failed clip
AMASS_SHAPE_FILE = "shape.npz"


#: the arrays :func:`write_amass_npz` writes (``surface_model_type`` where it names the layout)
WRITTEN_KEYS = ("poses", "trans", "betas", "gender", "mocap_frame_rate", "mocap_framerate", "surface_model_type")
#: those it always writes: the rate under both names together marks a file it wrote (an AMASS file has
#: one of them: SMPL-X ``mocap_frame_rate``, SMPL+H ``mocap_framerate``)
ALWAYS_WRITTEN = WRITTEN_KEYS[:6]


def write_amass_npz(motion: Motion, path: str | os.PathLike) -> Path:
    """Write ``motion`` as an AMASS-style npz: ``poses`` (N, 3J) axis-angle in its own layout (SMPL 72,
    SMPL-H 156, SMPL-X 165: hands kept; any other SMPL-family skeleton as SMPL 72), ``trans`` (N, 3)
    metres in the Z-up world, ``betas`` and ``gender`` of the subject where the motion was read from
    an AMASS-style npz (``meta["betas"]``, ``meta["gender"]``; else zeros (10) and "neutral"),
    ``mocap_frame_rate`` and ``mocap_framerate`` (the rate under both names AMASS uses: SMPL-X files and the
    SMPL+H loaders' ``bdata['mocap_framerate']``), and ``surface_model_type`` where the source npz had one naming the layout
    written. Written atomically (temp + rename).
    """
    path = Path(path)
    body = motion if motion.skeleton in (SMPLH, SMPLX) else motion.body()
    poses = quat_to_axis_angle(body.rotations).reshape(body.num_frames, 3 * body.num_joints)
    betas = np.asarray(motion.meta.get("betas", np.zeros(10)), np.float64)
    gender = str(motion.meta.get("gender", "neutral"))
    extra = {}
    named = str(motion.meta.get("surface_model_type", ""))
    if named == {SMPL: "smpl", SMPLH: "smplh", SMPLX: "smplx"}.get(body.skeleton):  # it names the layout written
        extra["surface_model_type"] = np.array(named)
    return save_npz_atomic(path, poses=poses, trans=body.root_translation - PELVIS_REST, betas=betas,
                           gender=np.array(gender), mocap_frame_rate=np.array(float(body.fps)),
                           mocap_framerate=np.array(float(body.fps)), **extra)

