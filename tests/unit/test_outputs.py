"""Output files: checked before any work (names, inputs, folders) and written whole or not at all."""
from __future__ import annotations

import os

import pytest

from a4mer.errors import A4merError
from a4mer.io.outputs import SameFiles, check_output, write_text_atomic


def test_a_name_over_the_file_system_limit_is_one_clear_error(tmp_path):
    """A 250-byte output name is written (its temporary file was '<name>.part', over 255 bytes: a
    traceback); a sidecar name over the limit is refused before any work."""
    out = tmp_path / ("x" * 245 + ".json")
    assert write_text_atomic(check_output(out), "{}").read_text() == "{}"
    assert os.listdir(tmp_path) == [out.name]  # no temporary file left
    with pytest.raises(A4merError, match="the file name is 257 bytes long, over the 255"):
        check_output(tmp_path / "a.npz", companions=[tmp_path / ("y" * 244 + ".quality.json")])


def test_a_file_of_the_users_named_like_a_temporary_file_is_left_alone(tmp_path):
    mine = tmp_path / "clip.json.part"
    mine.write_text("mine")
    write_text_atomic(tmp_path / "clip.json", "{}")
    assert mine.read_text() == "mine" and sorted(os.listdir(tmp_path)) == ["clip.json", "clip.json.part"]


def test_an_input_is_never_an_output_also_through_a_link(tmp_path):
    clips = [tmp_path / f"c{i}.npz" for i in range(3000)]
    for c in clips:
        c.write_bytes(b"x")
    (tmp_path / "link.npz").symlink_to(clips[7])
    with pytest.raises(A4merError, match="refusing to overwrite the input .*c7.npz"):
        check_output(tmp_path / "link.npz", clips)
    same = SameFiles(clips)  # what a many-clip convert passes: one stat per input, not per input and target
    for c in clips[::100]:
        with pytest.raises(A4merError, match=f"refusing to overwrite the input .*{c.name}"):
            check_output(c, same)
    assert check_output(tmp_path / "new.npz", same) == tmp_path / "new.npz"
