"""Recognition frame-head variants on single clips and on takes of several actions (a research probe).

    python scripts/probe_recognition_takes.py --train LIB --test TEST --out RESULT.json

LIB and TEST: folders of one sub-folder per label holding npz clips (e.g. HDM05 prepared with
``a4mer data prepare``, actors bd/bk/dg in LIB and mm/tr in TEST, linked into label folders). Trains the
``pose,atom`` head three ways (as shipped; on clips joined 1-4 at a time; joined and with random time
offsets), each with the pose input measured from the clip's first heading (as shipped) and per frame,
and scores clip and frame accuracy on TEST and frame accuracy on 30 takes of three TEST clips joined
(each turned to a random heading). README "Labelling your own clips" quotes its numbers."""
import argparse, json, time
from pathlib import Path
import numpy as np, torch
from torch import nn
torch.set_num_threads(1)
from a4mer.model import A4Mer
from a4mer.api import load_motion
from a4mer.motion import Motion
from a4mer.geometry import axis_angle_to_quat, quat_mul
from a4mer.heads import recognition as R
from a4mer.features import frame_arrays, window_features

model = A4Mer.load()
ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--train", required=True)
ap.add_argument("--test", required=True)
ap.add_argument("--out", required=True)
args = ap.parse_args()

def load(folder):
    out = []
    for d in sorted(Path(folder).iterdir()):
        for f in sorted(d.glob("*.npz")):
            out.append((d.name, load_motion(f).body()))
    return out

def pose_local(motion):
    """per-frame heading-canonical pose features, model-normalised (T_model, 202)."""
    arrays = frame_arrays(motion, model.fps)
    f = window_features(arrays, 0, len(arrays["yaw"]), model.fps).astype(np.float64)
    yaw = arrays["yaw"].astype(np.float64)
    rot = arrays["rotmats"].astype(np.float64)
    rel = arrays["rel_pos"].astype(np.float64)
    W = len(yaw)
    c, s = np.cos(-yaw), np.sin(-yaw)
    Rz = np.zeros((W, 3, 3)); Rz[:, 0, 0] = c; Rz[:, 0, 1] = -s; Rz[:, 1, 0] = s; Rz[:, 1, 1] = c; Rz[:, 2, 2] = 1
    rot = rot.copy(); rot[:, 0] = Rz @ rot[:, 0]
    rot6d = rot[..., :, :2].reshape(W, -1)
    relc = np.einsum("wij,wkj->wki", Rz, rel).reshape(W, -1)
    f[:, :rot6d.shape[1]] = rot6d
    f[:, rot6d.shape[1]:rot6d.shape[1] + relc.shape[1]] = relc
    with torch.no_grad():
        return model.net.stage1.normalize(torch.from_numpy(f.astype(np.float32))).numpy()

def inputs(motion, local):
    ci = R.clip_inputs(model, motion, ("pose", "atom"))
    T = len(ci["parts"]["atom"])
    pose = pose_local(motion)[np.minimum(np.arange(T), len(ci["raw"]) - 1)] if local else ci["parts"]["pose"]
    return np.concatenate([pose, ci["parts"]["atom"]], 1).astype(np.float32)

def turn(m, yaw, offset_xy):
    q = axis_angle_to_quat(np.array([0, 0, yaw]))
    rots = m.rotations.copy()
    rots[:, 0] = quat_mul(np.broadcast_to(q, rots[:, 0].shape), rots[:, 0])
    c, s = np.cos(yaw), np.sin(yaw)
    tr = m.root_translation @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T
    tr[:, :2] += offset_xy - tr[0, :2]
    return Motion(m.fps, tr, rots)

def takes(clips, n, k, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        idx = rng.choice(len(clips), k, replace=False)
        parts, labels, pos = [], [], np.zeros(2)
        for i in idx:
            lab, m = clips[i]
            mm = turn(m, rng.uniform(-np.pi, np.pi), pos)
            pos = mm.root_translation[-1, :2]
            parts.append(mm); labels.append((lab, m.num_frames))
        out.append((Motion(parts[0].fps, np.concatenate([p.root_translation for p in parts]),
                           np.concatenate([p.rotations for p in parts])), labels))
    return out

def train(seqs, y, classes, mix, offset, seed=0, epochs=150):
    cfg = R.HeadConfig(in_dim=seqs[0].shape[1], inputs=("pose", "atom"), fps=float(model.fps), epochs=epochs, seed=seed)
    plan = R._training_batches([len(s) for s in seqs], cfg)
    gen = np.random.default_rng([seed, 5])
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = R.FrameHead(cfg, len(classes))
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=len(plan), pct_start=0.1)
        net.train()
        for batch in plan:
            xs, ys = [], []
            for j, a in batch:
                x, lab = [seqs[j][a:a + R.TRAIN_CROP]], [np.full(len(seqs[j][a:a + R.TRAIN_CROP]), y[j])]
                if mix and gen.random() < mix:
                    for o in gen.choice(len(seqs), int(gen.integers(1, 4))):
                        x.append(seqs[o]); lab.append(np.full(len(seqs[o]), y[o]))
                xs.append(np.concatenate(x)[:R.TRAIN_CROP]); ys.append(np.concatenate(lab)[:R.TRAIN_CROP])
            x, t, v = R._pad(xs, cfg.fps)
            if offset:
                t = t + torch.from_numpy(gen.uniform(0, offset, (len(xs), 1)).astype(np.float32))
            Y = torch.zeros(v.shape, dtype=torch.long)
            for i, yy in enumerate(ys):
                Y[i, :len(yy)] = torch.from_numpy(yy)
            ce = nn.functional.cross_entropy(net(x, t, v).transpose(1, 2), Y, reduction="none")
            loss = ((ce * v).sum(1) / v.sum(1)).mean()
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    return R.RecognitionHead(net, classes, model.model_hash)

t0 = time.time()
train_clips, test_clips = load(args.train), load(args.test)
classes = sorted({l for l, _ in train_clips})
tk = takes(test_clips, 30, 3, 1)
res = {}
for local in (False, True):
    tr = [inputs(m, local) for _, m in train_clips]
    te = [inputs(m, local) for _, m in test_clips]
    tki = [inputs(m, local) for m, _ in tk]
    y = np.array([classes.index(l) for l, _ in train_clips])
    yt = np.array([classes.index(l) for l, _ in test_clips])
    print(f"inputs local={local} {time.time() - t0:.0f}s", flush=True)
    for mix, offset in ((0.0, 0.0), (0.5, 0.0), (0.5, 60.0)):
        head = train(tr, y, classes, mix, offset)
        ok = fr = n = 0
        for x, c in zip(te, yt):
            p = head.predict(x); ok += int(p.mean(0).argmax() == c); fr += int((p.argmax(1) == c).sum()); n += len(p)
        tf = tn = 0
        for x, (m, labs) in zip(tki, tk):
            p = head.predict(x).argmax(1)
            truth = np.concatenate([np.full(int(np.floor(nf * model.fps / m.fps + 1e-6)), classes.index(l)) for l, nf in labs])
            L = min(len(truth), len(p)); tf += int((p[:L] == truth[:L]).sum()); tn += L
        key = f"local={local} mix={mix} offset={offset}"
        res[key] = {"clip_acc": 100 * ok / len(te), "frame_acc": 100 * fr / n, "take_frame_acc": 100 * tf / tn}
        print(key, res[key], f"{time.time() - t0:.0f}s", flush=True)
Path(args.out).write_text(json.dumps(res, indent=1))
