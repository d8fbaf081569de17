"""High-level light-core API: load any supported clip as an SMPL Motion (numpy only)."""
from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .conventions import MAX_FPS, MIN_FPS, positive_number
from .errors import A4merError, BadValue, MotionFileError
from .io._mocap import check_regular_file, not_a_file
from .motion import Motion

#: file suffix -> format name
FORMATS = {".npz": "npz", ".bvh": "bvh", ".amc": "amc"}
#: twist calibrations of a retargeted clip (:class:`LoadOptions`). The model reads either the same: its
#: input calibrates each joint's twist on the clip itself (:func:`a4mer.features.frame_arrays`)
TWISTS = ("rest", "clip")


@dataclass(frozen=True)
class LoadOptions:
    """How to read a clip. fps: resample the result to this rate (None = keep the source rate).
    source_fps: override a wrong header rate. asf: skeleton file of an AMC. bone_map: JSON map for
    unknown BVH/ASF skeletons. scale: root-translation factor overriding the leg-length ratio.
    up: a BVH file's up axis, ``"y"``, ``"z"`` or ``"auto"`` (Z when the rest pose stands along Z).
    keep_reference_frames: keep a BVH/AMC's lead-in when its frame 0 is the file's rest pose put before
    the take (CMU's "Daz-friendly" T-pose frame and the ease from it,
    :func:`a4mer.io.source.reference_lead_in`); by default those frames are dropped and
    ``meta["reference_frames_dropped"]`` says how many.
    floor: put the feet on the floor z = 0 by one constant vertical shift of the root
    (:func:`a4mer.floor.put_on_floor`; the shift is in ``meta["floor_shift_m"]``).
    twist: how a BVH/AMC's joint frames are mapped onto SMPL's (:mod:`a4mer.retarget.solve`): ``"rest"``
    (the file's rest pose: a twist or head turn held through the take is kept) or ``"clip"`` (each
    joint's mean twist over the clip is calibrated away, as the model's own input does)."""

    fps: float | None = None
    source_fps: float | None = None
    asf: str | None = None
    bone_map: str | None = None
    scale: float | None = None
    up: str = "auto"
    keep_reference_frames: bool = False
    floor: bool = False
    twist: str = "rest"

    def __post_init__(self):
        for name in ("fps", "source_fps", "scale"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, positive_number(v, f"{name} (--{name.replace('_', '-')})",
                                                               most=None if name == "scale" else MAX_FPS,
                                                               least=None if name == "scale" else MIN_FPS))
        if self.up not in ("auto", "y", "z"):
            raise A4merError(f"up must be 'auto', 'y' or 'z', got {self.up!r}")
        if self.twist not in TWISTS:
            raise A4merError(f"twist (--twist) must be one of {', '.join(map(repr, TWISTS))}, got {self.twist!r}")
        for name in ("keep_reference_frames", "floor"):  # "no" would read as True
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise A4merError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name in ("bone_map", "asf"):
            f = getattr(self, name)
            if f is not None and not isinstance(f, (str, os.PathLike)):
                raise A4merError(f"{name} (--{name.replace('_', '-')}) must be a file path, got {f!r}")
            if f is not None and (why := not_a_file(f)) is not None:
                raise A4merError(f"{name} (--{name.replace('_', '-')}) {f}: {why}")


def find_clips(folder: str | os.PathLike, suffixes=tuple(FORMATS), exclude: str | os.PathLike | None = None
               ) -> list[Path]:
    """Every clip file under ``folder`` whose suffix is one of ``suffixes`` (sorted), skipping hidden
    files and folders (``.name``, e.g. macOS ``._clip.bvh``), AMASS subject shape files
    (``shape.npz``: betas, no poses) and anything under ``exclude`` when that lies inside ``folder``
    (an output folder written into the searched one; a searched folder inside the output folder, as
    in ``batch out/in --out out``, is searched whole). A linked folder is searched too (once: a link
    back up the tree is not followed round). A broken symbolic link is listed, so that reading it fails by
    name instead of the clip vanishing."""
    from .io.amass import AMASS_SHAPE_FILE
    suffixes = {s.lower() for s in ((suffixes,) if isinstance(suffixes, str) else suffixes)}  # ".BVH", ".bvh"
    folder = Path(folder)
    if not folder.is_dir():  # a typo or a file: an error, not an empty library
        raise MotionFileError(folder, "not a folder" if folder.exists() else "no such folder")
    skip = Path(exclude).resolve() if exclude is not None else None
    if skip is not None and folder.resolve() not in skip.parents:
        skip = None
    found, seen = [], set()
    for here, dirs, files in os.walk(folder, followlinks=True):  # Path.rglob skips linked folders
        real = os.path.realpath(here)
        if real in seen:  # a link to a folder already searched (or up the tree): searched once
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            f = Path(here) / name
            dangling = f.is_symlink() and not f.exists()  # kept: it fails by name ("file not found"), not silently
            if (f.suffix.lower() not in suffixes or name == AMASS_SHAPE_FILE or name.startswith(".")
                    or not (f.is_file() or dangling)):
                continue
            if skip is not None and skip in f.resolve().parents:
                continue
            found.append(f)
    return sorted(found)


def dropped_lead_in(motion) -> dict:
    """``{"reference_frames_dropped": N}`` when the clip's first N file frames (a rest-pose lead-in) were
    left out, so frame f of an output is the file's frame f + N; else ``{}``. Every output indexed by
    frames carries it (segment records, labels JSON, embeddings). A :meth:`~a4mer.motion.Motion.slice` of
    such a clip counts the file's frames before the slice too (it said N: frame 0 was far further in)."""
    n = int(motion.meta.get("reference_frames_dropped") or 0)
    if n and "source_start_s" in motion.meta:
        n = int(round(motion.source_start_s * float(motion.meta.get("source_fps", motion.fps))))
    return {"reference_frames_dropped": n} if n else {}


def as_motion(clip, whole: bool = False) -> Motion:
    """``clip`` as a :class:`~a4mer.motion.Motion`: a Motion, or the path of a clip to load
    (:func:`load_motion`; ``whole``: every frame of the file, a rest-pose lead-in included, so that
    frame numbers are the file's, as ``a4mer inbetween``/``extend`` read it); :class:`A4merError` for
    anything else. A path is read with the default :class:`LoadOptions`: for others (a wrong stated
    frame rate, an ASF elsewhere, a bone map) pass ``load_motion(path, ...)`` instead."""
    if isinstance(clip, Motion):
        return clip
    if isinstance(clip, (str, os.PathLike)):
        return load_motion(clip, LoadOptions(keep_reference_frames=whole))
    raise A4merError(f"expected a Motion or the path of a clip (.npz/.bvh/.amc), got {type(clip).__name__}")


def clip_names(paths: list[Path], clean=lambda text: text) -> list[str]:
    """One output name per clip path, as ``a4mer convert`` and ``a4mer embed`` name their outputs: the
    file stem; clips whose names clash are named by their path from the folder they share
    (``salsa/04.bvh``, ``indian/04.bvh`` -> ``salsa__04``, ``indian__04``), and if that still clashes
    (``walk.bvh`` and ``walk.npz`` side by side) by their suffix too (``walk_bvh``). ``clean`` makes a
    name safe as a file stem; names it makes equal get a tag of their own path (``walk_1_bvh_3f9a1c``).
    :class:`A4merError` when names still clash (the same file given twice)."""
    paths = [Path(os.path.abspath(p)) for p in paths]  # a link is named by where it lies, not its target
    names = [clean(p.stem) for p in paths]
    for group in _clashing(names):
        for k, parts in zip(group, _below_common([paths[k].with_suffix("") for k in group])):
            names[k] = clean("__".join(parts))
    return distinct_names(names, paths, clean)


def _below_common(paths: list[Path]) -> list[tuple[str, ...]]:
    """Each of the absolute ``paths``' parts below the folder they share; paths on different drives
    (Windows) share none: their parts after the drive's letter (``D:\\a\\b`` -> ``D``, ``a``, ``b``)."""
    try:
        root = os.path.commonpath([str(p.parent) for p in paths])
    except ValueError:  # another drive
        return [(p.drive.strip(":\\/").replace("\\", "_") or "unc", *p.parts[1:]) for p in paths]
    return [p.relative_to(root).parts for p in paths]


def name_key(name: str) -> str:
    """What makes two file names one file on some file system: letter case (Windows, macOS) and the
    Unicode spelling (macOS: ``ä`` as one character or as ``a`` + a combining mark)."""
    return unicodedata.normalize("NFC", name).casefold()


def _clashing(names: list[str]) -> list[list[int]]:
    """Index groups of the names that would be one file on some file system (:func:`name_key`)."""
    groups: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        groups.setdefault(name_key(n), []).append(i)
    return [groups[n] for n in sorted(groups) if len(groups[n]) > 1]


def distinct_names(names: list[str], paths: list[Path], clean=lambda text: text) -> list[str]:
    """``names`` of the clips at ``paths`` (absolute), made distinct where they clash: by the file's
    suffix (``walk_bvh``), then by a tag of the path (``walk_1_bvh_3f9a1c``). :class:`A4merError` when
    names still clash (the same file given twice)."""
    names = list(names)
    for group in _clashing(names):
        for k in group:
            names[k] = f"{names[k]}_{paths[k].suffix.lower().lstrip('.')}"
    for group in _clashing(names):  # names ``clean`` merged (``walk 1`` / ``walk_1``, long names cut): tagged
        # by their own path, so a new clip never takes another's name (batch would skip it as done)
        for k, parts in zip(group, _below_common([paths[k] for k in group])):
            tag = hashlib.sha1("/".join(parts).encode()).hexdigest()[:6]
            names[k] = clean(f"{names[k][:140]}_{tag}")
    left = _clashing(names)
    if left:
        raise A4merError(f"several inputs would write the same outputs ({names[left[0][0]]}: "
                         f"{', '.join(str(paths[k]) for k in left[0])}): rename them")
    return names


def clip_format(path: str | os.PathLike) -> str:
    """'npz', 'bvh' or 'amc' from the file suffix; MotionFileError for anything else."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        hint = (" (an .asf is the skeleton: read an .amc clip, which finds its .asf)"
                if Path(path).suffix.lower() == ".asf" else "")
        raise MotionFileError(path, f"unsupported file type {Path(path).suffix!r}; expected .npz, .bvh or .amc{hint}")
    return fmt


def _rest_up(names, rest: np.ndarray, bmap) -> float:
    """Z component of the unit pelvis -> head (or neck) vector of a source skeleton's rest pose (joint
    ``names``, ``rest (J, 3)`` positions in the Z-up world): near 1 when the file's up axis was read
    right (rest poses stand), near 0 when it lies."""
    top = bmap.joints.get("head") or bmap.joints.get("neck")
    if top is None or "pelvis" not in bmap.joints:
        return 1.0
    v = rest[names.index(top)] - rest[names.index(bmap.joints["pelvis"])]
    n = float(np.linalg.norm(v))
    return float(v[2] / n) if n > 0 else 1.0


def _bvh_upright(take, bmap, src_y, unit_frames: np.ndarray | None):
    """The reading of a parsed BVH ``take`` whose rest pose stands: ``src_y`` (read Y-up, the BVH default)
    unless its rest pose lies and the Z-up reading's stands. A rest pose that says neither (bones along X,
    like Bandai's) keeps Y-up: the frames cannot tell a Z-up file from a Y-up clip of someone lying.
    ``unit_frames (T,)``: the frames ``src_y``'s unit was guessed on (:func:`~a4mer.io.bvh.bvh_source`)."""
    from .io.bvh import bvh_rest_positions, bvh_source
    if _rest_up(src_y.names, src_y.rest_positions, bmap) > 0.5:
        return src_y
    if _rest_up(take.names, bvh_rest_positions(take, "z", unit_frames=unit_frames), bmap) <= 0.5:
        return src_y
    return bvh_source(take, up="z", unit_frames=unit_frames)


def check_nonfinite_frames(path, meta: dict, known: np.ndarray | None) -> None:
    """:class:`MotionFileError` when frames ``meta["nonfinite_frames"]`` held NaN/inf values on frames
    ``known (T,)`` marks as kept (frames a gap fill generates may hold anything)."""
    bad = np.asarray(meta.get("nonfinite_frames", []), dtype=np.int64)
    if known is not None and len(bad) and len(known) > bad.max() and known[bad].any():
        at = bad[known[bad]]
        raise MotionFileError(path, f"NaN/inf values in frame(s) {', '.join(map(str, at[:5]))}"
                                    f"{', ...' if len(at) > 5 else ''} (counting from 0, as the gap's start/end and"
                                    " key frames do), outside the frames to generate")


def kept_frames(T: int, start: int | None = None, end: int | None = None, keys=None) -> np.ndarray | None:
    """``(T,)`` True on the frames a fill keeps: every frame but those strictly between ``start`` and ``end``,
    or between two of the sorted ``keys`` (frames outside the keys are kept too); None where the frames
    given are not valid (the heads name the problem)."""
    def whole(x):
        ok = isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) and np.isfinite(x)
        return int(x) if ok and float(x).is_integer() else None

    known = np.zeros(T, bool)
    if keys is None:
        start, end = whole(start), whole(end)
        if start is None or end is None or not 0 <= start < end < T:
            return None
        known[:] = True
        known[start + 1:end] = False
    else:
        if not len(keys) or keys[0] < 0 or keys[-1] >= T:
            return None
        known[keys] = True
        known[:keys[0]] = known[keys[-1] + 1:] = True
    return known


def fill_reading(reading: "ClipFile", known: np.ndarray | None, floor: bool = False) -> dict:
    """The keyword arguments of ``load_motion(reading.path, options, **kw)`` that make the Motion of a fill
    keeping the frames ``known (T,)`` of a clip read whole with ``nonfinite_ok`` (``reading``,
    :func:`read_clip`; ``kw`` holds it, so the file is not parsed again). Where only the kept frames
    should calibrate the reading (a BVH/AMC's retargeting, the ``floor``) it is retargeted on those; frames
    to generate may hold anything (a capture's dropouts), while a kept frame holding NaN/inf is a
    :class:`MotionFileError`. ``known`` None or all True (frames that make no gap: the heads name what is
    wrong with them) reads every frame, NaN/inf ones as the nearest finite frame."""
    partial = known is not None and not known.all()
    if partial:
        check_nonfinite_frames(reading.path, reading.meta, known)
    if floor or (partial and reading.format != "npz"):
        return {"known": known if partial else None, "reading": reading}
    return {"nonfinite_ok": True, "reading": reading}  # the whole reading, as it is


@dataclass(frozen=True, eq=False)
class ClipFile:
    """A clip file read once (:func:`read_clip`): what every :func:`load_motion` of it shares, whatever
    it retargets on (``known`` frames, options other than ``source_fps`` and ``asf``).

    path: the file. format: ``"npz"``, ``"bvh"`` or ``"amc"``. source_fps, asf: the options it was read
    with. lenient: read with NaN/inf frames allowed (``meta["nonfinite_frames"]`` lists them).
    data: the npz's :class:`Motion`, the BVH's :class:`~a4mer.io.bvh.BvhTake` or the AMC's
    :class:`~a4mer.io.source.SourceClip`."""

    path: str
    format: str
    source_fps: float | None
    asf: str | os.PathLike | None
    lenient: bool
    data: object

    @property
    def num_frames(self) -> int:
        """The file's frames (no lead-in dropped, at its own rate)."""
        return self.data.num_frames

    @property
    def meta(self) -> dict:
        """What the reader found (``nonfinite_frames``: file frames held NaN/inf, when ``lenient``)."""
        return self.data.meta

    def serves(self, path: str | os.PathLike, opts: LoadOptions, lenient: bool) -> bool:
        """Whether this reading is what reading ``path`` with ``opts`` (NaN/inf frames allowed: ``lenient``)
        would give."""
        return (os.fspath(path) == self.path and opts.source_fps == self.source_fps and opts.asf == self.asf
                and (lenient or "nonfinite_frames" not in self.meta))


def _check_path(path) -> str:
    """The clip format of ``path`` (:func:`clip_format`); :class:`A4merError` / :class:`MotionFileError`
    where it names no clip file."""
    if not isinstance(path, (str, os.PathLike)):
        raise A4merError(f"expected the path of a clip (.npz/.bvh/.amc), got {type(path).__name__}")
    if not str(path).strip():
        raise A4merError("the clip path is empty")
    if Path(path).is_dir():
        raise MotionFileError(path, "is a folder, not a clip file")
    if not Path(path).exists() and not Path(path).suffix:  # "not found", not "unsupported file type ''"
        raise MotionFileError(path, "file not found")
    fmt = clip_format(path)
    check_regular_file(path)
    return fmt


def _load_options(options: LoadOptions | None, kw: dict) -> LoadOptions:
    """``options``, or the :class:`LoadOptions` of the keywords ``kw`` (not both)."""
    if options is not None and kw:
        raise BadValue(f"give the load options either as a LoadOptions or as keywords, not both ({', '.join(kw)})")
    if options is not None and not isinstance(options, LoadOptions):
        raise BadValue(f"options must be a LoadOptions, got {type(options).__name__}")
    try:
        return options or LoadOptions(**kw)
    except TypeError as e:  # an unknown keyword
        raise BadValue(f"load_motion: {e}") from None


def read_clip(path: str | os.PathLike, options: LoadOptions | None = None, nonfinite_ok: bool = False) -> ClipFile:
    """``path`` read once (:class:`ClipFile`: parsed, not yet retargeted) with ``options.source_fps`` and
    ``options.asf``: ``load_motion(path, ..., reading=it)`` makes its Motions without reading the file
    again. ``nonfinite_ok``: NaN/inf frames are read as the nearest finite frame and listed in
    ``meta["nonfinite_frames"]``. Raises as :func:`load_motion` does for a file it cannot read."""
    opts = _load_options(options, {})
    return _read(path, _check_path(path), opts, nonfinite_ok)


def _read(path, fmt: str, opts: LoadOptions, lenient: bool) -> ClipFile:
    """:func:`read_clip` of ``path``, a clip file of format ``fmt`` (:func:`_check_path`)."""
    if fmt == "npz":
        from .io.amass import read_amass_npz
        data = read_amass_npz(path, fps=opts.source_fps, nonfinite_ok=lenient)
    elif fmt == "bvh":
        from .io.bvh import parse_bvh
        data = parse_bvh(path, fps=opts.source_fps, nonfinite_ok=lenient)
    else:
        from .io.asfamc import read_amc
        data = read_amc(path, asf=opts.asf, fps=opts.source_fps, nonfinite_ok=lenient)
        for a in (data.end_site, data.positions, data.orientations, data.rest_positions, data.rest_orientations):
            if a is not None:  # shared by every reading of the clip, as a parsed BVH's arrays are
                a.setflags(write=False)
    return ClipFile(os.fspath(path), fmt, opts.source_fps, opts.asf, lenient, data)


def load_motion(path: str | os.PathLike, options: LoadOptions | None = None, known: np.ndarray | None = None,
                nonfinite_ok: bool = False, reading: ClipFile | None = None, **kw) -> Motion:
    """Read ``path`` (AMASS npz, BVH or ASF/AMC) as a Z-up SMPL-family Motion.

    BVH and AMC clips are retargeted onto SMPL-24 (see :mod:`a4mer.retarget`); their meta holds
    the scheme and the per-bone direction error. Keyword arguments fill :class:`LoadOptions`.
    ``known (T,)`` bool over the file's frames (read whole at its own rate: ``keep_reference_frames``,
    no ``fps``): the other frames are read as the interpolation of the known frames around them (a
    BVH/AMC's before retargeting, :func:`a4mer.io.source.interpolate_frames`; an npz's,
    :meth:`Motion.between_known`), so what the file holds there changes nothing read from it (the
    retargeting's clip calibrations, the floor): the frames a gap fill generates. NaN/inf values are an
    error, except on frames outside ``known`` or with ``nonfinite_ok``: such frames are read as the
    nearest finite frame and listed (file frames) in ``meta["nonfinite_frames"]``.
    ``reading``: ``path`` already read by :func:`read_clip` (not read again where it serves these
    options, :meth:`ClipFile.serves`).
    Raises :class:`MotionFileError` / :class:`SkeletonError` with the file named (also for a clip
    ``floor=True`` cannot put on the floor: no still foot under an upright body).
    """
    opts = _load_options(options, kw)
    fmt = _check_path(path)
    if known is not None and (opts.fps is not None or not opts.keep_reference_frames):
        raise BadValue("known frames are frames of the whole file at its own rate: give them with "
                       "keep_reference_frames=True and no fps")
    lenient = nonfinite_ok or known is not None
    if reading is None or not reading.serves(path, opts, lenient):
        reading = _read(path, fmt, opts, lenient)
    if fmt == "npz":
        motion = replace(reading.data, meta=dict(reading.data.meta))  # a reading serves several loads unchanged
        check_nonfinite_frames(path, motion.meta, known)
    else:
        motion = _retargeted(reading, opts, known)
    return _finish(path, motion, opts, known)


def _retargeted(reading: ClipFile, opts: LoadOptions, known: np.ndarray | None) -> Motion:
    """The SMPL-24 Motion of a BVH/AMC ``reading`` (its frames outside ``known (T,)`` interpolated first)."""
    from .io.source import drop_leading_frames, interpolate_frames, reference_lead_in
    from .retarget import detect_scheme, load_bone_map, retarget
    path = reading.path
    if reading.format == "bvh":
        from .io.bvh import bvh_source
        src = bvh_source(reading.data, up="y" if opts.up == "auto" else opts.up, unit_frames=known)
    else:
        src = reading.data
    check_nonfinite_frames(path, src.meta, known)
    try:
        bmap = load_bone_map(opts.bone_map, src.names) if opts.bone_map else detect_scheme(src.names)
        if reading.format == "bvh" and opts.up == "auto":
            src = _bvh_upright(reading.data, bmap, src, known)
        if known is not None:
            src = interpolate_frames(src, known)
        lead_in = 0 if opts.keep_reference_frames else reference_lead_in(src)
        if lead_in:
            src = drop_leading_frames(src, lead_in)
        return retarget(src, bmap, scale=opts.scale, twist=opts.twist).motion
    except MotionFileError:
        raise
    except A4merError as e:
        raise MotionFileError(path, str(e)) from None


def _finish(path, motion: Motion, opts: LoadOptions, known: np.ndarray | None) -> Motion:
    """``motion`` read from ``path``: between its ``known (T,)`` frames, at ``opts.fps``, on the floor."""
    if known is not None:  # the floor is found on the known frames and those between them
        if len(known) != motion.num_frames:
            raise MotionFileError(path, f"known frames mask of {len(known)} frames for a clip of {motion.num_frames}")
        motion = motion.between_known(known)
    if opts.fps is not None:
        motion = motion.resample(opts.fps)
    if opts.floor:
        from .floor import put_on_floor
        try:
            motion = put_on_floor(motion)
        except A4merError as e:
            raise MotionFileError(path, str(e)) from None
    return motion
