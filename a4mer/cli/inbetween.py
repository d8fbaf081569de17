"""``a4mer inbetween INPUT --start F0 --end F1 -o OUT.npz`` (or ``--keys N`` / ``--key-frames LIST``).

Frames strictly between the keys are generated from the rest of the clip (whatever the input holds
there is ignored); every other frame is copied unchanged; the output has the input's length, fps and
layout. With ``--motif ID`` every generated span performs that motif (its prototype time-stretched to
the gap and blended into the unconditioned fill at both keys). A quality sidecar
``OUT.quality.json`` is written next to the output.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

from ..errors import A4merError


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ._common import add_load_arguments
    p.add_argument("input", help="clip (npz/bvh/amc)")
    p.add_argument("--start", type=int, help="key frame before the gap (0-based)")
    p.add_argument("--end", type=int, help="key frame after the gap")
    p.add_argument("--keys", type=int, metavar="EVERY_N", help="blocking: keys every N frames from frame 0 (and the last frame)")
    p.add_argument("--key-frames", metavar="LIST", help="blocking: comma-separated key frames, e.g. 0,12,30,41")
    p.add_argument("-o", "--output", required=True, help="output .npz")
    p.add_argument("--motif", help="motif id the generated span(s) should perform (the prototype of that motif of "
                   "the installed model's vocabulary, adapted to the keys; see a4mer.heads.motif_conditioned)")
    p.add_argument("--heads", default="auto", help=HEADS_HELP)
    add_motif_arguments(p)
    add_load_arguments(p, lead_in=False)


def add_motif_arguments(p: argparse.ArgumentParser) -> None:
    """--checkpoint, --vocab, --device and --prototypes: the model whose vocabulary --motif names."""
    from .segment import add_model_arguments
    add_model_arguments(p, "the model whose motif vocabulary --motif names (default: the shipped model)")
    p.add_argument("--prototypes", help="motif prototypes (.safetensors) built for --checkpoint/--vocab with "
                   "scripts/build_motif_prototypes.py (default: the shipped ones, for the shipped vocabulary)")


HEADS_HELP = ("heads: 'auto' (the bundled learned correction of the classical curve), 'none' (the classical "
              "curve), 'tokens' (the bundled token route: predicted A4Mer tokens, decoded; a research baseline, "
              "see docs/benchmarks.md) or a heads / token heads file")


def resolve_heads(spec: str):
    """LearnedHeads from --heads: 'auto' (bundled, else classical), 'none' (classical), 'tokens' (the
    bundled token route) or a path to a heads or token heads file."""
    from ..heads.files import default_heads, load_heads
    from ..heads.inbetween import TASKS, LearnedHeads
    from ..heads.token_heads import is_token_heads_file, load_token_heads
    if spec == "auto":
        return default_heads()
    if spec == "none":
        return LearnedHeads(None, {t: False for t in TASKS}, name="classical")
    if spec == "tokens":
        return load_token_heads()
    if is_token_heads_file(spec):
        return load_token_heads(spec)
    if not Path(spec).exists() and Path(spec).suffix.lower() != ".safetensors":  # a mistyped word, not a file
        raise A4merError(f"--heads {spec}: neither 'auto', 'none' or 'tokens' nor a heads file (.safetensors)")
    return load_heads(spec)


def check_motif(motif: str | None, args: argparse.Namespace) -> int | None:
    """``--motif``: the id as int (None without the flag); an unknown id is a clear error naming the
    id and how many motifs the shipped model's vocabulary has. With ``--checkpoint`` / ``--vocab`` the
    range is checked against that vocabulary once it is loaded (:meth:`MotifPrototypes.check_id`)."""
    if motif is None:
        return None
    from ..heads.motif_conditioned import bundle_hashes
    try:
        mid = int(motif)
    except ValueError:
        mid = -1
    if args.checkpoint is not None or args.vocab is not None:
        if mid < 0:
            raise A4merError(f"unknown motif id {motif!r}: motif ids are whole numbers from 0")
        return mid
    n = bundle_hashes()[2]
    if n is None:
        raise A4merError(f"unknown motif id {motif!r}: the installed model has no motif vocabulary")
    if not 0 <= mid < n:
        raise A4merError(f"unknown motif id {motif!r}: the model's motif vocabulary has {n} motifs (ids 0..{n - 1})")
    return mid


def check_model_flags(args: argparse.Namespace, motif: int | None, verb: str) -> None:
    """``--device`` is checked at once (a device torch cannot use is an error, as in ``segment``);
    ``--device`` / ``--checkpoint`` / ``--vocab`` without ``--motif`` load no model: a note says so."""
    from ..model import resolve_device
    args.device = resolve_device(args.device)
    if motif is not None:
        return
    unused = [f for f, v in (("--device " + args.device, args.device != "cpu"), ("--checkpoint", args.checkpoint),
                             ("--vocab", args.vocab), ("--prototypes", args.prototypes)) if v]
    if unused:
        print(f"a4mer {verb}: note: {', '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used without "
              "--motif (these flags choose the A4Mer model that --motif loads; the heads run on the CPU)",
              file=sys.stderr)


def motif_conditioner(heads, motif: int, args: argparse.Namespace):
    """The :class:`~a4mer.heads.motif_conditioned.MotifConditioner` for ``--motif`` on ``heads`` (the
    ``--prototypes`` of the model's vocabulary, by default the packaged ones: prototypes built for another
    model or vocabulary are a clear error, as is a motif without prototype), with that model checking
    which transition variant it recognises as the motif."""
    from ..heads.motif_conditioned import conditioner_for
    from ._common import naming
    from .segment import load_model
    mc = conditioner_for(heads, prototypes=args.prototypes, verifier=load_model(args))
    try:
        mc.prototypes.check_id(motif)
    except A4merError as e:
        raise naming(args.input, e) from None
    return mc


#: below this share of the learned correction applied, a span is said to have the classical curve
FADED_SHARE = 0.1


def faded_method(curve: str, heads, share: float | None) -> str | None:
    """The method name of a span whose learned correction faded out (``share`` under :data:`FADED_SHARE`)
    to the classical ``curve``; None where it did not (or ``share`` is unknown)."""
    if share is None or share >= FADED_SHARE:
        return None
    return (f"{curve} (the {heads.name} correction faded out to {int(share * 100)}%: motion unlike the training "
            "data, or nearly still)")


def span_method(heads, motion, known: np.ndarray, s: int, e: int, motif: int | None = None,
                sank: bool = False, share: float | None = None) -> str:
    """What filled the span between keys ``s`` and ``e`` (``known (T,)``: the kept frames), by the rules
    :func:`~a4mer.heads.prediction.fill_runs` applies: a gap in dense frames gets the gap heads, close
    sparse keys the natural cubic spline, other sparse keys the blocking heads; each either with the
    learned correction or as the classical curve alone. ``sank``: the span took the classical answer
    because the learned one sank through the floor (the result's ``meta['classical_spans']``).
    ``share``: how much of the learned correction the span got (the result's ``meta['learned_shares']``);
    under :data:`FADED_SHARE` the span is the classical curve in all but name, and is named so."""
    from ..heads.prediction import close_keys, dense_run
    dense = dense_run(known, s, e)
    if sank:
        method = "classical curve (the learned answer sank through the floor)"
    elif heads.gap_learned(motion, s, e) if dense else heads.keys_learned(motion, [s, e]):
        method = faded_method("classical curve", heads, share) or heads.name
    elif not dense and close_keys(s, e, motion.fps):
        method = "natural cubic spline through the keys (keys under 0.23 s apart)"
    else:
        method = "classical curve (no learned correction for these spans)"
    return f"motif {motif} prototype blended into the {method}" if motif is not None else method


def _keys(args, T: int) -> list[int] | None:
    if args.keys is not None and args.key_frames is not None:
        raise A4merError("give either --keys or --key-frames, not both")
    if args.keys is not None:
        if args.keys < 2:
            raise A4merError(f"--keys must be at least 2 (frames between keys), got {args.keys}")
        return sorted(set(list(range(0, T, args.keys)) + [T - 1]))
    if args.key_frames is not None:
        parts = args.key_frames.strip().rstrip(",").split(",")  # a trailing comma is no entry
        try:
            given = [int(x) for x in parts if x.strip()]
        except ValueError:
            raise A4merError(f"--key-frames must be comma-separated integers, got {args.key_frames!r}") from None
        if any(not x.strip() for x in parts):
            raise A4merError(f"--key-frames has an empty entry: {args.key_frames!r}")
        keys = sorted(set(given))
        if keys != given:  # what was used, so a typo (60,30 for 30,60; a key given twice) shows
            print(f"a4mer inbetween: note: --key-frames taken in order, each once: {','.join(map(str, keys))}",
                  file=sys.stderr)
        return keys
    return None


def run(args: argparse.Namespace) -> int:
    from ..heads.inbetween import A4merWarning
    from ..heads.npz_out import check_output, write_result
    from ..heads.quality import ClipQuality, write_with_sidecar
    from ..heads.prediction import unknown_runs
    from ..api import fill_reading, kept_frames, read_clip
    from ._common import load_clip, load_options, named_files, naming

    try:
        motif = check_motif(args.motif, args)
    except A4merError as e:
        raise naming(args.input, e) from None
    check_model_flags(args, motif, "inbetween")
    if args.keys is None and args.key_frames is None and (args.start is None or args.end is None):
        raise A4merError("give --start and --end (one gap), or --keys / --key-frames (blocking)")
    if (args.keys is not None or args.key_frames is not None) and (args.start is not None or args.end is not None):
        raise A4merError("--start/--end cannot be combined with --keys/--key-frames")
    check_output(args.input, args.output, named_files(args))
    opts = load_options(args, inputs=[args.input], whole=True)  # output frames = the file's frames
    # the file is parsed once; it is retargeted (and put on the floor) once the kept frames are known: the
    # floor, like the retargeting's calibrations, is found on them; frames to generate may hold NaN/inf
    reading = read_clip(args.input, opts, nonfinite_ok=True)
    try:
        keys = _keys(args, reading.num_frames)
    except A4merError as e:
        raise naming(args.input, e) from None
    known = kept_frames(reading.num_frames, args.start, args.end, keys)
    motion = load_clip(args.input, opts, "inbetween", **fill_reading(reading, known, opts.floor))
    heads = resolve_heads(args.heads)
    mc = motif_conditioner(heads, motif, args) if motif is not None else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", A4merWarning)
            if mc is not None:
                result = (mc.inbetween(motion, args.start, args.end, motif) if keys is None
                          else mc.inbetween_keys(motion, keys, motif))
            elif keys is None:
                result = heads.inbetween(motion, args.start, args.end)
            else:
                result = heads.inbetween_keys(motion, keys)
    except A4merError as e:
        raise naming(args.input, e) from None
    for w in result.meta.get("warnings", []):
        print(f"a4mer inbetween: warning: {w}", file=sys.stderr)
    task = "inbetween" if keys is None else "blocking"
    kk = [args.start, args.end] if keys is None else keys
    gen = np.flatnonzero(~known)
    gen = gen[(gen > min(kk)) & (gen < max(kk))]
    sank = {tuple(x) for x in result.meta.get("classical_spans", [])}
    shares = {(a, b): w for a, b, w in result.meta.get("learned_shares", [])}
    played = {tuple(x) for x in result.meta["motif"]["played_spans"]} if mc is not None else set()

    runs = [(a, b) for a, b in unknown_runs(known) if a > min(kk) and b < max(kk)]
    # blocking fills from the keys alone (frames outside the outer keys are kept, not context)
    given = known if keys is None else np.isin(np.arange(len(known)), keys)

    def own_motif(i: int) -> dict:
        """The motif block of span ``i``: its own entry of the per-gap ``speed`` / ``recognised`` lists."""
        m = result.meta["motif"]
        return dict(m, **{k: m[k][i] for k in ("speed", "recognised") if isinstance(m.get(k), list)
                          and len(m[k]) == len(runs)})

    def report(stored) -> dict:
        quality, spans = ClipQuality(motion, stored, gen), []
        for i, (a, b) in enumerate(runs):
            method = span_method(heads, motion, given, a - 1, b + 1, motif if (a, b) in played else None,
                                 (a, b) in sank, shares.get((a, b)))
            extra = {"learned_share": shares.get((a, b))} | ({"motif": own_motif(i)} if mc is not None else {})
            spans.append(quality.span(a, b, task=task, method=method, keys=[a - 1, b + 1],
                                      warnings=result.meta.get("warnings", []), extra=extra))
        methods = list(dict.fromkeys(sp["method"] for sp in spans))
        return spans[0] if len(spans) == 1 else {"schema_version": 1, "task": task, "method": "; ".join(methods),
                                                 "keys": kk, "spans": spans}
    out, side = write_with_sidecar(lambda: write_result(args.input, motion, result, gen, args.output), report)
    print(f"wrote {out} ({result.num_frames} frames at {result.fps:g} fps, {len(gen)} generated) and {side}")
    return 0
