"""Motif mining inside training: encode the clips, k-means + patterns + cover, motif groups."""
from __future__ import annotations

import numpy as np
import torch

from ..data.dataset import ClipItem
from ..data.windows import collate, plan_windows
from ..jepa.hierarchy import A4MerNet, encoder_hash
from ..motifs.vocab import MotifVocabulary, build_vocabulary
from .config import TrainConfig


@torch.no_grad()
def encode_items(net: A4MerNet, items: list[ClipItem], config: TrainConfig, batch_size: int = 128) -> list[np.ndarray]:
    """Atom tokens (S_i, D) of every item (target encoder, eval mode); windows of many items are
    batched together."""
    was = net.training
    net.eval()
    W, Smax = config.data.window_frames, config.data.max_segments
    jobs = [(n, i, j) for n, it in enumerate(items) for i, j in plan_windows(it.bounds, W, Smax)]
    parts: list[list[np.ndarray]] = [[] for _ in items]
    device = next(net.parameters()).device
    for k in range(0, len(jobs), batch_size):
        chunk = jobs[k:k + batch_size]
        batch = collate([items[n].arrays for n, _, _ in chunk], [items[n].bounds for n, _, _ in chunk],
                        [(i, j) for _, i, j in chunk], config.data.fps).to(device)
        tok = net.encode(batch)["atom_tokens"].float().cpu().numpy()
        for b, (n, i, j) in enumerate(chunk):
            parts[n].append(tok[b, :j - i])
    net.train(was)
    return [np.concatenate(p) for p in parts]


def effective_k(num_atoms: int, k: int) -> int:
    """Codes used: ``k`` but at most one per 10 atoms (a code needs members to recur)."""
    return int(max(2, min(k, num_atoms // 10)))


def mine_vocabulary(net: A4MerNet, items: list[ClipItem], config: TrainConfig) -> MotifVocabulary:
    """Vocabulary from the original (un-augmented) clips: names without a ``~`` variant suffix."""
    base = [it for it in items if "~" not in it.name] or items
    toks = encode_items(net, base, config)
    spans = [np.stack([it.bounds[:-1], it.bounds[1:]], 1) / config.data.fps for it in base]
    n = sum(len(t) for t in toks)
    mc = config.model.motifs
    return build_vocabulary(toks, spans, [it.name for it in base], mc, np.random.default_rng([config.seed, 13]),
                            encoder_hash(net), k=effective_k(n, mc.k))


def assign_groups(net: A4MerNet, items: list[ClipItem], vocab: MotifVocabulary, config: TrainConfig) -> None:
    """Set ``item.groups`` (S,) = index of the motif (cover piece) each atom belongs to."""
    toks = encode_items(net, items, config)
    for it, t in zip(items, toks):
        codes, probs = vocab.assign(t)
        g = np.zeros(len(t), dtype=np.int64)
        for m, mo in enumerate(vocab.motifs(codes, probs)):
            g[mo["atoms"]] = m
        it.groups = g
