"""Stand-in for ``a4mer.model`` (runner parity tests): a deterministic segmentation whose every field
depends on the exact input values, so the in-process and worker paths agree only on identical input."""
import hashlib

import numpy as np


class A4Mer:
    calls: list = []

    def __init__(self, device, vocab):
        self.device, self.vocab = device, vocab

    @classmethod
    def load(cls, path=None, device="cpu", vocab=None):
        cls.calls.append({"path": path, "device": device, "vocab": vocab})
        return cls(device, vocab)

    def segment(self, motion, progress=None):
        progress = progress or (lambda f, m: None)
        progress(0.5, "fake segmenting")
        T, fps = motion.num_frames, float(motion.fps)
        speed = np.linalg.norm(np.diff(motion.root_translation, axis=0), axis=1)
        cuts = [0] + [int(i) + 1 for i in np.flatnonzero(np.diff(np.sign(np.diff(speed))) > 0)] + [T]
        cuts = sorted(set(c for c in cuts if 0 <= c <= T))
        digest = lambda a, b: int(hashlib.sha256(motion.rotations[a:b].tobytes()).hexdigest(), 16)  # noqa: E731
        atoms = [{"start_frame": a, "end_frame": b, "start_t": a / fps, "end_t": b / fps, "code": digest(a, b) % 97}
                 for a, b in zip(cuts[:-1], cuts[1:])]
        motifs = []
        for i in range(0, len(atoms), 2):
            grp = atoms[i:i + 2]
            a, b = grp[0]["start_frame"], grp[-1]["end_frame"]
            motifs.append({"start_frame": a, "end_frame": b, "start_t": a / fps, "end_t": b / fps,
                           "motif_id": digest(a, b) % 5, "atoms": list(range(i, i + len(grp))),
                           "confidence": float(np.round(speed[a:max(a + 1, b - 1)].mean(), 6))})
        return {"schema_version": 1, "model_hash": "fake", "vocab_hash": str(self.vocab), "fps": fps,
                "duration": T / fps, "atoms": atoms, "motifs": motifs}
