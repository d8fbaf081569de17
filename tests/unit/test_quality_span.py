"""The quality sidecar of a span in a long clip poses only the frames around the span: its numbers
equal those of forward kinematics over the whole clip, to the bit; the ground comes from the legs of
every kept frame; the kept frames' deviation ignores a quaternion's sign."""
from __future__ import annotations

import numpy as np
import pytest

from a4mer.bench.metrics import body_fk, foot_heights
from a4mer.geometry import axis_angle_to_quat
from a4mer.heads.quality import ClipQuality
from a4mer.motion import Motion

FPS = 30.0


def _dancing(T: int, seed: int = 0) -> Motion:
    """A standing SMPL body (Z-up) whose joints swing smoothly (sums of sines, radians) while it walks
    along X and bobs up and down: a long clip whose every frame differs."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None, None] / FPS
    amp, freq, phase = rng.uniform(0, 0.6, (3, 1, 24, 3)) * np.array([1.0, 3.0, 6.0])[:, None, None, None]
    aa = amp * np.sin(freq * t + phase)                                   # (T, 24, 3) axis-angle
    aa[:, 0] = [np.pi / 2, 0.0, 0.0]                                      # SMPL's Y-up body stood up
    trans = np.stack([0.8 * t[:, 0, 0], 0.02 * np.sin(t[:, 0, 0]), 0.93 + 0.03 * np.sin(5 * t[:, 0, 0])], -1)
    return Motion(FPS, trans, axis_angle_to_quat(aa))


def _filled(original: Motion, spans: list[tuple[int, int]]) -> tuple[Motion, np.ndarray]:
    """``original`` with the frames ``first..last`` of each span replaced (its motion damped and lowered
    by 5 cm), and the indices of those frames."""
    rot, trans = original.rotations.copy(), original.root_translation.copy()
    gen = np.concatenate([np.arange(a, b + 1) for a, b in spans])
    rot[gen] = rot[gen[0] - 1]
    trans[gen, 2] -= 0.05
    return original.with_(rotations=rot, root_translation=trans), gen


def _reports(q: ClipQuality, spans, keys=None):
    return [q.span(a, b, task="inbetween", method="m", keys=keys or [a - 1, b + 1]) for a, b in spans]


@pytest.mark.parametrize("spans", [[(15_001, 15_039)], [(40, 44), (3_000, 3_100), (29_950, 29_998)]])
def test_a_span_report_poses_only_the_frames_around_it_and_equals_the_whole_clips_numbers(spans):
    original = _dancing(30_000)
    result, gen = _filled(original, spans)
    lazy = ClipQuality(original, result, gen)
    eager = ClipQuality(original, result, gen)
    eager._positions(np.arange(result.num_frames))  # the whole clip posed first, as it was computed before
    assert _reports(lazy, spans) == _reports(eager, spans)
    reach = int(round(1.0 * FPS))
    near = np.zeros(result.num_frames, bool)
    for a, b in spans:
        near[max(0, a - reach):b + reach + 1] = True
    assert np.array_equal(lazy._have, near)  # posed: the spans and 1 s around them, nothing else


def test_sparse_keys_and_a_span_far_from_kept_frames_pose_what_they_need():
    original = _dancing(3_000, seed=1)
    result, gen = _filled(original, [(1_000, 1_999)])
    lazy, eager = ClipQuality(original, result, gen), ClipQuality(original, result, gen)
    eager._positions(np.arange(result.num_frames))
    spans = [(1_000, 1_999), (1_400, 1_500)]  # the second has no kept frame within 1 s: every kept frame counts
    assert [lazy.span(a, b, task="blocking", method="m", keys=[999, 2_000]) for a, b in spans] == \
        [eager.span(a, b, task="blocking", method="m", keys=[999, 2_000]) for a, b in spans]


def test_the_ground_comes_from_every_kept_frame_and_the_deviation_ignores_the_sign():
    original = _dancing(6_000, seed=2)
    result, gen = _filled(original, [(3_000, 3_050)])
    rot, trans = result.rotations.copy(), result.root_translation.copy()
    rot[100] *= -1.0  # the same rotations: no deviation
    trans[5_000, 1] += 3e-9
    result = result.with_(rotations=rot, root_translation=trans)
    q = ClipQuality(original, result, gen)
    kept = np.setdiff1d(np.arange(6_000), gen)
    assert np.array_equal(q.ground, foot_heights(body_fk(result.rotations, result.root_translation)[0][kept])[1])
    dq = np.abs(result.rotations[kept] - original.rotations[kept])
    dq = np.minimum(dq, np.abs(result.rotations[kept] + original.rotations[kept]))
    assert q.deviation == max(dq.max(), np.abs(result.root_translation[kept] - original.root_translation[kept]).max())
    assert 2e-9 < q.deviation < 4e-9
    report = q.span(3_000, 3_050, task="inbetween", method="m", keys=[2_999, 3_051])
    assert not report["kept_frames_exact"] and report["kept_frames_max_abs_diff"] == q.deviation


def test_each_span_carries_only_its_own_warnings():
    """A blocking run with a motif: every span's entry listed the warnings of every span ("frames 11..19
    are too few ..." on span 1..9 too). A warning naming no frames stays on every span."""
    original = _dancing(60)
    spans = [(1, 9), (11, 19), (21, 29)]
    filled, gen = _filled(original, spans)
    warnings = [f"frames {a}..{b} are too few to play motif 7 (at most 2.5 x its speed)" for a, b in spans]
    warnings.append("less than 1 s of context")
    q = ClipQuality(original, filled, gen)
    got = [q.span(a, b, task="inbetween", method="m", keys=[a - 1, b + 1], warnings=warnings)["warnings"]
           for a, b in spans]
    assert [g[:2] for g in got] == [[w, warnings[-1]] for w in warnings[:3]]  # (then its own jump warning)
