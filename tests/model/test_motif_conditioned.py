"""Motif-conditioned extension / in-betweening (``a4mer.heads.motif_conditioned``) and ``--motif``.

Synthetic prototypes (a known arm swing walking along a known path) make the retargeting checkable
exactly; the packaged prototypes are checked against the packaged bundle and driven through the CLI."""
import json

import numpy as np
import pytest

pytest.importorskip("torch")

from a4mer.retarget.solve import twist_offsets
from a4mer.errors import A4merError  # noqa: E402
from a4mer.geometry import axis_angle_to_quat, quat_angle, quat_mul  # noqa: E402
from a4mer.heads import motif_conditioned as mcm  # noqa: E402
from a4mer.heads.inbetween import TASKS, LearnedHeads  # noqa: E402
from a4mer.motion import Motion  # noqa: E402

UPRIGHT = np.array([np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0])  # +90 deg about X: standing, facing -Y


def _yawed(yaw):
    return quat_mul(mcm._yaw_quat(yaw), UPRIGHT)


def _input(T=60, fps=30.0, yaw=0.7, seed=0):
    """A clip walking along its heading ``yaw`` with small joint wiggles (24 joints)."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None] / fps
    aa = 0.15 * np.sin(t[:, :, None] * rng.uniform(1, 3, (1, 24, 3)) + rng.uniform(0, 6, (1, 24, 3)))
    rot = axis_angle_to_quat(aa)
    rot[:, 0] = _yawed(np.full(T, yaw))
    fwd = mcm.quat_apply(_yawed(yaw), np.array([0.0, 0.0, 1.0]))
    trans = np.array([1.0, -2.0, 0.9]) + 1.1 * t * fwd
    return Motion(fps, trans, rot)


def _prototypes(n_motifs=4, L=31, fps=15.0, model_hash="m" * 16, vocab_hash="v" * 16):
    """Motif 0: a shoulder swing while walking 1.5 m ahead; motif 1: a turn on the spot; motif 2:
    no prototype; motif 3: a 3-row (short) one. Stored facing +X with the pelvis at (3, 4)."""
    rows_q, rows_t, index = [], [], []
    n = 0
    for m in range(n_motifs):
        if m == 2:
            index.append((n, n))
            continue
        k = L if m != 3 else 3
        s = np.linspace(0, 1, k)
        aa = np.zeros((k, 22, 3))
        aa[:, 16, 2] = 1.2 * np.sin(2 * np.pi * s) + 0.3 * m  # left shoulder swing
        aa[:, 17, 0] = -0.8 * s
        q = axis_angle_to_quat(aa)
        yaw = 0.0 * s if m != 1 else 1.5 * s
        q[:, 0] = _yawed(yaw - mcm.heading(_yawed(0.0)))  # facing +X at the start
        t = np.stack([3 + (1.5 * s if m == 0 else 0 * s), 4 + 0 * s, 0.95 + 0.05 * np.sin(np.pi * s)], 1)
        rows_q.append(q)
        rows_t.append(t)
        index.append((n, n + k))
        n += k
    return mcm.MotifPrototypes(np.concatenate(rows_q), np.concatenate(rows_t), np.array(index), fps, model_hash,
                               vocab_hash, tuple({"clip": f"c{m}"} if m != 2 else None for m in range(n_motifs)))


def _classical():
    return LearnedHeads(None, {t: False for t in TASKS}, name="classical")


def test_extend_performs_the_prototype_after_the_transition():
    protos, m = _prototypes(), _input()
    mc = mcm.MotifConditioner(protos, _classical())
    n, R = 72, 12  # 0.4 s transition (R - 1 frames), then the 60-step prototype at its own speed
    out = mc.extend_clip(m, n, 0)
    base = _classical().extend_clip(m, n)
    T = m.num_frames
    assert out.num_frames == T + n
    assert out.meta["motif"] == {"id": 0, "repetitions": 1, "speed": 1.0, "transition_frames": R - 1,
                                 "played_spans": [[T, T + n - 1]]}
    np.testing.assert_allclose(out.rotations[:T], m.rotations, atol=1e-12)  # input untouched
    np.testing.assert_allclose(out.root_translation[:T], m.root_translation, atol=1e-12)
    assert quat_angle(out.rotations[T:, 16], base.rotations[T:, 16]).max() > 0.5  # not the unconditioned span
    # after the transition the body joints are exactly the whole prototype (resampled 15 -> 30 fps), in
    # the input's joint frames
    pt, pq = mc._proto_at(0, 30.0, twist_offsets(m))
    assert len(pq) == 61
    assert quat_angle(out.rotations[T + R - 1:, 1:22], pq[:, 1:22]).max() < 1e-6
    # retargeted: facing the input's last heading, walking 1.5 m along it
    yaw = mcm.heading(m.rotations[-1, 0])
    np.testing.assert_allclose(mcm.heading(out.rotations[T + R - 1:, 0]), yaw, atol=1e-6)
    step = out.root_translation[-1, :2] - out.root_translation[T + R - 1, :2]
    np.testing.assert_allclose(step, 1.5 * np.array([np.cos(yaw), np.sin(yaw)]), atol=1e-6)
    # seam: the first generated frame is as close to the last input frame as the input's own steps
    own = quat_angle(m.rotations[1:, :22], m.rotations[:-1, :22]).max()
    assert quat_angle(out.rotations[T, :22], m.rotations[T - 1, :22]).max() <= 1.5 * own + 1e-3
    jump = np.linalg.norm(out.root_translation[T] - m.root_translation[T - 1])
    assert jump < 2 * np.linalg.norm(m.root_translation[1] - m.root_translation[0])
    # the root's planar velocity changes gradually from the input's 1.1 m/s to the prototype's 0.75 m/s
    v = np.diff(out.root_translation[T - 2:, :2], axis=0) * 30.0
    assert np.abs(np.diff(v, axis=0)).max() < 0.1  # m/s per frame


def test_extend_loops_a_short_motif_and_turns_with_it():
    protos, m = _prototypes(), _input(yaw=-2.0)
    mc = mcm.MotifConditioner(protos, _classical())
    out = mc.extend_clip(m, 180, 1)  # 3x the prototype: three turns of 1.5 rad
    assert out.meta["motif"]["repetitions"] == 3
    total = np.unwrap(mcm.heading(out.rotations[59:, 0]))
    assert abs((total[-1] - total[0]) - 4.5) < 0.05
    fast = mc.extend_clip(m, 40, 0)  # 40 frames for a 2 s motif: played 2.3 x faster, said so
    sp = fast.meta["motif"]["speed"]
    assert 2 < sp <= mcm.MAX_MOTIF_SPEED and any(f"{sp:.2f}x its speed" in w for w in fast.meta["warnings"])
    short = mc.extend_clip(m, 10, 0)  # 10 frames: it would be 7 x faster: the plain continuation, said so
    np.testing.assert_array_equal(short.rotations, _classical().extend_clip(m, 10).rotations)
    assert short.meta["motif"]["speed"] is None and any("too few to play motif 0" in w for w in short.meta["warnings"])
    # the message counts the transition in (it said "at most 2.5 x faster" of a speed the frames seemed to allow)
    assert any("after a 0.07 s transition, 0.23 s are left: 8.6 x its speed" in w for w in short.meta["warnings"])


def test_fill_meets_both_keys_and_performs_the_motif_in_the_middle():
    protos, m = _prototypes(), _input(T=150)
    mc = mcm.MotifConditioner(protos, _classical())
    s, e = 40, 100
    out = mc.inbetween(m, s, e, 0)
    base = _classical().inbetween(m, s, e)
    keep = np.r_[0:s + 1, e:150]
    np.testing.assert_allclose(out.rotations[keep], m.rotations[keep], atol=1e-12)
    np.testing.assert_allclose(out.root_translation[keep], m.root_translation[keep], atol=1e-12)
    assert quat_angle(out.rotations[s + 1:e, 16], base.rotations[s + 1:e, 16]).max() > 0.5
    pt, pq = mc._proto_at(0, 30.0, twist_offsets(m.with_(root_translation=m.root_translation[keep],
                                                             rotations=m.rotations[keep])))
    f0, f1 = s + 12, e - 12  # 0.4 s transitions after / before the keys, the whole prototype between
    pt, pq = mcm.stretch(pt, pq, f1 - f0 + 1)
    assert quat_angle(out.rotations[f0:f1 + 1, 1:22], pq[:, 1:22]).max() < 1e-6
    # continuity into both keys
    own = quat_angle(m.rotations[1:, :22], m.rotations[:-1, :22]).max()
    for a, b in ((s, s + 1), (e - 1, e)):
        assert quat_angle(out.rotations[a, :22], out.rotations[b, :22]).max() <= 1.5 * own + 1e-3
    blocked = mc.inbetween_keys(m, [0, 40, 100, 149], 0)
    np.testing.assert_allclose(blocked.rotations[[0, 40, 100, 149]], m.rotations[[0, 40, 100, 149]], atol=1e-12)
    assert len(blocked.meta["motif"]["speed"]) == 3


def test_a_held_turn_of_the_input_stays_through_the_motif():
    """The prototypes are read with each joint's twist calibrated on the clip; an input read with the
    source's twist holds the head turned 60 degrees and a forearm twisted 40 (an HDM05 actor's posture):
    played in the input's joint frames, the motif keeps both (before, the head snapped to the
    prototype's at the transition, and the model, calibrating the whole window as one, saw the motif
    turned: HDM05 extension 'exact' 31 % -> 24 % on clips read with the source's twist)."""
    from a4mer.geometry import axis_angle_to_quat, quat_mul
    protos, m = _prototypes(), _input()
    turn = np.zeros((24, 3))
    turn[15] = [0.0, np.radians(60), 0.0]  # head: turned about its up axis
    turn[18] = [np.radians(40), 0.0, 0.0]  # left elbow: twisted about the forearm (template x)
    held = m.with_(rotations=quat_mul(m.rotations, axis_angle_to_quat(np.broadcast_to(turn, (m.num_frames, 24, 3)))))
    mc = mcm.MotifConditioner(protos, _classical())
    n, R = 72, 12
    T = m.num_frames
    out, out_held = mc.extend_clip(m, n, 0), mc.extend_clip(held, n, 0)
    for j in (15, 18):  # after the transition: the same motif, with the input's held turn on top
        want = quat_mul(out.rotations[T + R - 1:, j], axis_angle_to_quat(turn[j]))
        assert quat_angle(out_held.rotations[T + R - 1:, j], want).max() < 0.05, j  # not quite a pure twist: 1.4 deg
    assert quat_angle(out_held.rotations[T + R - 1:, 1:15], out.rotations[T + R - 1:, 1:15]).max() < 0.02


def test_one_frame_spans_keep_the_plain_result():
    """One frame cannot play a motif: its first pose alone popped 90-150 mm from both keys on real
    mocap; the plain fill / continuation stays, with a warning."""
    protos, m = _prototypes(), _input(T=150)
    mc = mcm.MotifConditioner(protos, _classical())
    out, base = mc.inbetween(m, 40, 42, 0), _classical().inbetween(m, 40, 42)
    np.testing.assert_array_equal(out.rotations, base.rotations)
    assert any("too few to play motif 0" in w for w in out.meta["warnings"])
    ext, plain = mc.extend_clip(m, 1, 0), _classical().extend_clip(m, 1)
    np.testing.assert_array_equal(ext.rotations, plain.rotations)
    assert any("too few to play motif 0" in w for w in ext.meta["warnings"])


class _Verifier:
    """Stands in for A4Mer.segment: 'recognises' motif 0 only when the transition is 0.6 s long."""

    model_hash, calls = "m" * 16, 0

    class vocab:
        hash = "v" * 16

        @staticmethod
        def motif_pattern(i):
            return (i, i)

    def __init__(self, conditioner):
        self.mc = conditioner

    def segment(self, motion):
        type(self).calls += 1
        t = motion.meta["motif"].get("transition_frames")
        mid = 0 if t == 17 else 3
        return {"atoms": [], "motifs": [{"motif_id": mid, "start_frame": 0, "end_frame": motion.num_frames}]}


def test_verifier_picks_the_variant_the_model_recognises():
    mc = mcm.MotifConditioner(_prototypes(), _classical())
    mc.verifier = _Verifier(mc)
    out = mc.extend_clip(_input(), 90, 0)
    assert out.meta["motif"]["recognised"] and out.meta["motif"]["ramp_s"] == 0.6
    assert out.meta["motif"]["variants_tried"] == 3 and out.meta["motif"]["transition_frames"] == 17
    none = mc.extend_clip(_input(), 90, 1)  # never recognised: the best (first) variant, said so
    assert not none.meta["motif"]["recognised"] and none.meta["motif"]["variants_tried"] == 5
    assert none.meta["motif"]["ramp_s"] == 0.4


def test_unknown_and_missing_motifs_are_clear_errors():
    mc = mcm.MotifConditioner(_prototypes(), _classical())
    m = _input()
    with pytest.raises(A4merError, match=r"unknown motif id '7'.*4 motifs \(ids 0..3\)"):
        mc.extend_clip(m, 20, "7")
    with pytest.raises(A4merError, match="unknown motif id 'walk'"):
        mc.extend_clip(m, 20, "walk")
    with pytest.raises(A4merError, match="motif 2 has no prototype .*3 of 4 motifs"):
        mc.inbetween(m, 10, 40, 2)


def test_prototype_file_round_trip_and_hash_mismatch(tmp_path):
    p = _prototypes().save(tmp_path / "p.safetensors")
    back = mcm.MotifPrototypes.load(p, model_hash="m" * 16, vocab_hash="v" * 16)
    a, b = _prototypes().clip(0), back.clip(0)
    assert quat_angle(a[1], b[1]).max() < 2e-3 and np.abs(a[0] - b[0]).max() < 1e-3  # float16 rows
    assert back.sources[2] is None and not back.has(2)
    with pytest.raises(A4merError, match="built for vocabulary v{16}.*vocabulary is x{16}"):
        mcm.MotifPrototypes.load(p, model_hash="m" * 16, vocab_hash="x" * 16)
    with pytest.raises(A4merError, match="built for model m{16}"):
        mcm.MotifPrototypes.load(p, model_hash="y" * 16)
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    with pytest.raises(A4merError, match="bad.safetensors: not a readable motif prototype file"):
        mcm.MotifPrototypes.load(tmp_path / "bad.safetensors")


# ---- the packaged prototypes and the CLI -----------------------------------------------------
def test_packaged_prototypes_belong_to_the_packaged_bundle():
    model_hash, vocab_hash, n = mcm.bundle_hashes()
    if n is None:
        pytest.skip("no packaged model with a vocabulary")
    mc = mcm.conditioner_for(_classical())  # raises when the bundle changed and the file was not rebuilt
    assert mc.prototypes.num_motifs == n and mc.prototypes.vocab_hash == vocab_hash
    assert sum(mc.prototypes.has(i) for i in range(n)) >= 0.95 * n
    assert mcm.default_prototypes_path().stat().st_size <= 3_000_000
    # real motion excerpts: they carry the data's license and attributions, like the weights
    assert mc.prototypes.license.startswith("CC BY-NC 4.0") and any("Bandai" in a for a in mc.prototypes.attributions)


def _npz(path, T=90, fps=30.0):
    t = np.arange(T)[:, None] / fps
    poses = 0.2 * np.sin(t * np.linspace(1, 3, 72) + np.linspace(0, 6, 72))
    poses[:, :3] = [np.pi / 2, 0, 0]
    trans = np.concatenate([0.4 * t, 0 * t, 0.9 + 0 * t], 1)
    np.savez(path, poses=poses, trans=trans, betas=np.zeros(10), gender=np.array("neutral"),
             mocap_framerate=np.array(fps))
    return path


def test_cli_motif_extend_and_fill(tmp_path, capsys):
    from a4mer.cli.main import main
    if mcm.bundle_hashes()[2] is None or not mcm.default_prototypes_path().is_file():
        pytest.skip("no packaged model/prototypes")
    src = _npz(tmp_path / "in.npz")
    n = mcm.bundle_hashes()[2]
    assert main(["extend", str(src), "--frames", "30", "-o", str(tmp_path / "e.npz"), "--motif", "0"]) == 0
    assert main(["extend", str(src), "--frames", "30", "-o", str(tmp_path / "p.npz")]) == 0
    a, b, c = np.load(src), np.load(tmp_path / "e.npz"), np.load(tmp_path / "p.npz")
    np.testing.assert_array_equal(b["poses"][:90], a["poses"])
    assert b["poses"].shape[0] == 120 and np.abs(b["poses"][95:] - c["poses"][95:]).max() > 0.1
    q = json.loads((tmp_path / "e.quality.json").read_text())
    assert q["motif"]["id"] == 0 and q["method"].startswith("motif 0 prototype")
    assert isinstance(q["motif"]["recognised"], bool) and 1 <= q["motif"]["variants_tried"] <= 5
    assert main(["inbetween", str(src), "--start", "20", "--end", "70", "-o", str(tmp_path / "f.npz"),
                 "--motif", "1"]) == 0
    f = np.load(tmp_path / "f.npz")
    keep = np.r_[0:21, 70:90]
    np.testing.assert_array_equal(f["poses"][keep], a["poses"][keep])
    assert main(["extend", str(src), "--frames", "5", "-o", str(tmp_path / "x.npz"), "--motif", str(n)]) == 1
    err = capsys.readouterr().err
    assert f"unknown motif id '{n}'" in err and f"{n} motifs" in err and not (tmp_path / "x.npz").exists()


def test_a_vocabulary_swapped_after_the_conditioner_was_made_is_refused():
    """model.set_vocab after conditioner_for: the old vocabulary's prototypes were checked against the
    new vocabulary's motif ids without a word."""
    import types
    from a4mer.heads.files import heads_for
    from a4mer.model import A4Mer
    model = A4Mer.load()
    mc = mcm.conditioner_for(heads_for(model), verifier=model)
    model.vocab = types.SimpleNamespace(hash="0123456789abcdef")  # as set_vocab leaves it: another vocabulary
    with pytest.raises(A4merError, match="built for vocabulary .* but the model's vocabulary is 0123456789abcdef"):
        mc.extend_clip(_input(), 30, 0)


class _FirstFrames(_Verifier):
    """'Recognises' motif 0 in the first 45 frames of what it segments only."""

    def segment(self, motion):
        return {"atoms": [], "motifs": [{"motif_id": 0, "start_frame": 0, "end_frame": 45},
                                        {"motif_id": 3, "start_frame": 45, "end_frame": motion.num_frames}]}


def test_a_fill_says_per_gap_whether_the_model_recognised_the_motif():
    """Of three gaps filled with motif 0, the model recognises it in the first only: ``recognised`` is
    per gap (as ``speed``), so only the others are marked approximate (all three were)."""
    mc = mcm.MotifConditioner(_prototypes(), _classical())
    mc.verifier = _FirstFrames(mc)
    out = mc.inbetween_keys(_input(T=150), [5, 40, 110, 149], 0)
    assert out.meta["motif"]["recognised"] == [True, False, False]
    assert out.meta["motif"]["variants_tried"] == 5


def test_a_fill_leaves_and_meets_its_keys_at_their_speed():
    """Motif 0 walks 1.5 m in 2 s at a steady pace; played in a gap whose keys stand 0.3 m apart, the
    1.2 m left over was spread evenly over the gap, so the root stepped 2 cm per frame from the first key
    on (the clip's own step: 2 mm). Spread with a smoothstep over the whole gap, the keys were met at
    their speed but the steady walk surged and stalled (a bent speed profile, recognised less). Now the
    left-over is spread evenly over the played part and eased in and out over the transitions."""
    m = _input(T=150)
    drift = np.linspace(0.0, 0.3, 150)[:, None] * np.array([1.0, 0.0, 0.0])  # 2 mm per frame
    m = m.with_(root_translation=m.root_translation[:1] + drift)
    out = mcm.MotifConditioner(_prototypes(), _classical()).inbetween(m, 40, 110, 0)
    steps = np.linalg.norm(np.diff(out.root_translation[:, :2], axis=0), axis=-1)  # (T-1,) m per frame
    assert steps[40] < 0.003 and steps[109] < 0.003  # leaving and meeting the keys (it was 26 mm)
    mid = steps[65:86]  # the middle of the played part: the prototype's steady pace, evenly corrected
    assert mid.max() - mid.min() < 1e-4  # (a smoothstep spread: 3.3 mm apart)
    assert np.allclose(out.root_translation[[40, 110]], m.root_translation[[40, 110]])


def test_the_transitions_hand_over_at_the_prototypes_speed():
    """A transition blended into the prototype's held first pose and reached it at rest; the prototype
    then set off at full speed (a real wrist stepped 1.7 then 10.7 cm in consecutive frames, at 60 fps).
    Now it blends into that pose coasting backwards along the prototype's velocity: the steps change
    gradually through the handover, in extensions and at both ends of a fill."""
    protos, m = _prototypes(), _input()
    mc = mcm.MotifConditioner(protos, _classical())

    def steps(q, j=16):  # per-frame angle steps of the left shoulder (the prototype's 1.2 rad swing)
        return quat_angle(q[1:, j], q[:-1, j])

    n, R = 72, 12
    out = mc.extend_clip(m, n, 0)
    T = m.num_frames
    h = T + R - 1  # the first frame that plays the prototype
    st = steps(out.rotations)
    proto_step = st[h]  # the prototype's own speed as it starts (the swing is fastest there)
    assert proto_step > 0.05
    assert st[h - 1] > 0.6 * proto_step  # it arrived at rest before (0.0 x)
    assert np.abs(np.diff(st[T:])).max() < 0.5 * proto_step
    long = _input(T=150)
    fill = mc.inbetween(long, 40, 110, 0)
    sf = steps(fill.rotations)
    assert np.abs(np.diff(sf[41:110])).max() < 0.5 * sf[41:110].max()


def test_the_blend_turns_a_joint_continuously_where_base_and_prototype_are_half_a_turn_apart():
    """Base and prototype of a joint about half a turn apart, the difference passing 180 deg: blending the
    short way on each frame alone flipped round the other way in one frame (an elbow 123 deg, a wrist 49 cm)."""
    n = 21
    base_q = np.tile([1.0, 0.0, 0.0, 0.0], (n, 2, 1))
    ang = np.radians(np.linspace(170.0, 190.0, n))
    proto_q = axis_angle_to_quat(np.stack([ang, 0 * ang, 0 * ang], 1))[:, None].repeat(2, 1)
    _, q = mcm._blend(np.zeros((n, 3)), base_q, np.zeros((n, 3)), proto_q, np.full(n, 0.5))
    assert quat_angle(q[1:], q[:-1]).max() < np.radians(2.0)  # 0.5 deg per frame, not a 170 deg flip
    _, ends = mcm._blend(np.zeros((n, 3)), base_q, np.zeros((n, 3)), proto_q, np.ones(n))
    assert quat_angle(ends, proto_q).max() < 1e-9  # w = 1: the prototype itself


@pytest.mark.parametrize("verb", ["extend", "fill"])
def test_a_prototype_bending_a_knee_backwards_is_held_at_straight(verb):
    """The prototype was blended in after the heads limited the joints: motif fills bent knees 18-21 deg
    backwards (the README: at most 10 deg past straight, or past what the kept frames nearby show)."""
    from a4mer.heads.posture import hinge_bend
    protos = _prototypes()
    rot = protos.rotations.copy()
    rot[:, 4] = axis_angle_to_quat(np.array([-0.7, 0.0, 0.0]))  # the left knee 40 deg backwards
    protos = mcm.MotifPrototypes(rot, protos.root, protos.index, protos.fps, protos.model_hash, protos.vocab_hash,
                                 protos.sources)
    assert np.degrees(hinge_bend(rot[:, 4], 4)).max() < -39
    mc = mcm.MotifConditioner(protos, _classical())
    m = _input(T=120)
    out = mc.extend_clip(m, 72, 0) if verb == "extend" else mc.inbetween(m, 20, 100, 0)
    span = slice(m.num_frames, None) if verb == "extend" else slice(21, 100)
    assert out.meta["motif"]["played_spans"]
    assert np.degrees(hinge_bend(out.rotations[span, 4], 4)).min() > -20.0  # straight + 10 deg margins


def test_each_gap_not_recognised_is_named_by_its_frames_and_nothing_played_is_not_a_no():
    """Blocking with a motif: the "not recognised" warning named no frames, so every span's report carried
    it, recognised ones too; a fill whose gaps were all too short said recognised False (tried and not
    seen) instead of one None per gap."""
    from a4mer.heads.quality import _about
    mc = mcm.MotifConditioner(_prototypes(), _classical())
    mc.verifier = _Verifier(mc)  # never sees motif 1
    out = mc.inbetween_keys(_input(T=200), [0, 60, 120, 199], 1)
    assert out.meta["motif"]["recognised"] == [False, False, False]
    warned = [w for w in out.meta["warnings"] if "not recognised" in w]
    assert [w.split(":")[0] for w in warned] == ["frames 1..59", "frames 61..119", "frames 121..198"]
    assert [_about(w, 61, 119) for w in warned] == [False, True, False]
    short = mc.inbetween(_input(), 10, 14, 1)  # 3 frames: too few to play the motif
    assert short.meta["motif"]["speed"] == [None] and short.meta["motif"]["recognised"] == [None]


@pytest.mark.parametrize("verb, args, gen", [("extend", ["--frames", "60"], slice(135, 195)),
                                             ("inbetween", ["--start", "40", "--end", "80"], slice(41, 80))])
def test_a_motif_plays_on_the_clips_own_floor(tmp_path, repo_root, verb, args, gen):
    """A real walk captured on a 2 m stage: with --motif the generated pelvis went down to the prototype's
    own height (0.9 m, falling 25 cm a frame), where the plain result stays on the stage."""
    from a4mer.cli.main import main
    if mcm.bundle_hashes()[2] is None or not mcm.default_prototypes_path().is_file():
        pytest.skip("no packaged model/prototypes")
    walk = tmp_path / "walk.npz"
    assert main(["convert", str(repo_root / "examples/bandai/dataset-1_walk_happy_002.bvh"), "-o", str(walk)]) == 0
    z = dict(np.load(walk))
    z["trans"] = z["trans"] + [0.0, 0.0, 2.0]
    np.savez(walk, **z)
    heights = {}
    for motif in ([], ["--motif", "3"]):
        out = tmp_path / f"out{len(motif)}.npz"
        assert main([verb, str(walk), *args, *motif, "-o", str(out)]) == 0
        heights[bool(motif)] = np.load(out)["trans"][:, 2]
    assert heights[True][gen].min() > z["trans"][:, 2].min() - 0.1
    assert np.abs(np.diff(heights[True])).max() < 0.06
