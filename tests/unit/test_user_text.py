"""Text files people write or save on Windows: Excel's CSV flavours, Notepad's and PowerShell's JSON
(BOM, UTF-16, the machine's own code page, ``;`` separators, backslash paths)."""
from __future__ import annotations

import json
import locale

import pytest

from a4mer.cli.label_train import read_label_csv
from a4mer.errors import A4merError
from a4mer.io._mocap import read_user_text


@pytest.fixture
def clips(tmp_path):
    for rel in ("lib/walk/a.bvh", "lib/Tänzer/b.bvh"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    return tmp_path


@pytest.mark.parametrize("flavour", ["utf8", "utf8-bom-semicolon", "cp1252-semicolon", "utf16-tab", "backslash"])
def test_a_label_csv_as_excel_saves_it(clips, monkeypatch, flavour):
    """Excel's "CSV" on a German Windows is cp1252 with ``;`` between fields, "Unicode Text" is UTF-16 with
    tabs, and a CSV written on Windows names ``lib\\walk\\a.bvh``: each was refused (or, for the
    backslashes on macOS/Linux, silently left the clip unlabelled)."""
    monkeypatch.setattr(locale, "getencoding", lambda: "cp1252")  # a Western Windows
    sep, enc, slash = {"utf8": (",", "utf-8", "/"), "utf8-bom-semicolon": (";", "utf-8-sig", "/"),
                       "cp1252-semicolon": (";", "cp1252", "/"), "utf16-tab": ("\t", "utf-16", "/"),
                       "backslash": (",", "utf-8", "\\")}[flavour]
    rows = [f"file{sep}label", f"lib{slash}walk{slash}a.bvh{sep}walk", f"lib{slash}Tänzer{slash}b.bvh{sep}Tänzer"]
    csv = clips / "labels.csv"
    csv.write_bytes("\r\n".join(rows).encode(enc))
    table = read_label_csv(csv)
    assert table == {str((clips / "lib/walk/a.bvh").resolve()): "walk",
                     str((clips / "lib/Tänzer/b.bvh").resolve()): "Tänzer"}


def test_user_text_in_another_encoding_is_an_error_where_utf8_is_the_machines(tmp_path, monkeypatch):
    monkeypatch.setattr(locale, "getencoding", lambda: "UTF-8")
    p = tmp_path / "labels.csv"
    p.write_bytes("file,label\na.bvh,Tänzer\n".encode("cp1252"))
    with pytest.raises(A4merError, match=rf"{p}: cannot read the label CSV \('utf-8' codec"):
        read_label_csv(p)
    p.write_bytes("file,label\na.bvh,Tänzer\n".encode("utf-16"))
    assert read_user_text(p) == "file,label\na.bvh,Tänzer\n"
    monkeypatch.setattr(locale, "getencoding", lambda: "cp1252")  # a UTF-8 file with a stray byte: an error,
    p.write_bytes("file,label\na.bvh,Tänzer\n".encode("utf-8") + b"\x81")  # not a whole file read garbled
    with pytest.raises(A4merError, match="cannot read the label CSV"):
        read_label_csv(p)


@pytest.mark.parametrize("enc", ["utf-8-sig", "utf-16"])
def test_a_bone_map_saved_by_notepad_or_powershell(tmp_path, enc):
    """Notepad's "UTF-8 with BOM" and Windows PowerShell's ``>`` (UTF-16) bone maps were refused
    ("Unexpected UTF-8 BOM")."""
    from a4mer.retarget.schemes import load_bone_map
    from a4mer.skeleton import SMPL
    p = tmp_path / "map.json"
    p.write_bytes(json.dumps({n: f"Bone{i}" for i, n in enumerate(SMPL.names)}).encode(enc))
    assert load_bone_map(p, [f"Bone{i}" for i in range(24)]).joints["left_hip"] == "Bone1"


def test_a_data_sets_labels_csv_resaved_with_a_bom(tmp_path):
    """``data prepare`` of the project's data with a ``labels.csv`` re-saved by a spreadsheet (a BOM) failed
    with a bare KeyError: 'file'; a missing column is an error naming the file."""
    from a4mer.prepare import hdm05_jobs
    root = tmp_path / "hdm05"
    root.mkdir()
    (root / "labels.csv").write_bytes("\ufefffile,fps,class_name,actor,take,asf\r\namc/x.amc,120,walk,bd,1,asf/bd.asf\r\n"
                                      .encode("utf-8"))
    job, = hdm05_jobs(root)
    assert job.source == str(root / "amc/x.amc") and job.split == "train"
    (root / "labels.csv").write_text("file,fps,class_name,take,asf\namc/x.amc,120,walk,1,asf/bd.asf\n")
    with pytest.raises(A4merError, match=r"labels.csv: no column 'actor'"):
        list(hdm05_jobs(root))


def test_a_semicolon_csv_whose_header_holds_a_comma(clips):
    """Excel's ';' CSV with a third column 'notes, optional' was taken for a ',' CSV and refused."""
    csv = clips / "labels.csv"
    csv.write_text("file;label;notes, optional\nlib/walk/a.bvh;walk;x\n", encoding="utf-8")
    assert read_label_csv(csv) == {str((clips / "lib/walk/a.bvh").resolve()): "walk"}


def test_a_label_with_an_unquoted_separator_is_an_error_and_a_spaced_header_reads(clips):
    """``lib/walk/a.bvh,Gehen, schnell`` labelled the clip ``Gehen`` without a word (the third field was
    dropped), and a header written ``file , label`` was refused as having no 'file' column."""
    csv = clips / "labels.csv"
    csv.write_text("file , label\nlib/walk/a.bvh,Gehen, schnell\n", encoding="utf-8")
    with pytest.raises(A4merError, match=r"labels.csv: line 2: more fields than the header has \(lib/walk/a.bvh, "
                                         r"Gehen, schnell\): a label holding a comma must be quoted"):
        read_label_csv(csv)
    csv.write_text('file , label\nlib/walk/a.bvh,"Gehen, schnell"\n', encoding="utf-8")
    assert read_label_csv(csv) == {str((clips / "lib/walk/a.bvh").resolve()): "Gehen, schnell"}
    csv.write_text("file,label,\nlib/walk/a.bvh,walk,\n", encoding="utf-8")  # a trailing empty column
    assert read_label_csv(csv) == {str((clips / "lib/walk/a.bvh").resolve()): "walk"}


def test_a_training_folder_holding_only_the_users_config(tmp_path):
    """--out holding the config.json a user wrote was told its first checkpoint was never finished."""
    from a4mer.cli.train import check_out
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(A4merError, match="holds a training run already"):
        check_out(tmp_path, False)


def test_counts_in_messages_take_the_number_of_their_noun():
    """"1 motifs", "1 patterns", "1 clips": a count of one reads singular in every message built with it."""
    from a4mer.batch import _line
    from a4mer.batch.jobs import ClipResult
    from a4mer.wording import counted

    assert [counted(n, "motif") for n in (0, 1, 2)] == ["0 motifs", "1 motif", "2 motifs"]
    assert counted(1, "motif occurrence") == "1 motif occurrence" and counted(3, "axis", "axes") == "3 axes"
    one = ClipResult("a.bvh", "a", "ok", outputs=["a.blend"], seconds=1.0,
                     objects=[{"object": "Armature", "frames": 1, "atoms": 1, "motifs": 2}])
    assert _line(1, 1, one).endswith("-> 1 file, 1.0 s [Armature: 1 frame, 1 atom, 2 motifs]"), _line(1, 1, one)
