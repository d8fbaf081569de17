"""Build ``a4mer/assets/motif_prototypes.safetensors``: one pose prototype per motif id of a bundle's
vocabulary (see :mod:`a4mer.heads.motif_conditioned`). Run after the default bundle changes:

    nice -n 5 .venv/bin/python scripts/build_motif_prototypes.py [--bundle B] --data PREPARED

Candidates: the training clips named by the vocabulary's example occurrences (plus, for single-atom
motifs, the same clips) are encoded with the bundle and covered by its own motif segmentation; every
piece labelled with motif id M is a candidate occurrence of M (fallback when the segmentation never
labels M there: the pattern's plain code n-gram occurrences). The prototype is the candidate whose
atom tokens are nearest (mean squared distance, atom by atom) the mean over the candidates; among the
``--near`` nearest, the one adding the fewest new frames to the pool is taken (occurrences in the same
clip share stored rows), and of those, trying the ones adding the fewest frames first (at most
``--tries``), the first that the model, segmenting the cut-out occurrence alone, labels as motif M
(a motif piece with id M covering at least half of it) is preferred. Rows are stored at ``--fps`` (15 by
default, to keep the file <= 3 MB), in the joint frames calibrated on the clip (``twist_offsets``), as the
conditioner expects whichever ``--twist`` the data were prepared with.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default=None, help="A4Mer bundle (default: the packaged one)")
    p.add_argument("--vocab", default=None, help="motif vocabulary of the bundle (e.g. from a4mer motifs build; "
                   "default: the bundle's own)")
    p.add_argument("--data", required=True, help="prepared dataset (a4mer data prepare; manifest.jsonl: its train "
                   "clips are used) or the folder of clips the vocabulary was mined on")
    p.add_argument("--out", default=None, help="prototypes file to write (default, only for the packaged bundle and "
                   "vocabulary: a4mer/assets/motif_prototypes.safetensors)")
    p.add_argument("--fps", type=float, default=15.0, help="frame rate of the stored rows (divides 30)")
    p.add_argument("--near", type=float, default=0.75,
                   help="pool-sharing choice among this fraction of the candidates nearest the mean (at least 3)")
    p.add_argument("--tries", type=int, default=0,
                   help="candidates (fewest new frames first) segmented alone to find one recognised as the motif")
    p.add_argument("--max-clips", type=int, default=0, help="encode at most this many clips (0 = all needed)")
    args = p.parse_args(argv)
    if args.out is None:
        if args.bundle or args.vocab:
            p.error("--out is needed with --bundle/--vocab (the default would replace the shipped prototypes)")
        from a4mer.shipped import MOTIF_PROTOTYPES
        args.out = str(MOTIF_PROTOTYPES)

    import torch
    torch.set_num_threads(1)
    from a4mer.heads.motif_conditioned import MotifPrototypes
    from a4mer.api import load_motion
    from a4mer.retarget.solve import turn_twist, twist_offsets
    from a4mer.model import A4Mer
    from a4mer.motifs.patterns import occurrences

    t0 = time.time()
    model = A4Mer.load(args.bundle, vocab=args.vocab)
    vocab = model.vocab
    if vocab is None:
        raise SystemExit("the bundle has no motif vocabulary")
    data = Path(args.data)
    listed = data / "manifest.jsonl"
    manifest = [json.loads(line) for line in listed.read_text().splitlines() if line.strip()] if listed.is_file() else []
    split = {r["path"]: r["split"] for r in manifest}
    # example clips are named by manifest path (the shipped vocabulary) or by the path a4mer motifs build read
    clips = sorted({e["clip"] for ex in vocab.examples for e in ex if split.get(e["clip"], "train") == "train"})
    if args.max_clips:
        clips = clips[:args.max_clips]
    M = vocab.num_motifs
    step = int(round(30.0 / args.fps))
    # ---- encode and cover -----------------------------------------------------------------------
    enc = []  # per clip: (motion, tokens, bounds (S+1,), codes)
    cand = defaultdict(list)  # motif id -> [(clip idx, first atom, stop atom)]
    for ci, c in enumerate(clips):
        path = next((q for q in (data / c, Path(c)) if q.is_file()), None)
        if path is None:
            raise SystemExit(f"{c}: an example clip of the vocabulary, not found under --data {data} (give the "
                             "folder the vocabulary was built from)")
        m = load_motion(path, fps=30.0).body()
        # rows in the joint frames calibrated on the clip, which the conditioner turns into its caller's
        # (a clip prepared with the source's twist would otherwise get the caller's twist twice)
        m = m.with_(rotations=turn_twist(m.rotations, twist_offsets(m)))
        tokens, spans = model.encode(m)
        codes, probs = vocab.assign(tokens)
        bounds = np.concatenate([spans[:, 0], spans[-1:, 1]])
        enc.append((m, tokens, bounds, codes))
        for piece in vocab.motifs(codes, probs):
            cand[piece["motif_id"]].append((ci, piece["atoms"][0], piece["atoms"][-1] + 1))
        if ci % 200 == 0:
            print(f"encoded {ci + 1}/{len(clips)} clips ({time.time() - t0:.0f} s)", file=sys.stderr)
    pats = {vocab.motif_pattern(i): i for i in range(M)}
    occ = occurrences([list(map(int, e[3])) for e in enc], set(pats), vocab.max_len)
    fallback = 0
    for pat, i in pats.items():  # every code n-gram occurrence is a candidate (also inside longer motifs)
        labelled = set(cand.get(i, []))
        if not labelled:
            fallback += 1
        cand[i] = sorted(labelled | {(ci, s, s + len(pat)) for ci, s in occ.get(pat, [])})
    # ---- choose representatives (longest patterns first, so shorter ones can reuse their rows) ---
    recognised = 0
    covered = defaultdict(set)  # clip idx -> stored 30 fps frame indices (multiples of step)
    choice = {}
    order = sorted(range(M), key=lambda i: -len(vocab.motif_pattern(i)))
    for i in order:
        cs = cand.get(i, [])
        if not cs:
            continue
        X = np.stack([np.concatenate([enc[ci][1][s:e].ravel()]) for ci, s, e in cs])
        d = ((X - X.mean(0)) ** 2).mean(1)
        best = np.argsort(d)[:max(3, int(np.ceil(args.near * len(d))))]

        def frames(k):
            ci, s, e = cs[k]
            a, last = int(enc[ci][2][s]), int(enc[ci][2][e]) - 1
            stop = last + (-last) % step  # stored frames a0, a0 + step, ... reaching the last frame
            if stop > enc[ci][0].num_frames - 1:
                stop -= step
            return ci, a - a % step, stop

        def new_frames(k):
            ci, a0, stop = frames(k)
            return len(set(range(a0, stop + 1, step)) - covered[ci])

        tried = sorted(best, key=lambda k: (new_frames(k), d[k]))
        k = tried[0]
        for kk in tried[:args.tries]:  # first one that the model, segmenting it alone, calls motif i
            ci, a0, stop = frames(kk)
            seg = model.segment(enc[ci][0].slice(a0, stop + 1))
            n_fr = stop + 1 - a0
            if any(s["motif_id"] == i and min(s["end_frame"], n_fr) - max(s["start_frame"], 0) >= 0.5 * n_fr
                   for s in seg["motifs"]):
                k = kk
                recognised += 1
                break
        ci, a0, stop = frames(k)
        covered[ci].update(range(a0, stop + 1, step))
        choice[i] = (ci, a0, stop)
    # ---- pool rows: contiguous runs of stored frames per clip ------------------------------------
    rows_t, rows_q, where = [], [], {}
    n = 0
    for ci in sorted(covered):
        fr = np.array(sorted(covered[ci]), dtype=np.int64)
        runs = np.split(fr, np.flatnonzero(np.diff(fr) != step) + 1)
        m = enc[ci][0]
        for r in runs:
            rows_t.append(m.root_translation[r])
            rows_q.append(m.rotations[r, :22])
            for j, f in enumerate(r):
                where[(ci, int(f))] = n + j
            n += len(r)
    index = np.zeros((M, 2), np.int64)
    sources = [None] * M
    for i, (ci, a0, stop) in choice.items():
        s_row = where[(ci, a0)]
        e_row = where[(ci, stop)] + 1
        index[i] = (s_row, e_row)
        sources[i] = {"clip": clips[ci], "start_t": round(a0 / 30.0, 4), "end_t": round(stop / 30.0, 4),
                      "candidates": len(cand[i])}
    if args.vocab is None and args.bundle is None:  # excerpts of the same data as the default model
        from train_default import ATTRIBUTIONS, LICENSE
        license, attributions = LICENSE.replace("model weights", "motion excerpts"), tuple(ATTRIBUTIONS)
    else:  # excerpts of the clips the given vocabulary was mined on: their terms, which only their owner knows
        license, attributions = f"motion excerpts of the clips in {data}: under those clips' terms", ()
    protos = MotifPrototypes(np.concatenate(rows_q).astype(np.float32), np.concatenate(rows_t).astype(np.float32),
                             index, 30.0 / step, model.model_hash, vocab.hash, tuple(sources),
                             license=license, attributions=attributions)
    out = protos.save(args.out)
    have = int(sum(protos.has(i) for i in range(M)))
    secs = (index[:, 1] - index[:, 0]).sum() / protos.fps
    print(f"wrote {out}: {have}/{M} motifs with a prototype ({fallback} of the {M} are never the segmentation's "
          f"label in the encoded clips: theirs, where they have one, is an occurrence of their code n-gram; "
          f"{recognised} recognised as themselves when segmented alone), "
          f"{n} rows at {protos.fps:g} fps ({n / protos.fps:.0f} s stored for {secs:.0f} s of prototypes), "
          f"{out.stat().st_size / 1e6:.2f} MB, model {model.model_hash}, vocabulary {vocab.hash}, "
          f"{len(clips)} clips encoded in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
