"""In-betweening and extension through A4Mer tokens (the paper's route, method.md §7); the token heads file.

- **In-betweening**: the gap is replaced by the classical curve (so nothing the input holds there is
  read), the clip is cut into atoms, the atoms inside the gap (at least ``MIN_MASKED_S`` around it)
  are replaced by segments of about ``placeholder_s`` each, the window around the gap is encoded by
  the frozen model, the predictor puts tokens on the gap's segments (learnable mask tokens stand in
  for them), and the decoder turns the tokens into poses at the clip's frame rate from key to key.
  The decoded span is then bent to meet both keys exactly: per joint, the rotation offsets at the two
  keys are blended linearly in time (rotation vectors), the root path likewise; gaps up to
  ``C1_MAX_S`` also meet the keys' velocities (the offsets are filled by a cubic Hermite).
- **Extension**: the last atoms of the clip are encoded; the predictor appends one masked segment at
  a time and gives its token and length (autoregressive next token + segment length); the decoder
  turns the tokens into poses from the last input frame on, and the offset at that frame fades out
  over ``SEAM_FADE_S`` so the seam is continuous (the root's velocity and yaw rate too: they start at
  the input's and fade into the decoded ones).

Each answer is averaged with the answer for the clip's mirror image, mirrored back (the networks
were trained on mirror images too; 30-frame gaps on 30 held-out clips per data set 0.80 -> 0.75 x
Hermite on Bandai 2, 1.27 -> 1.23 on CMU dance, 2.08 -> 1.97 on HDM05).

The shipped :class:`~a4mer.heads.inbetween.LearnedHeads` (a learned correction of the classical
curve) beat this route on every benchmark row (docs/benchmarks.md), so they stay the default; this
class is the research baseline the issue asks for (``--method tokens`` in the CLI).

Token heads file: safetensors with the :class:`~a4mer.heads.token_net.TokenNet` weights (float16)
and metadata ``format`` ("a4mer-token-heads"), ``config`` (TokenNetConfig JSON), ``encoder_hash``
(the A4Mer bundle whose tokens it reads; another model is refused), ``training``, ``license``,
``attributions``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import A4merError
from ..io.outputs import write_safetensors_atomic
from ..motion import Motion
from . import baselines as BL
from .inbetween import LearnedHeads
from .token_net import TokenNet, TokenNetConfig
from .token_pose import compose as compose_pose
from .token_pose import heading, pose_vectors

FORMAT = "a4mer-token-heads"
#: seconds over which the offset between the last input frame and the decoded pose fades out
SEAM_FADE_S = 0.5
#: seconds on each side of a segment boundary over which neighbouring segments' poses are blended
CROSSFADE_S = 0.2
#: a shorter gap is masked over this many seconds centred on it, so that it lies inside one predicted
#: segment, away from the seams between segments (5-frame gaps: 7.8 -> 3.5 x Hermite on Bandai)
MIN_MASKED_S = 1.0
#: gaps up to this many seconds meet the keys in pose and velocity (:func:`_bend`), longer ones in
#: pose only: on held-out clips (30 per data set, x Hermite, linear / C1 bend) 5-frame gaps
#: 3.46 / 1.29 (Bandai 2), 2.46 / 1.03 (CMU dance), 6.18 / 1.88 (HDM05); 15 frames 1.37 / 1.11, 1.77 /
#: 1.13, 3.36 / 1.93; 30 frames 0.80 / 1.11, 1.25 / 1.10, 2.08 / 2.33; 120 frames Bandai 0.49 / 1.07
#: (a velocity offset spread over a long gap by the cubic overshoots)
C1_MAX_S = 0.5
#: seconds of the clip's end read when extending
EXTEND_CONTEXT_S = 6.0
#: model frames a clip around a gap needs for the token route (fewer: the Hermite curve)
MIN_MODEL_FRAMES = 4


def _bend(trans: np.ndarray, rot: np.ndarray, true_t: np.ndarray, true_q: np.ndarray, i: int, j: int,
          velocity: bool) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``i+1 .. j-1`` of the decoded span ``trans (N, 3)``, ``rot (N, 22, 4)`` bent to meet the
    clip (``true_t``, ``true_q``, known at ``.. i`` and ``j ..``) at both keys exactly. The offsets
    clip - decoded (translation; rotation vectors per joint) at the keys are blended linearly in time
    across the gap, or with ``velocity`` filled by the cubic Hermite (key velocities of the offsets
    from the neighbouring frames, as the baseline's), so the keys' velocities are met too."""
    known = np.r_[0:i + 1, j:len(trans)]
    dt, dr = np.zeros_like(trans), np.zeros(rot.shape[:-1] + (3,))
    dt[known] = true_t[known] - trans[known]
    dr[known] = BL.rel_log(rot[known], true_q[known])
    n = j - i
    if velocity:
        ot = BL._segment(dt[i], dt[j], BL.key_velocity(dt, i, -1, 1), BL.key_velocity(dt, j, 1, 1), n)
        orr = BL._segment(dr[i], dr[j], BL.key_velocity(dr, i, -1, 1), BL.key_velocity(dr, j, 1, 1), n)
    else:
        w = np.arange(1, n)[:, None] / n
        ot, orr = (1 - w) * dt[i] + w * dt[j], (1 - w[:, :, None]) * dr[i] + w[:, :, None] * dr[j]
    return trans[i + 1:j] + ot, BL.rel_exp(rot[i + 1:j], orr)


class TokenHeads(LearnedHeads):
    """Gap filling and extension from predicted A4Mer tokens (see the module docstring)."""

    tasks = ("inbetween", "extend")

    def __init__(self, net: TokenNet, model, meta: dict | None = None, name: str = "tokens (A4Mer decoder)"):
        super().__init__(None, {"inbetween": True, "blocking": False, "extend": True}, meta, name)
        if meta and meta.get("encoder_hash") and meta["encoder_hash"] != model.model_hash:
            raise A4merError(f"{meta.get('path', 'token heads')}: trained on the tokens of model "
                             f"{meta['encoder_hash']}, not of this model ({model.model_hash})")
        self.token_net = net.eval()
        self.model = model

    def describe(self) -> str:
        return (f"{self.name}: masked-segment predictor + token decoder on the frozen A4Mer model "
                f"{self.model.model_hash}; {self.token_net.cfg.to_json()}; averaged with the mirror image.")

    def learned_for(self, task: str) -> bool:
        return task in self.tasks

    def gap_learned(self, motion: Motion, start: int, end: int) -> bool:
        return True

    def keys_learned(self, motion: Motion, keys) -> bool:
        return False

    # ---- pieces ------------------------------------------------------------------------------
    def _encode(self, arrays: dict, bounds: np.ndarray, span: tuple[int, int]):
        """Segment-encoder tokens (S, D), starts and lengths (S,) s from the window start of the
        window ``span`` of a clip's frame ``arrays`` (model rate) cut at ``bounds`` (model frames)."""
        from ..data.windows import collate
        batch = collate([arrays], [bounds], [span], self.model.fps).to(self.model.device)
        with torch.no_grad():
            tok = self.model.net.encode(batch)["atom_seg_tokens"][0].float().cpu()
        return tok, batch.seg_start[0].cpu(), batch.seg_len[0].cpu()

    def _decode(self, tokens: torch.Tensor, starts: torch.Tensor, lens: torch.Tensor, times: np.ndarray) -> np.ndarray:
        """Pose vectors (N, POSE_DIM) at ``times (N,)`` s (same origin as ``starts``). Each segment is
        decoded on its own, so within ``CROSSFADE_S`` of a boundary a frame is blended with the
        neighbouring segment's pose at that boundary (weight 1/2 at the boundary, from both sides):
        the result is continuous where one segment's decoding ends and the next one's begins."""
        S = len(starts)
        t = torch.as_tensor(times, dtype=torch.float32)
        seg = (torch.searchsorted(starts.contiguous(), t, right=True) - 1).clamp(0, S - 1)
        u = ((t - starts[seg]) / lens[seg]).clamp(0.0, 1.0 - 1e-6)
        to_prev = u < 0.5
        nb = torch.where(to_prev, seg - 1, seg + 1)
        dist = torch.where(to_prev, t - starts[seg], starts[seg] + lens[seg] - t)
        w = 0.5 * (1.0 - dist / CROSSFADE_S).clamp(0.0, 1.0) * ((nb >= 0) & (nb < S))
        u_nb = torch.where(to_prev, torch.full_like(u, 1.0 - 1e-6), torch.zeros_like(u))
        with torch.no_grad():
            both = self.token_net.decode(tokens, lens, torch.cat([seg, nb.clamp(0, S - 1)]), torch.cat([u, u_nb]))
        own, other = both[:len(t)], both[len(t):]
        return (own + w[:, None] * (other - own)).double().numpy()

    def _gap_bounds(self, b_model: np.ndarray, s_t: float, e_t: float) -> tuple[np.ndarray, int, int]:
        """Segment bounds (model frames) with the atoms inside the gap (key times ``s_t``, ``e_t`` s)
        replaced by segments of about ``placeholder_s``; returns (bounds, first, end) gap segments."""
        r, n = self.model.fps, int(b_model[-1])
        ms = min(int(np.floor(s_t * r + 1e-9)) + 1, n - 1)
        me = min(max(int(np.ceil(e_t * r - 1e-9)), ms + 1), n)
        short = int(np.ceil(MIN_MASKED_S * r)) - (me - ms)
        if short > 0:  # widen the masked span so that the gap lies inside one segment, off its edges
            ms = max(1, ms - (short + 1) // 2)
            me = min(n, ms + int(np.ceil(MIN_MASKED_S * r)))
        k = max(1, int(round((me - ms) / r / self.token_net.cfg.placeholder_s)))
        gap = np.round(ms + (me - ms) * np.arange(k + 1) / k).astype(int)
        before = [int(b) for b in b_model if b < ms - 1 or b == 0]
        after = [int(b) for b in b_model if b > me + 1 or b == n]
        bounds = np.unique(np.r_[before, gap, after]).astype(np.int64)
        first = int(np.searchsorted(bounds, ms))
        return bounds, first, first + k

    def _window(self, bounds: np.ndarray, first: int, end: int) -> tuple[int, int]:
        """Segments ``[i, j)`` around ``[first, end)``, alternately widened left and right while the
        window fits the model's (``window_frames``, ``max_segments``)."""
        d = self.model.config.data
        i, j, S = first, end, len(bounds) - 1
        grew = True
        while grew:
            grew = False
            for ni, nj in ((i - 1, j), (i, j + 1)):
                if 0 <= ni and nj <= S and bounds[nj] - bounds[ni] <= d.window_frames and nj - ni <= d.max_segments:
                    i, j, grew = ni, nj, True
        return i, j

    # ---- core (no validation; the checks live in LearnedHeads.inbetween / extend_clip) ----------
    def _mirrored(self, run, motion: Motion) -> tuple[np.ndarray, np.ndarray]:
        """``run(motion) -> (trans (N, 3), rot (N, 22, 4))`` of the generated frames, averaged with the
        run on the clip's mirror image (``LearnedHeads._symmetric``; the networks saw mirror images)."""
        def on_body(trans: np.ndarray, rot: np.ndarray):
            body = np.concatenate([rot, motion.rotations[:, 22:]], 1)
            return (*run(motion.with_(root_translation=trans, rotations=body)), True)
        return self._symmetric(on_body, motion.root_translation, motion.rotations[:, :22])[:2]

    def fill_gap(self, motion: Motion, s: int, e: int) -> Motion:
        """``motion`` with frames strictly between ``s`` and ``e`` from predicted tokens; a clip of under
        :data:`MIN_MODEL_FRAMES` model frames around the gap gets the cubic Hermite curve."""
        # atoms are found within one model window of the gap only (the segments read lie inside it),
        # so a fill costs the same in a long take as in a short clip
        r = int(np.ceil(self.model.config.data.window_s * motion.fps))
        a, b = max(0, s - r), min(motion.num_frames, e + r + 1)
        part = motion.slice(a, b)
        out_t, out_q = np.array(motion.root_translation), np.array(motion.rotations)
        out_t[a:b], out_q[a:b] = BL.fill_gap(part.root_translation, part.rotations, s - a, e - a, "hermite",
                                             motion.fps)
        if part.duration * self.model.fps < MIN_MODEL_FRAMES:  # too short to segment: the Hermite curve
            return motion.with_(root_translation=out_t, rotations=out_q)
        out_t[s + 1:e], out_q[s + 1:e, :22] = self._mirrored(lambda m: self._fill_gap_once(m, s - a, e - a), part)
        return motion.with_(root_translation=out_t, rotations=out_q)

    def extend(self, motion: Motion, n: int) -> Motion:
        ctx = motion.slice(max(0, motion.num_frames - int(round(EXTEND_CONTEXT_S * motion.fps))))
        t, q = self._mirrored(lambda m: self._extend_once(m, n), ctx)  # reads only the last seconds
        rot_new = np.repeat(motion.rotations[-1:], n, 0).copy()
        rot_new[:, :22] = q
        return motion.with_(root_translation=np.concatenate([motion.root_translation, t]),
                            rotations=np.concatenate([motion.rotations, rot_new]))

    def _fill_gap_once(self, motion: Motion, s: int, e: int) -> tuple[np.ndarray, np.ndarray]:
        """Root translation (e-s-1, 3) and body rotations (e-s-1, 22, 4) of the frames strictly between
        keys ``s`` and ``e``."""
        fps = motion.fps
        bt, bq = BL.fill_gap(motion.root_translation, motion.rotations, s, e, "hermite", fps)
        canvas = motion.with_(root_translation=bt, rotations=bq)
        _, _, b_model, arrays = self.model._prepare(canvas, check_units=False)
        bounds, first, end = self._gap_bounds(b_model, s / fps, e / fps)
        i, j = self._window(bounds, first, end)
        tok, starts, lens = self._encode(arrays, bounds, (i, j))
        mask = torch.zeros(j - i, dtype=torch.bool)
        mask[first - i:end - i] = True
        with torch.no_grad():
            pred, _ = self.token_net.predict(tok[None], starts[None], lens[None], mask[None], torch.ones_like(mask)[None])
        tok = torch.where(mask[:, None], pred[0], tok)
        a, b = max(s - 1, 0), min(e + 1, motion.num_frames - 1)  # the keys and the frames beside them
        frames = np.arange(a, b + 1)
        pose = self._decode(tok, starts, lens, frames / fps - bounds[i] / self.model.fps)
        tr, q = compose_pose(pose, fps, heading(motion.rotations[a:a + 1, 0])[0], motion.root_translation[a, :2])
        ks, ke = s - a, e - a
        true_t, true_q = motion.root_translation[frames], motion.rotations[frames, :22]
        return _bend(tr, q, true_t, true_q, ks, ke, velocity=(e - s - 1) / fps <= C1_MAX_S)

    def fill_keys(self, motion: Motion, keys) -> Motion:
        raise A4merError("the token route fills single gaps and extends clips; blocking (--keys) uses the default heads")

    def _extend_once(self, motion: Motion, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Root translation (n, 3) and body rotations (n, 22, 4) of ``n`` frames after the clip."""
        fps, T = motion.fps, motion.num_frames
        r, d, cfg = self.model.fps, self.model.config.data, self.token_net.cfg
        a = max(0, T - int(round(EXTEND_CONTEXT_S * fps)))
        ctx = motion.slice(a, T)
        _, _, b_model, arrays = self.model._prepare(ctx, check_units=False)
        S = len(b_model) - 1
        i = S - 1
        while i > 0 and b_model[S] - b_model[i - 1] <= d.window_frames and S - i < d.max_segments // 2:
            i -= 1
        tok, starts, lens = self._encode(arrays, b_model, (i, S))
        t_last = (T - 1 - a) / fps - b_model[i] / r  # last input frame, s from the window start
        t_stop = t_last + n / fps
        toks, st, ln = list(tok), list(starts.tolist()), list(lens.tolist())
        while st[-1] + ln[-1] <= t_stop:
            st.append(st[-1] + ln[-1])
            ln.append(cfg.placeholder_s)
            lo = 0  # sliding view: the last segments that fit a window
            while lo < len(st) - 2 and (st[-1] + cfg.max_len_s - st[lo] > d.window_s or len(st) - lo > d.max_segments):
                lo += 1
            view_t = torch.stack(toks[lo:] + [torch.zeros_like(toks[0])])[None]
            view_s = torch.tensor(st[lo:], dtype=torch.float32)[None] - st[lo]
            mask = torch.zeros(view_s.shape, dtype=torch.bool)
            mask[0, -1] = True
            with torch.no_grad():
                p_tok, p_len = self.token_net.predict(view_t, view_s, torch.tensor(ln[lo:], dtype=torch.float32)[None],
                                                      mask, torch.ones_like(mask))
            toks.append(p_tok[0, -1])
            ln[-1] = float(p_len[0, -1])
        pose = self._decode(torch.stack(toks), torch.tensor(st, dtype=torch.float32),
                            torch.tensor(ln, dtype=torch.float32), t_last + np.arange(n + 1) / fps)
        q_last, t_last_xyz = motion.rotations[-1, :22], motion.root_translation[-1]
        tau = np.arange(n + 1) / fps / SEAM_FADE_S
        f = np.where(tau < 1.0, 1.0 - tau * tau * (3.0 - 2.0 * tau), 0.0)[:, None]
        # the root's planar velocity and yaw rate start at the input's and fade into the decoded ones
        k = min(T, 3)
        seen = pose_vectors(motion.root_translation[-k:], motion.rotations[-k:, :22], fps)[-1]
        pose[:, 133:136] += f * (seen[133:136] - pose[0, 133:136])
        tr, q = compose_pose(pose, fps, heading(q_last[None, 0])[0], t_last_xyz[:2])
        # the root orientation's offset fades out; the local joints and the pelvis height keep theirs
        # (rest-pose conventions and actor sizes differ between sources and show as constant offsets)
        g = np.ones((n + 1, 22, 1))
        g[:, 0] = f
        q = BL.rel_exp(q, g * BL.rel_log(q[0], q_last)[None])
        tr = tr + (t_last_xyz - tr[0])
        return tr[1:], q[1:]

    # ---- persistence -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, training: dict | None = None, license: str = "",
             attributions: list[str] | None = None) -> Path:
        """Write the token heads file (float16 weights; metadata as in the module docstring)."""
        from safetensors.torch import save_file
        meta = {"format": FORMAT, "config": self.token_net.cfg.to_json(), "encoder_hash": self.model.model_hash,
                "training": json.dumps(training or {}), "license": license, "attributions": json.dumps(attributions or [])}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().half().contiguous() for k, v in self.token_net.state_dict().items()}
        return write_safetensors_atomic(path, lambda tmp: save_file(state, tmp, metadata=meta))


def is_token_heads_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a safetensors file whose metadata format is the token heads' (header only)."""
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework="np") as f:
            return (f.metadata() or {}).get("format") == FORMAT
    except Exception:  # not a file, not safetensors: the other loaders give the error
        return False


def find_token_heads() -> Path | None:
    """The bundled token heads file (``a4mer/assets/token_heads.safetensors``) if present."""
    from ..shipped import TOKEN_HEADS
    return TOKEN_HEADS if TOKEN_HEADS.is_file() else None


def load_token_heads(path: str | os.PathLike | None = None, model=None) -> TokenHeads:
    """Load a token heads file (None: the bundled one) for ``model`` (None: the default A4Mer bundle)."""
    from ..artefact import build_to_fit, built_from, check_finite, read_artefact
    from ..model import A4Mer
    p = find_token_heads() if path is None else Path(path)
    if p is None:
        raise A4merError("this installation has no token heads file (a4mer/assets/token_heads.safetensors)")
    meta, tensors = read_artefact(p, FORMAT, "token heads file", framework="pt")
    check_finite(p, tensors, "token heads file")
    with built_from(p, "token heads file"):
        cfg = TokenNetConfig.from_dict(json.loads(meta["config"]))
    if cfg.schema_version != TokenNetConfig().schema_version:
        raise A4merError(f"{p}: token heads schema {cfg.schema_version}, this version reads "
                         f"{TokenNetConfig().schema_version} (retrain with scripts/train_token_heads.py)")
    net = build_to_fit(p, "token heads file", lambda: TokenNet(cfg), tensors)
    with built_from(p, "token heads file"):
        training = json.loads(meta.get("training", "{}"))
    model = A4Mer.load() if model is None else model
    return TokenHeads(net, model, {"encoder_hash": meta.get("encoder_hash", ""), "path": str(p), "training": training})
