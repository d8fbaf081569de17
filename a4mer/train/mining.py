"""Motif mining: encode the clips, k-means + patterns + cover, motif groups.

One code path for the run's own mining (:func:`mine_vocabulary`, mid-run and at the end of ``a4mer
train``) and ``a4mer motifs build`` (:func:`mine_items`): the same clips, the same model and the same
seed give the same vocabulary, bit for bit (the clips' atoms are encoded the same way, in batches of
windows of the clips in their order; k-means draws from :func:`mining_rng` of the seed). What differs
by default is which clips: a run mines the un-augmented clips of its ``data.datasets`` and
``data.split``, ``motifs build`` every clip it is given (``--split`` narrows a prepared dataset to one
split).
"""
from __future__ import annotations

import re

import numpy as np
import torch

from ..data.dataset import ClipItem, make_item
from ..data.windows import collate, plan_windows
from ..jepa.hierarchy import A4MerNet, encoder_hash
from ..motifs.config import MotifConfig
from ..motifs.vocab import MotifVocabulary, build_vocabulary
from .config import TrainConfig

#: the stream of a run's seed that the motif k-means draws from (``np.random.default_rng([seed, 13])``)
MINING_STREAM = 13

_VARIANT = re.compile(r"(.*)~(m|s\d+)")  # the name suffixes of a clip's augmented variants (data.dataset.clip_items)


def mining_rng(seed: int) -> np.random.Generator:
    """The generator the motif k-means of a run with ``seed`` draws from."""
    return np.random.default_rng([int(seed), MINING_STREAM])


def original_items(items: list[ClipItem]) -> list[ClipItem]:
    """The un-augmented clips among ``items``: all but those named as a variant (``~m``, ``~s0`` ...) of
    another item. A clip whose own name holds a ``~`` (``take~2.npz``) is an original."""
    names = {it.name for it in items}
    out = []
    for it in items:
        m = _VARIANT.fullmatch(it.name)
        if m is None or m.group(1) not in names:
            out.append(it)
    return out or list(items)


def clip_item(name: str, motion, config: TrainConfig) -> ClipItem:
    """The training item of one clip (its model-rate arrays and atom bounds), as a run makes it."""
    from .loop import make_segmenter
    return make_item(name, motion.body(), make_segmenter(config), config.data.fps)


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


def mine_items(net: A4MerNet, items: list[ClipItem], config: TrainConfig, motifs: MotifConfig | None = None,
               k: int | None = None, seed: int | None = None) -> MotifVocabulary:
    """The vocabulary of exactly ``items`` (every one of them, in their order).

    motifs: mining settings (default ``config.model.motifs``); k: codes (default :func:`effective_k` of
    ``motifs.k``; capped at the atom count); seed: of :func:`mining_rng` (default ``config.seed``).
    Example times are the items' atom bounds in seconds (model frames / ``config.data.fps``)."""
    mc = config.model.motifs if motifs is None else motifs
    toks = encode_items(net, items, config)
    spans = [np.stack([it.bounds[:-1], it.bounds[1:]], 1) / config.data.fps for it in items]
    n = sum(len(t) for t in toks)
    k = effective_k(n, mc.k) if k is None else min(int(k), n)
    return build_vocabulary(toks, spans, [it.name for it in items], mc, mining_rng(config.seed if seed is None else seed),
                            encoder_hash(net), k=k)


def mine_vocabulary(net: A4MerNet, items: list[ClipItem], config: TrainConfig) -> MotifVocabulary:
    """A run's vocabulary: mined from its original (un-augmented) clips (:func:`original_items`)."""
    return mine_items(net, original_items(items), config)


def assign_groups(net: A4MerNet, items: list[ClipItem], vocab: MotifVocabulary, config: TrainConfig) -> None:
    """Set ``item.groups`` (S,) = index of the motif (cover piece) each atom belongs to."""
    toks = encode_items(net, items, config)
    for it, t in zip(items, toks):
        codes, probs = vocab.assign(t)
        g = np.zeros(len(t), dtype=np.int64)
        for m, mo in enumerate(vocab.motifs(codes, probs)):
            g[mo["atoms"]] = m
        it.groups = g
