"""Run the A4Mer model for the add-on: in Blender's own Python when torch imports there, else in a
worker process (a user-chosen interpreter that has ``a4mer`` and torch, e.g. with CUDA).

Both paths start from the same npz file (the clip as AMASS-style SMPL), so they see identical input.
The worker runs ``PY -m a4mer segment IN.npz -o OUT.json --progress-jsonl [...]`` and prints JSON
lines ``{"progress": 0.4, "message": "..."}``; a job is polled from a modal operator's timer so the UI
stays responsive, and cancelling kills the worker (the scene is only changed after a job finishes).
No bpy here.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ._core import CORE, amass, errors, processes

MODES = ("AUTO", "IN_PROCESS", "WORKER")


@dataclass(frozen=True)
class RunnerSettings:
    """How to run the model. mode: AUTO (in process when torch imports, else worker) | IN_PROCESS |
    WORKER. python: the worker's interpreter. checkpoint / vocab: paths, "" = the shipped default.
    device: "auto", "cpu", "cuda" ..."""

    mode: str = "AUTO"
    python: str = ""
    checkpoint: str = ""
    vocab: str = ""
    device: str = "auto"


@dataclass
class JobState:
    """What a poll sees: progress in [0, 1], a message, and when done either result or error."""

    progress: float = 0.0
    message: str = "starting"
    done: bool = False
    result: dict | None = None
    error: str | None = None


def _import_model():
    """(``a4mer.model`` (bundled core first, then an installed a4mer), "") or (None, why it cannot import:
    the last import error, so a broken install or a bug is not reported as a missing torch)."""
    if importlib.util.find_spec("torch") is None:
        return None, "torch is not installed in this Python"
    problem = "no a4mer package with its model here"
    for name in dict.fromkeys((f"{CORE}.model", "a4mer.model")):
        try:
            if importlib.util.find_spec(name.rsplit(".", 1)[0]) is None:
                continue
            return importlib.import_module(name), ""
        except Exception as e:  # a broken CUDA install, a missing dependency ...: not usable in process
            problem = f"importing {name} failed: {type(e).__name__}: {e}"
    return None, problem


def _model_module():
    """``a4mer.model`` or None when it cannot import (:func:`_import_model`)."""
    return _import_model()[0]


def _device(name: str) -> str:
    """"auto" -> cuda when torch sees one, else mps, else cpu (the CLI resolves it the same way)."""
    if name != "auto":
        return name
    import torch
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


def _file_state(path: str) -> tuple:
    """``path`` with its modification time and size ("" alone), so a model file rewritten under the same
    name (a training run's next checkpoint) is loaded again."""
    try:
        st = os.stat(path) if path else None
    except OSError:
        st = None
    return (path,) if st is None else (path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=1)
def _loaded(model, checkpoint: str, vocab: str, device: str, *files: tuple):
    """``model.A4Mer.load(...)``, kept while the same files are asked for (``files``: their
    :func:`_file_state`): a batch worker or an animator segmenting clip after clip loads it once."""
    return model.A4Mer.load(checkpoint or None, device=device, vocab=vocab or None)


def resolve_mode(settings: RunnerSettings) -> str:
    """"IN_PROCESS" or "WORKER" for ``settings`` (AUTO picks in-process when possible)."""
    if settings.mode not in MODES:
        raise errors.A4merError(f"unknown runner mode {settings.mode!r}; expected one of {', '.join(MODES)}")
    if settings.mode == "WORKER":
        return "WORKER"
    model, problem = _import_model()
    if settings.mode == "AUTO":
        if model is not None:
            return "IN_PROCESS"
        if not settings.python:
            raise errors.A4merError(f"the A4Mer model needs torch and the a4mer model in this Python ({problem}) and "
                                    "no worker interpreter is set (Preferences > Add-ons > A4Mer Action Motifs > "
                                    "Worker Python)")
        return "WORKER"
    if model is None:
        raise errors.A4merError(f"Run the model: In Blender needs torch and the a4mer model in Blender's Python "
                                f"({problem}): choose Worker process and set Worker Python (Preferences > Add-ons > "
                                "A4Mer Action Motifs)")
    return settings.mode


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise errors.A4merError(f"{path}: cannot read the segments ({e})") from None
    if not isinstance(data, dict):
        raise errors.A4merError(f"{path}: not a segments record (a JSON object), but a {type(data).__name__}")
    return data


class Job:
    """A running segmentation. ``poll()`` never blocks; ``cancel()`` stops it (the caller then leaves
    the scene unchanged); ``cleanup()`` removes the temporary folder."""

    def __init__(self, motion, settings: RunnerSettings):
        self.settings = settings
        self.mode = resolve_mode(settings)
        self.dir = Path(tempfile.mkdtemp(prefix="a4mer_job_"))
        self.clip = amass.write_amass_npz(motion, self.dir / "clip.npz")
        self.out = self.dir / "clip.segments.json"
        self.state = JobState()
        self._lines: queue.Queue = queue.Queue()
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._stderr: list[str] = []
        self._cancelled = False

    # --- start ------------------------------------------------------------------------------
    def model_args(self) -> list[str]:
        """``--checkpoint`` / ``--vocab`` / ``--device`` of the preferences (only those that are set)."""
        s = self.settings
        return [a for flag, value in (("--checkpoint", s.checkpoint), ("--vocab", s.vocab), ("--device", s.device))
                if value for a in (flag, value)]

    def worker_command(self) -> list[str]:
        return [self.settings.python, "-m", "a4mer", "segment", str(self.clip), "-o", str(self.out),
                "--progress-jsonl", *self.model_args()]

    def start(self) -> "Job":
        """Start the job; on failure (no interpreter, not runnable) the temporary folder is removed and
        :class:`A4merError` names the interpreter and the problem."""
        if self.mode == "IN_PROCESS":
            self._thread = threading.Thread(target=self._run_in_process, daemon=True)
            self._thread.start()
        else:
            py = self.settings.python
            if not py or not Path(py).is_file():
                self.cleanup()
                what = "is a folder, not a python executable" if py and Path(py).is_dir() else "not found"
                raise errors.A4merError(f"worker interpreter {py!r} {what} (Preferences > Add-ons > "
                                        "A4Mer Action Motifs > Worker Python: a python executable)")
            try:
                # its own process group: a cancel reaches the Python a launcher (a shell wrapper, py.exe) started
                self._proc = subprocess.Popen(self.worker_command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                              **processes.TEXT_PIPES, env=processes.child_env(drop_python_path=True),
                                              cwd=str(self.dir), **processes.worker_group())
            except OSError as e:
                self.cleanup()
                raise errors.A4merError(f"worker interpreter {py!r} cannot be run ({e.strerror or e})") from None
            for stream, sink in ((self._proc.stdout, self._lines.put), (self._proc.stderr, self._stderr.append)):
                threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()
        return self

    @staticmethod
    def _pump(stream, sink) -> None:
        for line in stream:
            sink(line)

    def _run_in_process(self) -> None:
        try:
            model = _model_module()
            say = lambda f, m: self._lines.put(json.dumps({"progress": f, "message": m}))  # noqa: E731
            say(0.0, "loading model")
            s = self.settings
            net = _loaded(model, s.checkpoint, s.vocab, _device(s.device), _file_state(s.checkpoint), _file_state(s.vocab))
            # read by the model's own package: the bundled core's Motion is another class than an installed a4mer's
            pkg = model.__name__.rpartition(".")[0]
            reader = importlib.import_module(f"{pkg}.io.amass") if pkg else amass
            motion = reader.read_amass_npz(self.clip)
            say(0.05, "segmenting")
            result = net.segment(motion, progress=lambda f, m: say(0.1 + 0.85 * f, m))
            if not self._cancelled:
                self.state.result = json.loads(json.dumps(result))
        except Exception as e:  # reported in the UI, the scene stays unchanged
            self.state.error = f"{type(e).__name__}: {e}"
        finally:
            self._lines.put(None)

    # --- poll / cancel ----------------------------------------------------------------------
    def _drain(self) -> bool:
        """Apply queued progress lines; True when the in-process thread said it ended."""
        ended = False
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return ended
            if line is None:
                ended = True
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict) and "progress" in msg:
                try:  # a line of anything else than a number ("half", null) is not progress
                    self.state.progress = float(min(1.0, max(0.0, float(msg["progress"]))))
                except (TypeError, ValueError):
                    continue
                self.state.message = str(msg.get("message", self.state.message))

    def poll(self) -> JobState:
        if self.state.done:
            return self.state
        ended = self._drain()
        if self.mode == "IN_PROCESS":
            if ended:
                self._finish()
        elif self._proc is not None and self._proc.poll() is not None:
            time.sleep(0.05)  # let the pumps flush
            self._drain()
            if self._proc.returncode == 0 and self.out.exists():
                try:
                    self.state.result = self._load_result()
                except errors.A4merError as e:
                    self.state.error = str(e)
            else:
                tail = " | ".join("".join(self._stderr).strip().splitlines()[-3:])
                code = self._proc.returncode
                self.state.error = f"worker exited with code {code}" + (
                    " without writing a result" if code == 0 else "") + f": {tail or 'no message'}"
                if code == 0 or any(s in tail for s in ("SyntaxError", "No module named", "ImportError")):
                    self.state.error += (f" (Worker Python {self.settings.python!r} must be a Python 3.11 with "
                                         "a4mer[model] installed: Preferences > Add-ons > A4Mer Action Motifs)")
            self._finish()
        return self.state

    def _load_result(self):
        """The result from the output file the job wrote (both modes read it the same way)."""
        return _read_json(self.out)

    def _finish(self) -> None:
        self.state.done = True
        if self.state.result is not None:
            self.state.progress = 1.0
            self.state.message = "done"

    def cancel(self) -> None:
        """Stop the job: the worker process is killed; an in-process run's result is discarded."""
        self._cancelled = True
        if self._proc is not None:
            processes.kill_tree(self._proc)  # the worker and what it started
            if self._proc.poll() is None:
                self._proc.wait(timeout=10)
        self.state = JobState(progress=self.state.progress, message="cancelled", done=True, error="cancelled")
        self.cleanup()

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def run_sync(motion, settings: RunnerSettings, on_progress=None, poll_s: float = 0.05) -> dict:
    """Segment ``motion`` and wait: the segments dict, or :class:`A4merError` with the reason."""
    return wait(Job(motion, settings).start(), on_progress, poll_s, "segmenting")


def wait(job: "Job", on_progress=None, poll_s: float = 0.05, what: str = "segmenting"):
    """Poll a started ``job`` until it ends: its result, or :class:`A4merError` with the reason."""
    try:
        while True:
            st = job.poll()
            if on_progress is not None:
                on_progress(st.progress, st.message)
            if st.done:
                break
            time.sleep(poll_s)
    finally:
        if not job.state.done:  # interrupted (Ctrl-C, an error while waiting): the worker is stopped too
            job.cancel()
        job.cleanup()
    if st.error:  # the job's temporary clip file means nothing to the user: the error is about their rig
        reason = str(st.error).replace(f"{job.clip}: ", "").replace(str(job.dir), "<job folder>")
        raise errors.A4merError(f"{what} failed ({job.mode.lower().replace('_', '-')}): {reason}")
    return st.result


# --- generation heads: a4mer inbetween / a4mer extend ---------------------------------------------
@dataclass(frozen=True)
class HeadsResult:
    """What a heads job gives back: the output clip (generated frames written, the others copied) and
    the quality sidecar (None when the heads wrote none)."""

    motion: object
    quality: dict | None


def _cli_module(verb: str):
    """``a4mer.cli.<verb>`` of the bundled core, else of an installed a4mer (the extension zip leaves
    the command line out of its core)."""
    for name in dict.fromkeys((f"{CORE}.cli.{verb}", f"a4mer.cli.{verb}")):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise errors.A4merError(f"a4mer {verb} is not available in this Python: set a worker interpreter")


class HeadsJob(Job):
    """``a4mer inbetween|extend CLIP ARGS -o OUT.npz``: in this Python (the verb's own ``run`` in a
    thread) or in the worker (``PY -m a4mer VERB ...``). Both write OUT.npz and OUT.quality.json, and
    the result is read from those files by the same code, so the two modes give identical results."""

    VERBS = ("inbetween", "extend")

    def __init__(self, motion, settings: RunnerSettings, verb: str, args: list[str] | tuple[str, ...]):
        if verb not in self.VERBS:
            raise errors.A4merError(f"unknown generation verb {verb!r}; expected one of {', '.join(self.VERBS)}")
        super().__init__(motion, settings)
        self.verb, self.args = verb, [str(a) for a in args]
        self.out = self.dir / "out.npz"

    def argv(self) -> list[str]:
        """The ``a4mer`` command line (after ``a4mer``); the preferences' model settings go with a motif
        (its id is one of that model's vocabulary; the heads themselves read no model)."""
        model = self.model_args() if "--motif" in self.args else []
        return [self.verb, str(self.clip), *self.args, *model, "-o", str(self.out)]

    def worker_command(self) -> list[str]:
        return [self.settings.python, "-m", "a4mer", *self.argv()]

    def start(self) -> "HeadsJob":
        super().start()
        self._lines.put(json.dumps({"progress": 0.05, "message": f"{self.verb}: generating"}))
        return self

    def _run_in_process(self) -> None:
        import argparse
        try:
            mod = _cli_module(self.verb)
            parser = argparse.ArgumentParser(prog=f"a4mer {self.verb}")
            mod.add_arguments(parser)
            args = parser.parse_args(self.argv()[1:])
            code = int(mod.run(args) or 0)
            if code != 0:
                raise errors.A4merError(f"a4mer {self.verb} exited with code {code}")
            if not self._cancelled:
                self.state.result = self._load_result()
        except SystemExit as e:  # argparse: bad arguments
            self.state.error = f"a4mer {self.verb}: bad arguments (exit {e.code})"
        except Exception as e:  # reported in the UI, the scene stays unchanged
            self.state.error = f"{type(e).__name__}: {e}" if not isinstance(e, errors.A4merError) else str(e)
        finally:
            self._lines.put(None)

    def _load_result(self) -> HeadsResult:
        if not self.out.is_file():
            raise errors.A4merError(f"a4mer {self.verb} wrote no output")
        motion = amass.read_amass_npz(self.out)
        side = self.out.with_name(self.out.stem + ".quality.json")
        quality = _read_json(side) if side.is_file() else None
        return HeadsResult(motion, quality)


def run_heads_sync(motion, settings: RunnerSettings, verb: str, args, on_progress=None) -> HeadsResult:
    """Run ``a4mer VERB`` on ``motion`` and wait (see :class:`HeadsJob`)."""
    return wait(HeadsJob(motion, settings, verb, args).start(), on_progress, what=verb)
