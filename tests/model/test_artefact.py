"""Every shipped artefact reader gives one clear error naming the file for missing, truncated and
foreign files (they all go through a4mer.artefact.read_artefact)."""
import numpy as np
import pytest
from safetensors.numpy import save_file

from a4mer.errors import A4merError
from a4mer.heads.files import find_heads, load_heads, read_heads_metadata
from a4mer.motifs.vocab import MotifVocabulary


def _decoder_devices(monkeypatch) -> list[str]:
    """The device type every heads decoder is built on from now on, one entry each."""
    import torch

    from a4mer.heads import decoder
    made, real_init = [], decoder.CorrectionDecoder.__init__

    def init(self, *a, **k):
        made.append(torch.get_default_device().type)
        real_init(self, *a, **k)
    monkeypatch.setattr(decoder.CorrectionDecoder, "__init__", init)
    return made


def test_missing_truncated_and_foreign_files(tmp_path):
    with pytest.raises(A4merError, match="gone.safetensors: heads file not found"):
        load_heads(tmp_path / "gone.safetensors")
    shipped = find_heads()
    assert shipped is not None
    trunc = tmp_path / "trunc.safetensors"
    trunc.write_bytes(shipped.read_bytes()[:1000])
    for reader in (load_heads, read_heads_metadata):
        with pytest.raises(A4merError, match="trunc.safetensors: not a readable heads file"):
            reader(trunc)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"centroids": np.zeros((2, 3), np.float32)}, str(foreign), metadata={"format": "something-else"})
    with pytest.raises(A4merError, match="foreign.safetensors: not an a4mer heads file"):
        read_heads_metadata(foreign)
    with pytest.raises(A4merError, match="foreign.safetensors: not an a4mer motif vocabulary"):
        MotifVocabulary.load(foreign)


def _rewritten(src, dst, meta_change=None, tensor_change=None):
    """A copy of the safetensors file ``src`` with its metadata / tensors changed."""
    from safetensors import safe_open
    with safe_open(str(src), framework="np") as f:
        meta, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    meta.update(meta_change or {})
    for k in [k for k, v in meta.items() if v is None]:
        del meta[k]
    if tensor_change:
        tensors = tensor_change(tensors)
    save_file(tensors, str(dst), metadata=meta)
    return dst


def _first_shrunk(tensors):
    k = sorted(tensors)[0]
    return {**tensors, k: tensors[k][..., :1].copy()}


@pytest.mark.parametrize("meta_change,tensor_change,named", [
    ({"config": "{not json"}, None, "JSONDecodeError"),
    ({"config": None}, None, "KeyError: 'config'"),
    ({"gates": "[1, 2]"}, None, "gates must be a table"),
    (None, _first_shrunk, "weights do not match its config (missing [], unexpected [], wrong shape ['"),
])
def test_heads_files_with_bad_metadata_or_weights_are_one_error(tmp_path, meta_change, tensor_change, named):
    """Wrong metadata or weights in a file of the right format were JSON, key and torch tracebacks."""
    bad = _rewritten(find_heads(), tmp_path / "bad.safetensors", meta_change, tensor_change)
    with pytest.raises(A4merError, match="bad.safetensors: (corrupt heads file|heads file weights)") as e:
        load_heads(bad)
    assert named in str(e.value) and "\n" not in str(e.value)


def test_bundle_prototypes_and_vocabulary_with_bad_metadata_name_the_file(tmp_path):
    from a4mer.heads.motif_conditioned import MotifPrototypes, default_prototypes_path
    from a4mer.model import DEFAULT_BUNDLE, A4Mer
    bundle = _rewritten(DEFAULT_BUNDLE, tmp_path / "b.safetensors", {"config": "[]"})
    with pytest.raises(A4merError, match=r"b.safetensors: config TrainConfig: expected a table, got list"):
        A4Mer.load(bundle)
    import json
    from safetensors import safe_open
    with safe_open(str(DEFAULT_BUNDLE), framework="np") as f:
        cfg = json.loads(f.metadata()["config"])
    cfg["model"]["stage1"]["encoder"]["heads"] = 0  # was a ZeroDivisionError deep in the model
    zero = _rewritten(DEFAULT_BUNDLE, tmp_path / "z.safetensors", {"config": json.dumps(cfg)})
    with pytest.raises(A4merError, match=r"z.safetensors: corrupt model bundle \(ZeroDivisionError"):
        A4Mer.load(zero)
    protos = _rewritten(default_prototypes_path(), tmp_path / "p.safetensors", {"sources": "5"})
    with pytest.raises(A4merError, match="p.safetensors: corrupt motif prototype file"):
        MotifPrototypes.load(protos)
    vocab = tmp_path / "v.safetensors"
    A4Mer.load().vocab.save(vocab)
    bad = _rewritten(vocab, tmp_path / "w.safetensors", {"vocab": "{not json"})
    with pytest.raises(A4merError, match="w.safetensors: corrupt motif vocabulary"):
        MotifVocabulary.load(bad)


def test_a_bundle_whose_config_asks_for_a_huge_network_is_refused_before_building_it(tmp_path, monkeypatch):
    """A bundle (or training folder) is built from its own config: a 1.7 KB file whose config asked for width
    2048 x 8 layers made the loader allocate 10 GB before it compared the weights. The shapes are checked on
    torch's meta device first; the network is built for real only from a config its weights fit."""
    import json

    import torch
    from safetensors import safe_open

    from a4mer.model import DEFAULT_BUNDLE, A4Mer
    from a4mer.train import loop
    with safe_open(str(DEFAULT_BUNDLE), framework="np") as f:
        cfg = json.loads(f.metadata()["config"])
    cfg["model"]["stage1"]["encoder"]["dim"] *= 16
    big = _rewritten(DEFAULT_BUNDLE, tmp_path / "big.safetensors", {"config": json.dumps(cfg)})
    real = loop.build_net
    built = []

    def build_net(config):
        built.append(torch.get_default_device().type)
        return real(config)
    monkeypatch.setattr(loop, "build_net", build_net)
    with pytest.raises(A4merError, match=r"big.safetensors: model bundle weights do not match its config"):
        A4Mer.load(big)
    assert built == ["meta"]
    run = tmp_path / "run"  # a training folder: the config.json of a huge network beside real weights
    run.mkdir()
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in A4Mer.load().net.state_dict().items()}, str(run / "model.safetensors"))
    (run / "config.json").write_text(json.dumps(cfg))
    built.clear()
    with pytest.raises(A4merError, match=r"model.safetensors: training checkpoint weights do not match its config"):
        A4Mer.load(run)
    assert built == ["meta"]
    heads_cfg = json.loads(read_heads_metadata(find_heads())["config"])
    heads_cfg["hidden"] *= 64  # a 400-byte heads file of this kind asked for 4 GB a layer
    huge = _rewritten(find_heads(), tmp_path / "huge_heads.safetensors", {"config": json.dumps(heads_cfg)})
    made = _decoder_devices(monkeypatch)
    with pytest.raises(A4merError, match=r"huge_heads.safetensors: heads file weights do not match its config"):
        load_heads(huge)
    assert made == ["meta"]


def _poisoned(tensors, key, value=float("nan")):
    """``tensors`` with one value of ``key`` set to ``value`` (NaN or inf)."""
    t = np.array(tensors[key], copy=True)
    t.reshape(-1)[min(1, t.size - 1)] = value
    return {**tensors, key: t}


def test_recognition_head_prototypes_and_vocabulary_with_nan_or_inf_weights_are_refused(tmp_path):
    """A NaN/inf weight loaded silently: the head labelled every frame NaN, a motif played NaN poses
    into the user's clip, NaN centroids put every atom on code 0 (their files hold no hash over it)."""
    from a4mer.heads.motif_conditioned import MotifPrototypes, default_prototypes_path
    from a4mer.heads.recognition import FrameHead, HeadConfig, RecognitionHead
    from a4mer.model import A4Mer

    head = RecognitionHead(FrameHead(HeadConfig(), 3), ["a", "b", "c"], "enc", {}).save(tmp_path / "h.safetensors")
    assert RecognitionHead.load(head).classes == ["a", "b", "c"]
    bad = _rewritten(head, tmp_path / "h_nan.safetensors", tensor_change=lambda t: _poisoned(t, "out.1.weight"))
    with pytest.raises(A4merError, match=r"h_nan.safetensors: corrupt recognition head: the weights 'out.1.weight' "
                                         r"hold NaN"):
        RecognitionHead.load(bad)

    for key, value, word in (("root", float("inf"), "inf"), ("rotations", float("nan"), "NaN")):
        bad = _rewritten(default_prototypes_path(), tmp_path / f"p_{key}.safetensors",
                         tensor_change=lambda t: _poisoned(t, key, value))
        with pytest.raises(A4merError, match=rf"p_{key}.safetensors: corrupt motif prototype file: the weights "
                                             rf"'{key}' hold {word}"):
            MotifPrototypes.load(bad)

    v = A4Mer.load().vocab
    cent = v.centroids.copy()
    cent[3, 2] = np.nan
    nan_vocab = MotifVocabulary(cent, v.scale, v.patterns, v.support, v.examples, v.encoder_hash, v.config)
    path = nan_vocab.save(tmp_path / "v_nan.safetensors")  # its recorded hash is its own: the hash check passes
    with pytest.raises(A4merError, match=r"v_nan.safetensors: corrupt motif vocabulary: the weights 'centroids' hold NaN"):
        MotifVocabulary.load(path)


def test_bundle_and_training_checkpoint_with_nan_or_inf_weights_are_refused(tmp_path):
    """The bundle's weights hash is recomputed at load, but a bundle written with NaN weights (and their
    hash) loaded; a training folder's model.safetensors has no hash at all."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file as save_pt

    from a4mer.jepa.hierarchy import encoder_hash, inference_state
    from a4mer.model import DEFAULT_BUNDLE, A4Mer
    from a4mer.train.checkpoint import save_checkpoint

    model = A4Mer.load()
    with safe_open(str(DEFAULT_BUNDLE), framework="pt") as f:
        meta, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    key = "stage1.feat_std"
    tensors[key] = tensors[key].clone()
    tensors[key][0] = float("nan")
    with torch.no_grad():  # the hash of these weights, as a model that had them would record
        own = model.net.state_dict()
        for k in inference_state(model.net):
            own[k].copy_(tensors[k].to(own[k].dtype))
    meta["model_hash"] = encoder_hash(model.net)
    meta.pop("vocab")  # (its vocabulary names the shipped encoder)
    tensors.pop("vocab.centroids")
    save_pt(tensors, str(tmp_path / "b_nan.safetensors"), metadata=meta)
    with pytest.raises(A4merError, match=rf"b_nan.safetensors: corrupt model bundle: the weights '{key}' hold NaN"):
        A4Mer.load(tmp_path / "b_nan.safetensors")

    model = A4Mer.load()
    with torch.no_grad():
        model.net.stage1.context.encoder.inp.weight[0, 0] = float("inf")
    save_checkpoint(tmp_path / "run", model.net, model.config)
    with pytest.raises(A4merError, match=r"run/model.safetensors: corrupt training checkpoint: the weights "
                                         r"'stage1.context.encoder.inp.weight' hold inf"):
        A4Mer.load(tmp_path / "run")


def _bundle_with_heads(dst, hidden_factor=1, drop=()):
    """A copy of the shipped bundle with the shipped heads embedded as ``heads.*`` tensors, their config's
    hidden width times ``hidden_factor`` (the weights stay those of the shipped width), without the tensors
    named in ``drop``."""
    import json

    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file as save_pt

    from a4mer.heads.files import heads_to_tensors
    from a4mer.model import DEFAULT_BUNDLE
    with safe_open(str(DEFAULT_BUNDLE), framework="pt") as f:
        meta, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    heads = heads_to_tensors(load_heads(find_heads()))
    hm = json.loads(bytes(heads["heads.meta"].tolist()).decode())
    cfg = json.loads(hm["config"])
    cfg["hidden"] *= hidden_factor
    hm["config"] = json.dumps(cfg)
    heads["heads.meta"] = torch.tensor(list(json.dumps(hm).encode()), dtype=torch.uint8)
    save_pt({k: v for k, v in {**tensors, **heads}.items() if k not in drop}, str(dst), metadata=meta)
    return dst


def test_heads_embedded_in_a_bundle_are_checked_on_the_meta_device_before_they_are_built(tmp_path, monkeypatch):
    """Heads embedded in a bundle (``heads.*``) were built from the bundle's own config without the meta-device
    check that heads files get: a bundle whose embedded heads config asked for a 64x wider decoder (GBs)
    loaded, and filling a gap allocated it before the weights were compared. Now the bundle is refused at
    load with one line naming it, having built the heads on the meta device only."""
    import torch

    from a4mer.heads.files import heads_from_tensors
    from a4mer.model import A4Mer
    huge = _bundle_with_heads(tmp_path / "huge_bundle.safetensors", hidden_factor=64)
    ok = _bundle_with_heads(tmp_path / "ok_bundle.safetensors")
    made = _decoder_devices(monkeypatch)
    with pytest.raises(A4merError, match=r"huge_bundle.safetensors: model bundle heads weights do not match its "
                                         r"config \(missing \[\], unexpected \[\], wrong shape \['") as e:
        A4Mer.load(huge)
    assert "\n" not in str(e.value) and made == ["meta"]
    from safetensors.torch import load_file
    tensors = {k: v for k, v in load_file(str(huge)).items() if k.startswith("heads.")}
    made.clear()
    with pytest.raises(A4merError, match=r"huge_bundle.safetensors: model bundle heads weights do not match"):
        heads_from_tensors(tensors, huge)  # the heads built from the tensors alone: the same check
    assert made == ["meta"]
    bad = dict(tensors, **{"heads.meta": torch.tensor(list(b"{not json"), dtype=torch.uint8)})
    with pytest.raises(A4merError, match=r"huge_bundle.safetensors: corrupt model bundle heads \(JSONDecodeError"):
        heads_from_tensors(bad, huge)

    shipped = load_heads(find_heads())
    made.clear()  # heads that fit their config load, and are what the bundle holds
    model = A4Mer.load(ok)
    assert made == ["meta"]
    heads = model._heads("heads")
    assert made == ["meta", "meta", "cpu"]
    for k, v in shipped.net.state_dict().items():
        assert torch.equal(heads.net.state_dict()[k], v), k
    assert heads.gates == shipped.gates


def test_a_bundle_with_heads_weights_but_no_heads_metadata_is_refused(tmp_path):
    """Without ``heads.meta`` the embedded heads were ignored without a word and the packaged ones used."""
    from a4mer.model import A4Mer
    bad = _bundle_with_heads(tmp_path / "no_meta.safetensors", drop=("heads.meta",))
    with pytest.raises(A4merError, match=r"no_meta.safetensors: .*\(heads\.decoder\.\* tensors\) but no heads\.meta"):
        A4Mer.load(bad)
