"""Entry of ``a4mer batch`` inside a real Blender (the worker of one clip).

    blender -b --factory-startup --python-exit-code 1 --python scripts/blender_batch.py -- \\
        --input clip.bvh --out-dir out --segment --python /path/to/venv/bin/python

Everything after ``--`` goes to :mod:`a4mer_blender.batch_worker` (same code path as
``python -m a4mer_blender.batch_worker`` with the bpy module). ``--python`` names the interpreter
that has torch + a4mer for the model (Blender's own Python usually has no torch). The add-on is
the ``a4mer_blender`` package that Blender's Python imports (installed with pip or on its path), else
this checkout's; an installed extension (``bl_ext.<repo>.a4mer_blender``) is not used.
The same script also runs under the bpy module: ``python scripts/blender_batch.py -- ARGS``.
``a4mer batch --blender`` passes ``-- --serve``: clip after clip, one request line each on stdin.
"""
import importlib.util
import sys
from pathlib import Path


def _checkout_on_path() -> None:
    if importlib.util.find_spec("a4mer_blender") is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    _checkout_on_path()
    from a4mer_blender import batch_worker
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    return batch_worker.main(argv)


if __name__ == "__main__":
    code = main()
    if code:
        sys.exit(code)  # with --python-exit-code 1 Blender exits non-zero on this error
