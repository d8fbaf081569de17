"""The paper's ablations on our data: one small training preset, six variants, the same measurements.

Variants (``ABLATIONS``): the full method and the five switches of docs/model.md (frame-level
segments, fixed-length segments of the mean atom length, no global/local split, full-sequence
encoder attention, reconstruction targets). Each is trained from scratch with the same preset
(``PRESET``: stage 1 only, the same clips, the same wall-clock budget) and measured on:

- **recognition**: the HDM05 protocol of :mod:`a4mer.bench.recognition` (k-NN top-1/top-3 on the
  mean atom token, frame head on atom tokens);
- **in-betweening** (30 missing frames, 1 s of context each side) and **extension** (1 s after 1 s
  of context), with the heads benchmark's own protocols (:func:`a4mer.bench.inbetween.run_gaps`,
  :func:`a4mer.bench.extension.run_extension`). The shipped heads do not read tokens, so they would
  score every encoder alike; here each encoder gets a **token probe**: a ridge regression, fitted on
  training clips, from the frozen tokens of the context to a smooth correction (sine basis, as the
  heads use) of the classical curve (cubic Hermite for gaps, damped velocity for extension). The
  same probe on the raw input features is the reference that tells whether tokens add anything;
- **motif length**: the mean length of the motifs the mined vocabulary's minimum cover gives on
  the evaluation clips (seconds, and frames at 5 fps, the paper's unit).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import A4merError
from ..geometry import axis_angle_to_quat, quat_apply, quat_conj
from ..heads import baselines as BL
from ..motion import Motion
from . import metrics as M

#: name -> (what it changes, --set overrides on top of PRESET, the paper's pred / interp MPJPE on AMD)
ABLATIONS: dict[str, tuple[str, list[str], tuple[float, float]]] = {
    "full": ("the method (kinematic atoms, global/local loss, segment attention, latent targets)", [], (150, 126)),
    "frame": ("frame-level segments (every model frame is a segment; windows of 100 segments = 10 s)",
              ["model.atoms.mode=frame", "data.max_segments=100"], (309, 154)),
    "fixed": ("fixed-length segments of the mean atom length", ["model.atoms.mode=fixed"], (208, 183)),
    "no_split": ("no global/local split (plain smooth-L1 on latent targets)", ["model.stage1.loss_split=false"],
                 (222, 210)),
    "full_attention": ("full-sequence attention among frames in the encoder", ["model.stage1.encoder.attention=full"],
                       (212, 197)),
    "reconstruction": ("reconstruction targets (segment mean of the normalised inputs) instead of latent",
                       ["model.stage1.target=reconstruction"], (169, 112)),
}

#: The small training preset shared by every variant (dotted TrainConfig overrides).
PRESET = [
    'data.datasets=["bandai1", "bandai2", "cmu-dance"]', "data.mirror=true", "data.speed_variants=0",
    "model.motifs.k=128", "model.motifs.min_support=5", "optim.batch_size=16", "optim.lr=5e-4",
    "optim.warmup_steps=50", "optim.steps=100000", "optim.stage2_steps=0", "threads=1",
    "log_every=50", "checkpoint_every=100000",
]


# --- token probe ------------------------------------------------------------------------------
def canonical_transform(trans: np.ndarray, rot: np.ndarray, ref: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-heading quaternion ``(4,)`` of frame ``ref`` (the body's forward axis, SMPL template
    +Z, projected on the ground, turned to +Y) and its planar root position ``(3,)``."""
    f = quat_apply(rot[ref, 0], np.array([0.0, 0.0, 1.0]))
    yaw = np.arctan2(-f[0], f[1])
    return axis_angle_to_quat(np.array([0.0, 0.0, -yaw])), np.array([trans[ref, 0], trans[ref, 1], 0.0])


def ridge_fit(X: np.ndarray, Y: np.ndarray, groups: np.ndarray, lambdas=(1, 10, 100, 1e3, 1e4, 1e5, 1e6),
              rng: np.random.Generator | None = None) -> dict[str, np.ndarray | float]:
    """Ridge regression ``Y (N, K) ~ X (N, D)`` on z-scored inputs with an unpenalised intercept;
    lambda chosen on a 20 % hold-out of ``groups`` (clips), then refitted on everything.
    Returns mean/std of X, W (D, K), b (K,), lambda."""
    mu, sd = X.mean(0), X.std(0) + 1e-6
    Z = (X - mu) / sd
    rng = rng or np.random.default_rng(0)
    ug = np.unique(groups)
    val = np.isin(groups, rng.choice(ug, max(1, len(ug) // 5), replace=False))

    def solve(Zt, Yt, lam):
        ym = Yt.mean(0)
        U, s, Vt = np.linalg.svd(Zt - Zt.mean(0), full_matrices=False)
        W = Vt.T @ ((s / (s ** 2 + lam))[:, None] * (U.T @ (Yt - ym)))
        return W, ym - Zt.mean(0) @ W

    best = None
    for lam in lambdas:
        if val.all() or not val.any():
            best = (0.0, lambdas[len(lambdas) // 2])
            break
        W, b = solve(Z[~val], Y[~val], lam)
        err = float(((Z[val] @ W + b - Y[val]) ** 2).mean())
        if best is None or err < best[0]:
            best = (err, lam)
    W, b = solve(Z, Y, best[1])
    return {"mu": mu, "sd": sd, "W": W, "b": b, "lambda": float(best[1])}


def ridge_predict(fit: dict, x: np.ndarray) -> np.ndarray:
    return ((np.atleast_2d(x) - fit["mu"]) / fit["sd"]) @ fit["W"] + fit["b"]


def _residual_coef(base_t, base_q, true_t, true_q, inv, basis) -> np.ndarray:
    """Least-squares sine-basis coefficients (K*69,) of the truth relative to the base curve
    (translation residual in the canonical heading frame, rotation residual ``log(q_base^-1 q)``)."""
    dt = quat_apply(inv, true_t - base_t)  # (N, 3)
    dr = BL.rel_log(base_q, true_q).reshape(len(dt), -1)  # (N, 66)
    coef, *_ = np.linalg.lstsq(basis, np.concatenate([dt, dr], 1), rcond=None)
    return coef.ravel()


def _apply_coef(coef, base_t, base_q, inv, basis) -> tuple[np.ndarray, np.ndarray]:
    corr = basis @ coef.reshape(basis.shape[1], -1)  # (N, 69)
    t = base_t + quat_apply(quat_conj(inv), corr[:, :3])
    return t, BL.rel_exp(base_q, corr[:, 3:].reshape(len(corr), -1, 3))


@dataclass
class ProbeSpec:
    """gap: missing frames of the in-betweening probe; horizon: frames of the extension probe;
    context: frames of context (30 fps); basis: sine coefficients per channel."""

    gap: int = 30
    horizon: int = 30
    context: int = 30
    basis: int = 8


class TokenProbe:
    """Fill a ``gap``-frame gap / extend by ``horizon`` frames with base curve + ridge correction read
    from ``featurize(context Motion) -> (F,)`` vectors (frozen tokens or raw features).
    Usable as a heads-benchmark method (``name``, ``tasks``, ``fill_gap``, ``extend``)."""

    tasks = ("inbetween", "extend")

    def __init__(self, name: str, featurize: Callable[[Motion, str], np.ndarray], spec: ProbeSpec = ProbeSpec()):
        self.name, self.featurize, self.spec = name, featurize, spec
        self.gap_fit = self.ext_fit = None
        K = spec.basis
        self.gbasis = BL.gap_basis(spec.gap + 1, K)  # (gap, K)
        self.ebasis = BL.extend_basis(spec.horizon, K, spec.horizon)  # (H, K)

    # features of the two contexts of a gap and of an extension context
    def _gap_x(self, motion: Motion, s: int, e: int) -> np.ndarray:
        C = self.spec.context
        return np.r_[self.featurize(motion.slice(max(0, s + 1 - C), s + 1), "before"),
                     self.featurize(motion.slice(e, min(motion.num_frames, e + C)), "after")]

    def fit(self, clips: list[Motion], rng: np.random.Generator, windows_per_clip: int = 2) -> dict[str, Any]:
        """Fit both ridge maps on windows of ``clips`` (30 fps, training data). Returns counts."""
        from .extension import ext_windows
        from .inbetween import gap_windows
        sp = self.spec
        gx, gy, gg, ex, ey, eg = [], [], [], [], [], []
        for ci, m in enumerate(clips):
            for a, s, e in gap_windows(m.num_frames, sp.gap, sp.context, windows_per_clip):
                w = m.slice(a, e + sp.context)
                s0, e0 = s - a, e - a
                bt, bq = BL.hermite(w.root_translation, w.rotations[:, :22], s0, e0)
                inv, _ = canonical_transform(w.root_translation, w.rotations[:, :22], s0)
                gy.append(_residual_coef(bt, bq, w.root_translation[s0 + 1:e0], w.rotations[s0 + 1:e0, :22], inv,
                                         self.gbasis))
                gx.append(self._gap_x(w, s0, e0))
                gg.append(ci)
            for a in ext_windows(m.num_frames, sp.horizon, sp.context, windows_per_clip):
                ctx = m.slice(a, a + sp.context)
                true = m.slice(a + sp.context, a + sp.context + sp.horizon)
                bt, bq = BL.extend_damped_velocity(ctx.root_translation[-2:], ctx.rotations[-2:, :22], sp.horizon)
                inv, _ = canonical_transform(ctx.root_translation, ctx.rotations[:, :22], sp.context - 1)
                ey.append(_residual_coef(bt, bq, true.root_translation, true.rotations[:, :22], inv, self.ebasis))
                ex.append(self.featurize(ctx, "context"))
                eg.append(ci)
        if not gx or not ex:
            raise A4merError("no probe training windows: clips too short")
        self.gap_fit = ridge_fit(np.stack(gx), np.stack(gy), np.array(gg), rng=rng)
        self.ext_fit = ridge_fit(np.stack(ex), np.stack(ey), np.array(eg), rng=rng)
        return {"gap_windows": len(gx), "extension_windows": len(ex), "gap_lambda": self.gap_fit["lambda"],
                "extension_lambda": self.ext_fit["lambda"]}

    def fill_gap(self, motion: Motion, s: int, e: int) -> Motion:
        if e - s - 1 != self.spec.gap:
            raise A4merError(f"this probe fills {self.spec.gap}-frame gaps, got {e - s - 1}")
        rot = motion.rotations
        bt, bq = BL.hermite(motion.root_translation, rot[:, :22], s, e)
        inv, _ = canonical_transform(motion.root_translation, rot[:, :22], s)
        t, q = _apply_coef(ridge_predict(self.gap_fit, self._gap_x(motion, s, e))[0], bt, bq, inv, self.gbasis)
        tr, qq = np.array(motion.root_translation), np.array(rot)
        tr[s + 1:e], qq[s + 1:e, :22] = t, q
        return motion.with_(root_translation=tr, rotations=qq)

    def extend(self, motion: Motion, n: int) -> Motion:
        if n != self.spec.horizon:
            raise A4merError(f"this probe extends by {self.spec.horizon} frames, got {n}")
        rot = motion.rotations
        bt, bq = BL.extend_damped_velocity(motion.root_translation[-2:], rot[-2:, :22], n)
        inv, _ = canonical_transform(motion.root_translation, rot[:, :22], motion.num_frames - 1)
        t, q = _apply_coef(ridge_predict(self.ext_fit, self.featurize(motion, "context"))[0], bt, bq, inv, self.ebasis)
        new_q = np.repeat(rot[-1:], n, 0)
        new_q[:, :22] = q
        return motion.with_(root_translation=np.concatenate([motion.root_translation, t]),
                            rotations=np.concatenate([rot, new_q]))


def token_featurizer(model: Any) -> Callable[[Motion, str], np.ndarray]:
    """Context clip -> mean atom token and the token nearest the gap/end (last for ``before`` and
    ``context``, first for ``after``): (2D,) float64. Frozen target encoder of ``model`` (A4Mer)."""
    from ..features import frame_arrays, model_bounds
    from ..jepa.hierarchy import encode_clip

    d = model.config.data

    def f(motion: Motion, where: str) -> np.ndarray:
        m = motion.body()
        _, b = model_bounds(m, model.config.model.atoms, model.fps)
        tok = encode_clip(model.net, frame_arrays(m, model.fps), b, d.window_frames, d.max_segments)["atom_tokens"]
        edge = tok[0] if where == "after" else tok[-1]
        return np.r_[tok.mean(0), edge].astype(np.float64)
    return f


def raw_featurizer(fps: float = 10.0) -> Callable[[Motion, str], np.ndarray]:
    """Context clip -> mean of the 202 model input features and the frame nearest the gap/end (404,)."""
    from ..features import frame_arrays, window_features

    def f(motion: Motion, where: str) -> np.ndarray:
        arr = frame_arrays(motion.body(), fps)
        x = window_features(arr, 0, len(arr["yaw"]), fps).astype(np.float64)
        return np.r_[x.mean(0), x[0] if where == "after" else x[-1]]
    return f


class _Recorder:
    """Wraps a method, keeping what is needed for per-window errors (paired statistics): the gap
    MPJPE of each window (mm, as the protocol computes it; the window holds the truth) and the joint
    positions of each extension. The wrapped method's output is returned unchanged."""

    def __init__(self, method: Any):
        self.m, self.name, self.tasks = method, method.name, method.tasks
        self.gap_mm: list[float] = []
        self.ext_pos: list[np.ndarray] = []

    def fill_gap(self, motion: Motion, s: int, e: int) -> Motion:
        out = self.m.fill_gap(motion, s, e)
        pp, _ = M.body_fk(out.rotations, out.root_translation)
        tp, _ = M.body_fk(motion.rotations, motion.root_translation)
        self.gap_mm.append(M.mpjpe_mm(pp[s + 1:e], tp[s + 1:e]))
        return out

    def extend(self, motion: Motion, n: int) -> Motion:
        out = self.m.extend(motion, n)
        self.ext_pos.append(M.body_fk(out.rotations, out.root_translation)[0][motion.num_frames:])
        return out


def motion_metrics(clips: list[tuple[str, str, Motion]], methods: list, spec: ProbeSpec = ProbeSpec()) -> dict:
    """30-frame in-betweening and 1 s extension of ``methods`` on ``clips`` [(name, dataset, Motion
    30 fps)] with the heads benchmark's protocols (:func:`run_gaps`, :func:`run_extension`); per-window
    errors kept as ``gap_windows_mm`` / ``extension_windows_mm`` (same window order for every method)."""
    from .extension import ExtensionConfig, ext_windows, run_extension
    from .inbetween import InbetweenConfig, run_gaps

    rec = [_Recorder(m) for m in methods]
    icfg = InbetweenConfig(gaps=(spec.gap,), context=spec.context)
    ecfg = ExtensionConfig(horizons=(spec.horizon,), context=spec.context)
    wins = []
    for _, _, c in clips:
        p, g = M.body_fk(c.rotations, c.root_translation)
        wins.append(M.canonicalize(p, g, min(spec.context - 1, len(p) - 1))[0])
    gaps = run_gaps(clips, [r for r in rec if "inbetween" in r.tasks], icfg, M.position_stats(wins))[str(spec.gap)]
    ext = run_extension(clips, [r for r in rec if "extend" in r.tasks], ecfg)[str(spec.horizon)]
    truths = []
    for _, _, c in clips:
        for a in ext_windows(c.num_frames, spec.horizon, spec.context, ecfg.windows_per_clip):
            w = c.slice(a + spec.context, a + spec.context + spec.horizon)
            truths.append(M.body_fk(w.rotations, w.root_translation)[0])
    out = {}
    for r in rec:
        row = {}
        if r.name in gaps:
            row["inbetween_30_mpjpe_mm"] = gaps[r.name]["mpjpe_mm"]
            row["inbetween_by_dataset"] = gaps[r.name]["by_dataset"]
            row["gap_windows_mm"] = [round(x, 2) for x in r.gap_mm]
        if r.name in ext:
            row["extension_1s_mpjpe_mm"] = ext[r.name]["mpjpe_mm"]
            row["extension_by_dataset"] = ext[r.name]["by_dataset"]
            row["extension_windows_mm"] = [round(M.mpjpe_mm(p, t), 2) for p, t in zip(r.ext_pos, truths)]
        out[r.name] = row
    out["clips"] = {"inbetween": gaps.get("clips"), "extension": ext.get("clips"),
                    "inbetween_windows": len(rec[0].gap_mm), "extension_windows": len(truths)}
    return out


def motif_lengths(model: Any, clips: list[tuple[str, str, Motion]]) -> dict[str, float]:
    """Mean atom and motif lengths of the vocabulary's minimum cover on ``clips`` (clips of at least
    2 s): seconds, frames at 5 fps (the paper's unit) and atoms per motif."""
    from ..features import frame_arrays, model_bounds
    from ..jepa.hierarchy import encode_clip

    d = model.config.data
    mot_s, atom_s, per = [], [], []
    for _, _, m in clips:
        if m.duration < 2.0:
            continue
        m = m.body()
        _, b = model_bounds(m, model.config.model.atoms, model.fps)
        tok = encode_clip(model.net, frame_arrays(m, model.fps), b, d.window_frames, d.max_segments)["atom_tokens"]
        codes, probs = model.vocab.assign(tok)
        for mo in model.vocab.motifs(codes, probs):
            mot_s.append((b[mo["atoms"][-1] + 1] - b[mo["atoms"][0]]) / model.fps)
            per.append(len(mo["atoms"]))
        atom_s.extend(np.diff(b) / model.fps)
    return {"clips": len(set(n for n, _, m in clips if m.duration >= 2.0)), "motifs": len(mot_s),
            "mean_motif_s": float(np.mean(mot_s)), "mean_motif_frames_at_5fps": float(np.mean(mot_s) * 5),
            "mean_atoms_per_motif": float(np.mean(per)), "mean_atom_s": float(np.mean(atom_s)),
            "patterns_in_vocabulary": len(model.vocab.patterns)}


def paired_difference(better_if_higher: bool, full: list[float], other: list[float], rng: np.random.Generator,
                      n_boot: int = 2000) -> dict[str, float]:
    """Paired comparison of the full model with a variant on the same units (test clips or windows).

    ``gain`` = how much better the full model is (variant - full for errors, full - variant for
    accuracies), its 95 % bootstrap interval (resampling units), and ``verdict``: "full better" /
    "full worse" when the interval excludes 0, else "within noise"."""
    a, b = np.asarray(full, np.float64), np.asarray(other, np.float64)
    if a.shape != b.shape or a.size == 0:
        raise A4merError(f"paired comparison needs equal, non-empty unit lists ({a.shape} vs {b.shape})")
    d = (a - b) if better_if_higher else (b - a)
    boots = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    verdict = "full better" if lo > 0 else "full worse" if hi < 0 else "within noise"
    return {"gain": float(d.mean()), "ci95": [float(lo), float(hi)], "units": int(len(d)), "verdict": verdict}
