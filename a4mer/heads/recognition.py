"""Action recognition on frozen A4Mer tokens (method.md §7): weighted k-NN and a frame-wise head.

- :func:`weighted_knn`: class scores of query vectors from their ``k`` nearest training vectors by
  cosine similarity, each neighbour voting ``exp(sim / temperature)`` for its class (the weighted
  k-NN of self-supervised evaluation protocols).
- :class:`FrameHead`: a 1-layer Transformer over a clip's frames at the model rate. A frame's input
  is the frozen token of the atom it lies in (with ``"motif"`` also the token of its motif; with
  ``"pose"`` also the model's own normalised pose features of that frame) plus a sinusoidal
  embedding of its time; every frame is classified.
- :class:`RecognitionHead`: the trained head with its class names, bound to the encoder that made
  its inputs (hash) and, when it reads motif tokens, to the motif vocabulary that grouped them (hash);
  saved as one safetensors file (metadata: format, config, classes, encoder_hash, vocab_hash,
  training). Nothing is unpickled.
- :func:`clip_inputs` / :func:`label_clip`: a clip's per-frame inputs and its labels per input
  frame, atom and motif (the ``a4mer label`` record).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import from_dict
from ..errors import A4merError
from ..features import HEADINGS
from ..io.outputs import write_safetensors_atomic
from ..nn.embeddings import sinusoid
from ..geometry import reproducible as rp

FORMAT = "a4mer-recognition"
LABELS_SCHEMA = 1
#: what a frame head can read per frame: the atom's token, the motif's token, the frame's pose features
HEAD_INPUTS = ("atom", "motif", "pose")
#: the headings a head's pose input is measured in (:func:`a4mer.features.window_features`' ``heading``)
POSE_HEADINGS = HEADINGS
#: nats a change of label costs when a clip's frames are labelled (:func:`decode_labels`)
SWITCH_PENALTY = 4.0


# --- weighted k-NN ----------------------------------------------------------------------------
def l2_normalize(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Rows of ``x (N, D)`` scaled to unit length (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def weighted_knn(train_x: np.ndarray, train_y: np.ndarray, query_x: np.ndarray, num_classes: int,
                 k: int = 10, temperature: float = 0.07) -> np.ndarray:
    """Class scores ``(Q, C)`` of queries ``(Q, D)`` from training vectors ``(N, D)`` with labels
    ``(N,)`` int in [0, C): the ``min(k, N)`` most cosine-similar training vectors each add
    ``exp(sim / temperature)`` to their class. Ties in similarity keep the lower training index."""
    if len(train_x) == 0:
        raise A4merError("k-NN needs at least one training vector")
    if isinstance(k, bool) or int(k) != k or k < 1:  # k=0 voted for nothing: every query became class 0
        raise A4merError(f"k-NN: k must be a whole number >= 1, got {k!r}")
    if not (np.isfinite(temperature) and temperature > 0):  # 0: inf/nan scores; < 0: the farthest won
        raise A4merError(f"k-NN: temperature must be a number > 0, got {temperature!r}")
    train_x, query_x, train_y = np.asarray(train_x), np.asarray(query_x), np.asarray(train_y)
    if train_x.ndim != 2 or query_x.ndim != 2 or query_x.shape[1] != train_x.shape[1]:
        raise A4merError(f"k-NN: training vectors (N, D) and queries (Q, D) of one width, got {train_x.shape} "
                         f"and {query_x.shape}")
    if train_y.shape != (len(train_x),):  # more labels than vectors voted with the wrong ones
        raise A4merError(f"k-NN: one label per training vector, got {train_y.shape[0] if train_y.ndim else 0} "
                         f"labels for {len(train_x)} vectors")
    if train_y.dtype.kind not in "iu" or train_y.min() < 0 or train_y.max() >= num_classes:  # -1 was the last
        raise A4merError(f"k-NN: labels must be class indices in [0, {num_classes}), got {train_y.min()}..{train_y.max()}")
    for what, x in (("training vectors", train_x), ("queries", query_x)):
        if not np.isfinite(x).all():
            rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
            raise A4merError(f"k-NN: {what} {rows[:5].tolist()} hold NaN or infinite values")
    a, b = l2_normalize(train_x), l2_normalize(query_x)
    sim = b @ a.T  # (Q, N)
    kk = min(int(k), len(a))
    order = np.argsort(-sim, axis=1, kind="stable")[:, :kk]  # (Q, k)
    top = np.take_along_axis(sim, order, axis=1)
    w = rp.exp((top - 1.0) / temperature)  # shifted by the maximum possible similarity: no overflow
    scores = np.zeros((len(b), num_classes))
    np.add.at(scores, (np.arange(len(b))[:, None].repeat(kk, 1), train_y[order]), w)
    return scores


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows of ``scores (N, C)`` whose true class (``labels (N,)``) is among the ``k``
    highest scores (ties broken towards the lower class index)."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean([y in row for y, row in zip(labels, order)]))


# --- frame-wise Transformer head --------------------------------------------------------------
@dataclass(frozen=True)
class HeadConfig:
    """in_dim: per-frame input width; inputs: what makes a frame's input, in order (``HEAD_INPUTS``:
    "atom" and "motif" tokens, "pose" the model's normalised per-frame input features); pose_heading:
    the heading "pose" is measured in ("frame": each frame's own, so a take where the actor turns reads
    alike throughout; "start": the clip's first frame's, as heads written before this setting);
    fps: model frame rate of the frames; dim/heads: the Transformer layer; epochs, lr, weight_decay,
    batch, dropout, seed: training; joined: the share of training sequences that are a clip with 1-3
    random others after it (takes of several actions: a head trained on single clips labelled them
    badly); time_offset_s: training sequences start at a random time up to this (s), as frames far into
    a long take do."""

    in_dim: int = 128
    inputs: tuple[str, ...] = ("atom",)
    pose_heading: str = "frame"
    fps: float = 10.0
    dim: int = 64
    heads: int = 4
    dropout: float = 0.1
    epochs: int = 150
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    seed: int = 0
    joined: float = 0.5
    time_offset_s: float = 60.0
    schema_version: int = 1

    def __post_init__(self) -> None:
        if self.pose_heading not in POSE_HEADINGS:
            raise A4merError(f"pose_heading must be one of {', '.join(POSE_HEADINGS)}, got {self.pose_heading!r}")
        if not (0.0 <= self.joined <= 1.0 and self.time_offset_s >= 0.0):
            raise A4merError(f"joined must be a share in [0, 1] and time_offset_s >= 0, got {self.joined}, "
                             f"{self.time_offset_s}")
        for name in ("epochs", "batch", "dim", "heads"):  # epochs=0 returned an untrained head
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise A4merError(f"{name} must be a whole number >= 1, got {value!r}")
        if self.dim % self.heads:
            raise A4merError(f"dim {self.dim} must be a multiple of heads {self.heads}")
        if not (np.isfinite(self.lr) and self.lr > 0 and 0.0 <= self.dropout < 1.0):
            raise A4merError(f"lr must be > 0 and dropout in [0, 1), got {self.lr}, {self.dropout}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "HeadConfig":
        return from_dict(cls, d, "recognition_head")


class FrameHead(nn.Module):
    """(B, T, in_dim) frame inputs, (B, T) times (s), (B, T) valid -> (B, T, C) logits."""

    def __init__(self, config: HeadConfig, num_classes: int):
        super().__init__()
        self.config = config
        self.inp = nn.Sequential(nn.LayerNorm(config.in_dim), nn.Linear(config.in_dim, config.dim))
        self.layer = nn.TransformerEncoderLayer(config.dim, config.heads, 2 * config.dim, config.dropout,
                                                batch_first=True, norm_first=True)
        self.out = nn.Sequential(nn.LayerNorm(config.dim), nn.Linear(config.dim, num_classes))

    def forward(self, x: torch.Tensor, t: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        h = self.inp(x) + sinusoid(t, self.config.dim)  # (B, T, dim)
        h = self.layer(h, src_key_padding_mask=~valid)
        return self.out(h)


def _pad(seqs: list[np.ndarray], fps: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sequences [(T_i, F)] -> x (B, T, F), times (B, T) s, valid (B, T) bool."""
    T = max(len(s) for s in seqs)
    x = np.zeros((len(seqs), T, seqs[0].shape[1]), np.float32)
    valid = np.zeros((len(seqs), T), bool)
    for i, s in enumerate(seqs):
        x[i, :len(s)], valid[i, :len(s)] = s, True
    t = np.broadcast_to(np.arange(T, dtype=np.float32) / fps, valid.shape).copy()
    return torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(valid)


class RecognitionHead:
    """A trained :class:`FrameHead` with its class names, the hash of the encoder it reads and, for a head
    that reads motif tokens, the hash of the motif vocabulary they were grouped by (``vocab_hash``; "" when
    the head reads none, or was written before heads recorded it: then any vocabulary is taken)."""

    def __init__(self, net: FrameHead, classes: list[str], encoder_hash: str, training: dict | None = None,
                 vocab_hash: str = ""):
        self.net = net.eval()
        self.classes = list(classes)
        self.encoder_hash = encoder_hash
        self.training = dict(training or {})
        self.vocab_hash = vocab_hash

    @property
    def config(self) -> HeadConfig:
        return self.net.config

    #: frames (at the head's rate) one attention pass reads at most, and the overlap of two passes:
    #: a long take is labelled in windows of 1 minute (its attention would grow with the square of its
    #: length: 20 GB for an hour; and a frame far into one pass has a time the head never trained at:
    #: training sequences start within ``time_offset_s``), each frame from a window that holds 15 s around it
    WINDOW, OVERLAP = 600, 300

    @torch.no_grad()
    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Class probabilities (T, C) of one clip's frame inputs ``(T, in_dim)``; beyond :attr:`WINDOW`
        frames, in overlapping windows (each frame from the window where it lies furthest inside)."""
        if frames.ndim != 2 or frames.shape[1] != self.config.in_dim:
            raise A4merError(f"recognition head expects (T, {self.config.in_dim}) inputs, got {frames.shape}")
        frames = np.asarray(frames, np.float32)
        T, W, O = len(frames), self.WINDOW, self.OVERLAP
        out = np.empty((T, len(self.classes)))
        for s in range(0, max(T - O, 1), W - O):
            e = min(T, s + W)
            x, t, v = _pad([frames[s:e]], self.config.fps)
            first = s if s == 0 else s + O // 2  # the next window takes over O/2 before this one ends
            out[first:e] = torch.softmax(self.net(x, t, v)[0].double(), -1).numpy()[first - s:]
        return out

    def save(self, path: str | os.PathLike) -> Path:
        from safetensors.torch import save_file
        meta = {"format": FORMAT, "config": json.dumps(asdict(self.config)), "classes": json.dumps(self.classes),
                "encoder_hash": self.encoder_hash, "vocab_hash": self.vocab_hash, "training": json.dumps(self.training)}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        return write_safetensors_atomic(path, lambda tmp: save_file(state, tmp, metadata=meta))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RecognitionHead":
        """Load a head file strictly (wrong format, config or weights: a clear error naming the file)."""
        from ..artefact import build_to_fit, built_from, check_finite, read_artefact
        path = Path(path)
        meta, state = read_artefact(path, FORMAT, "recognition head", framework="pt")
        check_finite(path, state, "recognition head")  # NaN weights would label every frame NaN
        with built_from(path, "recognition head"):
            stored = json.loads(meta["config"])
            if isinstance(stored, dict):  # a head written before the setting read pose in the clip's first heading
                stored.setdefault("pose_heading", "start")
            config = HeadConfig.from_dict(stored)
            classes = json.loads(meta["classes"])
            if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
                raise TypeError(f"classes must be a list of names, got {classes!r}"[:120])
            training = json.loads(meta.get("training", "{}"))
        net = build_to_fit(path, "recognition head", lambda: FrameHead(config, len(classes)), state)
        return cls(net, classes, meta.get("encoder_hash", ""), training, meta.get("vocab_hash", ""))


#: frames of one clip a training step reads at most (a longer take: a random 1-minute crop per epoch, as
#: :meth:`RecognitionHead.predict` reads it in 1-minute windows), and the attention size ``clips x frames^2``
#: of one training batch at most (32 clips of a minute at the head's 10 fps; a batch of longer clips holds
#: fewer of them): one long take padded every batch of 32 to its length (a 10-minute take: 18 GB of attention)
TRAIN_CROP = RecognitionHead.WINDOW
TRAIN_ATTENTION = 32 * 600 ** 2


def _training_batches(lengths: list[int], config: HeadConfig) -> list[list[tuple[int, int]]]:
    """Every training step of ``config.epochs`` epochs as ``[(clip index, first frame of its crop)]``:
    each epoch a permutation of the clips (seeded by ``config.seed``) cut into batches of at most
    ``config.batch`` clips and :data:`TRAIN_ATTENTION`; a clip over :data:`TRAIN_CROP` frames is read
    from a random crop. Clips that fit give the plain ``config.batch`` batches of every permutation."""
    gen = np.random.default_rng(config.seed)
    plan: list[list[tuple[int, int]]] = []
    for _ in range(config.epochs):
        batch: list[tuple[int, int]] = []
        longest = 0
        for j in gen.permutation(len(lengths)):
            n = int(lengths[j])
            a = int(gen.integers(0, n - TRAIN_CROP + 1)) if n > TRAIN_CROP else 0
            n = min(n, TRAIN_CROP)
            if batch and (len(batch) >= config.batch or (len(batch) + 1) * max(longest, n) ** 2 > TRAIN_ATTENTION):
                plan.append(batch)
                batch, longest = [], 0
            batch.append((int(j), a))
            longest = max(longest, n)
        if batch:
            plan.append(batch)
    return plan


def train_frame_head(seqs: list[np.ndarray], labels: np.ndarray, classes: list[str], config: HeadConfig,
                     encoder_hash: str, vocab_hash: str = "") -> RecognitionHead:
    """Train a :class:`FrameHead` on clips ``seqs [(T_i, in_dim)]`` whose every frame carries the
    clip's label ``labels (N,)`` (int). Cross-entropy over valid frames, each clip weighted equally;
    AdamW; initialisation, shuffling and dropout are seeded by ``config.seed`` (global RNG restored).
    ``encoder_hash`` / ``vocab_hash``: what made the inputs (:func:`input_hashes`), kept with the head."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(seqs) != len(labels) or not seqs:
        raise A4merError("need one label per training clip (and at least one clip)")
    if not all(isinstance(c, str) for c in classes) or labels.min() < 0 or labels.max() >= len(classes):
        raise A4merError(f"classes must be names (text) and labels indices into them, got {list(classes)[:5]!r} "
                         f"and labels {labels.min()}..{labels.max()}")
    plan = _training_batches([len(s) for s in seqs], config)
    gen = np.random.default_rng([config.seed, 5])  # the joined clips and time offsets: seeded, apart from the plan
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        net = FrameHead(config, len(classes))
        opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        # a warm-up of at least 2 steps (OneCycleLR divides by its length - 1: 10 steps at 0.1 failed);
        # under 4 steps the rate stays as set
        sched = (torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=len(plan),
                                                     pct_start=max(0.1, 2.0 / len(plan)))
                 if len(plan) >= 4 else None)
        net.train()
        for batch in plan:
            xs, ys = _joined(seqs, labels, batch, config, gen)
            x, t, v = _pad(xs, config.fps)
            if config.time_offset_s > 0:
                t = t + torch.from_numpy(gen.uniform(0.0, config.time_offset_s, (len(xs), 1)).astype(np.float32))
            y = torch.from_numpy(np.stack([np.pad(a, (0, x.shape[1] - len(a))) for a in ys]))
            ce = nn.functional.cross_entropy(net(x, t, v).transpose(1, 2), y, reduction="none")  # (B, T)
            loss = ((ce * v).sum(1) / v.sum(1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
    return RecognitionHead(net, classes, encoder_hash, {"clips": len(seqs), "config": asdict(config)}, vocab_hash)


def _joined(seqs: list[np.ndarray], labels: np.ndarray, batch: list[tuple[int, int]], config: HeadConfig,
            gen: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The sequences ``[(T_i, in_dim)]`` and per-frame labels ``[(T_i,)]`` of one training batch: each
    planned crop, a ``config.joined`` share of them followed by 1-3 random training clips (a take of
    several actions), cut to the batch's longest crop or the length :data:`TRAIN_ATTENTION` allows a batch
    of its size, whichever is longer (at most :data:`TRAIN_CROP`): the plan's attention bound holds."""
    crops = [seqs[j][a:a + TRAIN_CROP] for j, a in batch]
    cap = min(TRAIN_CROP, max(max(len(c) for c in crops), int(np.sqrt(TRAIN_ATTENTION / len(batch)))))
    xs, ys = [], []
    for (j, _), crop in zip(batch, crops):
        more = list(gen.choice(len(seqs), int(gen.integers(1, 4)))) if gen.random() < config.joined else []
        x = np.concatenate([crop] + [seqs[o] for o in more])[:cap]  # cap >= every crop's length
        y = np.concatenate([np.full(len(crop), labels[j])] + [np.full(len(seqs[o]), labels[o]) for o in more])[:len(x)]
        xs.append(x)
        ys.append(y.astype(np.int64))
    return xs, ys


# --- clips -> inputs and labels ---------------------------------------------------------------
def check_head_inputs(inputs: tuple[str, ...], what: str = "head inputs") -> None:
    """Refuse (A4merError naming ``what``) an empty ``inputs`` or names outside ``HEAD_INPUTS``."""
    bad = [n for n in inputs if n not in HEAD_INPUTS]
    if bad or not inputs:
        raise A4merError(f"{what}: unknown {bad or 'none'} (use some of {', '.join(HEAD_INPUTS)})")


def input_width(model: Any, inputs: tuple[str, ...]) -> int:
    """Per-frame width of the head inputs ``inputs`` for ``model`` (tokens: D each; pose: the
    model's feature width)."""
    check_head_inputs(inputs)
    return sum(model.net.stage1.feat_std.numel() if n == "pose" else model.dim for n in inputs)


def input_hashes(model: Any, inputs: tuple[str, ...]) -> tuple[str, str]:
    """``(encoder_hash, vocab_hash)`` a head reading ``inputs`` of ``model`` depends on: the model's hash, and
    its vocabulary's hash when ``inputs`` holds motif tokens (which that vocabulary groups), else ""."""
    vocab = model.vocab.hash if "motif" in inputs and model.vocab is not None else ""
    return model.model_hash, vocab


def default_head_inputs(model: Any) -> tuple[str, ...]:
    """Atom and motif tokens when ``model`` has a vocabulary and a trained motif level, else atom tokens."""
    has_motifs = model.vocab is not None and model.config.optim.stage2_steps > 0
    return ("atom", "motif") if has_motifs else ("atom",)


# what a user's own label head reads unless told otherwise (``label-train --head-inputs``): on HDM05's
# held-out actors, joined into takes of three actions, pose features + atom tokens label 70 % of the frames
# right, tokens alone 34 % (on single clips tokens alone are ahead: README, scripts/probe_recognition_takes.py)
LABEL_HEAD_INPUTS = ("pose", "atom")


def unique_clips(clips: list[tuple[str, Any, str]]) -> tuple[list[tuple[str, Any, str]], list[str]]:
    """``clips [(name, clip, label)]`` without repeats (the first kept) and the names of the repeats.
    A repeat is the same clip under the same label: the same file (``clip`` a path; resolved, so
    ``lib/walk/a.bvh`` given and also found in ``lib`` is one clip) or the same motion (a Motion with the
    same frames; its ``name`` only tells which file it came from, so two parts of one take stay two clips).
    Twice, a clip would weigh double and could be held out and trained on at once; one file under two
    labels (links from folders of two labels) stays, once per label."""
    import hashlib

    from ..motion import Motion

    def identity(name: str, clip: Any) -> Any:
        if isinstance(clip, (str, os.PathLike)):
            return str(Path(clip).resolve())
        if not isinstance(clip, Motion):  # only the same object is a repeat
            return id(clip)
        digest = hashlib.sha1()
        for a in (clip.rotations, clip.root_translation):
            digest.update(str(a.shape).encode())
            digest.update(np.ascontiguousarray(a).tobytes())
        return digest.hexdigest()

    seen, out, repeats = set(), [], []
    for name, clip, label in clips:
        key = (identity(name, clip), label)
        if key in seen:
            repeats.append(name)
        else:
            seen.add(key)
            out.append((name, clip, label))
    return out, repeats


def fit_label_head(model: Any, clips: list[tuple[str, Any, str]], config: HeadConfig | None = None,
                   holdout: float = 0.0, seed: int = 0) -> tuple[RecognitionHead, dict[str, Any]]:
    """A frame head for a user's own labelled clips ``[(name, Motion or path, label)]`` on ``model``'s frozen
    tokens. With ``holdout`` in (0, 1) that share of every class's clips (at least one, and only for
    classes with two or more clips; never all of a class's clips) is kept out of training and reported: clip accuracy (arg-max of
    the mean frame probability), frame accuracy and the held-out clips' names with their predictions.
    The head reads ``config.inputs``; without a config, :data:`LABEL_HEAD_INPUTS` (as ``label-train``).
    A clip given twice is read once (:func:`unique_clips`).

    Returns ``(head, report)``; report has ``classes``, ``clips_per_class``, ``train_clips``, ``repeated``
    (names of the clips left out as repeats) and, with a holdout, ``holdout`` results."""
    if not 0.0 <= holdout < 1.0:
        raise A4merError(f"holdout must be in [0, 1), got {holdout}")
    for name, _, label in clips:  # a head keeps its labels as names: 0/1 trained, saved, then never loaded
        if not isinstance(label, str) or not label.strip():
            raise A4merError(f"{name}: a label must be a non-empty name (text), got {label!r}")
    clips, repeated = unique_clips(clips)
    if any(isinstance(m, (str, os.PathLike)) for _, m, _ in clips):  # a path is read as label-train reads it
        from ..api import load_motion
        clips = [(n, load_motion(m) if isinstance(m, (str, os.PathLike)) else m, lab) for n, m, lab in clips]
    classes = sorted({lab for _, _, lab in clips})
    if len(classes) < 2:
        raise A4merError(f"need clips of at least two labels to train a head, got {classes or 'none'}")
    inputs = config.inputs if config is not None else LABEL_HEAD_INPUTS
    cfg = HeadConfig(**{**asdict(config or HeadConfig()), "in_dim": input_width(model, tuple(inputs)), "inputs": tuple(inputs),
                        "fps": float(model.fps)})
    y = np.array([classes.index(lab) for _, _, lab in clips])
    held = np.zeros(len(clips), bool)
    if holdout > 0:
        rng = np.random.default_rng(seed)
        for c in range(len(classes)):
            idx = np.flatnonzero(y == c)
            if len(idx) >= 2:  # one clip of every label stays in training, whatever the share
                size = min(len(idx) - 1, max(1, int(round(holdout * len(idx)))))
                held[rng.choice(idx, size=size, replace=False)] = True
    frames = [clip_inputs(model, m, inputs, cfg.pose_heading)["frames"] for _, m, _ in clips]
    train_idx = np.flatnonzero(~held)
    head = train_frame_head([frames[i] for i in train_idx], y[train_idx], classes, cfg, *input_hashes(model, inputs))
    report: dict[str, Any] = {"classes": classes, "inputs": list(inputs),
                              "clips_per_class": {c: int((y == i).sum()) for i, c in enumerate(classes)},
                              "train_clips": int(len(train_idx)), "repeated": repeated}
    if held.any():
        rows, ok, fr_ok, fr_n = [], 0, 0, 0
        for i in np.flatnonzero(held):  # counted in the clip's own frames, as `a4mer label` labels them
            p_m, motion = head.predict(frames[i]), clips[i][1]
            p = per_input_frame(p_m, motion.num_frames, float(motion.fps), model.fps)
            lab = per_input_frame(decode_labels(p_m), motion.num_frames, float(motion.fps), model.fps)
            pred = int(p.mean(0).argmax())
            ok += int(pred == y[i])
            fr_ok, fr_n = fr_ok + int((lab == y[i]).sum()), fr_n + len(p)
            rows.append({"clip": clips[i][0], "label": classes[y[i]], "predicted": classes[pred]})
        report["holdout"] = {"clips": int(held.sum()), "clip_accuracy": 100 * ok / int(held.sum()),
                             "frame_accuracy": 100 * fr_ok / max(fr_n, 1), "predictions": rows}
    head.training.update({k: v for k, v in report.items() if k not in ("holdout", "repeated")})
    if "holdout" in report:
        head.training["holdout_clip_accuracy"] = report["holdout"]["clip_accuracy"]
    return head, report


def clip_inputs(model: Any, motion: Any, inputs: tuple[str, ...] = ("atom",), pose_heading: str = "start"
                ) -> dict[str, Any]:
    """Frozen per-frame inputs of a clip for the frame head and the k-NN.

    model: :class:`a4mer.model.A4Mer`; motion: a Motion or the path of a clip. Returns ``frames`` (T_model, width) float32 (every model frame
    gets the parts named by ``inputs``, in order: its atom's token, its motif's token, its pose
    features, in ``pose_heading``: :data:`POSE_HEADINGS`; :func:`input_width`), ``parts`` (name -> (T_model, w)
    of every part computed: ``pose`` always, ``atom``, and ``motif`` when asked for), ``atom_tokens`` (S, D),
    ``atom_seg_tokens`` (S, D) the segment encoder's tokens before the LatentFormer (no context from
    neighbouring atoms), ``b_in``/``b_model`` (S+1,) atom boundaries in input / model frames, ``motifs`` (cover pieces of
    the vocabulary or None), ``motif_tokens`` (M, D) or None, ``raw`` (T_model, 202) the model's own
    normalised input features of the whole clip (one window, heading-canonical at frame 0).
    """
    from ..api import as_motion
    from ..features import frame_arrays, model_bounds, window_features
    from ..jepa.hierarchy import encode_clip
    from .inbetween import unit_warnings, warn

    motion = as_motion(motion)
    for message in unit_warnings(motion):
        warn(message)
    motion = motion.body()
    d = model.config.data
    b_in, b_model = model_bounds(motion, model.config.model.atoms, model.fps)
    arrays = frame_arrays(motion, model.fps)
    enc = encode_clip(model.net, arrays, b_model, d.window_frames, d.max_segments)
    tok = enc["atom_tokens"]
    motifs, mtok, groups = None, None, None
    if model.vocab is not None:
        codes, probs = model.vocab.assign(tok)
        motifs = model.vocab.motifs(codes, probs)
        groups = np.zeros(len(tok), dtype=np.int64)
        for i, m in enumerate(motifs):
            groups[m["atoms"]] = i
        if "motif" in inputs:
            mtok = encode_clip(model.net, arrays, b_model, d.window_frames, d.max_segments, groups)["motif_tokens"]
    elif "motif" in inputs:
        raise A4merError("this model has no motif vocabulary: the head needs motif tokens")
    check_head_inputs(tuple(inputs))
    T = int(b_model[-1])
    seg_of_frame = np.repeat(np.arange(len(tok)), np.diff(b_model))[:T]  # (T_model,)
    def normalised(heading: str) -> np.ndarray:  # the model's own normalisation (the encoder's inputs)
        f = window_features(arrays, 0, len(arrays["yaw"]), model.fps, heading)
        with torch.no_grad():
            return model.net.stage1.normalize(torch.from_numpy(f).to(model.net.stage1.feat_std)).cpu().numpy()

    if pose_heading not in POSE_HEADINGS:
        raise A4merError(f"pose_heading must be one of {', '.join(POSE_HEADINGS)}, got {pose_heading!r}")
    raw = normalised("start")
    pose = raw if pose_heading == "start" else normalised(pose_heading)
    parts = {"atom": tok[seg_of_frame], "pose": pose[np.minimum(np.arange(T), len(pose) - 1)]}
    if mtok is not None:
        parts["motif"] = mtok[groups[seg_of_frame]]
    return {"frames": np.concatenate([parts[n] for n in inputs], 1).astype(np.float32), "parts": parts,
            "atom_tokens": tok,
            "atom_seg_tokens": enc["atom_seg_tokens"], "b_in": b_in,
            "b_model": b_model, "motifs": motifs, "motif_tokens": mtok, "raw": raw}


def _summary(p: np.ndarray, classes: list[str], label: int | None = None) -> dict[str, Any]:
    """Label (``label``, else the arg-max), its confidence and the top-3 of mean probabilities ``p (C,)``."""
    order = np.argsort(-p, kind="stable")[:3]
    label = int(order[0]) if label is None else label
    return {"label": classes[label], "confidence": round(float(p[label]), 6),
            "top3": [[classes[int(c)], round(float(p[c]), 6)] for c in order]}


def check_head_fits(model: Any, head: RecognitionHead, where: str = "the recognition head") -> None:
    """A4merError (naming ``where``, e.g. the head's file) unless ``head`` was trained on ``model``'s
    encoder (and, reading motif tokens, with its motif vocabulary) and reads inputs of this model's width."""
    if head.encoder_hash and head.encoder_hash != model.model_hash:
        raise A4merError(f"{where}: the recognition head was trained on encoder {head.encoder_hash}, "
                         f"this model is {model.model_hash}: retrain the head for this model")
    if head.config.in_dim != input_width(model, head.config.inputs):
        raise A4merError(f"{where}: recognition head input width {head.config.in_dim} does not fit this model's "
                         f"{'+'.join(head.config.inputs)} inputs ({input_width(model, head.config.inputs)})")
    if "motif" in head.config.inputs and model.vocab is None:
        raise A4merError(f"{where}: the head reads motif tokens and this model has no motif vocabulary")
    vocab = input_hashes(model, head.config.inputs)[1]
    if head.vocab_hash and head.vocab_hash != vocab:  # "": reads no motif tokens, or written before heads kept it
        raise A4merError(f"{where}: the recognition head reads motif tokens of vocabulary {head.vocab_hash}, this "
                         f"model's vocabulary is {vocab}: use the head's vocabulary (--vocab) or retrain the head")


def per_input_frame(probs: np.ndarray, num_frames: int, fps: float, model_fps: float) -> np.ndarray:
    """``(T_model, ...)`` values at the model's ``model_fps`` -> ``(num_frames, ...)``, one row per frame
    of the clip at its own ``fps`` (the model frame each one falls in)."""
    idx = np.minimum(np.floor(np.arange(num_frames) * model_fps / fps + 1e-6).astype(int), len(probs) - 1)
    return probs[idx]


def decode_labels(probs: np.ndarray, switch_penalty: float = SWITCH_PENALTY) -> np.ndarray:
    """The most likely label per frame ``(T,)`` of frame probabilities ``probs (T, C)`` when every change of
    label costs ``switch_penalty`` nats (Viterbi): a change is made only where the frames after it favour
    the new label by that much in all (at the default, 0.4 s of model frames at e : 1 each; a run of
    another label inside one pays for two changes). 0: each frame's own arg-max (takes of three HDM05
    actions had 10.3 label runs where they have 2.8; 3.5 at the default, README)."""
    if not (np.isfinite(switch_penalty) and switch_penalty >= 0):
        raise A4merError(f"switch penalty must be a number >= 0 (nats), got {switch_penalty!r}")
    logp = np.log(np.clip(np.asarray(probs, np.float64), 1e-12, 1.0))
    if switch_penalty == 0 or len(logp) == 0:
        return logp.argmax(1)
    T, C = logp.shape
    score, back, classes = logp[0].copy(), np.empty((T, C), np.int64), np.arange(C)
    for t in range(1, T):
        best = int(score.argmax())
        switch = score[best] - switch_penalty > score  # coming from the best other label beats staying
        back[t] = np.where(switch, best, classes)
        score = np.where(switch, score[best] - switch_penalty, score) + logp[t]
    path = np.empty(T, np.int64)
    path[-1] = score.argmax()
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def label_clip(model: Any, head: RecognitionHead, motion: Any,
               switch_penalty: float = SWITCH_PENALTY) -> dict[str, Any]:
    """The label record of a clip: per input frame (``frame_labels`` class indices decoded with
    :func:`decode_labels` at ``switch_penalty`` nats a change, ``frame_confidence`` the frame's probability
    of its label), contiguous ``runs`` of one label, per atom and per motif (mean probability over its
    frames), and the whole clip (arg-max of the mean). Frames index the input at its own fps, ends
    exclusive; ``reference_frames_dropped`` as in :meth:`a4mer.model.A4Mer.segment`. ``motion``: a Motion
    or the path of a clip."""
    from ..api import as_motion, dropped_lead_in
    check_head_fits(model, head)
    motion = as_motion(motion)
    ci = clip_inputs(model, motion, head.config.inputs, head.config.pose_heading)
    T, fps = motion.num_frames, float(motion.fps)
    probs_m = head.predict(ci["frames"])  # (T_model, C)
    probs = per_input_frame(probs_m, T, fps, model.fps)
    lab = per_input_frame(decode_labels(probs_m, switch_penalty), T, fps, model.fps)
    t = lambda f: round(float(f) / fps, 6)  # noqa: E731
    change = np.flatnonzero(np.diff(lab)) + 1
    edges = np.r_[0, change, T]
    runs = [{"start_frame": int(a), "end_frame": int(b), "start_t": t(a), "end_t": t(b),
             **_summary(probs[a:b].mean(0), head.classes, int(lab[a]))} for a, b in zip(edges[:-1], edges[1:])]
    b_in = ci["b_in"]
    atoms = [{"start_frame": int(a), "end_frame": int(b), "start_t": t(a), "end_t": t(b),
              **_summary(probs[a:b].mean(0), head.classes)} for a, b in zip(b_in[:-1], b_in[1:])]
    motifs = []
    for m in ci["motifs"] or []:
        a, b = int(b_in[m["atoms"][0]]), int(b_in[m["atoms"][-1] + 1])
        motifs.append({"start_frame": a, "end_frame": b, "start_t": t(a), "end_t": t(b), "motif_id": m["motif_id"],
                       "atoms": m["atoms"], **_summary(probs[a:b].mean(0), head.classes)})
    vocab_hash = model.vocab.hash if model.vocab is not None else ""  # the vocabulary of the motif_ids
    return {"schema_version": LABELS_SCHEMA, "model_hash": model.model_hash, "vocab_hash": vocab_hash,
            "head_classes": head.classes, "switch_penalty": float(switch_penalty),
            "fps": fps, "duration": t(T), "clip": _summary(probs.mean(0), head.classes),
            "frame_labels": lab.astype(int).tolist(),
            "frame_confidence": [round(float(x), 4) for x in probs[np.arange(T), lab]],
            "runs": runs, "atoms": atoms, "motifs": motifs, **dropped_lead_in(motion)}
