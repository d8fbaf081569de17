"""Shared CLI helpers: load options from flags, collect input files."""
from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from ..api import TWISTS, LoadOptions, clip_names
from ..errors import A4merError


def add_load_arguments(p: argparse.ArgumentParser, lead_in: bool = True, twist: bool = True, floor: bool = True) -> None:
    """Flags of :class:`a4mer.api.LoadOptions`; ``lead_in=False`` leaves out ``--keep-reference-frames``
    (commands whose output keeps every frame of the input read it whole); ``twist=False`` leaves out
    ``--twist`` (commands that only feed the model, whose input calibrates twist on the clip itself);
    ``floor=False`` leaves out ``--floor`` (commands whose numbers do not depend on the floor)."""
    p.add_argument("--source-fps", type=float, help="override the frame rate stated in the file (1 to 100000 fps)")
    p.add_argument("--asf", help="ASF skeleton of an AMC clip (default: <stem>.asf beside it, else the best match in a "
                                         "sibling asf/ folder, as the README says)")
    p.add_argument("--bone-map", help="JSON map SMPL joint -> source joint for unknown skeletons")
    p.add_argument("--scale", type=float, help="root translation factor (default: SMPL/source leg length)")
    p.add_argument("--up", choices=("auto", "y", "z"), default="auto",
                   help="a BVH file's up axis (default: the axis its rest pose stands along)")
    if twist:
        p.add_argument("--twist", choices=TWISTS, default="rest",
                       help="a BVH/AMC's joint twist: 'rest' (default) keeps the source's (calibrated on the file's "
                            "rest pose), 'clip' calibrates each joint's mean twist over the clip away")
    if floor:
        p.add_argument("--floor", action="store_true",
                       help="put the feet on the floor z = 0 by moving the root up or down by one constant")
    if lead_in:
        p.add_argument("--keep-reference-frames", action="store_true",
                       help="keep a BVH/AMC's lead-in when its frame 0 is the file's rest pose (CMU Daz-friendly "
                            "T-pose frame and the ease from it: dropped by default)")


#: the clip formats each reading flag acts on (an AMASS npz is SMPL already: nothing to retarget)
FLAG_FORMATS = {"up": (".bvh",), "asf": (".amc",), "bone_map": (".bvh", ".amc"), "scale": (".bvh", ".amc"),
                "keep_reference_frames": (".bvh", ".amc"), "twist": (".bvh", ".amc")}


def load_options(args: argparse.Namespace, fps: float | None = None, inputs=(), whole: bool = False) -> LoadOptions:
    """The :class:`LoadOptions` of the flags (``whole``: every frame of the file, a rest-pose lead-in
    included, as commands whose output keeps the input's frames need); a bad value (``--scale 0``, a ``--bone-map`` or ``--asf``
    file that does not exist) is one :class:`A4merError` naming the flag, raised before any clip is read.
    A flag that acts on none of ``inputs`` (``--up`` with npz clips) is a note on stderr, not silence."""
    import sys
    for name, suffixes in FLAG_FORMATS.items():
        given = getattr(args, name, None)
        if inputs and given not in (None, "auto", "rest", False) and not any(Path(p).suffix.lower() in suffixes for p in inputs):
            print(f"a4mer: note: --{name.replace('_', '-')} has no effect here: it applies to "
                  f"{' and '.join(suffixes)} clips only", file=sys.stderr)
    return LoadOptions(fps=fps, source_fps=args.source_fps, asf=args.asf, bone_map=args.bone_map,
                       scale=args.scale, up=getattr(args, "up", "auto"), floor=getattr(args, "floor", False),
                       keep_reference_frames=whole or getattr(args, "keep_reference_frames", False),
                       twist=getattr(args, "twist", "rest"))


def load_clip(path, opts: LoadOptions, verb: str, **kw):
    """:func:`a4mer.api.load_motion` of ``path``, with a note on stderr where the clip is not all the file
    holds: a BVH/AMC whose rest-pose lead-in was dropped (the clip's frame numbers then start at the
    file's frame N), an npz without ``trans`` (the body stands at the origin). ``kw``: more arguments of
    :func:`~a4mer.api.load_motion`."""
    import sys

    from ..api import load_motion
    motion = load_motion(path, opts, **kw)
    n = motion.meta.get("reference_frames_dropped")
    if n:
        from ..io.source import reference_frames_note
        print(f"a4mer {verb}: note: {reference_frames_note(path, n)}", file=sys.stderr)
    if motion.meta.get("no_trans"):
        print(f"a4mer {verb}: note: {path}: no 'trans' array: the root stays at the origin (trans = 0 in every frame)",
              file=sys.stderr)
    return motion


def naming(path, error: A4merError) -> A4merError:
    """``error`` with ``path`` in front unless its message names it already (every user error names
    the file it is about)."""
    return error if str(path) in str(error) else A4merError(f"{path}: {error}")


def collect_inputs(items: list[str], exclude: str | Path | None = None, once: bool = True) -> list[Path]:
    """Files given directly, plus every supported clip under given folders (:func:`a4mer.api.find_clips`:
    hidden files, AMASS ``shape.npz`` files and ``exclude``, the output folder when it lies inside an
    input folder, are skipped); with ``once``, a file given twice (or also through its folder, or linked
    under two names) is taken once, by the first of its paths (``label-train`` takes every path and names
    the repeats itself: a file linked into two label folders is a clip of each label)."""
    from ..api import find_clips
    out: list[Path] = []
    for item in items:
        p = Path(item)
        out.extend(find_clips(p, exclude=exclude) if p.is_dir() else [p])
    if not out:
        raise A4merError("no input clips found in " + ", ".join(items))
    if not once:
        return out
    first: dict[str, Path] = {}
    for f in out:
        first.setdefault(os.path.realpath(f), f)
    return list(first.values())


#: suffixes that name a file, never an output folder (``-o results.v2`` is a folder)
FILE_SUFFIXES = frozenset({".npz", ".bvh", ".amc", ".asf", ".json", ".safetensors", ".blend", ".png", ".npy"})


#: flags that name an input file (besides the clips) of some command
INPUT_FLAGS = ("checkpoint", "vocab", "bone_map", "asf", "heads", "head", "segments", "labels", "prototypes")


def named_files(args: argparse.Namespace) -> list[Path]:
    """The files the flags of :data:`INPUT_FLAGS` name (``--checkpoint`` a bundle, or every .safetensors
    of a training folder; ``--heads auto`` and the like name none) and the package's shipped files
    (:func:`a4mer.shipped.shipped_files`, the inputs when no such flag is given): inputs that an output must
    not replace."""
    from ..shipped import shipped_files
    out = shipped_files()
    for name in INPUT_FLAGS:
        value = getattr(args, name, None)
        if value and isinstance(value, str):
            p = Path(value)
            out += sorted(p.glob("*.safetensors")) if p.is_dir() else [p]
    return out


def output_targets(inputs: list[Path], output: str, suffix: str = ".npz", *,
                   replace: bool | Callable[[Path], bool]) -> list[Path]:
    """One output path per input: ``output`` itself for a single input naming a ``suffix`` file,
    else ``output/<name><suffix>`` (a folder, created; names by :func:`a4mer.api.clip_names`, as
    ``a4mer batch`` names its outputs: ``salsa/04.bvh`` -> ``salsa__04``). Checked before any clip is read
    (:func:`a4mer.io.outputs.check_output`): no target is an input, and a name with another suffix
    (``-o walk.bvh``) is an error, not a folder. ``replace`` (required: each command says which
    existing files a name it chooses in the folder may replace, e.g. only npz files of its own,
    :func:`~a4mer.io.outputs.npz_within`); a file named by ``output`` itself is replaced."""
    from ..io.outputs import SameFiles, check_output
    if not str(output).strip():
        raise A4merError("-o is empty: give an output file or folder")
    out = Path(output)
    if len(inputs) == 1 and out.suffix.lower() == suffix and not out.is_dir():
        return [check_output(out, inputs, [suffix])]
    if out.suffix.lower() in FILE_SUFFIXES and not out.is_dir():
        if len(inputs) > 1:
            raise A4merError(f"{out}: the inputs hold {len(inputs)} clips ({inputs[0].name}, {inputs[1].name}"
                             f"{', ...' if len(inputs) > 2 else ''}): -o must name a folder for several clips")
        raise A4merError(f"{out}: -o must be a {suffix} file (one input) or a folder")
    targets = [out / (n + suffix) for n in clip_names(inputs)]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise A4merError(f"{out}: cannot create the output folder ({e.strerror or e})") from None
    same = SameFiles(inputs)  # one stat per input, not one per input and target
    return [check_output(t, same, replace=replace) for t in targets]


def check_not_among_inputs(items: list[str], targets: list[Path], output: str, what: str) -> None:
    """:class:`A4merError` when the output folder ``output`` is one of the folders ``items`` names: the .npz
    files written there would be read as clips by the next run over it (``convert clips -o clips``
    converted its own outputs again under drifting names, then failed). A folder inside one is left out
    of the search (:func:`collect_inputs`' ``exclude``); a file given beside its output is fine."""
    if targets and targets[0] == Path(output):
        return
    folder = Path(output).resolve()
    same = next((i for i in items if Path(i).is_dir() and Path(i).resolve() == folder), None)
    if same is not None:
        raise A4merError(f"-o {output}: the folder searched for inputs ({same}); {what} written there would be read "
                         "as clips by later runs over it: choose another folder (one inside it is fine)")


def run_each(verb: str, inputs: list[Path], targets: list[Path], process) -> int:
    """Call ``process(input, target) -> summary`` for every clip; a failing clip (A4merError or an
    OS error) is one line on stderr and the others go on. Exit code 1 if any failed."""
    import sys
    failed = 0
    for path, target in zip(inputs, targets):
        try:
            summary = process(path, target)
        except (A4merError, OSError) as e:
            failed += 1
            print(f"a4mer {verb}: error: {e}", file=sys.stderr)
            continue
        print(f"{path} -> {target} ({summary})")
    if failed:
        print(f"a4mer {verb}: {failed} of {len(inputs)} clips failed", file=sys.stderr)
    return 1 if failed else 0
