"""Project-wide conventions, written once.

- Units: metres, seconds, radians. ``fps`` is carried by the data, never assumed.
- World frame: Z up, metres (AMASS's and Blender's); sources with other axes are converted in ``io``.
- Quaternions are w-first (wxyz), as Blender stores them; scipy's xyzw only at the edges (tests).
- Shape letters: B batch, T frames, J joints, S segments, D width.
"""
from __future__ import annotations

import decimal
import numbers

import numpy as np

#: Frame rates that a file's stated rate snaps to when within SNAP_TOLERANCE (relative).
STANDARD_FPS: tuple[float, ...] = (
    10.0, 12.0, 15.0, 20.0, 23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 59.94, 60.0, 72.0, 90.0,
    100.0, 120.0, 144.0, 150.0, 180.0, 200.0, 240.0, 250.0, 300.0, 360.0, 480.0, 500.0, 960.0, 1000.0,
)
SNAP_TOLERANCE = 5e-4  # 0.05 %

#: Rotation taking a Y-up source world (x right, y up, z towards the viewer) into the Z-up world
#: (+90 degrees about X): (x, y, z) -> (x, -z, y). Quaternion wxyz.
Y_UP_TO_Z_UP = np.array([np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0])
Y_UP_TO_Z_UP.setflags(write=False)


#: The highest frame rate anything reads or resamples to (a BVH's ``Frame Time`` too).
MAX_FPS = 1e5
#: The lowest frame rate a file may state (a BVH's ``Frame Time``, an npz's ``mocap_framerate``, an AMC's
#: or ``--source-fps``): motion capture runs at 24 to 1000 fps, so a lower rate is a wrong header, and
#: resampling it to the model's 30 fps would make 30 to millions of frames of every file frame.
MIN_FPS = 1.0


def is_number(value) -> bool:
    """True for a real number: Python's, numpy's, a Fraction or Decimal; not a bool or a string."""
    return isinstance(value, (numbers.Real, decimal.Decimal)) and not isinstance(value, (bool, np.bool_))


def positive_number(value, what: str = "frame rate", most: float | None = MAX_FPS,
                    least: float | None = None) -> float:
    """``value`` as a float when it is a finite number above 0 (and at most ``most``, at least ``least``):
    a number of :func:`is_number` or a 0-d numeric array. Else :class:`~a4mer.errors.BadValue` naming
    ``what``."""
    from .errors import BadValue
    v = value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value
    if not is_number(v):
        raise BadValue(f"{what} must be a positive number, got {value!r:.40}")
    try:
        v = float(v)
    except (OverflowError, ValueError):  # a huge int; Decimal('sNaN')
        v = float("inf")
    if not np.isfinite(v) or v <= 0:
        raise BadValue(f"{what} must be a positive number, got {value!r:.40}")
    if most is not None and v > most:
        raise BadValue(f"{what} must be at most {most:g}, got {value!r:.40}")
    if least is not None and v < least:
        raise BadValue(f"{what} must be at least {least:g}, got {value!r:.40}")
    return v


def whole_frames(value, what: str) -> int:
    """``value`` as a frame index or count: an integer (numpy's too) or a float without a fraction;
    :class:`BadValue` for anything else (40.7, NaN, "30", True), which would otherwise be truncated."""
    from .errors import BadValue
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value) and value == int(value):
        return int(value)
    raise BadValue(f"{what} must be a whole number of frames, got {value!r}")


def low_fps_problem(fps: float) -> str:
    """What is wrong with a file's stated rate ``fps`` below :data:`MIN_FPS` (one line, for an error)."""
    return (f"frame rate {fps:g} fps is implausibly low for motion capture (at least {MIN_FPS:g} fps): "
            f"a wrong header? give the real rate with --source-fps (Source fps in the Blender importer)")


def snap_fps(fps: float, least: float | None = MIN_FPS) -> float:
    """Return the standard rate within 0.05 % of ``fps`` (e.g. 1/0.033333 -> 30.0), else ``fps``
    (a :func:`positive_number` up to :data:`MAX_FPS`).

    least: the lowest rate accepted (default :data:`MIN_FPS`: a file's stated rate; a lower one is a
    :class:`~a4mer.errors.BadValue` pointing to ``--source-fps``). None accepts any positive rate (a
    :class:`~a4mer.motion.Motion` in memory, whose resampling is bounded by its frame count instead)."""
    from .errors import BadValue
    fps = positive_number(fps)
    if least is not None and fps < least:
        raise BadValue(low_fps_problem(fps))
    for s in STANDARD_FPS:
        if abs(fps - s) <= SNAP_TOLERANCE * s:
            return s
    return fps
