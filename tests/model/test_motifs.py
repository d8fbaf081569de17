"""Motif mining: k-means, contiguous frequent patterns, minimum cover, the vocabulary file."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from a4mer.errors import A4merError
from a4mer.motifs.config import MotifConfig
from a4mer.motifs.cover import min_cover
from a4mer.motifs.kmeans import kmeans, soft_assign
from a4mer.motifs.patterns import mine_patterns
from a4mer.motifs.vocab import MotifVocabulary, build_vocabulary


def test_kmeans_finds_separated_clusters_deterministically():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10]], float)
    x = np.concatenate([c + rng.normal(size=(40, 2)) * 0.3 for c in centers])
    c1, l1 = kmeans(x, 3, np.random.default_rng(1))
    c2, l2 = kmeans(x, 3, np.random.default_rng(1))
    assert np.array_equal(c1, c2) and np.array_equal(l1, l2)
    assert len(set(l1[:40])) == len(set(l1[40:80])) == len(set(l1[80:])) == 1 and len(set(l1)) == 3
    codes, p = soft_assign(x, c1, 1.0)
    assert np.array_equal(codes, l1) and np.all((p > 0.5) & (p <= 1.0))


def test_support_counts_clips_not_occurrences():
    seqs = [[1, 2, 1, 2, 1, 2], [1, 2, 3], [3, 3, 3]]
    pats = mine_patterns(seqs, min_support=2, min_len=2, max_len=3)
    assert pats == {(1, 2): 2}
    assert (2, 1) not in pats  # occurs twice, but in one clip only


def _brute_min_pieces(c, pats, max_len):
    n, best = len(c), None
    for cuts in itertools.product([0, 1], repeat=n - 1):
        b = [0] + [i + 1 for i, x in enumerate(cuts) if x] + [n]
        if all(e - s == 1 or (e - s <= max_len and tuple(c[s:e]) in pats) for s, e in zip(b[:-1], b[1:])):
            best = len(b) - 1 if best is None else min(best, len(b) - 1)
    return best


def test_cover_is_minimal_and_tiles():
    rng = np.random.default_rng(2)
    seqs = [list(rng.integers(0, 3, size=rng.integers(2, 12))) for _ in range(60)]
    pats = mine_patterns(seqs, 6, 2, 4)
    assert pats
    for s in seqs[:30]:
        pieces = min_cover(s, pats, 4)
        assert pieces[0][0] == 0 and pieces[-1][1] == len(s)
        assert all(a[1] == b[0] for a, b in zip(pieces[:-1], pieces[1:]))
        assert len(pieces) == _brute_min_pieces(s, pats, 4)


def _vocab(seed=0, encoder="enc-a"):
    rng = np.random.default_rng(seed)
    cent = rng.normal(size=(4, 8)) * 5
    seqs = [[0, 1, 2, 3, 0, 1], [0, 1, 3], [2, 3, 0, 1], [1, 1, 2, 3]]
    toks = [cent[s] + rng.normal(size=(len(s), 8)) * 0.1 for s in seqs]
    spans = [np.stack([np.arange(len(s)), np.arange(len(s)) + 1], 1) * 0.5 for s in seqs]
    cfg = MotifConfig(k=4, min_support=2, max_len=4)
    return build_vocabulary(toks, spans, [f"clip{i}" for i in range(4)], cfg, np.random.default_rng(0), encoder), toks


def test_vocabulary_round_trip_and_assignment(tmp_path):
    v, toks = _vocab()
    assert len(v.patterns) >= 2 and all(s >= 2 for s in v.support)
    assert all(len(p) >= 2 for p in v.patterns) and all(v.examples)
    path = v.save(tmp_path / "v.safetensors")
    w = MotifVocabulary.load(path, encoder_hash="enc-a")
    assert w.hash == v.hash and w.patterns == v.patterns and np.array_equal(w.centroids, v.centroids)
    codes, probs = w.assign(toks[0])
    motifs = w.motifs(codes, probs)
    assert [a for m in motifs for a in m["atoms"]] == list(range(len(toks[0])))
    assert all(0 < m["confidence"] <= 1 for m in motifs)
    # a longer pattern was used (fewer motifs than atoms) and ids resolve to the codes they cover
    assert len(motifs) < len(toks[0])
    for m in motifs:
        assert list(w.motif_pattern(m["motif_id"])) == [int(codes[a]) for a in m["atoms"]]


def test_noisy_atoms_get_lower_confidence():
    v, toks = _vocab()
    clean = v.motifs(*v.assign(toks[0]))
    # atoms moved half-way towards another code's centroid: ambiguous assignments
    noisy_t = 0.55 * toks[0] + 0.45 * v.centroids[(v.assign(toks[0])[0] + 1) % v.k]
    noisy = v.motifs(*v.assign(noisy_t))
    assert np.mean([m["confidence"] for m in noisy]) < np.mean([m["confidence"] for m in clean])


def test_vocabulary_refuses_other_encoder_and_corruption(tmp_path):
    v, _ = _vocab()
    path = v.save(tmp_path / "v.safetensors")
    with pytest.raises(A4merError, match="encoder"):
        MotifVocabulary.load(path, encoder_hash="enc-b")
    bad = tmp_path / "bad.safetensors"
    data = bytearray(path.read_bytes())
    bad.write_bytes(bytes(data[:40]))
    with pytest.raises(A4merError):
        MotifVocabulary.load(bad)
    # centroids altered behind the recorded hash
    from safetensors.numpy import save_file
    from safetensors import safe_open
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata()
        cent = f.get_tensor("centroids")
    save_file({"centroids": cent + 1}, str(tmp_path / "t.safetensors"), metadata=meta)
    with pytest.raises(A4merError, match="corrupt"):
        MotifVocabulary.load(tmp_path / "t.safetensors")


def test_cover_ties_keep_the_earlier_piece_whole():
    # equal pieces and support: the pattern starting first is kept whole, single atoms go last (the
    # docs said "earlier cuts", which reads as the opposite)
    assert min_cover([1, 2, 3], {(1, 2): 5, (2, 3): 5}, 2) == [(0, 2), (2, 3)]
    assert min_cover([1, 1, 1], {(1, 1): 5}, 2) == [(0, 2), (2, 3)]
    assert min_cover([1, 2, 3], {(1, 2): 5, (2, 3): 6}, 2) == [(0, 1), (1, 3)]  # larger support first
    assert min_cover([], {(1, 2): 5}, 2) == [] and min_cover([4], {(1, 2): 5}, 2) == [(0, 1)]  # shorter than any pattern


def test_no_atoms_is_a_clear_error():
    with pytest.raises(A4merError, match="too few atoms"):  # was numpy's "need at least one array to concatenate"
        build_vocabulary([np.zeros((0, 8))], [np.zeros((0, 2))], ["a"], MotifConfig(), np.random.default_rng(0), "e")


@pytest.mark.parametrize("change, named", [
    (lambda d: d.update(support=d["support"][:-1]), "support values"),  # silently dropped the last pattern
    (lambda d: d.update(examples=d["examples"][:-1]), "example lists"),
    (lambda d: d.update(scale=float("nan")), "scale nan"),  # every confidence NaN
    (lambda d: d.update(scale=0.0), "scale 0.0"),
    (lambda d: d.update(support=[0] * len(d["support"])), "support 0"),
])
def test_vocabulary_parts_that_do_not_fit_together_are_refused(tmp_path, change, named):
    """The hash covers the centroids and patterns only; the rest of a vocabulary file was taken as it came."""
    import json
    v, _ = _vocab()
    d = json.loads(json.dumps(v.to_json()))
    change(d)
    with pytest.raises(A4merError, match=f"v.safetensors: malformed motif vocabulary.*{named}"):
        MotifVocabulary.from_json(d, v.centroids, "v.safetensors")


def test_vocabulary_patterns_must_be_codes_of_its_centroids():
    v, _ = _vocab()
    for bad in ((0, 9), (2,)):  # a code past the centroids; a single code (those are motif ids past the patterns)
        w = MotifVocabulary(v.centroids, v.scale, v.patterns + (bad,), v.support + (2,), v.examples + ((),), "enc-a",
                            v.config)
        with pytest.raises(A4merError, match=rf"malformed motif vocabulary \(pattern {list(bad)}".replace("[", r"\[")
                           .replace("]", r"\]")):
            MotifVocabulary.from_json(w.to_json(), v.centroids)
