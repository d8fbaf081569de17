"""Exports of a Motion and its segments for other tools (light core, numpy only).

- ``npz``: AMASS-style SMPL npz (:func:`a4mer.io.write_amass_npz`; SMPL-H/X keep their own layout, hands included).
- ``bvh``: BVH on the SMPL-24 skeleton, metres, Y up (the usual BVH world), so Blender's own BVH
  importer (``bpy.ops.import_anim.bvh``, default axes) puts every joint where
  ``motion.body().joint_positions()`` says.
- ``babel``: BABEL-format JSON (one sequence): ``dur`` (s), ``seq_ann`` and ``frame_ann`` whose labels
  are the motif names (``start_t``/``end_t`` in seconds, ``seg_id``, ``raw_label``/``proc_label``,
  ``act_cat``). BABEL frame = round(t x fps).

Every file is written to a temporary name beside the target and renamed, so no partial file remains.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .errors import A4merError
from .io.outputs import write_atomic, write_text_atomic
from .motion import Motion
from .strips import motif_display_name, validate_segments

FORMATS = ("npz", "bvh", "babel")
#: output suffix of each format
SUFFIX = {"npz": ".npz", "bvh": ".bvh", "babel": ".babel.json"}


def write_bvh_smpl(motion: Motion, path: str | os.PathLike) -> Path:
    """``motion`` as a BVH on the SMPL-24 skeleton (metres, Y up, ZXY Euler); written atomically."""
    from .io.bvh_write import write_bvh

    return write_atomic(path, lambda tmp: write_bvh(motion.body(), tmp, units="m", up="y", euler="ZXY"))


def write_npz(motion: Motion, path: str | os.PathLike) -> Path:
    """``motion`` as an AMASS-style SMPL npz (atomic)."""
    from .io.amass import write_amass_npz

    return write_amass_npz(motion, path)


def _seg_id(key: str) -> str:
    """A stable id of one label (the same ``key`` -> the same id), UUID-shaped like BABEL's."""
    h = hashlib.sha1(key.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def babel_sequence(segments: dict, name: str, feat_p: str = "", motif_names: dict | None = None,
                   duration: float | None = None, offset_s: float = 0.0) -> dict[str, Any]:
    """One BABEL sequence annotation from an A4Mer segments dict.

    ``dur`` = clip duration (s; ``duration`` when given, else the segments' ``duration``);
    ``frame_ann.labels``: one label per motif occurrence, ``start_t``/``end_t`` seconds, label = the
    motif's display name (``motif_names`` str(id) -> name, else ``m<id>``), also for the segments'
    ``generated_motifs`` (occurrences generated in Blender, from a .blend); ``seq_ann.labels``: one per
    distinct motif. ``babel_sid`` is ``name``; ``feat_p`` the motion file the labels refer to.
    ``offset_s``: seconds of that file before the segments' frame 0 (a dropped rest-pose lead-in): added
    to every time and to ``dur``, so the times are the file's.
    """
    validate_segments(segments, where=name)
    fps = float(segments["fps"])
    dur = offset_s + (float(duration) if duration is not None else float(
        segments.get("duration") or (segments["atoms"][-1]["end_frame"] / fps if segments["atoms"] else 0.0)))
    labels = []  # the segmented motifs, then those generated into the clip in Blender ("with a motif")
    for i, m in enumerate(list(segments["motifs"]) + list(segments.get("generated_motifs", []))):
        label = motif_display_name(m["motif_id"], motif_names)
        seg_id = _seg_id(f"{name}/{i}/{m['start_frame']}/{m['end_frame']}/{m['motif_id']}")
        labels.append({"raw_label": label, "proc_label": label.lower(), "seg_id": seg_id,
                       "act_cat": [label], "start_t": round(offset_s + int(m["start_frame"]) / fps, 6),
                       "end_t": round(offset_s + int(m["end_frame"]) / fps, 6),
                       "a4mer": {"motif_id": int(m["motif_id"]), "confidence": float(m.get("confidence", 1.0))}})
    seen: dict[str, None] = {}
    for lab in labels:
        seen.setdefault(lab["raw_label"])
    seq_labels = [{"raw_label": n, "proc_label": n.lower(), "seg_id": _seg_id(f"{name}/seq/{n}"),
                   "act_cat": [n]} for n in seen]
    ann = {"babel_lid": f"a4mer-{segments.get('vocab_hash', '')}", "anntr_id": f"a4mer-{segments.get('model_hash', '')}"}
    return {"babel_sid": name, "url": "", "feat_p": feat_p, "dur": round(dur, 6),
            "seq_ann": {**ann, "mul_act": len(seq_labels) > 1, "labels": seq_labels},
            "frame_ann": {**ann, "mul_act": len(seq_labels) > 1, "labels": labels}}


def write_babel(segments: dict, path: str | os.PathLike, name: str | None = None, feat_p: str = "",
                motif_names: dict | None = None, duration: float | None = None, offset_s: float = 0.0) -> Path:
    """A BABEL-style JSON file ``{sid: sequence}`` (like BABEL's ``train.json``) for one clip (atomic)."""
    path = Path(path)
    name = name or path.name.split(".")[0]
    seq = babel_sequence(segments, name, feat_p, motif_names, duration, offset_s)
    return write_text_atomic(path, json.dumps({name: seq}, indent=1, ensure_ascii=False) + "\n")


def export(motion: Motion | str | os.PathLike | None, path: str | os.PathLike, fmt: str, segments: dict | None = None,
           motif_names: dict | None = None, name: str | None = None, feat_p: str = "") -> Path:
    """Write ``motion`` (a Motion or the path of a clip; and ``segments`` for ``babel``) to ``path`` in
    format ``fmt``, whose name must end in that format's suffix (.npz, .bvh, .json); returns the path.
    ``motif_names``: motif id (int or str) -> name. BABEL times are the motion file's: a clip whose
    rest-pose lead-in was dropped, or a slice, starts :attr:`Motion.source_start_s` into it."""
    path = Path(path)
    if fmt not in FORMATS:
        raise A4merError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    ext = "." + SUFFIX[fmt].rsplit(".", 1)[1]  # .npz, .bvh, .json
    if path.suffix.lower() != ext:
        raise A4merError(f"{path}: a {fmt} export is named *{ext}")
    if motion is not None:
        from .api import as_motion
        motion = as_motion(motion)
    if fmt == "babel":
        if segments is None:
            raise A4merError("babel export needs segments: pass --segments FILE, --segment (run the model), "
                             "or an armature that has A4Mer tracks")
        return write_babel(segments, path, name, feat_p, motif_names, motion.duration if motion is not None else None,
                           motion.source_start_s if motion is not None else 0.0)
    if motion is None:
        raise A4merError(f"{fmt} export needs a motion")
    return write_npz(motion, path) if fmt == "npz" else write_bvh_smpl(motion, path)
