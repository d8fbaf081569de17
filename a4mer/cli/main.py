"""Dispatcher of the ``a4mer`` command. Each verb is a module ``a4mer.cli.<verb>`` with
``add_arguments(parser)`` and ``run(args) -> int``; modules load lazily so ``a4mer convert``
never imports torch."""
from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
import warnings

from ..errors import A4merError, A4merWarning

#: verb -> (module, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "convert": ("a4mer.cli.convert", "convert mocap (npz/bvh/amc) to AMASS-style SMPL npz"),
    "info": ("a4mer.cli.info", "print fps, frames, duration, skeleton and retarget error of a clip"),
    "data": ("a4mer.cli.data", "dataset preparation (a4mer data prepare SRC -o DIR)"),
    "train": ("a4mer.cli.train", "train an A4Mer model"),
    "segment": ("a4mer.cli.segment", "cut a clip into atoms and motifs (writes <stem>.segments.json)"),
    "embed": ("a4mer.cli.embed", "write atom/motif/clip embeddings of clips"),
    "motifs": ("a4mer.cli.motifs", "build a motif vocabulary from a folder of clips"),
    "inbetween": ("a4mer.cli.inbetween", "fill keyframe gaps"),
    "extend": ("a4mer.cli.extend", "extend a clip by N frames"),
    "bench": ("a4mer.cli.bench", "benchmarks on a folder of clips"),
    "label": ("a4mer.cli.label", "label a clip's frames and segments with a recognition head"),
    "label-train": ("a4mer.cli.label_train", "train a recognition head on your own labelled clips"),
    "batch": ("a4mer.cli.batch", "process many clips headless through Blender"),
    "export": ("a4mer.cli.export", "export a clip or armature: npz, bvh, BABEL json, timeline or gallery picture"),
}


def _available() -> dict[str, tuple[str, str]]:
    out = {}
    for verb, (mod, text) in VERBS.items():
        if importlib.util.find_spec(mod) is not None:
            out[verb] = (mod, text)
    return out


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    p = argparse.ArgumentParser(prog="a4mer", description="Action Motifs for animators.")
    p.add_argument("--version", action="version", version=f"a4mer {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="VERB")
    for verb, (mod, text) in _available().items():
        sp = sub.add_parser(verb, help=text, description=text)
        sp.set_defaults(_module=mod)
        importlib.import_module(mod).add_arguments(sp)
    return p


#: options whose value is a comma-separated list that may start with a minus sign
LIST_OPTIONS = ("--key-frames",)


def _joined_lists(argv: list[str]) -> list[str]:
    """``argv`` with ``--key-frames -5,10`` written ``--key-frames=-5,10`` (argparse takes ``-5,10`` for an
    option and prints its usage; the value's own check then names the problem)."""
    out = list(argv)
    for i in range(len(out) - 2, -1, -1):
        if out[i] in LIST_OPTIONS and out[i + 1].startswith("-") and out[i + 1][1:2].isdigit():
            out[i:i + 2] = [f"{out[i]}={out[i + 1]}"]
    return out


def _console_never_fails() -> None:
    """Make sys.stdout and sys.stderr write what their encoding cannot hold as ``\\xe4``-style escapes: a
    label "Tänzer" or a path printed to an ASCII or cp1252 console raised UnicodeEncodeError. Files are
    written UTF-8 by their writers, whatever the console."""
    for stream in (sys.stdout, sys.stderr):
        if callable(getattr(stream, "reconfigure", None)):  # a TextIOWrapper (not None, not a replaced stream)
            stream.reconfigure(errors="backslashreplace")


def _stop_on_sigterm():
    """SIGTERM (``kill``, ``timeout``, a farm manager, ``docker stop``) stops a command as Ctrl-C does: what it
    was writing is removed, not left as a temporary file (``train`` and ``batch`` set their own handler
    while they run). The handler it replaced, or None off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return None
    from ..train.interrupt import raise_interrupt
    before = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, raise_interrupt)
    return signal.SIG_DFL if before is None else before  # None: a handler installed from C


def _warning_lines(verb: str, show):
    """``warnings.showwarning`` that prints an :class:`A4merWarning` as one ``a4mer VERB: warning:`` line
    (not Python's file:line form) and leaves any other warning to ``show``."""
    def showwarning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, A4merWarning):
            print(f"a4mer {verb}: warning: {message}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)
    return showwarning


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 a failed input, 2 bad usage)."""
    _console_never_fails()  # before argparse, which prints the arguments in its errors
    parser = build_parser()
    args = parser.parse_args(_joined_lists(sys.argv[1:] if argv is None else argv))
    if not getattr(args, "verb", None):
        parser.print_help()
        return 2
    hook = sys.unraisablehook
    stop = _stop_on_sigterm()
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_lines(args.verb, warnings.showwarning)
            return int(importlib.import_module(args._module).run(args) or 0)
    except A4merError as e:
        print(f"a4mer {args.verb}: error: {e}", file=sys.stderr)
        return 1
    except MemoryError:  # a reader that missed a hostile size: one line, not a numpy traceback
        print(f"a4mer {args.verb}: error: out of memory (an input far larger than its file: damaged or hostile?)",
              file=sys.stderr)
        return 1
    except RecursionError:
        print(f"a4mer {args.verb}: error: an input is nested too deeply to read", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # what the interrupt left half-made (an npz archive numpy was opening) is closed when its frames
        # go, and would print "Exception ignored in ... __del__" after this line: quietly
        sys.unraisablehook = lambda _: None
        print(f"a4mer {args.verb}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``a4mer info clip.bvh | head``): stop quietly
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    finally:
        if stop is not None:
            signal.signal(signal.SIGTERM, stop)
        if sys.unraisablehook is not hook:
            import gc
            gc.collect()
            sys.unraisablehook = hook
