"""Write a head's result in the input's own layout, touching only the generated frames.

For an AMASS-style npz input the output keeps every array of the input (SMPL / SMPL-H / SMPL-X
``poses``, ``betas``, ``gender``, split SMPL-X keys ...); only the rows of generated frames are
written (and, for extension, rows appended), so kept frames are bit-identical to the file. Other
inputs (BVH, AMC) are written as SMPL-24 npz of the loaded (retargeted) motion.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import A4merError
from ..geometry import axis_angle_to_quat, quat_to_axis_angle
from ..io.amass import FPS_KEYS, PELVIS_REST, SPLIT_KEYS, joined_poses, write_amass_npz
from ..io.outputs import check_output as check_output_file, save_npz_atomic, write_atomic, write_npz
from ..motion import Motion

def check_output(input_path: str | os.PathLike, out_path: str | os.PathLike, others=()) -> Path:
    """``out_path`` checked before anything is computed (:func:`a4mer.io.outputs.check_output`): an
    .npz in an existing writable folder; neither it nor its quality sidecar a folder, the input or one
    of the ``others`` files read (a ``--bone-map``, a heads file ...); an existing sidecar is a quality report
    of a4mer's (a file of the user's of that name is never replaced)."""
    from ..io.outputs import a4mer_json
    from .quality import sidecar_path
    if not str(out_path).strip():
        raise A4merError("-o is empty: give an output .npz file")
    side = sidecar_path(out_path)
    out = check_output_file(out_path, [input_path, *others], [".npz"], [side])
    if side.is_file() and not a4mer_json("schema_version", "task", "method")(side):
        raise A4merError(f"{side} (written beside {out.name}): exists and is not a quality report of a4mer's: move it, "
                         "or give -o another name")
    return out


def write_result(input_path: str | os.PathLike, source: Motion, result: Motion, generated: np.ndarray,
                 out_path: str | os.PathLike) -> tuple[Path, Motion]:
    """Write ``result`` to ``out_path`` (.npz, checked by :func:`check_output`); returns the path and
    ``result`` as the file holds it (the generated rows in the file's dtype: a float16 npz quantises
    them; the quality sidecar describes what was written). ``generated``: frame
    indices of ``result`` that were generated; ``result`` has ``source``'s frames plus, for extension,
    frames appended at the end. The file's frame rate keys state ``result``'s rate (``--source-fps``). An npz
    without ``trans`` (its root at the origin) gets none; one read with ``--floor`` gets the floor shift
    (``source.meta["floor_shift_m"]``) on its kept frames' ``trans`` too (the generated ones have it). Object
    arrays of the input (a ``meta`` dict ...), which a4mer never unpickles, are copied as they are stored."""
    out_path = check_output(input_path, out_path)
    generated = np.asarray(generated, int)
    inp = Path(input_path)
    if inp.suffix.lower() != ".npz":
        return write_amass_npz(result, out_path), result
    with np.load(inp, allow_pickle=False) as z:
        arrays, carried = {}, []
        for k in z.files:
            try:
                arrays[k] = z[k]
            except ValueError:  # an object array (it would need unpickling): copied as it is stored
                carried.append(k)
    T0, T1 = source.num_frames, result.num_frames
    split_only = "poses" not in arrays and (joined := joined_poses(inp, arrays)) is not None
    if split_only:  # written back with the split keys only, as it came
        arrays["poses"] = joined
    poses = arrays.get("poses")
    if poses is None or poses.shape[0] != T0:
        return write_amass_npz(result, out_path), result
    J = poses.shape[1] // 3
    aa = quat_to_axis_angle(result.rotations[generated, :J]).reshape(len(generated), -1)
    trans = result.root_translation[generated] - PELVIS_REST
    out = {}
    written = {"poses", "trans", *SPLIT_KEYS.get(J, {})}
    for k, v in arrays.items():
        if v.ndim >= 1 and v.shape[0] == T0 and k not in ("betas",):
            if T1 > T0:  # extension: append rows (last row repeated, then overwritten below)
                v = np.concatenate([v, np.repeat(v[-1:], T1 - T0, 0)])
            else:
                v = v.copy()
            if k in written and v.dtype.kind not in "fc":  # integer poses: the new rows would be truncated
                v = v.astype(np.float64)
        out[k] = v
    out["poses"][generated] = aa.astype(out["poses"].dtype)
    shift = float(source.meta.get("floor_shift_m", 0.0))
    if "trans" in out:
        out["trans"][generated] = trans.astype(out["trans"].dtype)
        if shift:
            kept = np.setdiff1d(np.arange(T1), generated)
            out["trans"][kept, 2] += np.asarray(shift, out["trans"].dtype)
    elif shift:  # the root stays at the origin, put on the floor
        out["trans"] = np.tile([0.0, 0.0, shift], (T1, 1))
    for k, (a, b) in SPLIT_KEYS.get(J, {}).items():
        if k in out and out[k].shape[0] == T1 and out[k].shape[-1] == 3 * (b - a):
            out[k][generated] = aa[:, 3 * a:3 * b].astype(out[k].dtype)
    rot, root = result.rotations.copy(), result.root_translation.copy()
    rot[generated, :J] = axis_angle_to_quat(out["poses"][generated].astype(np.float64).reshape(len(generated), J, 3))
    if "trans" in out:
        root[generated] = out["trans"][generated].astype(np.float64) + PELVIS_REST
    stored = result.with_(root_translation=root, rotations=rot)
    if split_only:
        del out["poses"]
    if "mocap_time_length" in out and out["mocap_time_length"].size == 1:  # seconds, as AMASS states it
        out["mocap_time_length"] = np.array(T1 / result.fps, dtype=out["mocap_time_length"].dtype)
    for k in FPS_KEYS:
        if k in out and out[k].size == 1 and float(out[k]) != float(result.fps):
            out[k] = np.array(float(result.fps), dtype=out[k].dtype)
    if not any(k in out for k in FPS_KEYS):  # read with --source-fps: the output says its rate
        out["mocap_frame_rate"] = np.array(float(result.fps))
    if not carried:
        return save_npz_atomic(out_path, **out), stored

    def write(tmp: Path) -> None:
        write_npz(tmp, out)
        with zipfile.ZipFile(inp) as src, zipfile.ZipFile(tmp, "a") as dst:
            for k in carried:
                dst.writestr(src.getinfo(f"{k}.npy"), src.read(f"{k}.npy"))
    return write_atomic(out_path, write), stored
