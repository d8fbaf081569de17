"""`a4mer data prepare` on a mini data root made of real files."""
import csv
import shutil

import numpy as np

from a4mer.cli import main
from a4mer.io import read_amass_npz
from a4mer.prepare import read_manifest


def test_prepare_mini_dataset(data_root, tmp_path):
    """Real files from every data set through `a4mer data prepare` (HDM05 + Bandai dataset-1)."""
    src = tmp_path / "data"
    with open(data_root / "hdm05" / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    keep = [rows[0], next(r for r in rows if r["actor"] == "mm")]
    (src / "hdm05").mkdir(parents=True)
    with open(src / "hdm05" / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in keep:
            w.writerow(r)
            for key in ("file", "asf"):
                (src / "hdm05" / r[key]).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(data_root / "hdm05" / r[key], src / "hdm05" / r[key])
    out = tmp_path / "prep"
    assert main(["data", "prepare", str(src), "-o", str(out), "--datasets", "hdm05", "--jobs", "1"]) == 0
    recs = read_manifest(out)
    assert [r["split"] for r in recs] == ["train", "test"]
    for r, row in zip(recs, keep):
        m = read_amass_npz(r["path"])
        assert m.fps == 30 and r["labels"]["action"] == row["class_name"]
        assert abs(m.duration - int(row["frames"]) / 120) <= 1 / 30
        assert np.isfinite(m.rotations).all()
