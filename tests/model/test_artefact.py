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
