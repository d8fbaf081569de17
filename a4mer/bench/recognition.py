"""Recognition benchmark on HDM05 (the paper's k-NN and frame-wise head protocol, on our data).

Protocol: the encoder is frozen (trained without HDM05); the k-NN and the frame head are fitted on
the clips of actors bd, bk, dg and tested on mm, tr (``split`` train / test of the prepared
manifest). One clip = one action (11 classes).

- **tokens** k-NN: weighted k-NN (cosine after centring on the mean of the k-NN training vectors,
  ``k``, temperature) on the mean of the clip's atom tokens (the ``clip_embedding`` of
  ``a4mer embed``) — the headline feature, fixed before measuring. Centring (label-free) was chosen
  by leave-one-actor-out accuracy on the training actors; those numbers are part of the result.
- **raw pose** baseline: the same k-NN (same k, metric, split) on the temporal mean and std of the
  model's own normalised per-frame input features (202 + 202 values); measured centred and
  uncentred, and the better of the two on the test actors is the one reported (conservative).
- further rows: mean motif token, atoms and motifs concatenated (when the model has motifs), and the
  mean *segment* token (the segment encoder's output before the LatentFormer: no context from the
  neighbouring atoms), added after the first results (exploratory, see the benchmark page).
- **per-actor centring**: every actor's vectors centred on that actor's own mean (label-free; needs a
  few clips per performer, as a studio library has), applied alike to tokens and raw pose; the
  leave-one-style-out check on the Bandai test split (:func:`cross_group_knn`) is the evidence for it
  that does not touch HDM05.
- **frame head**: :class:`a4mer.heads.recognition.FrameHead` on the frozen per-frame tokens;
  frame accuracy (every test frame at the model rate, clips weighted by length) and clip accuracy
  (arg-max of the mean frame probability).
- **motif-class table** (claim 4): for every multi-atom motif seen in HDM05, the classes it occurs in.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import A4merError
from ..heads.recognition import (HeadConfig, clip_inputs, default_head_inputs, input_hashes, input_width,
                                topk_accuracy, train_frame_head, weighted_knn)


@dataclass(frozen=True)
class RecognitionConfig:
    """k, temperature: weighted k-NN; prep: the headline preparation of the clip vectors
    (:func:`prepare_vectors`; "centre": subtract the mean of the k-NN training vectors before the cosine
    similarity, label-free, chosen by the training actors' leave-one-actor-out accuracy with an early
    checkpoint; every other preparation is reported beside it); train/test actors; head: frame-head
    training config (its in_dim, inputs and fps are filled from the model); head_variants: further
    frame heads trained and reported beside it (inputs of :data:`a4mer.heads.recognition.HEAD_INPUTS`)."""

    k: int = 10
    temperature: float = 0.07
    prep: str = "centre"
    train_actors: tuple[str, ...] = ("bd", "bk", "dg")
    test_actors: tuple[str, ...] = ("mm", "tr")
    head: HeadConfig = field(default_factory=HeadConfig)
    head_variants: tuple[tuple[str, ...], ...] = (("pose",), ("pose", "atom"))


@dataclass
class LabeledClip:
    name: str
    actor: str
    action: str
    motion: Any


def load_hdm05(root: str | Path) -> list[LabeledClip]:
    """HDM05 clips of a prepared dataset (``a4mer data prepare``), sorted by path."""
    from ..io import read_amass_npz
    from ..prepare import read_manifest

    rows = [r for r in read_manifest(root) if r.get("dataset") == "hdm05"]
    if not rows:
        raise A4merError(f"{root}: the manifest lists no hdm05 clips")
    rows.sort(key=lambda r: r["path"])
    out = []
    for r in rows:
        lab = r.get("labels", {})
        if "action" not in lab or "actor" not in lab:
            raise A4merError(f"{r['path']}: hdm05 record without labels.action / labels.actor")
        out.append(LabeledClip(Path(r["path"]).stem, lab["actor"], lab["action"], read_amass_npz(r["path"])))
    return out


def load_labeled(root: str | Path, datasets: tuple[str, ...], split: str, group: str | None = None
                 ) -> list[LabeledClip]:
    """Clips of other labelled data sets (e.g. Bandai: ``labels.action``) of one split; ``actor`` holds
    the data set name (or, with ``group``, that label, e.g. Bandai's ``style``) and ``action`` is
    prefixed with the data set name (classes of different data sets differ)."""
    from ..io import read_amass_npz
    from ..prepare import read_manifest

    rows = sorted((r for r in read_manifest(root) if r.get("dataset") in datasets and r.get("split") == split
                   and "action" in r.get("labels", {})), key=lambda r: r["path"])
    return [LabeledClip(Path(r["path"]).stem, str(r["labels"][group]) if group else r["dataset"],
                        f"{r['dataset']}:{r['labels']['action']}",
                        read_amass_npz(r["path"])) for r in rows]


def motif_classes(model: Any, clips: list[LabeledClip]) -> dict[str, Any]:
    """:func:`motif_class_table` of ``clips`` encoded with ``model`` (atoms and motifs only)."""
    infos = [clip_inputs(model, c.motion, ("atom",)) for c in clips]
    return {"clips": len(clips), **motif_class_table(clips, infos, model.vocab)}


def clip_vectors(ci: dict[str, Any]) -> dict[str, np.ndarray]:
    """Clip-level vectors of :func:`clip_inputs` output: ``tokens`` (D,) mean atom token, ``raw``
    (2F,) temporal mean and std of the normalised input features, ``segment tokens`` (D,) mean segment
    token (before the LatentFormer), and with motifs ``motif`` (D,) and ``tokens+motif`` (2D,) (each
    part L2-normalised before concatenation)."""
    from ..heads.recognition import l2_normalize

    raw = ci["raw"]
    out = {"tokens": ci["atom_tokens"].mean(0), "raw": np.r_[raw.mean(0), raw.std(0)],
           "segment tokens": ci["atom_seg_tokens"].mean(0)}
    if ci.get("motif_tokens") is not None:
        mt = ci["motif_tokens"].mean(0)
        out["motif"] = mt
        out["tokens+motif"] = np.r_[l2_normalize(out["tokens"][None])[0], l2_normalize(mt[None])[0]]
    return out


#: label-free preparations of the clip vectors before the cosine k-NN (fitted on the k-NN's own
#: training vectors): ``none``; ``centre`` (subtract their mean); ``standardise`` (also divide every
#: dimension by its standard deviation; dimensions constant up to float noise, std <= 1e-4, are dropped)
PREPARATIONS = ("none", "centre", "standardise")
PREP_LABEL = {"none": "uncentred", "centre": "centred", "standardise": "standardised"}


def prepare_vectors(Xtr: np.ndarray, Xq: np.ndarray, prep: str) -> tuple[np.ndarray, np.ndarray]:
    """``Xtr (N, F)``, ``Xq (Q, F)`` after the label-free preparation ``prep`` (see ``PREPARATIONS``),
    fitted on ``Xtr`` only."""
    if prep == "none":
        return Xtr, Xq
    if prep not in PREPARATIONS:
        raise A4merError(f"unknown k-NN vector preparation {prep!r} (use one of {PREPARATIONS})")
    mu = Xtr.mean(0)
    if prep == "centre":
        return Xtr - mu, Xq - mu
    sd = Xtr.std(0)
    keep = sd > 1e-4
    return (Xtr - mu)[:, keep] / sd[keep], (Xq - mu)[:, keep] / sd[keep]


def knn_scores(Xtr: np.ndarray, ytr: np.ndarray, Xq: np.ndarray, num_classes: int, cfg: RecognitionConfig,
               prep: str) -> np.ndarray:
    """Weighted k-NN scores (Q, C) after :func:`prepare_vectors` (``prep``)."""
    A, B = prepare_vectors(Xtr, Xq, prep)
    return weighted_knn(A, ytr, B, num_classes, cfg.k, cfg.temperature)


def group_centred(X: np.ndarray, groups) -> np.ndarray:
    """``X (N, F)`` with every group's rows centred on that group's own mean (label-free)."""
    g = np.asarray(groups)
    out = np.array(X, dtype=float)
    for v in np.unique(g):
        out[g == v] -= out[g == v].mean(0)
    return out


def group_cv(X: np.ndarray, y: np.ndarray, groups, num_classes: int, cfg: RecognitionConfig,
             centring: str) -> float:
    """Leave-one-group-out top-1 (%) of the weighted k-NN, mean over groups (e.g. leave one actor out
    on the training actors). centring: ``group`` (every group on its own mean) or one of
    ``PREPARATIONS`` fitted on the other groups."""
    g = np.asarray(groups)
    Xc = group_centred(X, g) if centring == "group" else X
    accs = []
    for v in sorted(set(g.tolist())):
        held = g == v
        if held.all():
            continue
        s = knn_scores(Xc[~held], y[~held], Xc[held], num_classes, cfg, "none" if centring == "group" else centring)
        accs.append(topk_accuracy(s, y[held], 1))
    return 100 * float(np.mean(accs)) if accs else float("nan")


def cross_group_knn(model: Any, clips: list[LabeledClip], cfg: RecognitionConfig = RecognitionConfig()
                    ) -> dict[str, Any]:
    """Leave-one-group-out k-NN top-1 of ``clips`` grouped by ``actor`` (e.g. Bandai test clips by
    style: a shift like a new performer's, on data that is not HDM05), per clip vector of
    :func:`clip_vectors` (tokens, segment tokens, raw pose) and preparation (centred or standardised on the
    fitted clips, or every group centred on its own mean)."""
    infos = [clip_inputs(model, c.motion, ("atom",)) for c in clips]
    vec = [clip_vectors(ci) for ci in infos]
    classes = sorted({c.action for c in clips})
    y = np.array([classes.index(c.action) for c in clips])
    groups = [c.actor for c in clips]
    res = {"clips": len(clips), "classes": len(classes), "groups": len(set(groups)), "top1": {}}
    for feat in ("tokens", "segment tokens", "raw"):
        X = np.stack([v[feat] for v in vec])
        res["top1"][feat] = {c: group_cv(X, y, groups, len(classes), cfg, c) for c in ("centre", "standardise", "group")}
    return res


def motif_class_table(clips: list[LabeledClip], infos: list[dict], vocab: Any) -> dict[str, Any]:
    """Which multi-atom motifs (vocabulary patterns) occur in which HDM05 classes (claim 4)."""
    occ: dict[int, dict[str, int]] = {}
    for c, ci in zip(clips, infos):
        for m in ci["motifs"] or []:
            if len(m["atoms"]) >= 2:
                occ.setdefault(int(m["motif_id"]), {}).setdefault(c.action, 0)
                occ[int(m["motif_id"])][c.action] += 1
    rows = sorted(occ.items(), key=lambda kv: (-len(kv[1]), -sum(kv[1].values()), kv[0]))
    multi = [k for k, v in occ.items() if len(v) >= 2]
    distinct = [k for k in multi if vocab is not None and len(set(vocab.motif_pattern(k))) >= 2]
    return {"multi_atom_motifs_seen": len(occ), "in_two_or_more_classes": len(multi),
            "in_two_or_more_classes_distinct_codes": len(distinct),
            "patterns_in_vocabulary": 0 if vocab is None else len(vocab.patterns),
            "motifs": [{"motif_id": k, "pattern": list(vocab.motif_pattern(k)) if vocab is not None else None,
                        "classes": dict(sorted(v.items()))} for k, v in rows[:25]]}


def run_recognition(model: Any, clips: list[LabeledClip], cfg: RecognitionConfig = RecognitionConfig(),
                    head_inputs: tuple[str, ...] | None = None, return_head: bool = False) -> dict[str, Any]:
    """Measure k-NN (tokens and raw pose) and the frame head. ``head_inputs`` default: atom and motif
    tokens when the model has a vocabulary and a trained motif level (``optim.stage2_steps > 0``),
    else atom tokens.
    Returns the result dict (and with ``return_head`` also the trained head: ``(result, head)``)."""
    default_inputs = default_head_inputs(model)
    has_motifs = "motif" in default_inputs
    inputs = head_inputs or default_inputs
    enc_inputs = tuple(dict.fromkeys(inputs + (("motif",) if has_motifs else ())))
    tr = [c for c in clips if c.actor in cfg.train_actors]
    te = [c for c in clips if c.actor in cfg.test_actors]
    if not tr or not te:
        raise A4merError("recognition needs clips of both the training and the test actors")
    classes = sorted({c.action for c in tr})
    cid = {a: i for i, a in enumerate(classes)}
    te = [c for c in te if c.action in cid]
    infos = {id(c): clip_inputs(model, c.motion, enc_inputs, cfg.head.pose_heading) for c in tr + te}
    vec = {id(c): clip_vectors(infos[id(c)]) for c in tr + te}
    ytr = np.array([cid[c.action] for c in tr])
    yte = np.array([cid[c.action] for c in te])
    actors_tr, actors_te = [c.actor for c in tr], [c.actor for c in te]

    def record(s: np.ndarray) -> dict[str, Any]:
        return {"top1": 100 * topk_accuracy(s, yte, 1), "top3": 100 * topk_accuracy(s, yte, 3),
                "correct": [int(v) for v in s.argmax(1) == yte]}

    # knn / cv: every preparation of PREPARATIONS (the headline one unlabelled); knn_ac: every actor
    # centred on its own mean (tokens and raw pose alike)
    knn, cv, knn_ac = {}, {}, {}

    def n(feat: str, prep: str) -> str:  # row name
        return feat if prep == cfg.prep else f"{feat} ({PREP_LABEL[prep]})"

    for feat in vec[id(tr[0])]:
        Xtr = np.stack([vec[id(c)][feat] for c in tr])
        Xte = np.stack([vec[id(c)][feat] for c in te])
        for prep in PREPARATIONS:
            name = n(feat, prep)
            knn[name] = record(knn_scores(Xtr, ytr, Xte, len(classes), cfg, prep))
            cv[name] = group_cv(Xtr, ytr, actors_tr, len(classes), cfg, prep)
        s = weighted_knn(group_centred(Xtr, actors_tr), ytr, group_centred(Xte, actors_te), len(classes), cfg.k,
                         cfg.temperature)
        knn_ac[feat] = {**record(s), "train_actor_cv_top1": group_cv(Xtr, ytr, actors_tr, len(classes), cfg, "group")}
    raw_names = [n for n in knn if n.startswith("raw")]
    best_raw = max(raw_names, key=lambda n: (knn[n]["top1"], knn[n]["top3"]))
    def frame_head(names: tuple[str, ...]) -> tuple[Any, dict[str, Any]]:
        """Train a frame head on the ``names`` parts of the training clips; its test accuracies."""
        def frames(c: LabeledClip) -> np.ndarray:
            return np.concatenate([infos[id(c)]["parts"][n] for n in names], 1).astype(np.float32)

        hc = replace(cfg.head, in_dim=input_width(model, names), inputs=names, fps=float(model.fps))
        head = train_frame_head([frames(c) for c in tr], ytr, classes, hc, *input_hashes(model, names))
        correct = total = clip_ok = 0
        for c, y in zip(te, yte):
            p = head.predict(frames(c))
            correct += int((p.argmax(1) == y).sum())
            total += len(p)
            clip_ok += int(p.mean(0).argmax() == y)
        return head, {"inputs": list(names), "frame_accuracy": 100 * correct / max(total, 1),
                      "clip_accuracy": 100 * clip_ok / len(te), "test_frames": total, "config": asdict(hc)}

    head, fh = frame_head(tuple(inputs))
    fh_variants = {"+".join(v): frame_head(v)[1] for v in cfg.head_variants if v != tuple(inputs)}
    majority = float(np.max(np.bincount(yte, minlength=len(classes))) / len(yte))
    res = {"protocol": {"data": "HDM05 (prepared, 30 fps)", "train_actors": list(cfg.train_actors),
                        "test_actors": list(cfg.test_actors), "k": cfg.k, "temperature": cfg.temperature,
                        "metric": "cosine after preparing the vectors: " + PREP_LABEL[cfg.prep] + " on the k-NN training vectors",
                        "headline_feature": "tokens (mean atom token of the clip)",
                        "raw_pose_feature": "temporal mean and std of the model's normalised input features; "
                                            "reported: the best on the test actors of its preparations",
                        "centring_choice": "chosen by leave-one-actor-out k-NN on the training actors (bd, bk, dg) "
                                           "with an early checkpoint, before the shipped model was measured"},
           "model_hash": model.model_hash, "classes": classes, "train_clips": len(tr), "test_clips": len(te),
           "test_majority_class_pct": 100 * majority,
           "knn": {k: v for k, v in knn.items() if not k.startswith("raw") and "(" not in k},
           "knn_other_centring": {k: v for k, v in knn.items() if not k.startswith("raw") and "(" in k},
           "raw_pose_knn": knn[best_raw],
           "raw_pose_variants": {k: v for k, v in knn.items() if k.startswith("raw")}, "raw_pose_reported": best_raw,
           "knn_margin_points": knn["tokens"]["top1"] - knn[best_raw]["top1"],
           "knn_margin_points_same_preparation": {
               PREP_LABEL[p]: knn[n("tokens", p)]["top1"] - knn[n("raw", p)]["top1"] for p in PREPARATIONS},
           "train_actor_cv_top1": cv,
           "knn_actor_centred": knn_ac,
           "knn_margin_points_actor_centred": knn_ac["tokens"]["top1"] - knn_ac["raw"]["top1"],
           "frame_head": fh, "frame_head_variants": fh_variants}
    if model.vocab is not None:
        res["motif_classes"] = motif_class_table(tr + te, [infos[id(c)] for c in tr + te], model.vocab)
    return (res, head) if return_head else res
