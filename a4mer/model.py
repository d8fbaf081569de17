"""The :class:`A4Mer` inference model: load/save the bundle, encode, segment, embed.

Bundle = one safetensors file: the two target extractors and the input normalisation (float16),
the motif centroids (``vocab.centroids``), and metadata JSON strings (``config``, ``vocab``,
``model_hash``, ``license``, ``attributions``, ``training``). Tensors named ``heads.*`` belong to
later heads and are passed through untouched (embedded in-betweening heads, ``heads.meta`` and
``heads.decoder.*``, have their shapes checked against their config at load, on torch's meta device,
and are built on first use). ``model_hash`` covers the encoder weights only. Nothing is unpickled.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .api import as_motion, dropped_lead_in
from .artefact import BUNDLE_FORMAT
from .errors import A4merError
from .features import frame_arrays, model_bounds
from .io.outputs import write_safetensors_atomic
from .jepa.hierarchy import A4MerNet, encode_clip, encoder_hash, inference_state
from .motifs.vocab import MotifVocabulary
from .shipped import DEFAULT_BUNDLE
from .train.config import TrainConfig, from_dict, to_dict

BUNDLE_SCHEMA = 1
SEGMENTS_SCHEMA = 1

Progress = Callable[[float, str], None]


def _no_progress(fraction: float, message: str) -> None:
    return None


def resolve_device(name: str) -> str:
    """A torch device name checked on this machine: ``auto`` -> cuda if available, else mps, else cpu;
    a device torch cannot use here (``cuda`` without CUDA, ``foo``) is a :class:`BadValue`."""
    from .errors import BadValue
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    mps = getattr(torch.backends, "mps", None)
    if str(name).split(":")[0] == "mps" and not (mps is not None and mps.is_available()):
        raise BadValue(f"device {name!r} is not usable here (MPS is not available on this machine)")
    try:
        torch.empty(0, device=name)
    except (RuntimeError, AssertionError, ValueError, TypeError) as e:
        why = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]  # torch may add a dispatcher dump
        raise BadValue(f"device {name!r} is not usable here ({why})") from None
    return name


#: what the files of a training run folder are, for the error when one is given as the model
RUN_FILE_KINDS = {"model.safetensors": "the training weights of a run", "config.json": "the config of a run",
                  "vocab.safetensors": "the motif vocabulary of a run (a --vocab file)"}


def run_file_error(p: Path) -> A4merError | None:
    """The error for ``p``, a file that is not a model bundle, when it is part of a training run
    (``run/model.safetensors`` ...): it names what to load instead, the run folder or its
    ``bundle.safetensors``. None for other files (their own error stands)."""
    run, bundle = p.parent, p.parent / "bundle.safetensors"
    if p.name == bundle.name:
        return None
    if (run / "model.safetensors").is_file() and (run / "config.json").is_file():
        what = RUN_FILE_KINDS.get(p.name, "a file of a training run")
        instead = f"the run folder {run}" + (f" or its bundle {bundle}" if bundle.is_file() else "")
        return A4merError(f"{p}: {what}, not a model; use {instead} instead")
    if p.name == "model.safetensors":
        return A4merError(f"{p}: training weights without their config.json, not a model; use the run folder "
                          "that holds both, or the run's bundle.safetensors, instead")
    return None


def _file_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes in the header of the safetensors file ``path`` (no data read); A4merError naming it."""
    from safetensors import SafetensorError, safe_open
    try:
        with safe_open(str(path), framework="np") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (OSError, SafetensorError, ValueError) as e:
        raise A4merError(f"{path}: not a readable safetensors checkpoint ({e})") from None


def _check_shapes(path: Path, config: TrainConfig, shapes: dict[str, tuple[int, ...]], inference: bool,
                  what: str) -> None:
    """:class:`A4merError` naming ``path`` unless its weights ``shapes`` are those of the network ``config``
    describes (its inference tensors, or its whole state), checked on torch's meta device before the network
    is built: a file's config is its own, and a 1.7 KB bundle whose config asked for width 2048 x 8 layers
    made the loader allocate 10 GB before it compared anything."""
    from .artefact import built_from, check_shapes
    from .train.loop import build_net
    with built_from(path, what), torch.device("meta"):
        net = build_net(config)
        expected = {k: tuple(v.shape) for k, v in (inference_state(net) if inference else net.state_dict()).items()}
    check_shapes(path, what, expected, shapes)


class A4Mer:
    """A trained A4Mer model with its motif vocabulary.

    ``net`` is the torch module (``net.stage1.target``: atom extractor, ``net.stage2.target``: motif
    extractor); ``config`` its :class:`TrainConfig`; ``vocab`` the :class:`MotifVocabulary` (or None);
    ``info`` the bundle metadata (license, attributions, training; ``source``: the file or folder it was loaded from);
    ``heads`` extra tensors.
    """

    def __init__(self, config: TrainConfig, net: A4MerNet, vocab: MotifVocabulary | None = None,
                 info: dict[str, Any] | None = None, heads: dict[str, torch.Tensor] | None = None):
        self.config = config
        self.net = net.eval()
        self.info = dict(info or {})
        self.heads = dict(heads or {})
        self._loaded_heads: dict[str, Any] = {}  # method -> heads object, loaded on first use
        self.model_hash = encoder_hash(net)
        self.vocab = None
        if vocab is not None:
            self.set_vocab(vocab)

    # --- construction -------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def fps(self) -> float:
        """Model frame rate (frames per second of the features)."""
        return self.config.data.fps

    @property
    def dim(self) -> int:
        return self.config.model.stage1.encoder.dim

    def set_vocab(self, vocab: MotifVocabulary | str | Path) -> None:
        """Use another motif vocabulary (refused if it was built with another encoder)."""
        if not isinstance(vocab, (MotifVocabulary, str, os.PathLike)):
            raise A4merError(f"set_vocab takes a MotifVocabulary or the path of one, got {type(vocab).__name__}")
        if not isinstance(vocab, MotifVocabulary):
            vocab = MotifVocabulary.load(vocab, encoder_hash=self.model_hash)
        vocab.check("set_vocab")  # one made in memory is checked as one read from a file
        vocab.check_encoder(self.model_hash)
        if vocab.centroids.shape[1] != self.dim:
            raise A4merError(f"vocabulary width {vocab.centroids.shape[1]} != model width {self.dim}")
        self.vocab = vocab

    @classmethod
    def load(cls, path: str | Path | None = None, device: str | torch.device = "cpu",
             vocab: str | Path | None = None) -> "A4Mer":
        """Load a bundle file, or a training output folder (model.safetensors + config.json +
        vocab.safetensors). ``None`` = the shipped default bundle. ``vocab`` replaces the vocabulary.
        ``device``: a torch device, or its name (``"auto"``: cuda, else mps, else cpu; :func:`resolve_device`)."""
        device = resolve_device("cpu" if device is None else str(device))  # a name, or a torch.device
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise A4merError(f"A4Mer.load takes the path of a bundle or training folder, got {type(path).__name__}")
        p = Path(path) if path is not None else DEFAULT_BUNDLE
        if p.is_dir():
            model = cls._from_folder(p)
        elif p.is_file():
            try:
                model = cls._from_bundle(p)
            except A4merError as e:
                raise run_file_error(p) or e from None
        elif path is None:
            raise A4merError(f"{p}: the default model bundle is missing from this installation")
        else:
            raise A4merError(f"{p}: no such model file or folder")
        if vocab is not None:
            model.set_vocab(vocab)
        model.net.to(device)
        return model

    @classmethod
    def _from_folder(cls, p: Path) -> "A4Mer":
        from .train.checkpoint import load_config_json, load_weights
        from .train.loop import build_net

        config = load_config_json(p)
        _check_shapes(p / "model.safetensors", config, _file_shapes(p / "model.safetensors"), False, "training checkpoint")
        net = build_net(config)
        load_weights(p, net)
        found = p / "vocab.safetensors"
        vocab = MotifVocabulary.load(found) if found.is_file() else None
        info = {"source": str(p)}
        if vocab is not None and vocab.encoder_hash != encoder_hash(net):
            vocab = None  # a vocabulary from an earlier phase of this run: not valid for these weights
            info["vocab_note"] = (f"{found} was mined with the weights of an earlier phase of this run (training "
                                  "stopped before the motifs were mined again)")
        return cls(config, net, vocab, info)

    @classmethod
    def _from_bundle(cls, p: Path) -> "A4Mer":
        from .artefact import built_from, check_finite, read_artefact
        from .train.loop import build_net

        meta, tensors = read_artefact(p, BUNDLE_FORMAT, "model bundle", framework="pt")
        # the weights hash does not catch NaN saved with its hash; inf: a heads MLP's gate that is off
        check_finite(p, tensors, "model bundle", inf_ok=("z_band",))
        with built_from(p, "model bundle"):
            config = from_dict(TrainConfig, json.loads(meta["config"]))
            vocab_json = json.loads(meta["vocab"]) if meta.get("vocab") else None
            info = {k: json.loads(meta[k]) for k in ("license", "attributions", "training") if k in meta}
        state = {k: v for k, v in tensors.items() if not k.startswith(("heads.", "vocab."))}
        _check_shapes(p, config, {k: tuple(v.shape) for k, v in state.items()}, True, "model bundle")
        with built_from(p, "model bundle"):
            net = build_net(config)
        with torch.no_grad():
            own = net.state_dict()
            for k, v in state.items():
                own[k].copy_(v.to(own[k].dtype))
        model_hash = encoder_hash(net)
        if meta.get("model_hash") != model_hash:
            raise A4merError(f"{p}: bundle is corrupt: weights hash {model_hash} != recorded {meta.get('model_hash')}")
        vocab = None
        if vocab_json is not None:
            if "vocab.centroids" not in tensors:
                raise A4merError(f"{p}: bundle vocabulary has no centroids")
            vocab = MotifVocabulary.from_json(vocab_json, tensors["vocab.centroids"].float().numpy(), str(p))
            vocab.check_encoder(model_hash, str(p))
        heads = {k: v for k, v in tensors.items() if k.startswith("heads.")}
        if "heads.meta" not in heads and any(k.startswith("heads.decoder.") for k in heads):
            raise A4merError(f"{p}: holds in-betweening heads weights (heads.decoder.* tensors) but no heads.meta: "
                             "a damaged bundle, or not one a4mer wrote")
        if "heads.meta" in heads:  # built on first use: their shapes are checked now, on the meta device
            from .heads.files import check_bundled_heads
            check_bundled_heads(heads, p)
        info["source"] = str(p)  # (named in errors, its heads' too; not written back by save)
        return cls(config, net, vocab, info, heads)

    def save(self, path: str | Path, license: str | None = None, attributions: list[str] | None = None,
             training: dict[str, Any] | None = None) -> Path:
        """Write the bundle (weights as float16; see the module docstring)."""
        from safetensors.torch import save_file

        state = {k: (v.half() if v.is_floating_point() else v).contiguous().cpu() for k, v in inference_state(self.net).items()}
        rounded = {k: v.float() for k, v in state.items()}
        own = {k: v.detach().float().cpu() for k, v in inference_state(self.net).items()}
        if any(not torch.equal(rounded[k], own[k]) for k in own):
            raise A4merError("weights are not float16-exact: call a4mer.jepa.hierarchy.round_to_half(net) "
                             "before mining the vocabulary and saving")
        tensors = dict(state)
        tensors.update({k: v.contiguous().cpu() for k, v in self.heads.items()})
        meta = {"format": BUNDLE_FORMAT, "schema_version": str(BUNDLE_SCHEMA), "config": json.dumps(to_dict(self.config)),
                "model_hash": self.model_hash}
        if self.vocab is not None:
            tensors["vocab.centroids"] = torch.from_numpy(np.ascontiguousarray(self.vocab.centroids, dtype=np.float32))
            meta["vocab"] = json.dumps(self.vocab.to_json())
        info = dict(self.info)
        if license is not None:
            info["license"] = license
        if attributions is not None:
            info["attributions"] = attributions
        if training is not None:
            info["training"] = training
        for k in ("license", "attributions", "training"):
            if k in info:
                meta[k] = json.dumps(info[k])
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_safetensors_atomic(path, lambda tmp: save_file(tensors, tmp, metadata=meta))

    # --- inference ----------------------------------------------------------------------------
    def _prepare(self, motion: Any, check_units: bool = True) -> tuple[Any, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """The clip's body, atom bounds in input and model frames, and model-rate arrays; an A4merWarning
        where its root does not look like metres (``check_units``: a user's clip, not the heads' canvas)."""
        motion = as_motion(motion)
        if motion.num_frames < 1:
            raise A4merError("cannot segment an empty clip")
        if check_units:  # a clip in centimetres segmented and embedded silently, differently
            from .heads.inbetween import unit_warnings, warn
            for message in unit_warnings(motion):
                warn(message)
        motion = motion.body()
        b_in, b_model = model_bounds(motion, self.config.model.atoms, self.fps)
        arrays = frame_arrays(motion, self.fps)
        return motion, b_in, b_model, arrays

    def _encode(self, arrays: dict, b_model: np.ndarray, groups: np.ndarray | None = None) -> dict[str, np.ndarray]:
        d = self.config.data
        return encode_clip(self.net, arrays, b_model, d.window_frames, d.max_segments, groups)

    def encode(self, motion: Any) -> tuple[np.ndarray, np.ndarray]:
        """Atom tokens (S, D) float32 and their spans (S, 2) int64 ``[start, end)`` in the motion's
        own frames (frozen target encoder)."""
        _, b_in, b_model, arrays = self._prepare(motion)
        tokens = self._encode(arrays, b_model)["atom_tokens"]
        return tokens, np.stack([b_in[:-1], b_in[1:]], axis=1)

    def _motifs(self, tokens: np.ndarray) -> tuple[np.ndarray, list[dict[str, Any]]]:
        if self.vocab is None:
            why = f" ({self.info['vocab_note']})" if self.info.get("vocab_note") else ""
            name = f"the model {self.info['source']}" if self.info.get("source") else "this model"
            raise A4merError(f"{name} has no motif vocabulary{why}: build one for it "
                             "with `a4mer motifs build --data DIR --out VOCAB --checkpoint MODEL`, then pass it (--vocab)")
        codes, probs = self.vocab.assign(tokens)
        return codes, self.vocab.motifs(codes, probs)

    def segment(self, motion: Any, progress: Progress | None = None) -> dict[str, Any]:
        """The canonical segment record of a clip (docs/model.md §Segment file): atoms and motifs
        tiling the clip, frames of the input clip (end exclusive), times in seconds; with
        ``reference_frames_dropped`` N where a BVH/AMC's rest-pose lead-in was left out (frame f is then
        the file's frame f + N)."""
        progress = progress or _no_progress
        progress(0.0, "detecting atoms")
        motion, b_in, b_model, arrays = self._prepare(motion)
        progress(0.3, f"encoding {len(b_in) - 1} atoms")
        tokens = self._encode(arrays, b_model)["atom_tokens"]
        progress(0.8, "assigning motifs")
        codes, motifs = self._motifs(tokens)
        fps = float(motion.fps)
        t = lambda f: round(float(f) / fps, 6)  # noqa: E731
        atoms = [{"start_frame": int(a), "end_frame": int(b), "start_t": t(a), "end_t": t(b), "code": int(c)}
                 for a, b, c in zip(b_in[:-1], b_in[1:], codes)]
        mots = []
        for m in motifs:
            a, b = int(b_in[m["atoms"][0]]), int(b_in[m["atoms"][-1] + 1])
            mots.append({"start_frame": a, "end_frame": b, "start_t": t(a), "end_t": t(b), "motif_id": m["motif_id"],
                         "atoms": m["atoms"], "confidence": round(m["confidence"], 6)})
        progress(1.0, "done")
        return {"schema_version": SEGMENTS_SCHEMA, "model_hash": self.model_hash, "vocab_hash": self.vocab.hash,
                "fps": fps, "duration": round(motion.num_frames / fps, 6), "atoms": atoms, "motifs": mots,
                **dropped_lead_in(motion)}

    def embed(self, motion: Any) -> dict[str, np.ndarray]:
        """``atom_tokens`` (S, D), ``atom_spans`` (S, 2), ``motif_tokens`` (M, D), ``motif_spans`` (M, 2)
        (frames of the input, end exclusive), ``clip_embedding`` (D,) = mean of the atom tokens, and
        ``reference_frames_dropped`` () int64 as in :meth:`segment`, when it applies."""
        motion, b_in, b_model, arrays = self._prepare(motion)
        tokens = self._encode(arrays, b_model)["atom_tokens"]
        _, motifs = self._motifs(tokens)
        groups = np.zeros(len(tokens), dtype=np.int64)
        for i, m in enumerate(motifs):
            groups[m["atoms"]] = i
        motif_tokens = self._encode(arrays, b_model, groups)["motif_tokens"]
        mspans = np.array([[b_in[m["atoms"][0]], b_in[m["atoms"][-1] + 1]] for m in motifs], dtype=np.int64)
        return {"atom_tokens": tokens.astype(np.float32), "atom_spans": np.stack([b_in[:-1], b_in[1:]], 1).astype(np.int64),
                "motif_tokens": motif_tokens.astype(np.float32), "motif_spans": mspans.reshape(-1, 2),
                "clip_embedding": tokens.mean(0).astype(np.float32),
                **{k: np.array(v, dtype=np.int64) for k, v in dropped_lead_in(motion).items()}}

    def _heads(self, method: str):
        """The heads of ``method``, loaded once per model (a repeated call reuses them)."""
        if method not in self._loaded_heads:
            if method == "heads":
                from .heads.files import heads_for
                self._loaded_heads[method] = heads_for(self)
            elif method == "tokens":
                from .heads.token_heads import load_token_heads
                self._loaded_heads[method] = load_token_heads(model=self)
            else:
                raise A4merError(f"method must be 'heads' or 'tokens', got {method!r}")
        return self._loaded_heads[method]

    def inbetween(self, motion: Any, start: int | None = None, end: int | None = None,
                  keys: list[int] | None = None, method: str = "heads") -> Any:
        """Frames strictly between ``start`` and ``end`` (input frame indices) generated from the rest
        of the clip, or with ``keys`` every gap between those key frames in one pass (blocking).
        Keys and frames outside the gaps are copied unchanged; same length, fps and skeleton.
        ``method``: "heads" (the learned correction of the classical curve, the default) or "tokens"
        (the token route: predicted A4Mer tokens, decoded; single gaps only)."""
        heads = self._heads(method)
        if keys is not None and not isinstance(keys, (str, bytes)) and hasattr(keys, "__iter__"):
            keys = list(keys)  # a set or a generator is read as a list is (a generator only once)
        motion = _read_for_fill(motion, start, end, keys) if isinstance(motion, (str, os.PathLike)) else as_motion(motion)
        if keys is not None:
            if start is not None or end is not None:
                raise A4merError("inbetween takes start and end (one gap) or keys (blocking), not both")
            return heads.inbetween_keys(motion, keys)
        if start is None or end is None:
            raise A4merError("inbetween needs start and end frames, or keys")
        return heads.inbetween(motion, start, end)

    def extend(self, motion: Any, n: int, method: str = "heads") -> Any:
        """``motion`` followed by ``n`` generated frames at its own fps (input frames unchanged);
        ``method`` as in :meth:`inbetween`."""
        return self._heads(method).extend_clip(as_motion(motion, whole=True), n)


def _read_for_fill(path: str | os.PathLike, start: int | None, end: int | None, keys) -> Any:
    """A clip's path read for :meth:`A4Mer.inbetween` as ``a4mer inbetween`` reads it: every frame of the
    file (frame numbers are the file's), NaN/inf allowed on the frames to generate, the retargeting
    calibrated on the kept frames."""
    from .api import LoadOptions, fill_reading, kept_frames, load_motion, read_clip
    opts = LoadOptions(keep_reference_frames=True)
    reading = read_clip(path, opts, nonfinite_ok=True)
    try:
        keys = None if keys is None else np.unique(np.asarray(keys, dtype=np.int64))
    except (TypeError, ValueError):
        keys = None  # the heads name what is wrong with them
    return load_motion(path, opts, **fill_reading(reading, kept_frames(reading.num_frames, start, end, keys)))
