"""The motif vocabulary: k-means centroids, frequent patterns with support and example occurrences,
bound to the encoder that produced the tokens (its hash). Saved as one safetensors file (centroids)
whose metadata holds the rest as JSON; numpy only (readable without torch)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import A4merError
from ..io.outputs import write_safetensors_atomic
from .config import MotifConfig
from .cover import min_cover
from .kmeans import kmeans, soft_assign, sq_dists
from .patterns import mine_patterns, occurrences
from ..geometry import reproducible as rp

VOCAB_SCHEMA = 1


@dataclass(frozen=True)
class MotifVocabulary:
    """centroids (K, D) float32; scale: soft-assignment temperature (squared distance); patterns:
    code tuples (length >= 2) in id order; support: clips containing each pattern; examples: per
    pattern up to ``max_examples`` occurrences ``{"clip", "start_t", "end_t"}``; encoder_hash: hash
    of the encoder whose tokens were clustered. Motif id ``i < len(patterns)`` is ``patterns[i]``;
    id ``len(patterns) + c`` is the single atom of code ``c``."""

    centroids: np.ndarray
    scale: float
    patterns: tuple[tuple[int, ...], ...]
    support: tuple[int, ...]
    examples: tuple[tuple[dict[str, Any], ...], ...]
    encoder_hash: str
    config: MotifConfig = field(default_factory=MotifConfig)

    def __repr__(self) -> str:  # the fields hold thousands of patterns and examples
        return (f"MotifVocabulary(k={self.k}, patterns={len(self.patterns)}, motifs={self.num_motifs}, "
                f"hash={self.hash}, encoder_hash={self.encoder_hash})")

    @property
    def k(self) -> int:
        return len(self.centroids)

    @property
    def num_motifs(self) -> int:
        """Motif ids: every pattern, then every single code."""
        return len(self.patterns) + self.k

    @property
    def max_len(self) -> int:
        return max([len(p) for p in self.patterns] + [1])

    @property
    def hash(self) -> str:
        """sha256 (16 hex) of the centroids, patterns and encoder hash."""
        h = hashlib.sha256(np.ascontiguousarray(self.centroids, dtype=np.float32).tobytes())
        h.update(json.dumps([list(p) for p in self.patterns]).encode())
        h.update(self.encoder_hash.encode())
        return h.hexdigest()[:16]

    def pattern_ids(self) -> dict[tuple[int, ...], int]:
        return {p: i for i, p in enumerate(self.patterns)}

    def motif_pattern(self, motif_id: int) -> tuple[int, ...]:
        n = len(self.patterns)
        return self.patterns[motif_id] if motif_id < n else (motif_id - n,)

    # --- assignment ---------------------------------------------------------------------------
    def assign(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Atom tokens (S, D) -> codes (S,) int64 and assignment probabilities (S,) in (0, 1]."""
        tokens = np.asarray(tokens, dtype=np.float64)
        if tokens.ndim != 2 or tokens.shape[1] != self.centroids.shape[1]:
            raise A4merError(f"tokens of shape {tokens.shape} do not match the vocabulary width {self.centroids.shape[1]}")
        if len(tokens) == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        return soft_assign(tokens, self.centroids, self.scale)

    def motifs(self, codes: np.ndarray, probs: np.ndarray) -> list[dict[str, Any]]:
        """Minimum cover of a clip's code sequence. Returns per motif ``{"atoms": [i..], "motif_id",
        "confidence"}`` where confidence = geometric mean of its atoms' assignment probabilities."""
        ids = self.pattern_ids()
        sup = dict(zip(self.patterns, self.support))
        out = []
        for s, e in min_cover(codes, sup, self.max_len):
            p = tuple(int(c) for c in codes[s:e])
            mid = ids[p] if len(p) > 1 else len(self.patterns) + p[0]
            conf = float(rp.exp(np.mean(rp.log(np.clip(probs[s:e], 1e-12, 1.0)))))
            out.append({"atoms": list(range(s, e)), "motif_id": int(mid), "confidence": conf})
        return out

    # --- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        from safetensors.numpy import save_file

        meta = {"format": "a4mer-motif-vocabulary", "schema_version": str(VOCAB_SCHEMA),
                "vocab": json.dumps(self.to_json())}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_safetensors_atomic(path, lambda tmp: save_file(
            {"centroids": np.ascontiguousarray(self.centroids, dtype=np.float32)}, tmp, metadata=meta))

    def to_json(self) -> dict[str, Any]:
        """Everything but the centroids, JSON-ready."""
        from dataclasses import asdict
        return {"scale": self.scale, "patterns": [list(p) for p in self.patterns], "support": list(self.support),
                "examples": [list(e) for e in self.examples], "encoder_hash": self.encoder_hash,
                "config": asdict(self.config), "vocab_hash": self.hash}

    @classmethod
    def from_json(cls, d: dict[str, Any], centroids: np.ndarray, where: str = "vocabulary") -> "MotifVocabulary":
        """The vocabulary of :meth:`to_json`'s ``d`` and its ``centroids``; :class:`A4merError` naming
        ``where`` when it is malformed, does not hold together (a support or example list per pattern,
        pattern codes among the centroids, a positive finite scale), holds NaN/inf or fails its hash."""
        try:
            v = cls(np.asarray(centroids, dtype=np.float32), float(d["scale"]),
                    tuple(tuple(int(c) for c in p) for p in d["patterns"]), tuple(int(s) for s in d["support"]),
                    tuple(tuple(e) for e in d["examples"]), str(d["encoder_hash"]), MotifConfig(**d["config"]))
        except (KeyError, TypeError, ValueError) as e:
            raise A4merError(f"{where}: malformed motif vocabulary ({e})") from None
        v.check(where)
        if "vocab_hash" in d and d["vocab_hash"] != v.hash:
            raise A4merError(f"{where}: motif vocabulary is corrupt (hash {v.hash} != recorded {d['vocab_hash']})")
        return v

    def check(self, where: str = "vocabulary") -> None:
        """:class:`A4merError` naming ``where`` when the vocabulary holds NaN/inf centroids (every atom would
        get code 0) or its parts do not fit together (:meth:`_check_structure`): what reading one checks,
        for one made in memory too."""
        from ..artefact import check_finite

        check_finite(where, {"centroids": self.centroids}, "motif vocabulary")
        try:
            self._check_structure()
        except (TypeError, ValueError) as e:
            raise A4merError(f"{where}: malformed motif vocabulary ({e})") from None

    def _check_structure(self) -> None:
        """ValueError where the parts do not fit together (the hash covers centroids and patterns only:
        a support list one short silently dropped the last pattern from every cover, a NaN scale made every
        confidence NaN)."""
        if self.centroids.ndim != 2 or len(self.centroids) < 1:
            raise ValueError(f"centroids of shape {self.centroids.shape}")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale {self.scale} (a positive number)")
        if not len(self.support) == len(self.examples) == len(self.patterns):
            raise ValueError(f"{len(self.patterns)} patterns with {len(self.support)} support values and "
                             f"{len(self.examples)} example lists")
        for p, s in zip(self.patterns, self.support):
            if len(p) < 2 or not all(0 <= c < self.k for c in p) or s < 1:
                raise ValueError(f"pattern {list(p)} (support {s}): patterns are 2 or more codes of 0..{self.k - 1} "
                                 "found in at least one clip")
        if len(set(self.patterns)) != len(self.patterns):
            raise ValueError("a pattern is listed twice")

    @classmethod
    def load(cls, path: str | Path, encoder_hash: str | None = None) -> "MotifVocabulary":
        """Read a vocabulary; with ``encoder_hash``, refuse one built for another encoder."""
        from ..artefact import built_from, read_artefact

        path = Path(path)
        meta, arrays = read_artefact(path, "a4mer-motif-vocabulary", "motif vocabulary", keys=("centroids",))
        with built_from(path, "motif vocabulary"):
            v = cls.from_json(json.loads(meta["vocab"]), arrays["centroids"], str(path))
        v.check_encoder(encoder_hash, str(path))
        return v

    def check_encoder(self, encoder_hash: str | None, where: str = "vocabulary") -> None:
        if encoder_hash is not None and encoder_hash != self.encoder_hash:
            raise A4merError(f"{where}: this motif vocabulary was built with encoder {self.encoder_hash}, "
                             f"but the loaded model's encoder is {encoder_hash}; rebuild it with "
                             "`a4mer motifs build` for this model")


def build_vocabulary(token_seqs: list[np.ndarray], spans_s: list[np.ndarray], names: list[str],
                     config: MotifConfig, rng: np.random.Generator, encoder_hash: str,
                     k: int | None = None) -> MotifVocabulary:
    """Mine a vocabulary from per-clip atom tokens.

    token_seqs[i]: (S_i, D) atom tokens of clip i; spans_s[i]: (S_i, 2) atom [start, end) seconds;
    names[i]: clip name (for examples); k: codes (default ``config.k``, capped by the atom count).
    """
    nonempty = [np.asarray(t, np.float64) for t in token_seqs if len(t)]
    allx = np.concatenate(nonempty, axis=0) if nonempty else np.zeros((0, 0))
    if len(allx) < 2:
        raise A4merError("too few atoms to build a motif vocabulary")
    k = int(min(k or config.k, len(allx)))
    cent, _ = kmeans(allx, k, rng, config.kmeans_iters)
    dsort = np.sort(sq_dists(allx, cent), axis=1)
    gap = float(np.median(dsort[:, 1] - dsort[:, 0])) if k > 1 else 1.0
    scale = (gap if gap > 0 else 1.0) * config.temperature  # typical atom: p(code) ~ 0.73 vs the runner-up
    seqs = [[int(c) for c in sq_dists(np.asarray(t, np.float64), cent).argmin(1)] if len(t) else [] for t in token_seqs]
    freq = mine_patterns(seqs, config.min_support, max(config.min_len, 2), config.max_len)
    order = sorted(freq, key=lambda p: (-freq[p], -len(p), p))
    occ = occurrences(seqs, set(order), config.max_len)
    examples = []
    for p in order:
        ex, seen = [], set()
        for si, i in occ.get(p, []):
            if si in seen:
                continue
            seen.add(si)
            ex.append({"clip": names[si], "start_t": round(float(spans_s[si][i][0]), 4),
                       "end_t": round(float(spans_s[si][i + len(p) - 1][1]), 4)})
            if len(ex) >= config.max_examples:
                break
        examples.append(tuple(ex))
    return MotifVocabulary(cent, scale, tuple(tuple(int(c) for c in p) for p in order), tuple(int(freq[p]) for p in order), tuple(examples),
                           encoder_hash, config)
