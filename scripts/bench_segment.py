"""Benchmark of segmentation: speed (18,000-frame clip, in process and cold CLI) and segment quality
on held-out clips (atom-length histogram, boundaries vs random frames, token std, motif recurrence)
plus the HDM05 motif-sharing table (all actors; HDM05 is never used in training).

    nice -n 10 .venv/bin/python scripts/bench_segment.py --data PREPARED --out WORK/bench_segment

Writes ``bench_segment.json`` and ``bench_segment.md`` to --out and prints the markdown.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from a4mer.bench.report import write_section

from a4mer.prepare import manifest_rows
from a4mer.io import read_amass_npz, write_amass_npz
from a4mer.model import A4Mer
from a4mer.motion import concatenate
from a4mer.segment.atoms import boundary_score, length_histogram


def held_out(rows: list[dict], datasets: tuple[str, ...]) -> list[dict]:
    return sorted((r for r in rows if r["dataset"] in datasets and r.get("split") == "test"), key=lambda r: r["path"])


def speed(model: A4Mer, data: Path, rows: list[dict], out: Path, frames: int = 18000) -> dict:
    """Segment an ``frames``-frame 30 fps clip made of held-out clips one after another."""
    parts, n = [], 0
    for r in rows:
        m = read_amass_npz(data / r["path"]).resample(30.0)
        parts.append(m)
        n += m.num_frames
        if n >= frames:
            break
    while n < frames:  # too few held-out frames: repeat them
        parts += parts
        n *= 2
    clip = concatenate(parts).slice(0, frames)
    path = out / "long_clip.npz"
    write_amass_npz(clip, path)
    t = time.perf_counter()
    model.segment(clip)
    first = time.perf_counter() - t
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        rec = model.segment(clip)
        runs.append(time.perf_counter() - t)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "a4mer", "segment", str(path), "-o", str(out / "long_clip.segments.json")]
                       + (["--checkpoint", str(model.info["path"])] if model.info.get("path") else []),
                       capture_output=True, text=True)
    cold = time.perf_counter() - t
    if r.returncode:
        raise SystemExit(r.stderr)
    return {"frames": frames, "fps": 30.0, "atoms": len(rec["atoms"]), "motifs": len(rec["motifs"]),
            "in_process_first_s": round(first, 3), "in_process_median_s": round(float(np.median(runs)), 3),
            "cold_cli_s": round(cold, 2), "torch_threads": torch.get_num_threads()}


def quality(model: A4Mer, data: Path, rows: list[dict], rng: np.random.Generator) -> dict:
    lengths, ratios, tokens, per_motif, motif_s, clips_of = [], [], [], [], [], defaultdict(set)
    deterministic = True
    for i, r in enumerate(rows):
        m = _read(data, r)
        rec = model.segment(m)
        if i < 5:
            deterministic &= json.dumps(rec) == json.dumps(model.segment(m))
        b = np.array([a["start_frame"] for a in rec["atoms"]] + [m.num_frames])
        lengths += list(np.diff(b) / m.fps)
        score = boundary_score(m.resample(30.0).joint_positions()[:, :22])
        inner = np.round(b[1:-1] * 30.0 / m.fps).astype(int)
        if len(inner):
            ratios.append((score[inner].mean(), np.median(score[rng.integers(0, len(score), 50)])))
        tok, _ = model.encode(m)
        tokens.append(tok)
        for mo in rec["motifs"]:
            per_motif.append(len(mo["atoms"]))
            motif_s.append(mo["end_t"] - mo["start_t"])
            clips_of[mo["motif_id"]].add(r.get("path") or r.get("key"))
    L = np.array(lengths)
    tok = np.concatenate(tokens)
    std = tok.std(0)
    at_b = np.mean([a for a, _ in ratios])
    at_rand = np.median([b for _, b in ratios])
    multi = [k for k, v in clips_of.items() if model.vocab and k < len(model.vocab.patterns)]
    return {
        "clips": len(rows), "atoms": len(L), "atom_len_s": {"median": float(np.median(L)), "mean": float(L.mean()),
                                                           "p10": float(np.percentile(L, 10)), "p90": float(np.percentile(L, 90)),
                                                           "cv": float(L.std() / L.mean())},
        "atom_len_histogram": length_histogram(L),
        "extrapolation_error_m": {"at_boundaries_mean": float(at_b), "random_frames_median": float(at_rand),
                                  "ratio": float(at_b / max(at_rand, 1e-12))},
        "token_std": {"min": float(std.min()), "median": float(np.median(std)), "mean": float(std.mean()),
                      "max": float(std.max()), "per_dim": [round(float(s), 4) for s in std]},
        "motifs": {"count": len(per_motif), "atoms_per_motif_mean": float(np.mean(per_motif)),
                   "multi_atom_fraction": float(np.mean(np.array(per_motif) > 1)),
                   "motif_len_s_median": float(np.median(motif_s)),
                   "ids_used": len(clips_of), "multi_atom_ids_in_2plus_clips": sum(len(clips_of[k]) > 1 for k in multi)},
        "deterministic": bool(deterministic),
    }


def _read(data: Path, r: dict):
    """A clip of a manifest row, or (``r["source"]`` absolute, no ``path``) read from the raw file."""
    if "path" in r:
        return read_amass_npz(data / r["path"])
    from a4mer.api import load_motion
    return load_motion(r["source"], asf=r.get("asf"), source_fps=r.get("source_fps"), fps=30.0)


def hdm05_rows(data: Path, rows: list[dict], raw: Path | None) -> list[dict]:
    """HDM05 rows of the manifest, else rows built from the raw HDM05 labels.csv (all actors)."""
    hdm = sorted((r for r in rows if r["dataset"] == "hdm05"), key=lambda r: r["path"])
    if hdm or raw is None or not (raw / "labels.csv").is_file():
        return hdm
    import csv
    with open(raw / "labels.csv", newline="") as f:
        return [{"source": str(raw / c["file"]), "asf": str(raw / c["asf"]), "source_fps": float(c["fps"]),
                 "labels": {"action": c["class_name"], "actor": c["actor"]}, "dataset": "hdm05", "key": c["file"]}
                for c in csv.DictReader(f)]


def hdm05_sharing(model: A4Mer, data: Path, rows: list[dict]) -> dict:
    classes, actors = defaultdict(set), defaultdict(set)
    for r in rows:
        rec = model.segment(_read(data, r))
        for mo in rec["motifs"]:
            classes[mo["motif_id"]].add(r["labels"]["action"])
            actors[mo["motif_id"]].add(r["labels"]["actor"])
    npat = len(model.vocab.patterns)
    out = {}
    for name, ids in (("all motif ids", list(classes)), ("multi-atom motif ids", [k for k in classes if k < npat])):
        out[name] = {"ids": len(ids), ">1 class": sum(len(classes[k]) > 1 for k in ids),
                     ">1 actor": sum(len(actors[k]) > 1 for k in ids),
                     ">1 class and >1 actor": sum(len(classes[k]) > 1 and len(actors[k]) > 1 for k in ids)}
    top = sorted((k for k in classes if k < npat), key=lambda k: (-len(classes[k]), k))[:10]
    out["top_shared"] = [{"motif_id": k, "pattern": list(model.vocab.motif_pattern(k)), "classes": sorted(classes[k]),
                          "actors": sorted(actors[k])} for k in top]
    out["clips"] = len(rows)
    return out


def markdown(res: dict) -> str:
    s, q, h = res["speed"], res["quality"], res.get("hdm05")
    lines = ["# Segmentation benchmark", "", f"model `{res['model_hash']}`, vocabulary `{res['vocab_hash']}`", "",
             "## Speed", "", "| clip | atoms | motifs | in process (median of 3) | first call | cold CLI |", "|---|---|---|---|---|---|",
             f"| {s['frames']} frames @ 30 fps | {s['atoms']} | {s['motifs']} | {s['in_process_median_s']:.2f} s | "
             f"{s['in_process_first_s']:.2f} s | {s['cold_cli_s']:.2f} s |", "",
             f"## Held-out clips ({q['clips']} clips, {q['atoms']} atoms)", "",
             "| atom length | value |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} s |" if k != "cv" else f"| coefficient of variation | {v:.2f} |" for k, v in q["atom_len_s"].items()]
    lines += ["", "| atom length bin | atoms |", "|---|---|"] + [f"| {a} | {c} |" for a, c in q["atom_len_histogram"]]
    e = q["extrapolation_error_m"]
    lines += ["", f"Extrapolation error at boundaries {e['at_boundaries_mean'] * 100:.1f} cm vs {e['random_frames_median'] * 100:.1f} cm "
              f"at random frames (ratio {e['ratio']:.1f}).", "",
              f"Atom-token per-dimension std (held-out): min {q['token_std']['min']:.3f}, median {q['token_std']['median']:.3f}, "
              f"max {q['token_std']['max']:.3f}.", "",
              f"Motifs: {q['motifs']['count']}, {q['motifs']['atoms_per_motif_mean']:.2f} atoms per motif, "
              f"{q['motifs']['multi_atom_fraction'] * 100:.0f} % span several atoms, median {q['motifs']['motif_len_s_median']:.2f} s; "
              f"{q['motifs']['multi_atom_ids_in_2plus_clips']} multi-atom motif ids recur in 2+ clips. Deterministic: {q['deterministic']}."]
    if h:
        lines += ["", f"## HDM05 motif sharing ({h['clips']} clips, all actors)", "",
                  "| motif ids | count | in >1 action class | in >1 actor | both |", "|---|---|---|---|---|"]
        for k in ("all motif ids", "multi-atom motif ids"):
            r = h[k]
            lines.append(f"| {k} | {r['ids']} | {r['>1 class']} | {r['>1 actor']} | {r['>1 class and >1 actor']} |")
        lines += ["", "Most shared multi-atom motifs: " + "; ".join(
            f"id {t['motif_id']} (codes {t['pattern']}): {', '.join(t['classes'])}" for t in h["top_shared"][:5]) + "."]
    qh = res.get("quality_hdm05")
    if qh:
        a, e, m = qh["atom_len_s"], qh["extrapolation_error_m"], qh["motifs"]
        lines += ["", f"HDM05 atoms ({qh['atoms']}): median {a['median']:.2f} s, p10 {a['p10']:.2f} s, p90 {a['p90']:.2f} s; "
                  f"boundary/random extrapolation error ratio {e['ratio']:.1f}; token std min {qh['token_std']['min']:.3f}, "
                  f"median {qh['token_std']['median']:.3f}; {m['atoms_per_motif_mean']:.2f} atoms per motif."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="prepared dataset (manifest.jsonl + clips/)")
    p.add_argument("--out", required=True)
    p.add_argument("--checkpoint", help="model bundle (default: the shipped model)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-clips", type=int, default=0, help="limit held-out clips (0 = all)")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--max-hdm05", type=int, default=0, help="limit HDM05 clips (0 = all)")
    p.add_argument("--write-docs", action="store_true", help="update docs/bench/segment.json and docs/benchmarks.md")
    p.add_argument("--hdm05-raw", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hdm05"),
                   help="raw HDM05 folder used when the manifest has no hdm05 rows")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    data, out = Path(a.data), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model = A4Mer.load(a.checkpoint)
    if a.checkpoint:
        model.info["path"] = a.checkpoint
    rows = manifest_rows(data)
    test = held_out(rows, ("bandai1", "bandai2", "cmu-dance"))
    if a.max_clips:
        test = test[:: max(1, len(test) // a.max_clips)][: a.max_clips]
    res = {"model_hash": model.model_hash, "vocab_hash": model.vocab.hash}
    res["speed"] = {} if a.skip_speed else speed(model, data, held_out(rows, ("cmu-dance", "bandai2", "bandai1")), out)
    res["quality"] = quality(model, data, test, np.random.default_rng(0))
    hdm = hdm05_rows(data, rows, Path(a.hdm05_raw) if a.hdm05_raw else None)
    if a.max_hdm05:
        hdm = hdm[:: max(1, len(hdm) // a.max_hdm05)][: a.max_hdm05]
    if hdm:
        res["hdm05"] = hdm05_sharing(model, data, hdm)
        res["quality_hdm05"] = quality(model, data, hdm, np.random.default_rng(1))
    (out / "bench_segment.json").write_text(json.dumps(res, indent=1))
    if a.skip_speed:
        res["speed"] = {"frames": 0, "atoms": 0, "motifs": 0, "in_process_median_s": 0, "in_process_first_s": 0, "cold_cli_s": 0}
    md = markdown(res)
    (out / "bench_segment.md").write_text(md)
    print(md)
    if a.write_docs:
        write_docs(Path(__file__).resolve().parents[1], res, md, " ".join(["python scripts/bench_segment.py"] + (argv or sys.argv[1:])))
    return 0


def write_docs(repo: Path, res: dict, md: str, command: str) -> None:
    """JSON to docs/bench/segment.json; the markdown between the ``model`` markers of docs/benchmarks.md."""
    (repo / "docs" / "bench").mkdir(parents=True, exist_ok=True)
    (repo / "docs" / "bench" / "segment.json").write_text(json.dumps(res, indent=1))
    body = md.replace("\n## ", "\n### ").replace("# Segmentation benchmark", "## Model: segmentation (atoms, motifs, speed)", 1)
    body += f"\nCommand: `{command}` (JSON: `docs/bench/segment.json`).\n"
    write_section(repo / "docs" / "benchmarks.md", "model", body)


if __name__ == "__main__":
    sys.exit(main())
