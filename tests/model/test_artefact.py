"""Every shipped artefact reader gives one clear error naming the file for missing, truncated and
foreign files (they all go through a4mer.artefact.read_artefact)."""
import numpy as np
import pytest
from safetensors.numpy import save_file

from a4mer.errors import A4merError
from a4mer.heads.inbetween import find_heads, load_heads, read_heads_metadata
from a4mer.motifs.vocab import MotifVocabulary


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
    (None, _first_shrunk, "size mismatch"),
])
def test_heads_files_with_bad_metadata_or_weights_are_one_error(tmp_path, meta_change, tensor_change, named):
    """Wrong metadata or weights in a file of the right format were JSON, key and torch tracebacks."""
    bad = _rewritten(find_heads(), tmp_path / "bad.safetensors", meta_change, tensor_change)
    with pytest.raises(A4merError, match="bad.safetensors: corrupt heads file") as e:
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
