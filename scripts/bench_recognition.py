"""HDM05 recognition benchmark of a model, the recognition head file, and the claims table.

    python scripts/bench_recognition.py --data PREPARED [--checkpoint BUNDLE] \\
        [--out docs/bench/recognition.json] [--head-out hdm05_head.safetensors] [--doc docs/benchmarks.md]
    python scripts/bench_recognition.py --claims [--doc docs/benchmarks.md]   # rebuild both sections from JSON

Protocol (a4mer.bench.recognition): frozen encoder trained without HDM05; k-NN and frame head fitted
on actors bd, bk, dg, tested on mm, tr. ``--doc`` rewrites the ``recognition`` section of the
benchmarks page; ``--claims`` rewrites its ``claims`` section from ``docs/bench/recognition.json``
and ``docs/bench/ablation_*.json`` (sections between ``<!-- begin:NAME -->`` / ``<!-- end:NAME -->``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from a4mer.bench.report import write_section

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "docs" / "bench"
ABL_ORDER = ["full", "frame", "fixed", "no_split", "full_attention", "reconstruction"]


def f1(x) -> str:
    return "—" if x is None else f"{x:.1f}"


def _trained_on(r: dict) -> str:
    """What the model was trained on, as the result records it (the data sets of its config; "all" when
    the config names none), and whether the evaluated HDM05 clips were among them."""
    sets = r.get("trained_on")
    if sets is None:  # results of earlier versions: the shipped model
        return "trained without HDM05"
    if not sets:
        return "trained on every data set of its prepared folder: HDM05 may be among them"
    hdm = any(s.startswith("hdm05") for s in sets)
    return f"trained on {', '.join(sets)}" + (": HDM05 is among them, so these are not held-out numbers" if hdm
                                               else ", without HDM05")


def recognition_md(r: dict, cmd: str) -> str:
    k = r["knn"]
    lines = ["## Recognition (HDM05, frozen tokens)", "",
             f"`{cmd}` (JSON: `{r.get('json', 'docs/bench/recognition.json')}`)", "",
             f"Model `{r['model_hash']}` ({_trained_on(r)}). k-NN and head fitted on actors "
             f"{', '.join(r['protocol']['train_actors'])} ({r['train_clips']} clips), tested on "
             f"{', '.join(r['protocol']['test_actors'])} ({r['test_clips']} clips), {len(r['classes'])} classes "
             f"(majority class {r['test_majority_class_pct']:.1f} % of the test clips). Weighted k-NN: "
             f"k = {r['protocol']['k']}, cosine similarity, weights exp(sim / {r['protocol']['temperature']}).", "",
             "| features | k-NN top-1 % | k-NN top-3 % | leave-one-actor-out top-1 % (training actors) |",
             "|---|---|---|---|"]
    base = {"tokens": "mean atom token", "motif": "mean motif token", "tokens+motif": "atom and motif tokens",
            "raw": "raw pose: mean + std of the model's input features",
            "segment tokens": "mean segment token (before the LatentFormer; exploratory)"}
    names = {"tokens": "mean atom token (headline)"}
    for key, label in base.items():
        for prep in ("uncentred", "centred", "standardised"):
            names.setdefault(f"{key} ({prep})", f"{label}, {prep}")
        names.setdefault(key, label)
    cv = r.get("train_actor_cv_top1", {})
    rows = list(k.items()) + list(r.get("knn_other_centring", {}).items()) + list(r.get("raw_pose_variants", {}).items())
    for key, v in rows:
        lines.append(f"| {names.get(key, key)} | {f1(v['top1'])} | {f1(v['top3'])} | {f1(cv.get(key))} |")
    lines += ["", "Input normalisation: HDM05 moves spine2, which the Bandai and CMU training data never move; divided "
              "by the floor of its training std, its values reached 100-450 std and swamped tokens and raw pose "
              "alike (before the fix: tokens 50.5 %, raw pose 52.5 %). Features held constant in training are now "
              "held at their training mean (docs/model.md); the numbers above are with the fix."]
    lines += ["", "Preparations of the clip vectors, all label-free and fitted on the k-NN's training clips: "
              "*centred* (their mean subtracted; the headline preparation, chosen by the leave-one-actor-out column "
              "with an early checkpoint), *uncentred*, and *standardised* (centred, then every dimension divided by "
              "its standard deviation). The raw-pose number compared with is the best raw row on the test actors "
              f"(`{r.get('raw_pose_reported', 'raw')}`)."]
    fh = r["frame_head"]
    lines += ["", f"Headline margin over raw pose: **{r['knn_margin_points']:+.1f} points** top-1 "
              "(the issue asks for ≥ +10, goal +15)."]
    same = r.get("knn_margin_points_same_preparation")
    if same:
        best = r["raw_pose_knn"]["top1"]
        lines += ["", "Mean atom token minus raw pose with the same preparation: " +
                  ", ".join(f"{p} {v:+.1f}" for p, v in same.items()) + " points." +
                  (f" The raw pose statistics reach {best:.1f} % on these {len(r['classes'])} classes, so a lead of ten "
                   "points is out of reach on this split for any features (it would need more than 100 %)."
                   if best > 90 else "")]
    ac = r.get("knn_actor_centred")
    if ac:
        lines += ["", "Per-actor centring (every actor's clip vectors centred on that actor's own mean, label-free, "
                  "tokens and raw pose alike; a library of a few clips per performer is needed):", "",
                  "| features | k-NN top-1 % | k-NN top-3 % | leave-one-actor-out top-1 % (training actors) |",
                  "|---|---|---|---|"]
        for key, v in ac.items():
            lines.append(f"| {names.get(key, key)} | {f1(v['top1'])} | {f1(v['top3'])} | {f1(v['train_actor_cv_top1'])} |")
        lines += ["", f"Margin of the mean atom token over raw pose with per-actor centring: "
                  f"**{r['knn_margin_points_actor_centred']:+.1f} points**."]
    bs = r.get("bandai_cross_style")
    if bs:
        lines += ["", f"The same choices away from HDM05 — Bandai test split, dataset 2 ({bs['clips']} clips, "
                  f"{bs['classes']} actions), leave one of its {bs['groups']} performance styles out, k-NN top-1 %:", "",
                  "| features | centred on the fitted clips | standardised on the fitted clips | every style on its own mean |",
                  "|---|---|---|---|"]
        for key, v in bs["top1"].items():
            lines.append(f"| {names.get(key, key)} | {f1(v['centre'])} | {f1(v['standardise'])} "
                         f"| {f1(v['group'])} |")
        t, rw = bs["top1"]["tokens"], bs["top1"]["raw"]
        lines += ["", "What this says: centring every performer (or style) on its own mean helps tokens and raw pose "
                  f"alike (Bandai: tokens {t['centre']:.1f} → {t['group']:.1f} %, raw {rw['centre']:.1f} → "
                  f"{rw['group']:.1f} %), and on Bandai the raw pose is "
                  f"{'ahead of' if rw['group'] >= t['group'] else 'behind'} the tokens "
                  f"({rw['group'] - t['group']:+.1f} points; standardised {rw['standardise'] - t['standardise']:+.1f}), "
                  f"so {'neither' if max(t['group'] - rw['group'], t['standardise'] - rw['standardise']) < 10 else 'one'} "
                  "protocol gives the tokens the ten-point lead "
                  "the issue asks for. The segment-token rows were added after the first HDM05 numbers were seen; "
                  "they are exploratory and not the headline."]
    if cv.get("tokens") is not None:
        best_cv_raw = max(v for n, v in cv.items() if n.startswith("raw"))
        lines += ["", f"Reading: headline tokens minus the best raw variant, on the training actors (leave-one-actor-out) "
                  f"{cv['tokens'] - best_cv_raw:+.1f} points, on the held-out actors mm and tr "
                  f"{r['knn_margin_points']:+.1f}. With {r['test_clips']} test clips one clip is "
                  f"{100 / r['test_clips']:.1f} points."]
    lines += ["", f"Frame-wise head (1-layer Transformer, {fh['config']['epochs']} epochs, fitted on the training actors):", "",
              "| frame inputs | test frames % | test clips % (arg-max of the mean frame probability) |", "|---|---|---|",
              f"| {' + '.join(fh['inputs'])} tokens (the protocol's head) | {f1(fh['frame_accuracy'])} | {f1(fh['clip_accuracy'])} |"]
    label = {"pose": "pose features (the model's normalised inputs)", "pose+atom": "pose features + atom token"}
    for key, v in r.get("frame_head_variants", {}).items():
        lines.append(f"| {label.get(key, key)} | {f1(v['frame_accuracy'])} | {f1(v['clip_accuracy'])} |")
    lines += ["", "Train a head on your own labelled clips with `a4mer label-train CLIPS... -o HEAD.safetensors "
              "[--head-inputs pose,atom]` and label a clip with `a4mer label CLIP --head HEAD.safetensors`.", ""]
    for key, where in (("motif_classes", "HDM05"), ("motif_classes_bandai_test", "the Bandai test split")):
        lines += motif_md(r.get(key), where)
    return "\n".join(lines) + "\n"


def motif_md(mc: dict | None, where: str) -> list[str]:
    lines: list[str] = []
    if mc:
        lines += ["", f"Motifs across classes in {where} (claim 4): {mc['multi_atom_motifs_seen']} multi-atom motifs "
                  f"of the vocabulary occur; {mc['in_two_or_more_classes']} of them in two or more action classes."]
        rows = [m for m in mc["motifs"] if len(m["classes"]) >= 2][:8]
        if rows:
            lines += ["", "| motif (codes) | classes it occurs in (occurrences) |", "|---|---|"]
            for m in rows:
                lines.append(f"| {m['motif_id']} ({' '.join(map(str, m['pattern']))}) | "
                             + ", ".join(f"{c} ({n})" for c, n in m["classes"].items()) + " |")
    return lines


TASK_KEYS = {"recognition": ("recognition", "knn_top1", True), "extension": (None, "extension_1s_mpjpe_mm", False),
             "inbetween": (None, "inbetween_30_mpjpe_mm", False)}


def _metric(r: dict, task: str) -> float:
    sect, key, _ = TASK_KEYS[task]
    return (r[sect] if sect else r)[key]


def _gain(full: dict, other: dict, task: str) -> float:
    """How much better the full run is than ``other`` on ``task`` (points or mm, point estimate)."""
    d = _metric(full, task) - _metric(other, task)
    return d if TASK_KEYS[task][2] else -d


def _cmp(full: dict, other: dict, rng, full1: dict | None = None, other1: dict | None = None) -> dict:
    """Paired bootstrap per task (seed-0 runs); with second-seed runs, a difference counts as beyond
    noise only when it also exceeds the full model's seed-to-seed change and keeps its sign across seeds."""
    from a4mer.bench.ablations import paired_difference
    out = {}
    fr, orr = full["recognition"]["knn_correct"], other["recognition"]["knn_correct"]
    out["recognition"] = paired_difference(True, [100 * x for x in fr], [100 * x for x in orr], rng)
    out["extension"] = paired_difference(False, full["motion"]["extension_windows_mm"], other["motion"]["extension_windows_mm"], rng)
    out["inbetween"] = paired_difference(False, full["motion"]["gap_windows_mm"], other["motion"]["gap_windows_mm"], rng)
    for task, v in out.items():
        if full1 is not None:
            v["full_seed_change"] = abs(_metric(full1, task) - _metric(full, task))
            if v["verdict"] != "within noise" and abs(v["gain"]) <= v["full_seed_change"]:
                v["verdict"] = "within seed noise"
        if full1 is not None and other1 is not None:
            v["gain_seed1"] = _gain(full1, other1, task)
            if v["verdict"] not in ("within noise", "within seed noise") and np.sign(v["gain_seed1"]) != np.sign(v["gain"]):
                v["verdict"] = "sign flips across seeds"
    return out


def claims_md(rec: dict | None, abl: dict[str, dict], abl1: dict[str, dict] | None = None) -> str:
    rng = np.random.default_rng(0)
    # a second-seed run counts only when trained with the same budget (steps or minutes) as seed 0
    abl1 = {n: r for n, r in (abl1 or {}).items() if n in abl and r.get("budget") == abl[n].get("budget")}
    full = abl.get("full")
    budgets = {json.dumps(r.get("budget"), sort_keys=True) for r in abl.values()}
    n_steps = (full or {}).get("budget", {}).get("steps") if len(budgets) == 1 else None
    budget_txt = (f"the same {n_steps} training steps with the learning-rate schedule over them, whatever else ran on "
                  "the shared 2-core CPU" if n_steps else
                  "the same wall-clock budget on a shared 2-core CPU; a rerun reproduces them within training noise")
    lines = ["## Claims of the paper, tested on our data", "",
             "Claims from `shared/docs/method.md` §9. Ablations: `python scripts/run_ablations.py --data DIR "
             "--work DIR --steps N --only NAME` (each row's exact command is in its JSON, "
             "`docs/bench/ablation_NAME.json`); every variant is trained from scratch with the same small preset "
             f"(same clips, stage 1 only, {budget_txt}), so the numbers compare "
             "variants with one another, not with the shipped model. Motion tasks use a ridge **token probe** (frozen tokens "
             "of the context → correction of the classical curve; see `a4mer/bench/ablations.py`) because the "
             "shipped heads read no tokens and would score every encoder alike. \"Beyond noise\" = the 95 % paired "
             "bootstrap interval of the difference (over test clips / windows) excludes 0 and, where a second seed was "
             "trained, the difference is larger than the full model's seed-to-seed change and keeps its sign "
             "across seeds. Gains are written so that positive = the full model is better (points for "
             "recognition, mm for the motion tasks).", ""]
    if full:
        ref = full.get("reference", {})
        lines += ["### Ablations (small preset)", "",
                  "| variant | steps | k-NN top-1 % (HDM05 mm/tr) | k-NN leave-one-actor-out % (bd/bk/dg) | frame head % | "
                  "in-betweening 30 f MPJPE mm | extension 1 s MPJPE mm | mean motif s (5 fps frames) | paper pred / interp mm |",
                  "|---|---|---|---|---|---|---|---|---|"]
        rows = [(n, abl.get(n)) for n in ABL_ORDER]
        rows += [(f"{n} (seed 1)", abl1[n]) for n in ABL_ORDER if n in abl1]
        for n, r in rows:
            if r is None:
                lines.append(f"| {n} | not run | | | | | | | |")
                continue
            rr, mo = r["recognition"], r["motifs"]
            p = r["paper_pred_interp_mpjpe_mm"]
            lines.append(f"| {n} | {r['training']['steps']} | {f1(rr['knn_top1'])} | {f1(rr.get('knn_train_actor_cv_top1'))} | "
                         f"{f1(rr['frame_head_frame_accuracy'])} | "
                         f"{f1(r['inbetween_30_mpjpe_mm'])} | {f1(r['extension_1s_mpjpe_mm'])} | "
                         f"{mo['mean_motif_s']:.2f} ({mo['mean_motif_frames_at_5fps']:.1f}) | {p[0]:g} / {p[1]:g} |")
        dss = sorted({d for _, r in rows if r for d in r["motion"].get("inbetween_by_dataset", {})})
        if dss:
            lines += ["", "In-betweening (30 frames) per data set, token probe, MPJPE mm (windows):", "",
                      "| variant | " + " | ".join(dss) + " |", "|---|" + "---|" * len(dss)]
            ref_h = (full.get("reference") or {}).get("hermite", {}).get("inbetween_by_dataset", {})
            ref_r = (full.get("reference") or {}).get("raw_probe", {}).get("inbetween_by_dataset", {})
            for n, r in rows + [("cubic Hermite (reference)", {"motion": {"inbetween_by_dataset": ref_h}}),
                                ("raw-feature probe (reference)", {"motion": {"inbetween_by_dataset": ref_r}})]:
                if r is None:
                    continue
                by = r["motion"].get("inbetween_by_dataset", {})
                lines.append(f"| {n} | " + " | ".join(f"{f1(by[d]['mpjpe_mm'])} ({by[d]['windows']})" if d in by else "—"
                                                     for d in dss) + " |")
        lines += ["", "Commands (one per variant, as recorded in its JSON):", ""]
        lines += [f"- {n}: `{r['command']}`" for n, r in rows if r is not None]
        steps = {n: r["training"]["steps"] for n, r in rows if r is not None}
        lo_n, hi_n = min(steps, key=steps.get), max(steps, key=steps.get)
        if steps[hi_n] > 1.2 * steps[lo_n]:
            lines += ["", f"Caution: the same wall-clock budget gave {steps[lo_n]} steps to {lo_n} and {steps[hi_n]} to "
                      f"{hi_n} (the machine is shared; per-step cost also differs by variant). Differences between rows "
                      "mix the variant's effect with the amount of training."]
        hr, cv, dv = ref.get("hermite", {}), ref.get("constant_velocity", {}), ref.get("damped_velocity", {})
        rp = ref.get("raw_probe", {})
        lines += ["", f"References on the same windows: cubic Hermite {f1(hr.get('inbetween_30_mpjpe_mm'))} mm "
                  f"(in-betweening); constant velocity {f1(cv.get('extension_1s_mpjpe_mm'))} mm, damped velocity "
                  f"{f1(dv.get('extension_1s_mpjpe_mm'))} mm (extension); the same ridge probe on raw input "
                  f"features {f1(rp.get('inbetween_30_mpjpe_mm'))} / {f1(rp.get('extension_1s_mpjpe_mm'))} mm; "
                  f"raw-pose k-NN {f1(full['recognition']['raw_pose_knn_top1'])} %. Windows: "
                  f"{full['motion']['clips']['inbetween_windows']} (in-betweening), "
                  f"{full['motion']['clips']['extension_windows']} (extension), test split of every data set.", ""]
    if full and "full" in abl1:
        ch = {t: abs(_metric(abl1["full"], t) - _metric(full, t)) for t in TASK_KEYS}
        diffs = [abs(_gain(full, abl[n], t)) <= ch[t] for n in ABL_ORDER[1:] if n in abl for t in TASK_KEYS]
        lines += [f"Seed-to-seed change of the full variant (seed 0 vs seed 1, same preset): recognition "
                  f"{ch['recognition']:.1f} points, in-betweening {ch['inbetween']:.1f} mm, extension "
                  f"{ch['extension']:.1f} mm. {sum(diffs)} of the {len(diffs)} variant-vs-full differences in the "
                  "table are no larger than that" + (": at this training budget the ablation table mostly measures "
                                                      "noise." if 2 * sum(diffs) >= len(diffs) else "."), ""]
    lines += ["### Claims", "", "| # | claim (paper) | paper | ours | verdict | command |", "|---|---|---|---|---|---|"]

    def vs(name: str) -> tuple[str, dict | None]:
        if not full or name not in abl:
            return f"{name}: not run", None
        c = _cmp(full, abl[name], rng, abl1.get("full"), abl1.get(name))
        txt = "; ".join(f"{t} {v['gain']:+.1f} [{v['ci95'][0]:+.1f}, {v['ci95'][1]:+.1f}]"
                        + (f", seed 1: {v['gain_seed1']:+.1f}" if "gain_seed1" in v else "") + f" ({v['verdict']})"
                        for t, v in c.items())
        return f"full vs {name}: {txt}", c

    # claim 1
    parts, wins, beyond, decided = [], {}, {}, 0
    for n in ("frame", "fixed"):
        t, c = vs(n)
        parts.append(t)
        if c:
            wins[n] = sum(v["gain"] > 0 for v in c.values())
            beyond[n] = sum(v["verdict"] == "full better" for v in c.values())
            decided += sum(v["verdict"] in ("full better", "full worse") for v in c.values())
    if len(wins) < 2:
        v1 = "inconclusive (not all ablations ran)"
    elif all(b >= 2 for b in beyond.values()):
        v1 = "**held**"
    elif all(w >= 2 for w in wins.values()):
        v1 = "**inconclusive**: the full model is ahead on ≥ 2 of 3 tasks against both, but not beyond noise on 2"
    else:
        lost = [n for n, w in wins.items() if w < 2]
        v1 = (f"**did not hold**: the full model did not beat {' and '.join(lost)} on two of the three tasks"
              + (" (and no difference is beyond noise)" if decided == 0 else ""))
    summary = "; ".join(f"full ahead of {n} on {wins[n]}/3 tasks ({beyond[n]} beyond noise)" for n in wins)
    lines.append(f"| 1 | variable-length atoms beat fixed-length and frame-level segments | pred 150 vs 208 (fixed) / 309 "
                 f"(frame); interp 126 vs 183 / 154 | {summary + '. ' if summary else ''}" + " · ".join(parts) + f" | {v1} | "
                 "`scripts/run_ablations.py --only full,frame,fixed` |")
    # claim 2
    t, c = vs("no_split")
    if c:
        ml_f, ml_n = full["motifs"]["mean_motif_s"], abl["no_split"]["motifs"]["mean_motif_s"]
        shorter = ml_f < ml_n
        better = sum(v["verdict"] == "full better" for v in c.values())
        worse = sum(v["verdict"] == "full worse" for v in c.values())
        if shorter and better == 3:
            v2 = "**held**"
        elif not shorter and worse >= 1:
            v2 = "**did not hold**"
        elif worse >= 1:
            v2 = "**did not hold** (the split hurt at least one task beyond noise)"
        else:
            v2 = ("**inconclusive**" + (": motifs shorter with the split" if shorter else ": motifs not shorter with the split")
                  + f", better beyond noise on {better}/3 tasks")
        ours2 = (f"mean motif {ml_f:.2f} s ({full['motifs']['mean_motif_frames_at_5fps']:.1f} frames at 5 fps) with the "
                 f"split vs {ml_n:.2f} s ({abl['no_split']['motifs']['mean_motif_frames_at_5fps']:.1f}) without; {t}")
    else:
        v2, ours2 = "inconclusive (ablation not run)", t
    lines.append(f"| 2 | the global/local loss keeps motifs short and helps every downstream task | motifs 10.6 vs 24 "
                 f"frames at 5 fps; pred 150 vs 222, interp 126 vs 210 | {ours2} | {v2} | "
                 "`scripts/run_ablations.py --only full,no_split` |")
    # claim 3
    if rec:
        m = rec["knn_margin_points"]
        v3 = "**held**" if m >= 10 else ("**inconclusive** (ahead by less than 10 points)" if m > 0 else "**did not hold**")
        # the same k-NN on every ablation encoder (smaller preset, same protocol, centred vectors): how much
        # the margin over the raw row without standardisation moves between training runs (older JSONs
        # hold the better of centred / uncentred raw)
        margins = {n: r["recognition"]["knn_top1"] - r["recognition"].get("raw_pose_centred_knn_top1",
                                                                          r["recognition"]["raw_pose_knn_top1"])
                   for n, r in list(abl.items()) + [(f"{k} (seed 1)", v) for k, v in abl1.items()]}
        spread = ""
        same_prep = rec.get("knn_margin_points_same_preparation", {})
        if margins:
            lo, hi = min(margins, key=margins.get), max(margins, key=margins.get)
            spread = (f"; against the raw rows without standardisation, the shipped model is at "
                      f"{same_prep.get('centred', m):+.1f} points and the {len(margins)} ablation encoders (small preset) "
                      f"range from {margins[lo]:+.1f} ({lo}) to {margins[hi]:+.1f} ({hi})")
        lines.append(f"| 3 | tokens carry action information: k-NN on frozen features beats k-NN on raw poses | "
                     f"A4Mer k-NN 31.7 / 59.0 top-1/top-3 on AMD (no raw-pose row in the paper) | shipped model on HDM05: "
                     f"{f1(rec['knn']['tokens']['top1'])} / {f1(rec['knn']['tokens']['top3'])} vs raw pose "
                     f"{f1(rec['raw_pose_knn']['top1'])} / {f1(rec['raw_pose_knn']['top3'])} ({m:+.1f} points top-1)"
                     f"{spread} | {v3} | `scripts/bench_recognition.py --data DIR`; ablations as above |")
        parts4, n2s, ns = [], 0, 0
        for key, where in (("motif_classes", "HDM05"), ("motif_classes_bandai_test", "Bandai test split")):
            mc = rec.get(key)
            if mc:
                n2s, ns = n2s + mc["in_two_or_more_classes"], ns + mc["multi_atom_motifs_seen"]
                if "in_two_or_more_classes_distinct_codes" in mc:
                    nd = f"{mc['in_two_or_more_classes_distinct_codes']}"
                else:  # older JSON: count within the listed (most widely shared) motifs
                    rows = [m for m in mc["motifs"] if len(m["classes"]) >= 2]
                    nd = (f"{sum(len(set(m['pattern'])) >= 2 for m in rows)}"
                          + ("" if len(rows) == mc["in_two_or_more_classes"] else f" of the {len(rows)} listed"))
                parts4.append(f"{where}: {mc['in_two_or_more_classes']} of {mc['multi_atom_motifs_seen']} multi-atom "
                              f"motifs seen occur in ≥ 2 action classes ({nd} of them made of ≥ 2 different codes; "
                              "repeats of one code are often holds)")
        v4 = "**held**" if n2s > 0 else ("**did not hold**" if ns > 0 else "**inconclusive** (no multi-atom motif occurs)")
        lines.append(f"| 4 | the same motif recurs across different actions | qualitative | {'; '.join(parts4)} "
                     f"(tables in the recognition section) | {v4} | `scripts/bench_recognition.py --data DIR` |")
    else:
        lines.append("| 3 | tokens beat raw poses in k-NN | 31.7 top-1 | not measured yet | — | |")
        lines.append("| 4 | motifs recur across actions | qualitative | not measured yet | — | |")
    for n, claim in (("full_attention", "segment-restricted encoder attention beats full-sequence attention"),
                     ("reconstruction", "latent targets vs reconstruction targets (the paper found reconstruction "
                                        "slightly *better* at interpolation: 112 vs 126)")):
        t, c = vs(n)
        if c:
            b = sum(v["verdict"] == "full better" for v in c.values())
            w = sum(v["verdict"] == "full worse" for v in c.values())
            v = f"full better beyond noise on {b}/3, worse on {w}/3"
        else:
            v = "not run"
        p = abl.get(n, {}).get("paper_pred_interp_mpjpe_mm") or ["?", "?"]
        lines.append(f"| ablation | {claim} | pred/interp {p[0]} / {p[1]} vs 150 / 126 | {t} | {v} | "
                     f"`scripts/run_ablations.py --only full,{n}` |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="prepared dataset folder with the hdm05 clips")
    p.add_argument("--checkpoint", default=None, help="model bundle (default: the shipped model)")
    p.add_argument("--out", default=str(BENCH / "recognition.json"))
    p.add_argument("--head-out", default=None, help="save the frame head trained on bd, bk, dg here")
    p.add_argument("--doc", default=None, help="benchmarks page whose sections are rewritten")
    p.add_argument("--claims", action="store_true", help="only rebuild the claims section from the JSON files")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    if a.claims:
        rec_path = BENCH / "recognition.json"
        rec = json.loads(rec_path.read_text()) if rec_path.is_file() else None
        abl = {n: json.loads((BENCH / f"ablation_{n}.json").read_text()) for n in ABL_ORDER
               if (BENCH / f"ablation_{n}.json").is_file()}
        abl1 = {n: json.loads((BENCH / f"ablation_{n}_seed1.json").read_text()) for n in ABL_ORDER
                if (BENCH / f"ablation_{n}_seed1.json").is_file()}
        md = claims_md(rec, abl, abl1)
        if a.doc:
            if rec is not None:  # the recognition section too, from the JSON and the command it records
                write_section(Path(a.doc), "recognition", recognition_md(rec, rec.get("command", "")))
            write_section(Path(a.doc), "claims", md)
        print(md)
        return 0
    if not a.data:
        p.error("--data is required (unless --claims)")
    import torch

    from a4mer.bench.recognition import cross_group_knn, load_hdm05, load_labeled, motif_classes, run_recognition
    from a4mer.model import A4Mer
    torch.set_num_threads(a.threads)
    t0 = time.time()
    model = A4Mer.load(a.checkpoint)
    res, head = run_recognition(model, load_hdm05(a.data), return_head=True)
    if model.vocab is not None:  # claim 4 on longer clips: the Bandai test split (not seen in training)
        res["motif_classes_bandai_test"] = motif_classes(model, load_labeled(a.data, ("bandai1", "bandai2"), "test"))
    styles = load_labeled(a.data, ("bandai2",), "test", group="style")
    if styles:  # the same choices checked away from HDM05: leave one performance style out
        res["bandai_cross_style"] = cross_group_knn(model, styles)
    res["seconds"] = round(time.time() - t0, 1)
    res["trained_on"] = list(model.config.data.datasets)
    out = Path(a.out).resolve()
    res["json"] = out.relative_to(REPO).as_posix() if out.is_relative_to(REPO) else str(out)
    cmd = "python scripts/bench_recognition.py " + " ".join(sys.argv[1:] if argv is None else argv)
    res["command"] = cmd
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    if a.head_out:
        head.training.update({"data": "HDM05 actors " + ", ".join(res["protocol"]["train_actors"]),
                              "test_frame_accuracy": res["frame_head"]["frame_accuracy"]})
        head.save(a.head_out)
    md = recognition_md(res, cmd)
    if a.doc:
        write_section(Path(a.doc), "recognition", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
