"""Fuzzing the BVH and ASF/AMC readers: mutated real files raise MotionFileError or read cleanly.

Quick versions (200 cases per reader) run by default; the long ones are marked ``fuzz``:

    A4MER_FUZZ_EXAMPLES=10000 pytest -m fuzz -s tests/unit/test_fuzz_readers.py

Mutations of real example files (examples/): truncation, byte flips, inserted tokens (NaN, inf,
braces, keywords, NUL, non-UTF-8 bytes, huge numbers), dropped / duplicated / swapped lines,
replaced numbers. Anything but MotionFileError, or a "successful" read with non-finite or
inconsistent arrays, fails.
"""
from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from a4mer.errors import MotionFileError
from a4mer.io import read_amc, read_bvh

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
settings.register_profile("a4mer-quick", max_examples=200, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("a4mer-fuzz", max_examples=int(os.environ.get("A4MER_FUZZ_EXAMPLES", "10000")),
                          deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
QUICK = settings.get_profile("a4mer-quick")
FUZZ = settings.get_profile("a4mer-fuzz")

TOKENS = [b"nan", b"NaN", b"inf", b"-inf", b"1e999", b"1e308", b"-1e308", b"0", b"-0", b"}", b"{", b"\n", b" ",
          b"\x00", b"\xff\xfe", "é".encode(), b"\xe9", b"JOINT X", b"End Site", b"ROOT", b"MOTION", b"HIERARCHY",
          b"Frames: 0", b"Frames: 99999999", b"Frame Time: 0", b"Frame Time: -1", b"CHANNELS 7", b"CHANNELS 99999999999",
          b"OFFSET", b"OFFSET 1 2", b":RADIANS", b":DEGREES", b"begin", b"end", b"dof rx ry rz tx", b"axis 0 0 0 ZZZ",
          b"1", b"2", b"root", b"lfemur", b"#", b"\t", b"\r\n", b"9" * 400, b"1e-320", b"0x1F", b"1,5", b"+"]


def _short_bvh(data: bytes, frames: int) -> bytes:
    head, motion = data.split(b"MOTION", 1)
    lines = motion.strip().split(b"\n")
    return head + b"MOTION\nFrames: %d\n" % frames + lines[1] + b"\n" + b"\n".join(lines[2:2 + frames]) + b"\n"


def _short_amc(data: bytes, frames: int) -> bytes:
    cut = data.find(b"\n%d\n" % (frames + 1))
    return data[:cut + 1] if cut > 0 else data


BVH_FILE = EXAMPLES / "bandai" / "dataset-1_walk_happy_002.bvh"
FIXTURE = REPO / "tests" / "fixtures" / "bvh_schemes" / "cmu_motionbuilder.bvh"
AMC_FILE = EXAMPLES / "hdm05" / "amc" / "HDM_mm_kickLFront1Reps_023_120.amc"
ASF_FILE = EXAMPLES / "hdm05" / "asf" / "HDM_mm.asf"


def _corpus() -> dict[str, list[bytes]]:
    bvh, fix = BVH_FILE.read_bytes(), FIXTURE.read_bytes()
    amc = AMC_FILE.read_bytes()
    return {"bvh": [_short_bvh(bvh, 3), _short_bvh(fix, 3), _short_bvh(bvh, 40), bvh],
            "amc": [_short_amc(amc, 2), _short_amc(amc, 10)], "asf": [ASF_FILE.read_bytes()]}


CORPUS = _corpus()

_mutation = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from(TOKENS)),
    st.tuples(st.just("replace_token"), st.floats(0, 1), st.sampled_from(TOKENS)),
    st.tuples(st.just("drop_line"), st.floats(0, 1)),
    st.tuples(st.just("dup_line"), st.floats(0, 1)),
    st.tuples(st.just("swap_lines"), st.floats(0, 1), st.floats(0, 1)),
)


def mutate(data: bytes, ops: list[tuple]) -> bytes:
    """Apply mutation ops (positions as fractions of the current length) to ``data``."""
    for op in ops:
        kind, f = op[0], op[1]
        n = len(data)
        pos = min(int(f * n), max(n - 1, 0))
        if kind == "truncate":
            data = data[:pos]
        elif kind == "flip" and n:
            data = data[:pos] + bytes([data[pos] ^ op[2]]) + data[pos + 1:]
        elif kind == "insert":
            data = data[:pos] + op[2] + data[pos:]
        elif kind == "replace_token":
            end = pos
            while end < n and data[end:end + 1] not in (b" ", b"\n", b"\t"):
                end += 1
            data = data[:pos] + op[2] + data[end:]
        else:
            lines = data.split(b"\n")
            i = min(int(f * len(lines)), len(lines) - 1)
            if kind == "drop_line":
                del lines[i]
            elif kind == "dup_line":
                lines.insert(i, lines[i])
            elif kind == "swap_lines":
                k = min(int(op[2] * len(lines)), len(lines) - 1)
                lines[i], lines[k] = lines[k], lines[i]
            data = b"\n".join(lines)
    return data


def _check_clip(clip) -> None:
    T, J = clip.positions.shape[:2]
    assert T > 0 and J == len(clip.names) == len(clip.parents) == len(clip.end_site)
    assert clip.orientations.shape == (T, J, 4) and clip.rest_positions.shape == (J, 3)
    assert np.isfinite(clip.positions).all() and np.isfinite(clip.orientations).all()
    assert np.isfinite(clip.rest_positions).all() and clip.fps > 0 and clip.unit_scale > 0
    assert all(-1 <= p < j for j, p in enumerate(clip.parents))


def _run_bvh(tmp: Path, base: int, ops: list[tuple]) -> str:
    p = tmp / "fuzz.bvh"
    p.write_bytes(mutate(CORPUS["bvh"][base % len(CORPUS["bvh"])], ops))
    try:
        clip = read_bvh(p)
    except MotionFileError as e:
        assert e.problem and str(p) in str(e)
        return "MotionFileError"
    _check_clip(clip)
    return "read"


def _run_amc(tmp: Path, base: int, which: str, ops: list[tuple]) -> str:
    amc = CORPUS["amc"][base % len(CORPUS["amc"])]
    asf = CORPUS["asf"][0]
    if which == "amc":
        amc = mutate(amc, ops)
    else:
        asf = mutate(asf, ops)
    (tmp / "clip.asf").write_bytes(asf)
    (tmp / "clip.amc").write_bytes(amc)
    try:
        clip = read_amc(tmp / "clip.amc")
    except MotionFileError as e:
        assert e.problem
        return "MotionFileError"
    _check_clip(clip)
    return "read"


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _bvh_fuzz(profile, fuzz_dir: Path) -> Counter:
    stats: Counter = Counter()

    @profile
    @given(base=st.integers(0, 3), ops=st.lists(_mutation, min_size=1, max_size=4))
    def run(base, ops):
        stats[_run_bvh(fuzz_dir, base, ops)] += 1

    t = time.perf_counter()
    run()
    print(f"\nBVH fuzz: {sum(stats.values())} cases in {time.perf_counter() - t:.1f} s: {dict(stats)}")
    return stats


def _amc_fuzz(profile, fuzz_dir: Path) -> Counter:
    stats: Counter = Counter()

    @profile
    @given(base=st.integers(0, 1), which=st.sampled_from(["amc", "amc", "asf"]),
           ops=st.lists(_mutation, min_size=1, max_size=4))
    def run(base, which, ops):
        stats[_run_amc(fuzz_dir, base, which, ops)] += 1

    t = time.perf_counter()
    run()
    print(f"\nASF/AMC fuzz: {sum(stats.values())} cases in {time.perf_counter() - t:.1f} s: {dict(stats)}")
    return stats


def test_unmutated_corpus_reads(fuzz_dir):
    assert _run_bvh(fuzz_dir, 0, []) == "read" and _run_bvh(fuzz_dir, 1, []) == "read"
    assert _run_amc(fuzz_dir, 0, "amc", []) == "read"


def test_fuzz_bvh_quick(fuzz_dir):
    stats = _bvh_fuzz(QUICK, fuzz_dir)
    assert stats["MotionFileError"] > 0


def test_fuzz_amc_quick(fuzz_dir):
    stats = _amc_fuzz(QUICK, fuzz_dir)
    assert stats["MotionFileError"] > 0


@pytest.mark.fuzz
def test_fuzz_bvh(fuzz_dir):
    stats = _bvh_fuzz(FUZZ, fuzz_dir)
    assert sum(stats.values()) >= FUZZ.max_examples


@pytest.mark.fuzz
def test_fuzz_amc(fuzz_dir):
    stats = _amc_fuzz(FUZZ, fuzz_dir)
    assert sum(stats.values()) >= FUZZ.max_examples
