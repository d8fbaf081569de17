"""Learned heads: exact keys, kept frames, fallbacks, errors, persistence (small untrained decoders)."""
import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from a4mer.bench.methods import BaselineMethod  # noqa: E402
from a4mer.errors import A4merError  # noqa: E402
from a4mer.geometry import axis_angle_to_quat, quat_angle, quat_mul, quat_slerp  # noqa: E402
from a4mer.heads import windows as Wn  # noqa: E402
from a4mer.heads.decoder import CorrectionDecoder, DecoderConfig  # noqa: E402
from a4mer.heads.files import load_heads, read_heads_metadata  # noqa: E402
from a4mer.heads.inbetween import (LEAF_JOINTS, A4merWarning, LearnedHeads, _ease_leaves, _hinges_forward,  # noqa: E402
                                   clip_twist)
from a4mer.heads import baselines as BL  # noqa: E402
from a4mer.heads.prediction import close_keys, fill_runs, unknown_runs  # noqa: E402
from a4mer.motion import Motion  # noqa: E402

SMALL = DecoderConfig(hidden=32, context=4, basis=4)
NONLEAF = [j for j in range(22) if j not in LEAF_JOINTS]  # the leaf joints ease to slerp (tested apart)


def _clip(T=200, fps=30.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T) / fps
    trans = np.stack([0.5 * t, 0.1 * np.sin(2 * t), 0.9 + 0.02 * np.sin(5 * t)], 1)
    aa = 0.3 * np.sin(t[:, None, None] * rng.uniform(1, 4, (1, 24, 1)) + rng.uniform(0, 6, (1, 24, 3)))
    rot = axis_angle_to_quat(aa)
    rot[:, 0] = quat_mul(axis_angle_to_quat(np.array([np.pi / 2, 0, 0])), rot[:, 0])
    return Motion(fps, trans, rot)


def _heads_curve(m, s, e, order=1, tangent_scale=1.0, min_jerk=False):
    """The heads' classical gap curve over a whole clip: the cubic Hermite between keys ``s < e`` with
    key velocities of ``order`` (or with ``min_jerk`` the minimum-jerk curve at the clip's rate), its
    body rotations half-way to the curve of their global orientations, the leaf joints eased to slerp
    between the keys (tested on its own below), knees and elbows kept from bending backwards."""
    if min_jerk:
        tr, q = BL.min_jerk(m.root_translation, m.rotations[:, :22], s, e, fps=m.fps)
    else:
        tr, q = (x[0] for x in BL.hermite_batch(m.root_translation[None], m.rotations[None, :, :22], s, e, order,
                                                 tangent_scale, BL.GLOBAL_WEIGHT))
    t_all, q_all = m.root_translation.copy(), m.rotations[:, :22].copy()
    t_all[s + 1:e], q_all[s + 1:e] = tr, q
    known = np.ones(m.num_frames, bool)
    known[s + 1:e] = False
    _ease_leaves(q_all, known, m.fps)
    _hinges_forward(q_all, known, m.fps)
    return t_all, q_all


def test_leaf_joints_ease_to_slerp_between_the_keys():
    """Feet, head and wrists: the span's own curve near the keys (C1 there), slerp between the keys
    from LEAF_EASE_S on; every other joint and every key untouched."""
    m = _clip()
    s, e = 40, 101  # 2 s gap at 30 fps: ramps of 8 frames, slerp in between
    known = np.ones(m.num_frames, bool)
    known[s + 1:e] = False
    q = m.rotations.copy()
    _ease_leaves(q, known, m.fps)
    leaf, other = list(LEAF_JOINTS), [j for j in range(24) if j not in LEAF_JOINTS]
    np.testing.assert_array_equal(q[:, other], m.rotations[:, other])
    np.testing.assert_array_equal(q[known], m.rotations[known])
    k = np.arange(1, e - s)
    slerp = quat_slerp(m.rotations[s, leaf][None], m.rotations[e, leaf][None], (k / (e - s))[:, None])
    mid = (k >= 8) & (k <= e - s - 8)
    assert quat_angle(q[s + 1:e][mid][:, leaf], slerp[mid]).max() < 1e-6
    # one frame from a key: 1/64 of the way (smoothstep(1/8)) from the curve to the slerp
    assert quat_angle(q[s + 1, leaf], m.rotations[s + 1, leaf]).max() < 0.05 * quat_angle(
        slerp[0], m.rotations[s + 1, leaf]).max() + 1e-9
    # blocking: many runs at once give what each run alone gives; runs at the clip's ends are left alone
    keys = np.r_[5:m.num_frames - 5:9]
    known = np.zeros(m.num_frames, bool)
    known[keys] = True
    q = m.rotations.copy()
    _ease_leaves(q, known, m.fps)
    for a, b in zip(keys, keys[1:]):
        one = np.ones(m.num_frames, bool)
        one[a + 1:b] = False
        alone = m.rotations.copy()
        _ease_leaves(alone, one, m.fps)
        assert quat_angle(q[a:b + 1], alone[a:b + 1]).max() < 1e-6
    np.testing.assert_array_equal(q[:keys[0]], m.rotations[:keys[0]])
    np.testing.assert_array_equal(q[keys[-1]:], m.rotations[keys[-1]:])


def _random_net(seed=0):
    torch.manual_seed(seed)
    net = CorrectionDecoder(SMALL)
    with torch.no_grad():
        for mlp in net.tasks.values():
            mlp.net[-1].weight.normal_(0, 0.01)  # non-zero output so corrections are visible
    return net


def test_mirror_twice_is_identity():
    m = _clip()
    t, q = Wn.mirror(*Wn.mirror(m.root_translation, m.rotations[:, :22]))
    np.testing.assert_allclose(t, m.root_translation)
    np.testing.assert_allclose(q, m.rotations[:, :22], atol=1e-12)


def test_untrained_decoder_gives_the_classical_curve():
    m = _clip()
    learned = LearnedHeads(CorrectionDecoder(SMALL)).fill_gap(m, 50, 91)  # zero-initialised output layer
    classic_t, classic_q = _heads_curve(m, 50, 91)  # 40 missing frames: first-order velocities
    np.testing.assert_allclose(learned.root_translation, classic_t, atol=1e-6)
    assert quat_angle(learned.rotations[:, :22], classic_q).max() < 1e-5
    # a decoder with non-zero output changes the gap (and only the gap)
    other = LearnedHeads(_random_net()).fill_gap(m, 50, 91)
    assert np.abs(other.root_translation[51:91] - classic_t[51:91]).max() > 1e-4
    np.testing.assert_array_equal(other.root_translation[:51], classic_t[:51])


@pytest.mark.parametrize("fps", [30.0, 60.0, 24.0])
def test_inbetween_keeps_keys_and_outside_frames(fps):
    m = _clip(T=int(6 * fps), fps=fps)
    # garbage inside the gap must be ignored
    rot = m.rotations.copy()
    rot[int(2 * fps) + 1:int(3.5 * fps)] = axis_angle_to_quat(np.full(3, 2.0))
    bad = m.with_(rotations=rot)
    s, e = int(2 * fps), int(3.5 * fps)
    heads = LearnedHeads(_random_net())
    out = heads.inbetween(bad, s, e)
    ref = heads.inbetween(m, s, e)
    assert out.num_frames == m.num_frames and out.fps == m.fps and out.skeleton == m.skeleton
    keep = np.r_[0:s + 1, e:m.num_frames]
    np.testing.assert_array_equal(out.root_translation[keep], bad.root_translation[keep])
    assert np.abs(out.rotations[keep] - bad.rotations[keep]).max() < 1e-15
    np.testing.assert_allclose(out.rotations, ref.rotations, atol=1e-12)  # gap content ignored
    # the generated frames were changed by the decoder (it is not the plain curve) and stay near the keys
    step = np.linalg.norm(np.diff(m.root_translation, axis=0), axis=1).max()
    assert np.linalg.norm(out.root_translation[s + 1] - out.root_translation[s]) < 5 * step + 0.02


@pytest.mark.parametrize("fps", [30.0, 120.0, 25.0])
def test_gap_fill_works_on_the_gaps_neighbourhood_only(fps):
    """fill_gap computes only the gap and the context its example reads (long takes stay fast): the
    result equals filling the whole clip, also for gaps near either end."""
    m = _clip(T=int(20 * fps), fps=fps)
    heads = LearnedHeads(_random_net())
    for s, e in ((int(8 * fps), int(9 * fps)), (2, int(0.5 * fps)), (m.num_frames - int(0.6 * fps), m.num_frames - 2)):
        known = np.ones(m.num_frames, bool)
        known[s + 1:e] = False
        whole_t, whole_q, _ = heads._fill(m.root_translation, m.rotations, known, fps)
        out = heads.fill_gap(m, s, e)
        np.testing.assert_allclose(out.root_translation, whole_t, atol=1e-12)
        np.testing.assert_allclose(out.rotations, whole_q, atol=1e-12)
        assert np.abs(out.rotations[s + 1:e] - m.rotations[s + 1:e]).max() > 1e-3


def test_blocking_runs_each_span_as_if_alone():
    """Spans between keys are filled in batches (one MLP pass per task, one example per key layout);
    each span comes out as when only its own four keys are given (with the clip's twist calibration)."""
    m = _clip(T=240)
    heads = LearnedHeads(_random_net())
    keys = np.array([0, 8, 16, 24, 31, 45, 53, 61, 69, 80, 88, 96, 120, 128, 136, 150, 158, 166, 200, 239])
    out = heads.fill_keys(m, keys)
    known = np.zeros(m.num_frames, bool)
    known[keys] = True
    twist = clip_twist(m.fps, m.root_translation, m.rotations, known)  # the clip's, as fill_keys reads it
    for i in (2, 5, 9, 13, 16):
        known = np.zeros(m.num_frames, bool)
        known[keys[i - 1:i + 3]] = True
        t, q, _ = heads._fill(m.root_translation, m.rotations, known, m.fps, twist)
        s, e = keys[i], keys[i + 1]
        np.testing.assert_allclose(out.root_translation[s:e], t[s:e], atol=1e-6)
        assert quat_angle(out.rotations[s:e, :22], q[s:e, :22]).max() < 1e-5
        assert np.abs(out.root_translation[s + 1:e] - BL.catmull_rom_keys(m.root_translation, m.rotations, keys)[0][s + 1:e]).max() > 1e-5


def test_blocking_keeps_every_key_and_fills_every_gap():
    m = _clip(T=181)
    keys = list(range(0, 181, 20))
    garbage = m.with_(root_translation=m.root_translation + np.where(np.isin(np.arange(181), keys), 0, 3.0)[:, None])
    out = LearnedHeads(_random_net()).inbetween_keys(garbage, keys)
    np.testing.assert_array_equal(out.root_translation[keys], garbage.root_translation[keys])
    gen = np.setdiff1d(np.arange(181), keys)
    assert np.abs(out.root_translation[gen] - m.root_translation[gen]).max() < 0.5  # garbage (3 m) replaced


def test_fill_mask_covers_runs_in_several_windows():
    m = _clip(T=400)
    known = np.zeros(400, bool)
    known[::10] = True
    known[-1] = True
    tr = m.root_translation.copy()
    tr[~known] = 9.0
    ft, _, corrected = fill_runs(None, {}, tr, m.rotations[:, :22], known)
    assert not corrected
    assert np.abs(ft[~known] - m.root_translation[~known]).max() < 0.5  # every run generated
    assert unknown_runs(np.array([1, 0, 0, 1, 0, 1], bool)) == [(1, 2), (4, 4)]


@pytest.mark.parametrize("fps", [30.0, 24.0, 50.0, 120.0])
def test_extend_keeps_input_and_is_continuous(fps):
    m = _clip(T=int(2 * fps), fps=fps)
    out = LearnedHeads(_random_net()).extend_clip(m, 40)
    assert out.num_frames == m.num_frames + 40
    np.testing.assert_array_equal(out.root_translation[:m.num_frames], m.root_translation)
    last_step = np.linalg.norm(m.root_translation[-1] - m.root_translation[-2])
    seam = np.linalg.norm(out.root_translation[m.num_frames] - m.root_translation[-1])
    assert seam < 3 * last_step + 0.01


def test_learned_gap_leaves_the_keys_without_a_velocity_kink(repo_root):
    """The correction's sine basis is zero at the keys but not flat; it fades in over KEY_RAMP_SECONDS,
    so the result leaves each key on the base curve's velocity. Shipped heads, the walk at 120 fps, a
    3 s gap: the joints' velocity change at the keys was 4-6 x the clip's median frame-to-frame change
    (a visible hitch), now under 1 x."""
    from a4mer.api import load_motion
    from a4mer.bench.metrics import body_fk
    from a4mer.heads.files import default_heads
    heads = default_heads()
    if heads.net is None:
        pytest.skip("no bundled heads")
    m = load_motion(repo_root / "examples/bandai/dataset-1_walk_happy_002.bvh").resample(120.0)
    T = m.num_frames
    s, e = T // 2 - T // 6, T // 2 + T // 6
    assert heads.gap_learned(m, s, e)
    dv = lambda x: np.linalg.norm(np.diff(body_fk(x.rotations[:, :22], x.root_translation)[0], 2, axis=0),  # noqa: E731
                                  axis=-1).max(-1)
    typical = np.median(dv(m))
    out = dv(heads.inbetween(m, s, e))
    assert out[s - 1] < 1.5 * typical and out[e - 1] < 1.5 * typical, (out[s - 1], out[e - 1], typical)


@pytest.mark.parametrize("fps", [120.0, 60.0])
def test_extension_above_30_fps_has_no_kink_at_the_model_samples(repo_root, fps):
    """The extension is computed on a 30 fps grid; back at 60/120 fps it follows a C2 curve through
    those samples. With lerp/slerp between them the joints' acceleration was near zero between the
    samples and spiked on every one (phase ratio 14 on this kick at 120 fps, 8 at 60 fps)."""
    from a4mer.api import load_motion
    from a4mer.bench.metrics import body_fk
    m = load_motion(repo_root / "examples/hdm05/amc/HDM_mm_kickLFront1Reps_023_120.amc")
    m = m if fps == m.fps else m.resample(fps)
    out = LearnedHeads(_random_net()).extend_clip(m, int(fps))
    pos = body_fk(out.rotations[:, :22], out.root_translation)[0]
    acc = np.linalg.norm(np.diff(pos, 2, axis=0), axis=-1).mean(-1)[m.num_frames + 6:]  # past the seam
    step = int(fps // 30)
    by_phase = [acc[k::step].mean() for k in range(step)]
    assert max(by_phase) < 1.3 * min(by_phase), by_phase


@pytest.mark.parametrize("fps", [24.0, 50.0, 120.0])
def test_classical_curves_are_computed_at_the_clips_own_rate(fps):
    """Without a correction, a gap of a second is the heads' classical curve of the clip's own frames
    (the minimum-jerk curve up to 45 fps, above it the cubic Hermite, what Blender's curves give at that
    rate) and blocking the Catmull-Rom curve, also for keys off the 30 fps grid; before, both were
    computed on a 30 fps grid and interpolated back (4 x Hermite's error on 10-frame gaps at 120 fps,
    and frames past the last grid key taken from the input)."""
    m = _clip(T=int(4 * fps), fps=fps)
    plain, hermite = LearnedHeads(None), BaselineMethod("h", gap="hermite")
    for s, e in ((int(1.5 * fps) + 3, int(2.5 * fps) + 2), (int(0.5 * fps), int(1.5 * fps))):  # about 1 s
        a, (bt, bq) = plain.fill_gap(m, s, e), _heads_curve(m, s, e, min_jerk=fps <= 45)
        np.testing.assert_allclose(a.root_translation, bt, atol=1e-9)
        assert quat_angle(a.rotations[:, :22], bq).max() < 1e-6
    keys = np.unique(np.r_[np.arange(0, m.num_frames, 7), m.num_frames - 1])  # mostly off the grid
    a, b = plain.inbetween_keys(m, keys), hermite.fill_keys(m, keys)
    st, sq = BL.natural_spline_keys(m.root_translation, m.rotations[:, :22], keys, BL.GLOBAL_WEIGHT)
    for s, e in zip(keys, keys[1:]):  # keys under 0.23 s apart: the natural spline instead
        ref_t, ref_q = (st, sq) if close_keys(s, e, fps) else (b.root_translation, b.rotations[:, :22])
        np.testing.assert_allclose(a.root_translation[s:e], ref_t[s:e], atol=1e-9)
        assert quat_angle(a.rotations[s:e, NONLEAF], ref_q[s:e, NONLEAF]).max() < 1e-6  # leaves: eased


def test_short_gaps_reproduce_constant_acceleration():
    """Short gaps (up to 12 frames at 30 fps) take key velocities from second-order differences: a
    root path and a body turning with constant angular acceleration are then filled exactly, where
    one-frame differences (the issue's Hermite) lag by half a frame."""
    t = np.arange(60) / 30.0
    trans = np.stack([0.3 * t + 0.8 * t ** 2, -0.2 * t ** 2, 0.9 + 0.1 * t], 1)
    axes = np.random.default_rng(0).normal(size=(24, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    axes[1:] = 0.0  # the root turns, the joints keep still: local and global curves are the same
    rot = axis_angle_to_quat((0.4 * t + 1.5 * t ** 2)[:, None, None] * axes[None])
    m = Motion(fps=30.0, root_translation=trans, rotations=rot)
    s, e = 24, 33  # 8 missing frames: band gap0 (order 2)
    out = LearnedHeads(None).fill_gap(m, s, e)
    np.testing.assert_allclose(out.root_translation, m.root_translation, atol=1e-9)
    assert quat_angle(out.rotations[:, :22], m.rotations[:, :22]).max() < 1e-6
    lagged = BaselineMethod("h", gap="hermite").fill_gap(m, s, e)
    assert np.abs(lagged.root_translation - m.root_translation).max() > 1e-6
    assert quat_angle(lagged.rotations[:, 0], m.rotations[:, 0]).max() > 1e-4


@pytest.mark.parametrize("fps", [60.0, 120.0])
def test_short_gaps_above_45_fps_get_the_clips_own_hermite(fps):
    """Above 45 fps the same gaps get the cubic Hermite with one-frame key velocities at the clip's
    rate (what Blender's curves give there) and no learned correction, even from a correcting net;
    longer gaps are still corrected."""
    m = _clip(T=int(4 * fps), fps=fps)
    heads = LearnedHeads(_random_net())
    s = int(fps)
    for seconds, corrected in ((0.3, False), (1.0, True)):
        e = s + int(round(seconds * fps))
        out, (ref_t, ref_q) = heads.fill_gap(m, s, e), _heads_curve(m, s, e)
        d = np.abs(out.root_translation - ref_t).max()
        assert (d > 1e-7) == corrected == heads.gap_learned(m, s, e), (seconds, d)
        if not corrected:
            assert quat_angle(out.rotations[:, :22], ref_q).max() < 1e-6


def test_close_keys_get_the_natural_spline_which_beats_catmull_rom_on_real_mocap(repo_root):
    """Keys under 0.23 s apart (where the blocking MLP lost on unseen sources) are joined by the natural cubic spline
    through all keys: on real mocap it is closer to the truth than Catmull-Rom (Bandai walk, keys every
    5 frames at 30 fps: 0.76 x; HDM05 kick at 120 fps, keys every 10 frames: 0.88 x when written);
    every key is kept exactly."""
    from a4mer.api import load_motion
    from a4mer.bench.metrics import body_fk
    plain = LearnedHeads(None)
    for path, every, bound in (("examples/bandai/dataset-1_walk_happy_002.bvh", 5, 0.85),
                               ("examples/hdm05/amc/HDM_mm_kickLFront1Reps_023_120.amc", 10, 0.93)):
        m = load_motion(repo_root / path)
        keys = np.arange(0, m.num_frames, every)
        gen = np.setdiff1d(np.arange(keys[-1]), keys)
        out = plain.inbetween_keys(m, keys)
        np.testing.assert_array_equal(out.rotations[keys], m.rotations[keys])
        cr_t, cr_q = BL.catmull_rom_keys(m.root_translation, m.rotations, keys)
        truth = body_fk(m.rotations[gen, :22], m.root_translation[gen])[0]
        err = lambda t, q: np.linalg.norm(body_fk(q[gen, :22], t[gen])[0] - truth, axis=-1).mean()  # noqa: E731
        assert err(out.root_translation, out.rotations) < bound * err(cr_t, cr_q), path


def test_short_gaps_and_close_keys_get_the_classical_curve():
    """Gaps of fewer than 4 missing frames (30 fps) and keys closer than 6 frames are left to the
    classical curve even when every MLP corrects, at any frame rate; the method label says so."""
    from a4mer.heads.prediction import MIN_BLOCKING_SPACING, MIN_GAP_MISSING
    heads, plain = LearnedHeads(_random_net()), LearnedHeads(None)
    for fps in (30.0, 120.0):
        m = _clip(T=int(4 * fps), fps=fps)
        s = int(fps)
        short = MIN_GAP_MISSING + 2 if fps == 30.0 else SMALL.gap_bands[0] + 4  # 120 fps: past band gap0
        for missing30, corrected in ((MIN_GAP_MISSING - 1, False), (short, True)):
            e = s + int(round((missing30 + 1) * fps / 30))
            d = np.abs(heads.fill_gap(m, s, e).root_translation - plain.fill_gap(m, s, e).root_translation).max()
            assert (d > 1e-7) == corrected == heads.gap_learned(m, s, e), (fps, missing30, d)
        for spacing30, corrected in ((MIN_BLOCKING_SPACING - 1, False), (MIN_BLOCKING_SPACING + 4, True)):
            keys = np.arange(0, m.num_frames, int(round(spacing30 * fps / 30)))
            d = np.abs(heads.inbetween_keys(m, keys).root_translation - plain.inbetween_keys(m, keys).root_translation).max()
            assert (d > 1e-7) == corrected == heads.keys_learned(m, keys), (fps, spacing30, d)


def test_bad_requests_are_clear_errors():
    m = _clip(T=200)
    h = LearnedHeads(None, {"inbetween": False, "blocking": False, "extend": False})
    with pytest.raises(A4merError, match="outside the clip"):
        h.inbetween(m, 150, 260)
    with pytest.raises(A4merError, match="no frame strictly between"):
        h.inbetween(m, 40, 41)
    long = _clip(T=400)
    with pytest.raises(A4merError, match="at most 4 s"):
        h.inbetween(long, 10, 150)
    with pytest.raises(A4merError, match="at least 1"):
        h.extend_clip(m, 0)
    with pytest.warns(A4merWarning, match="context before") as rec:
        h.inbetween(m, 10, 60)
    assert rec[0].filename == __file__  # the caller's line, not a4mer's


def test_save_load_roundtrip_is_identical(tmp_path):
    m = _clip()
    heads = LearnedHeads(_random_net(), {"inbetween": True, "blocking": False, "extend": True})
    path = heads.save(tmp_path / "heads.safetensors", training={"steps": 1}, license="CC BY-NC 4.0",
                      attributions=["data A"])
    meta = read_heads_metadata(path)
    assert meta["format"] == "a4mer-heads" and "config" in meta
    assert meta["license"] == "CC BY-NC 4.0" and json.loads(meta["attributions"]) == ["data A"]
    back = load_heads(path)
    assert back.gates == heads.gates
    a, b = heads.fill_gap(m, 40, 80), back.fill_gap(m, 40, 80)
    np.testing.assert_allclose(a.root_translation, b.root_translation, atol=2e-3)  # float16 on disk
    again = load_heads(back.save(tmp_path / "new" / "folder" / "again.safetensors"))  # folders created
    np.testing.assert_array_equal(again.fill_gap(m, 40, 80).rotations, b.rotations)  # save->load stable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a gated-off task falls back to the classical curve
        c = back.fill_keys(m, list(range(0, 200, 20)))
    d = BaselineMethod("h", gap="hermite").fill_keys(m, list(range(0, 200, 20)))
    assert np.abs(c.root_translation - d.root_translation).max() < 1e-9


def test_bundle_tensors_roundtrip():
    from a4mer.heads.files import heads_from_tensors, heads_to_tensors
    m = _clip()
    heads = LearnedHeads(_random_net(), {"inbetween": True, "blocking": True, "extend": False})
    t = heads_to_tensors(heads, encoder_hash="abc")
    assert all(k.startswith("heads.") for k in t)
    back = heads_from_tensors(t)
    assert back.gates == heads.gates and back.meta["encoder_hash"] == "abc"
    np.testing.assert_allclose(heads.fill_gap(m, 40, 80).rotations, back.fill_gap(m, 40, 80).rotations, atol=2e-3)


def test_familiarity_gate_fades_corrections_on_unfamiliar_input():
    net = _random_net()
    mlp = net.tasks["gap0"]
    x = torch.randn(200, net.cfg.input_dims()["gap0"])
    mlp.set_normalization(x)
    mlp.set_familiarity(x, 90, 99)
    near = net("gap0", x[:5])
    far = net("gap0", x[:5] * 10.0)  # mean squared z of ~100: far outside the band
    assert near.abs().max() > 0 and far.abs().max() == 0


def test_unfamiliar_gaps_fall_back_to_a_better_classical_curve():
    """Where the familiarity gate fades a gap MLP's correction out completely, a gap of up to 30 frames
    (30 fps) whose MLP corrects the one-frame Hermite is the minimum-jerk curve, one of up to 40 the
    Hermite with second-order key velocities, and a longer gap the one-frame Hermite with its key
    velocities scaled by 0.8 (all better than the base on clips the heads were not trained on) - beyond
    the KEY_RAMP_SECONDS next to each key, where it fades in from the base; a familiar input keeps
    base + correction, and without a correction the gap stays on its classical curve."""
    from a4mer.heads.prediction import (FALLBACK_MAX_SECOND_ORDER, FALLBACK_TANGENT_SCALE, MIN_JERK_MAX_MISSING,
                                        gap_velocity_order)
    fps = 30.0
    m = _clip(T=int(6 * fps), fps=fps)
    net = _random_net()
    s = int(2 * fps)
    plain = LearnedHeads(None)
    for missing30 in (20, MIN_JERK_MAX_MISSING + 5, FALLBACK_MAX_SECOND_ORDER + 10):
        e = s + missing30 + 1
        if missing30 <= MIN_JERK_MAX_MISSING:
            ref_t, ref_q = _heads_curve(m, s, e, min_jerk=True)
        elif missing30 <= FALLBACK_MAX_SECOND_ORDER:
            ref_t, ref_q = _heads_curve(m, s, e, order=2)
        else:
            ref_t, ref_q = _heads_curve(m, s, e, tangent_scale=FALLBACK_TANGENT_SCALE)
        assert gap_velocity_order(SMALL, missing30, fps) == 1
        mlp = net.tasks[SMALL.gap_task(missing30)]
        mlp.z_band.fill_(float("inf"))  # no gate: base + correction
        familiar = LearnedHeads(net).fill_gap(m, s, e)
        mlp.z_band.copy_(torch.tensor([-2.0, -1.0]))  # every input unfamiliar: weight 0
        faded = LearnedHeads(net).fill_gap(m, s, e)
        base_t = _heads_curve(m, s, e)[0]  # the MLP's base: the one-frame Hermite
        away = np.r_[0:s + 1, s + 2:e - 1, e:len(ref_t)]  # 0.05 s = 1.5 frames: the keys' neighbours ramp
        np.testing.assert_allclose(faded.root_translation[away], ref_t[away], atol=1e-9)
        assert quat_angle(faded.rotations[away, :22], ref_q[away, :22]).max() < 1e-6
        for f in (s + 1, e - 1):  # between the base and the fallback there
            d = ref_t[f] - base_t[f]
            w = (faded.root_translation[f] - base_t[f]) @ d / (d @ d)
            assert 0.5 < w < 1.0, w
        assert np.abs(familiar.root_translation - ref_t).max() > 1e-4
        # the fallback curve is not the base; it is what the heads give without a correction
        assert np.abs(base_t - ref_t).max() > 1e-5
        np.testing.assert_allclose(plain.fill_gap(m, s, e).root_translation, ref_t, atol=1e-9)


def test_gates_need_no_loss_anywhere_and_a_gain_on_average():
    from a4mer.heads.train import choose_gates
    def r(v):
        return {"mpjpe_mm": v, "base_mpjpe_mm": 10.0}
    ev = {"a": {"gap0": r(9.0), "gap1": r(9.0), "blocking": r(10.2), "extend": r(10.0)},
          "b": {"gap0": r(10.01), "gap1": r(10.2), "blocking": r(5.0), "extend": r(10.0)}}
    assert choose_gates(ev) == {"gap0": True, "gap1": False, "inbetween": True, "blocking": False, "extend": False}
    ev["a"]["gap0"] = r(10.5)
    assert choose_gates(ev)["inbetween"] is False  # no gap band on


def test_gap_velocity_orders_must_match_the_bands():
    with pytest.raises(A4merError, match="gap_velocity_orders"):
        DecoderConfig(gap_bands=(12, 40, 120))  # the default orders name four bands
    with pytest.raises(A4merError, match="gap_velocity_orders"):
        DecoderConfig.from_dict({**json.loads(DecoderConfig().to_json()), "gap_velocity_orders": [2, 3, 1, 1]})
    cfg = DecoderConfig.from_dict(json.loads(DecoderConfig().to_json()))
    assert cfg == DecoderConfig() and [cfg.velocity_order(t) for t in cfg.gap_tasks()] == list(cfg.gap_velocity_orders)


def test_gap_global_weight_is_stored_and_older_files_keep_the_local_curve():
    """Heads files record the base curve their gap MLPs were trained on: files written before
    ``gap_global_weight`` existed were trained on the local curve alone and load with 0; new files
    keep their value; out-of-range values are refused."""
    d = json.loads(DecoderConfig().to_json())
    assert DecoderConfig.from_dict(d).gap_global_weight == BL.GLOBAL_WEIGHT == 0.5
    d.pop("gap_global_weight")
    assert DecoderConfig.from_dict(d).gap_global_weight == 0.0
    with pytest.raises(A4merError, match="gap_global_weight"):
        DecoderConfig(gap_global_weight=1.5)
    # the base curve follows the file: a zero-output decoder gives the local curve or the blend
    m = _clip()
    local = LearnedHeads(CorrectionDecoder(DecoderConfig(hidden=32, context=4, basis=4, gap_global_weight=0.0)))
    blend = LearnedHeads(CorrectionDecoder(SMALL))
    ref_local = BaselineMethod("h", gap="hermite").fill_gap(m, 50, 91)
    assert quat_angle(local.fill_gap(m, 50, 91).rotations[:, NONLEAF], ref_local.rotations[:, NONLEAF]).max() < 1e-5
    assert quat_angle(blend.fill_gap(m, 50, 91).rotations[:, :22], _heads_curve(m, 50, 91)[1]).max() < 1e-5
    assert quat_angle(blend.fill_gap(m, 50, 91).rotations[:, :22], ref_local.rotations[:, :22]).max() > 1e-3


def test_each_gap_length_uses_its_band_mlp():
    """A gap of n missing frames is corrected by the MLP of its band only (a band gated off gives the
    plain classical curve)."""
    m = _clip()
    cfg = DecoderConfig(hidden=32, context=4, basis=4, gap_bands=(12, 40, 120), gap_velocity_orders=(2, 2, 1))
    assert [cfg.gap_task(n) for n in (2, 12, 13, 40, 41, 120, 200)] == ["gap0", "gap0", "gap1", "gap1", "gap2", "gap2", "gap2"]
    assert [cfg.gap_range(t) for t in cfg.gap_tasks()] == [(2, 15), (9, 48), (32, 120)]  # overlapping bands
    torch.manual_seed(1)
    net = CorrectionDecoder(cfg)
    with torch.no_grad():
        net.tasks["gap1"].net[-1].weight.normal_(0, 0.01)
    heads = LearnedHeads(net)
    classical = BaselineMethod("h", gap="min_jerk")  # the root path of gaps up to 30 frames without a correction
    for s, e, acts, classic in ((50, 58, False, "min_jerk"), (50, 71, True, "min_jerk"), (40, 100, False, "hermite")):
        d = np.abs(heads.fill_gap(m, s, e).root_translation
                   - BaselineMethod("h", gap=classic).fill_gap(m, s, e).root_translation).max()  # 7, 20, 59 missing
        assert (d > 1e-4) == acts, (s, e, d)
    off = LearnedHeads(net, {"inbetween": True, "gap1": False, "blocking": True, "extend": True})
    np.testing.assert_allclose(off.fill_gap(m, 50, 71).root_translation,
                               classical.fill_gap(m, 50, 71).root_translation, atol=1e-9)


@pytest.mark.parametrize("fps", [24.0, 50.0])
def test_gap_learned_says_what_fill_gap_does_at_any_frame_rate(fps):
    """The method label of a gap (``gap_learned``) follows the band ``fill_gap`` actually used, also
    for clips not at 30 fps where the gap is counted on the 30 fps grid (band edges included)."""
    m = _clip().resample(fps)
    # a band of second-order velocities is not corrected above 45 fps (its base curve is not used there)
    orders = (2, 2, 1) if fps <= 45 else (2, 1, 1)
    cfg = DecoderConfig(hidden=32, context=4, basis=4, gap_bands=(12, 40, 120), gap_velocity_orders=orders)
    torch.manual_seed(1)
    net = CorrectionDecoder(cfg)
    with torch.no_grad():
        net.tasks["gap1"].net[-1].weight.normal_(0, 0.01)
    # only gaps of 13-40 frames at 30 fps are corrected
    heads = LearnedHeads(net, {"inbetween": True, "gap0": False, "gap1": True, "gap2": False})
    plain = LearnedHeads(None)
    s = int(2 * fps)
    seen = set()
    for n in list(range(8, 20)) + list(range(int(38 * fps / 30), int(44 * fps / 30))):
        e = s + n + 1
        d = np.abs(heads.fill_gap(m, s, e).root_translation - plain.fill_gap(m, s, e).root_translation).max()
        assert (d > 1e-7) == heads.gap_learned(m, s, e), (n, d)
        seen.add(bool(d > 1e-7))
    assert seen == {True, False}


def test_heads_of_another_schema_version_are_refused_clearly():
    d = json.loads(SMALL.to_json())
    d["schema_version"] = 2
    with pytest.raises(A4merError, match="schema_version 2 .*retrain"):
        DecoderConfig.from_dict(d)
    assert DecoderConfig.from_dict(json.loads(SMALL.to_json())) == SMALL


@pytest.mark.parametrize("stride", [1, 3])
def test_gap_result_moves_with_the_clip_height(stride):
    """Inputs carry no absolute root height: lifting the whole clip lifts the result by the same
    amount (and nothing else changes), whatever the gap head's context stride."""
    m = _clip()
    cfg = DecoderConfig(hidden=32, context=4, basis=4, gap_stride=stride)
    torch.manual_seed(1)
    net = CorrectionDecoder(cfg)
    with torch.no_grad():
        net.tasks[cfg.gap_task(40)].net[-1].weight.normal_(0, 0.01)
    heads = LearnedHeads(net)
    lifted = m.with_(root_translation=m.root_translation + np.array([0.0, 0.0, 0.25]))
    a, b = heads.fill_gap(m, 50, 91), heads.fill_gap(lifted, 50, 91)
    np.testing.assert_allclose(b.root_translation - a.root_translation, np.broadcast_to([0, 0, 0.25], a.root_translation.shape),
                               atol=1e-9)
    assert quat_angle(a.rotations, b.rotations).max() < 1e-6
    classic = BaselineMethod("h", gap="hermite").fill_gap(m, 50, 91)
    assert np.abs(a.root_translation[51:91] - classic.root_translation[51:91]).max() > 1e-4  # the net acted


def test_gated_off_extension_is_constant_velocity():
    m = _clip()
    heads = LearnedHeads(_random_net(), {"inbetween": True, "blocking": True, "extend": False})
    out = heads.extend_clip(m, 45)
    cv = BaselineMethod("cv", ext="constant_velocity").extend(m, 45)
    np.testing.assert_allclose(out.root_translation, cv.root_translation, atol=1e-9)
    assert quat_angle(out.rotations[:, NONLEAF], cv.rotations[:, NONLEAF]).max() < 1e-6
    # the leaf joints ease from that curve (C1 at the seam) to their last input rotation within 8/30 s
    leaf = list(LEAF_JOINTS)
    held = np.broadcast_to(m.rotations[-1, leaf], (45 - 8, len(leaf), 4))
    assert quat_angle(out.rotations[-45 + 8:, leaf], held).max() < 1e-6
    step_in = quat_angle(m.rotations[-1, leaf], m.rotations[-2, leaf])
    step_out = quat_angle(out.rotations[-45, leaf], m.rotations[-1, leaf])
    w1 = (1 / 8) ** 2 * (3 - 2 / 8)  # smoothstep one frame (of 8) after the seam
    np.testing.assert_allclose(step_out, step_in * (1 - w1), rtol=0.02, atol=1e-6)
    # switched on, the damped base plus the correction differs from it
    on = LearnedHeads(_random_net(), {"inbetween": True, "blocking": True, "extend": True}).extend_clip(m, 45)
    assert np.abs(on.root_translation[-45:] - cv.root_translation[-45:]).max() > 1e-3


def test_source_weights_and_validation_sets():
    from a4mer.heads.train import clip_weights, source_of, validation_set_of
    names = ["bandai1/a", "bandai2/b", "bandai2/c", "cmu-dance/d", "hdm05/e", "newsrc/f"]
    w = clip_weights(names, [100, 100, 200, 1000, 50, 10], (("bandai", 0.5), ("cmu-dance", 0.3), ("other", 0.2)))
    assert w.sum() == pytest.approx(1.0)
    assert w[:3].sum() == pytest.approx(0.5) and w[2] == pytest.approx(2 * w[1])  # by length within a source
    assert w[3] == pytest.approx(0.3)
    assert w[4] == pytest.approx(0.1) and w[5] == pytest.approx(0.1)  # unlisted sources share "other"
    assert source_of("bandai1/x") == source_of("bandai2/y") == "bandai"
    rec = lambda ds, actor="", path="clips/x.npz": {"dataset": ds, "path": path, "labels": {"actor": actor}}  # noqa: E731
    assert validation_set_of(rec("hdm05", "dg"), {"dg"}) == "hdm05_actor_dg"
    assert validation_set_of(rec("hdm05", "bd"), {"dg"}) is None
    held = [validation_set_of(rec("bandai2", path=f"clips/bandai2/{i}.npz"), {"dg"}) for i in range(2000)]
    assert 0.02 < np.mean([h == "bandai_heldout" for h in held]) < 0.08  # a fixed ~5 %
    assert held == [validation_set_of(rec("bandai2", path=f"clips/bandai2/{i}.npz"), {"dg"}) for i in range(2000)]


def test_training_is_reproducible_and_learns():
    """Two training runs of the same seed give the same weights (batches are drawn by a background
    thread, in order), and the error on the training batches falls below the classical curve's."""
    from a4mer.heads.train import TrainConfig, make_val_batches, train
    clips = [(f"clip/{i}", m.root_translation[:, :3], m.rotations[:, :22]) for i, m in
             enumerate(_clip(T=300, seed=s) for s in range(3))]
    cfg = TrainConfig(minutes=10.0, max_steps=120, by_steps=True, eval_every=60, warmup=5, speeds=(1.0,))
    # first-order key velocities: on these smooth sine clips second-order ones leave the MLPs almost
    # nothing to learn, and the test is about the training loop
    dcfg = DecoderConfig(hidden=32, context=4, basis=4, gap_bands=(40, 120), gap_velocity_orders=(1, 1))
    val = {"v": make_val_batches(clips, 7, dcfg, per_task=1, B=16)}
    a, ha = train(cfg, dcfg, clips, val, log=lambda s: None)
    b, _ = train(cfg, dcfg, clips, val, log=lambda s: None)
    assert ha["steps"] == 120
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    first, second = (h["train_ratio"] for h in ha["val"])  # learned / classical error, steps 1-60 and 61-120
    assert second < 0.98 and second < 0.95 * first


def test_prefetcher_passes_errors_on_and_stops():
    """An error while drawing a batch reaches the training loop (no hang), and leaving the context
    stops the thread even when nobody takes its batches."""
    from a4mer.heads.train import Prefetcher

    class Broken:
        rng = np.random.default_rng(0)

        def batch(self, task, B):
            raise ValueError(f"clip too short for {task}")

    with Prefetcher(Broken(), ("gap0",), np.ones(1), 4) as feed:
        with pytest.raises(ValueError, match="too short for gap0"):
            feed.next()

    class Endless(Broken):
        def batch(self, task, B):
            return {"x": np.zeros((B, 2), np.float32)}

    with Prefetcher(Endless(), ("gap0",), np.ones(1), 4, depth=2) as feed:
        assert feed.next()[1]["x"].shape == (4, 2)
    assert not feed._thread.is_alive()


def test_mirror_average_makes_every_answer_mirror_symmetric():
    """With ``mirror_average`` the heads answer the mirror image of a clip with the mirror image of
    their answer (gaps, blocking, extension), keys and input frames still exact; without it a
    decoder's answers are not symmetric."""
    m = _clip(T=200)

    def mir(x):
        t, q = Wn.mirror(x.root_translation, x.rotations[:, :22])
        r = np.array(x.rotations)
        r[:, :22] = q
        return x.with_(root_translation=t, rotations=r)

    net = _random_net()
    for avg, symmetric in ((True, True), (False, False)):
        heads = LearnedHeads(net, mirror_average=avg)
        for run in (lambda x: heads.fill_gap(x, 60, 91), lambda x: heads.fill_keys(x, np.arange(0, 200, 20)),
                    lambda x: heads.extend_clip(x, 30)):
            a, b = mir(run(m)), run(mir(m))
            d = max(np.abs(a.root_translation - b.root_translation).max(),
                    quat_angle(a.rotations[:, :22], b.rotations[:, :22]).max())
            # float32 MLP inputs; the twist calibration (clip_twist) is mirror-symmetric to ~4e-5 rad, as
            # SMPL's rest offsets are not exactly left-right symmetric
            assert d < 1e-4 if symmetric else d > 1e-3, (avg, d)
    out = LearnedHeads(net).fill_gap(m, 60, 91)
    keep = np.r_[0:61, 91:200]
    np.testing.assert_array_equal(out.rotations[keep], m.rotations[keep])


def test_hands_are_c1_at_the_keys_and_coast_when_extending():
    """Joints beyond the body (SMPL-H fingers) get classical curves that are C1 at the keys: in a gap,
    the cubic Hermite with the neighbouring frames' velocities (slerp changed the fingers' angular
    speed at each key by several times the clip's largest change); extending, their own motion coasts
    to a stop instead of freezing on the first new frame."""
    rng = np.random.default_rng(3)
    T, fps = 150, 30.0
    t = np.arange(T) / fps
    body = _clip(T=T, fps=fps)
    aa = 0.6 * np.sin(t[:, None, None] * rng.uniform(2, 4, (1, 30, 1)) + rng.uniform(0, 6, (1, 30, 3)))
    from a4mer.skeleton import SMPLH
    m = Motion(fps, body.root_translation, np.concatenate([body.rotations[:, :22], axis_angle_to_quat(aa)], 1),
               skeleton=SMPLH)
    assert m.num_joints == 52
    heads = LearnedHeads(_random_net())
    speed = lambda q: quat_angle(q[1:], q[:-1])  # noqa: E731  (T-1, J) angle per frame
    def worst_change(q, at):
        sp = speed(q[:, 22:])
        return max(np.abs(sp[k] - sp[k - 1]).max() for k in at)
    typical = np.abs(np.diff(speed(m.rotations[:, 22:]), axis=0)).max()
    s, e = 60, 90
    out = heads.inbetween(m, s, e)
    assert worst_change(out.rotations, [s, e]) < 1.5 * typical
    blk = heads.inbetween_keys(m, list(range(0, T, 15)) + [T - 1])
    np.testing.assert_array_equal(blk.rotations[::15, 22:], m.rotations[::15, 22:])
    ext = heads.extend_clip(m, 30)
    last, first = speed(m.rotations[-2:, 22:])[0], speed(ext.rotations[T - 1:T + 1, 22:])[0]
    assert np.abs(first - last).max() < 0.25 * last.max()  # the first new step continues the last one
    assert speed(ext.rotations[-2:, 22:])[0].max() < 0.2 * last.max()  # then comes to rest


def test_fingers_in_a_long_gap_stay_within_the_clip_s_range():
    """Fingers (SMPL-H joints 22+) that move fast and jitter by 1 deg at 60 fps, a 1 s gap: the Hermite's
    one-frame key velocities carried over the gap swung them to 125 deg from rest (the clip's own reach
    is 60 deg); eased to slerp between the keys away from them, as the body's leaf joints are, they stay
    near the clip's range, and meet the keys exactly."""
    from a4mer.skeleton import SMPLH
    rng = np.random.default_rng(4)
    T, fps, s, e = 240, 60.0, 60, 121
    t = np.arange(T) / fps
    aa = 0.6 * np.sin(t[:, None, None] * rng.uniform(4, 8, (1, 30, 1)) + rng.uniform(0, 6, (1, 30, 3)))
    aa += np.radians(1.0) * rng.normal(size=aa.shape)
    body = np.zeros((T, 22, 4))
    body[..., 0] = 1.0
    m = Motion(fps, np.zeros((T, 3)) + [0, 0, 0.9], np.concatenate([body, axis_angle_to_quat(aa)], 1), skeleton=SMPLH)
    out = LearnedHeads(net=None).inbetween(m, s, e).rotations[:, 22:]
    from_rest = lambda q: np.degrees(quat_angle(q, np.array([1.0, 0, 0, 0]))).max()  # noqa: E731
    assert from_rest(out[s + 1:e]) < from_rest(m.rotations[:, 22:]) + 15.0
    np.testing.assert_array_equal(out[[s, e]], m.rotations[[s, e], 22:])


def test_shipped_heads_keep_the_toes_with_the_keys_on_a_real_walk(repo_root):
    """A held-out real walk at 24 fps, a 1 s gap whose first key is a toe-off: the classical key
    velocity flung the left toe 51 deg off (the shipped heads followed it: 46 deg); eased to slerp
    between the keys it stays within 20 deg, and every leaf joint is closer to the truth than the
    issue's Hermite."""
    from a4mer.api import load_motion
    from a4mer.heads.files import default_heads
    m = load_motion(repo_root / "examples/bandai/dataset-1_walk_happy_002.bvh").resample(24.0).body()
    s, e = 40, 65
    heads = default_heads()
    assert heads.net is not None
    out = heads.inbetween(m, s, e).rotations[s + 1:e]
    herm = BL.fill_gap(m.root_translation, m.rotations, s, e, "hermite")[1][s + 1:e]
    err = lambda q: np.degrees(quat_angle(q[:, list(LEAF_JOINTS)], m.rotations[s + 1:e, list(LEAF_JOINTS)])).mean(0)  # noqa: E731
    assert err(out)[0] < 20.0, err(out)
    assert np.all(err(out) < err(herm)), (err(out), err(herm))


@pytest.mark.parametrize("fps", [30.0, 24.0])
def test_shipped_heads_keep_a_real_walk_walking(repo_root, fps):
    """3 s of a held-out real walk extended by 6 s: the walk's cycle is found and repeated, so from 3 s
    on it keeps its pace, and throughout its posture (the learned continuation alone slowed to a stop within 3 s and
    bent a knee to 150-175 deg with the pelvis 0.6 m lower); the input frames are kept."""
    from a4mer.api import load_motion
    from a4mer.heads.files import default_heads
    m = load_motion(repo_root / "examples/bandai/dataset-1_walk_happy_002.bvh").resample(fps).body()
    ctx = m.slice(0, int(3 * fps))
    out = default_heads().extend_clip(ctx, int(6 * fps))
    T = ctx.num_frames
    assert np.array_equal(out.rotations[:T], ctx.rotations)
    assert 0.8 <= out.meta["cycle"]["period_s"] <= 1.0, out.meta["cycle"]
    speed = lambda tr: np.linalg.norm(np.diff(tr[:, :2], axis=0), axis=1).mean() * fps  # noqa: E731
    late = out.root_translation[T + int(3 * fps):]
    assert abs(speed(late) / speed(ctx.root_translation) - 1) < 0.1
    assert late[:, 2].min() > ctx.root_translation[:, 2].min() - 0.03
    knees = lambda q: np.degrees(quat_angle(q[:, [4, 5]], np.array([1.0, 0, 0, 0]))).max()  # noqa: E731
    # also in the 1-3 s handover from the learned continuation to the cycle (before it was kept to the
    # cycle's range there, a knee reached 95-105 deg; input 72)
    assert knees(out.rotations[T:]) < knees(ctx.rotations) + 10


def test_hand_and_face_joints_are_filled_alike():
    """The root's way round (``baselines._way_round``, joint 0 only) was applied to joint 22 of an
    SMPL-H/X clip (a finger, the jaw), whose classical curve reads the joints beyond the body as their own
    array: it spun one extra turn where joint 23, moving the same way, did not. Identical motion on the
    two joints now fills identically."""
    from a4mer.skeleton.skeleton import SMPLH
    fps, T, s, e = 30.0, 90, 30, 60
    t = np.arange(T)
    ang = 0.72 * np.sin(2 * np.pi * (t - s) / (e - s)) + 0.2 * (t - s) / (e - s)  # fast, to 11 deg at key e
    rot = np.zeros((T, SMPLH.num_joints, 4))
    rot[..., 0] = 1.0
    rot[:, 22] = rot[:, 23] = np.stack([np.cos(ang / 2), np.sin(ang / 2), 0 * ang, 0 * ang], -1)
    out = LearnedHeads(net=None).inbetween(Motion(fps, np.zeros((T, 3)) + [0, 0, 0.9], rot, skeleton=SMPLH), s, e)
    assert quat_angle(out.rotations[s:e + 1, 22], out.rotations[s:e + 1, 23]).max() < 1e-9
    assert quat_angle(out.rotations[s + 1:e, 22], out.rotations[s:e - 1, 22]).max() < 0.2  # no spin


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_heads_files_with_nan_weights_are_named_not_the_clip(tmp_path, bad):
    """NaN/inf weights in a --heads file made every generated frame NaN, reported as 'motion contains
    NaN/inf values' against the user's clip: the heads file is named when it is loaded."""
    from safetensors.torch import load_file, save_file
    path = LearnedHeads(_random_net(), {"inbetween": True}).save(tmp_path / "heads.safetensors")
    tensors = load_file(str(path))
    assert torch.isinf(tensors["tasks.extend.z_band"]).all()  # inf: the gate is off, a setting, not damage
    key = "tasks.extend.net.0.weight"
    tensors[key] = torch.full_like(tensors[key], bad)
    save_file(tensors, str(tmp_path / "bad.safetensors"), metadata=read_heads_metadata(path))
    with pytest.raises(A4merError, match=f"bad.safetensors: corrupt heads file: the weights '{key}' hold "
                                         f"{'NaN' if bad != bad else 'inf'} values"):
        load_heads(tmp_path / "bad.safetensors")
    load_heads(path)  # the good file still loads
    tensors = load_file(str(path))
    tensors["tasks.extend.z_band"] = torch.tensor([float("nan"), float("inf")])
    save_file(tensors, str(tmp_path / "bad_band.safetensors"), metadata=read_heads_metadata(path))
    with pytest.raises(A4merError, match="the weights 'tasks.extend.z_band' hold NaN"):
        load_heads(tmp_path / "bad_band.safetensors")


def test_token_heads_files_with_nan_weights_are_named_not_the_clip(tmp_path):
    from safetensors.torch import save_file
    from a4mer.heads.token_heads import FORMAT, load_token_heads
    from a4mer.heads.token_net import TokenNet, TokenNetConfig
    cfg = TokenNetConfig()
    state = {k: v.detach().half().contiguous() for k, v in TokenNet(cfg).state_dict().items()}
    key = sorted(state)[-1]
    state[key] = torch.full_like(state[key], float("nan"))
    path = tmp_path / "tok.safetensors"
    save_file(state, str(path), metadata={"format": FORMAT, "config": cfg.to_json()})
    with pytest.raises(A4merError, match=f"tok.safetensors: corrupt token heads file: the weights '{key}' hold NaN"):
        load_token_heads(path, model=object())  # refused before the model is needed
