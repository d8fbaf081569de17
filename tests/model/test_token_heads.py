"""The token route (decoder from A4Mer tokens, masked-segment predictor) on real clips, with the shipped
model and token heads."""
import json

import numpy as np
import pytest

pytest.importorskip("torch")

from a4mer.api import load_motion  # noqa: E402
from a4mer.bench.metrics import body_fk  # noqa: E402
from a4mer.cli.main import main  # noqa: E402
from a4mer.errors import A4merError  # noqa: E402
from a4mer.geometry import quat_angle  # noqa: E402
from a4mer.heads import baselines as BL  # noqa: E402
from a4mer.heads.token_pose import compose, heading, pose_vectors  # noqa: E402

EXAMPLE = "examples/bandai/dataset-1_walk_happy_002.bvh"


@pytest.fixture(scope="module")
def clip(repo_root):
    return load_motion(repo_root / EXAMPLE)


@pytest.fixture(scope="module")
def token_heads():
    from a4mer.heads.token_heads import find_token_heads, load_token_heads
    if find_token_heads() is None:
        pytest.skip("no bundled token heads (a4mer/assets/token_heads.safetensors); run scripts/train_token_heads.py")
    return load_token_heads()


def _joints(m):
    return body_fk(m.rotations[:, :22], m.root_translation)[0]


def test_pose_vectors_rebuild_a_real_clip(clip):
    """Heading-free pose vectors, integrated back from the first frame, give the clip's joints (the
    integration drifts by at most a few cm over the whole 4.5 s walk)."""
    m = clip.body()
    pose = pose_vectors(m.root_translation, m.rotations, m.fps)
    assert pose.shape == (m.num_frames, 136)
    t, q = compose(pose, m.fps, heading(m.rotations[:1, 0])[0], m.root_translation[0, :2])
    err = np.linalg.norm(body_fk(q, t)[0] - _joints(m), axis=-1)
    assert err.mean() < 0.01 and err.max() < 0.06
    assert quat_angle(q[:, 1:], m.rotations[:, 1:22]).max() < 1e-6  # local rotations exact


def test_token_inbetween_keeps_everything_outside_the_gap_and_ignores_its_content(clip, token_heads):
    out = token_heads.inbetween(clip, 40, 71)
    keep = np.r_[0:41, 71:clip.num_frames]
    assert out.num_frames == clip.num_frames and out.fps == clip.fps
    np.testing.assert_array_equal(out.rotations[keep], clip.rotations[keep])
    np.testing.assert_array_equal(out.root_translation[keep], clip.root_translation[keep])
    # generated from the rest of the clip: garbage in the gap changes nothing
    rng = np.random.default_rng(0)
    q = clip.rotations.copy()
    q[41:71] = rng.normal(size=q[41:71].shape)
    q[41:71] /= np.linalg.norm(q[41:71], axis=-1, keepdims=True)
    garbage = clip.with_(rotations=q)
    np.testing.assert_allclose(token_heads.inbetween(garbage, 40, 71).rotations, out.rotations, atol=1e-9)
    # it is not the classical curve, and it is a plausible walk (0.55 x the Hermite error when written)
    ht, hq = BL.fill_gap(clip.root_translation, clip.rotations, 40, 71, "hermite")
    gap = slice(41, 71)
    truth = _joints(clip)[gap]
    tok_err = np.linalg.norm(_joints(out)[gap] - truth, axis=-1).mean()
    herm_err = np.linalg.norm(_joints(clip.with_(root_translation=ht, rotations=hq))[gap] - truth, axis=-1).mean()
    assert quat_angle(out.rotations[gap, :22], hq[gap, :22]).max() > 0.02
    assert tok_err < 1.2 * herm_err


def test_token_inbetween_at_60_fps(clip, token_heads):
    m60 = clip.resample(60.0)
    out = token_heads.inbetween(m60, 80, 141)
    keep = np.r_[0:81, 141:m60.num_frames]
    np.testing.assert_array_equal(out.rotations[keep], m60.rotations[keep])
    step = np.linalg.norm(np.diff(_joints(out)[78:145], axis=0), axis=-1).max()
    assert step < 0.1  # no jump anywhere in or at the ends of the span (a walk moves ~1-2 cm per 1/60 s)


def test_token_gap_reads_only_one_model_window_around_it(clip, token_heads):
    """A gap in a long take is filled from the model window around it: motion more than a window
    (10 s) away changes nothing, and the result is the one the take's neighbourhood alone gives."""
    from a4mer.motion import concatenate
    n = clip.num_frames
    take = concatenate([clip] * 9)  # ~40 s
    s, e = 4 * n + 40, 4 * n + 71
    other = clip.with_(rotations=clip.rotations[::-1].copy(), root_translation=clip.root_translation[::-1].copy())
    altered = concatenate([other, other] + [clip] * 5 + [other, other])
    a, b = token_heads.fill_gap(take, s, e), token_heads.fill_gap(altered, s, e)
    np.testing.assert_array_equal(a.rotations[s + 1:e], b.rotations[s + 1:e])
    np.testing.assert_array_equal(a.root_translation[s + 1:e], b.root_translation[s + 1:e])
    np.testing.assert_array_equal(b.rotations[:2 * n], altered.rotations[:2 * n])


def test_token_extension_keeps_input_and_has_a_continuous_seam(clip, token_heads):
    ctx = clip.slice(0, 90)
    out = token_heads.extend_clip(ctx, 45)
    assert out.num_frames == 135
    np.testing.assert_array_equal(out.rotations[:90], ctx.rotations)
    j = _joints(out)
    steps = np.linalg.norm(np.diff(j, axis=0), axis=-1).max(-1)  # largest joint move per frame
    assert steps[89] < 2.0 * steps[80:89].max() + 0.01  # the seam moves like the input's last frames
    assert np.isfinite(j).all() and steps[89:].max() < 0.2


def test_token_decoder_reads_what_the_tokens_hold(clip, token_heads):
    """Decoding a clip's own tokens (no prediction) gives its poses back far better than a mean pose
    (45 vs 101 mm when written)."""
    import torch
    m = clip.body()
    model = token_heads.model
    _, _, b_model, arrays = model._prepare(m)
    tok, starts, lens = token_heads._encode(arrays, b_model, (0, len(b_model) - 1))
    pose = token_heads._decode(tok, starts, lens, np.arange(m.num_frames) / m.fps)
    truth = pose_vectors(m.root_translation, m.rotations, m.fps)
    from a4mer.heads.token_train import pose_joints
    err = (pose_joints(torch.from_numpy(pose)) - pose_joints(torch.from_numpy(truth).double())).norm(dim=-1).mean()
    mean_pose = torch.from_numpy(np.broadcast_to(truth.mean(0), truth.shape).copy()).double()
    base = (pose_joints(mean_pose) - pose_joints(torch.from_numpy(truth).double())).norm(dim=-1).mean()
    assert float(err) < 0.065 and float(err) < 0.65 * float(base)


def test_model_api_and_cli_take_the_token_route(tmp_path, capsys, clip, token_heads):
    from a4mer.io.amass import write_amass_npz
    from a4mer.model import A4Mer
    model = A4Mer.load()
    a = model.inbetween(clip, 40, 71, method="tokens")
    assert model._heads("tokens") is model._heads("tokens")  # loaded once per model
    np.testing.assert_allclose(a.rotations, token_heads.inbetween(clip, 40, 71).rotations, atol=1e-9)
    with pytest.raises(A4merError, match="method"):
        model.extend(clip, 10, method="diffusion")
    src = tmp_path / "in.npz"
    write_amass_npz(clip, src)
    out = tmp_path / "o.npz"
    assert main(["inbetween", str(src), "--start", "40", "--end", "71", "-o", str(out), "--heads", "tokens"]) == 0
    side = json.loads(out.with_suffix(".quality.json").read_text())
    assert side["method"].startswith("tokens")
    assert main(["extend", str(src), "--frames", "30", "-o", str(tmp_path / "e.npz"), "--heads", "tokens"]) == 0
    assert np.load(tmp_path / "e.npz")["poses"].shape[0] == clip.num_frames + 30
    # blocking is not a token-route task: a clear error, no output
    assert main(["inbetween", str(src), "--keys", "20", "-o", str(tmp_path / "b.npz"), "--heads", "tokens"]) == 1
    assert "blocking" in capsys.readouterr().err and not (tmp_path / "b.npz").exists()


def test_token_heads_files_are_checked(tmp_path, token_heads):
    from safetensors.numpy import save_file

    from a4mer.heads.token_heads import load_token_heads
    wrong = tmp_path / "other.safetensors"
    save_file({"x": np.zeros(2, np.float32)}, str(wrong), metadata={"format": "a4mer-heads"})
    with pytest.raises(A4merError, match="other.safetensors"):
        load_token_heads(wrong)
    saved = token_heads.save(tmp_path / "t.safetensors")
    again = load_token_heads(saved, model=token_heads.model)
    assert again.meta["encoder_hash"] == token_heads.model.model_hash
    # tied to the model whose tokens it reads
    from a4mer.heads.token_heads import TokenHeads
    with pytest.raises(A4merError, match="trained on the tokens of model"):
        TokenHeads(again.token_net, token_heads.model, {"encoder_hash": "0" * 16})


def test_token_training_learns_on_real_clips(clip, token_heads):
    """A few seconds of fitting on real clips lowers both the decoder and the predictor loss."""
    import torch

    from a4mer.heads.token_net import TokenNet, TokenNetConfig
    from a4mer.heads.token_train import TokenTrainConfig, collect, evaluate, fit_stats, train
    m = clip.body()
    clips = [("walk", m.root_translation, m.rotations[:, :22])]
    data = collect(token_heads.model, clips)  # the clip and its mirror image
    assert len(data.frame_seg) == 2 * m.num_frames and np.isfinite(data.tokens).all()
    cfg = TokenTrainConfig(max_steps=300, frames_per_step=128, windows_per_step=4)  # steps: any machine load
    torch.manual_seed(cfg.seed)
    untrained = TokenNet(TokenNetConfig())
    fit_stats(untrained, data)
    before = evaluate(untrained, data, cfg)
    net, summary = train(data, cfg, log=lambda msg: None)
    assert summary["steps"] == 300
    assert summary["train"]["mpjpe_mm"] < 0.7 * before["mpjpe_mm"]
    assert summary["train"]["token"] < before["token"]


def test_short_token_gaps_meet_the_keys_in_velocity_too(clip, token_heads):
    """Gaps up to C1_MAX_S are bent to the keys' velocities as well: no kink at either key (the joints'
    second differences there stay like the input's), while longer gaps meet the keys in pose only."""
    from a4mer.heads.token_heads import C1_MAX_S
    s, e = 50, 61  # 10 missing frames, 0.33 s
    assert (e - s - 1) / clip.fps <= C1_MAX_S
    j = _joints(token_heads.inbetween(clip, s, e))
    acc = np.linalg.norm(j[2:] - 2 * j[1:-1] + j[:-2], axis=-1).max(-1)  # (T-2,) at frames 1..T-2
    typical = np.linalg.norm(np.diff(_joints(clip), 2, axis=0), axis=-1).max(-1)
    assert max(acc[s - 1], acc[e - 1]) < 1.5 * np.percentile(typical, 90)  # 0.6 x when written, 1.8 x with the linear bend


def test_token_answers_are_mirror_symmetric(clip, token_heads):
    """The answer for the mirror image is the mirror image of the answer (each answer averages both)."""
    from a4mer.heads.windows import mirror
    m = clip.body()

    def mir(x):
        t, q = mirror(x.root_translation, x.rotations[:, :22])
        return x.with_(root_translation=t, rotations=np.concatenate([q, x.rotations[:, 22:]], 1))
    for run in (lambda x: token_heads.inbetween(x, 40, 71), lambda x: token_heads.extend_clip(x.slice(0, 90), 30)):
        a, b = mir(run(m)), run(mir(m))
        assert np.abs(a.root_translation - b.root_translation).max() < 1e-6
        assert quat_angle(a.rotations, b.rotations).max() < 1e-5


def test_a_clip_too_short_to_segment_gets_the_hermite_curve(clip, token_heads):
    """A 3-frame clip through the token route was an IndexError deep in the model's windows."""
    from a4mer.heads import baselines as BL
    tiny = clip.slice(0, 3)
    out = token_heads.inbetween(tiny, 0, 2)
    t, q = BL.fill_gap(tiny.root_translation, tiny.rotations, 0, 2, "hermite")
    np.testing.assert_allclose(out.root_translation, t)
    np.testing.assert_allclose(out.rotations, q)
