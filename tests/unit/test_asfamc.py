"""ASF/AMC reader: the axis convention (analytic and against scipy), units, lookup order, errors."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from a4mer.errors import MotionFileError
from a4mer.io import find_asf, read_amc, read_asf

Y_TO_Z = Rotation.from_euler("x", 90, degrees=True)


def _asf(bones: list[dict], hierarchy: list[str], units: str = "  mass 1.0\n  length 1.0\n  angle deg\n",
         root_axis: str = "XYZ", root_orientation: str = "0 0 0", root_order: str = "TX TY TZ RX RY RZ") -> str:
    out = [":version 1.10", ":name test", ":units", units.rstrip("\n"), ":documentation", "  tiny test skeleton",
           ":root", f"   order {root_order}", f"   axis {root_axis}", "   position 0 0 0",
           f"   orientation {root_orientation}", ":bonedata"]
    for i, b in enumerate(bones, 1):
        out += ["  begin", f"     id {i}", f"     name {b['name']}", f"     direction {b['direction']}",
                f"     length {b['length']}", f"     axis {b.get('axis', '0 0 0 XYZ')}"]
        if b.get("dof"):
            out.append(f"    dof {b['dof']}")
            out.append("    limits " + "\n           ".join("(-180.0 180.0)" for _ in b["dof"].split()))
        out.append("  end")
    out += [":hierarchy", "  begin"] + [f"    {h}" for h in hierarchy] + ["  end"]
    return "\n".join(out) + "\n"


def _amc(frames: list[dict[str, str]], angle: str = ":DEGREES") -> str:
    out = ["#!OML:ASF test.asf", ":FULLY-SPECIFIED", angle]
    for i, fr in enumerate(frames, 1):
        out.append(str(i))
        out += [f"{k} {v}" for k, v in fr.items()]
    return "\n".join(out) + "\n"


def _write(tmp_path: Path, asf: str, amc: str, stem: str = "clip") -> Path:
    (tmp_path / f"{stem}.asf").write_text(asf)
    p = tmp_path / f"{stem}.amc"
    p.write_text(amc)
    return p


TWO_BONES = [dict(name="a", direction="1 0 0", length=2, axis="0 0 90 XYZ", dof="rx"),
             dict(name="b", direction="0 1 0", length=1)]


def test_axis_convention_analytic(tmp_path):
    """C = Rz(90): dof rx turns about C x = +Y (file), so the tip of a (2,0,0) goes to (0,0,-2)."""
    p = _write(tmp_path, _asf(TWO_BONES, ["root a", "a b"]), _amc([{"root": "0 0 0 0 0 0", "a": "90"}]))
    clip = read_amc(p)
    s = 0.0254  # length 1.0: inches
    assert clip.unit_scale == pytest.approx(s)
    assert clip.names == ("root", "a", "b", "b_end")
    assert list(clip.end_site) == [False, False, False, True]
    # Y-up file -> Z-up world: (x, y, z) -> (x, -z, y)
    np.testing.assert_allclose(clip.positions[0, clip.index("a")], [0, 0, 0], atol=1e-12)      # bone start
    np.testing.assert_allclose(clip.positions[0, clip.index("b")], [0, 2 * s, 0], atol=1e-12)  # a's tip
    np.testing.assert_allclose(clip.positions[0, clip.index("b_end")], [0, 2 * s, s], atol=1e-12)
    # rest pose: zero dof
    np.testing.assert_allclose(clip.rest_positions[clip.index("b_end")], [2 * s, 0, s], atol=1e-12)


def test_axis_order_is_extrinsic(tmp_path):
    """axis 90 0 90 XYZ: C = Rz(90) Rx(90), C x = +Y; an intrinsic reading would give +Z."""
    bones = [dict(TWO_BONES[0], axis="90 0 90 XYZ"), TWO_BONES[1]]
    p = _write(tmp_path, _asf(bones, ["root a", "a b"]), _amc([{"root": "0 0 0 0 0 0", "a": "90"}]))
    clip = read_amc(p, fps=30)
    s = 0.0254
    np.testing.assert_allclose(clip.positions[0, clip.index("b")], [0, 2 * s, 0], atol=1e-12)
    assert clip.fps == 30.0


def _random_skeleton(rng: np.random.Generator, n: int = 6):
    bones, hier, parents = [], [], []
    for i in range(n):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        ax = rng.uniform(-180, 180, 3)
        dof = [x for x in ("rx", "ry", "rz") if rng.random() < 0.7] or ["ry"]
        rng.shuffle(dof)  # values are taken by name, not position
        parent = "root" if i == 0 else f"b{rng.integers(0, i)}"
        bones.append(dict(name=f"b{i}", direction=" ".join(map(str, d)), length=float(rng.uniform(0.5, 3)),
                          axis=" ".join(f"{v:.6f}" for v in ax) + " XYZ", dof=" ".join(dof), _d=d, _ax=ax))
        parents.append(parent)
    for p in ["root"] + [b["name"] for b in bones]:
        kids = [b["name"] for b, q in zip(bones, parents) if q == p]
        if kids:
            hier.append(p + " " + " ".join(kids))
    return bones, parents, hier


def test_against_scipy_reference(tmp_path):
    """Random skeleton and motion vs a scipy implementation of L = C M C^-1 ('sxyz' Euler)."""
    rng = np.random.default_rng(7)
    bones, parents, hier = _random_skeleton(rng)
    T = 5
    root = np.concatenate([rng.normal(0, 5, (T, 3)), rng.uniform(-180, 180, (T, 3))], 1)
    vals = {b["name"]: rng.uniform(-90, 90, (T, len(b["dof"].split()))) for b in bones}
    frames = [{"root": " ".join(f"{v:.6f}" for v in root[t]),
               **{b["name"]: " ".join(f"{v:.6f}" for v in vals[b["name"]][t]) for b in bones}} for t in range(T)]
    units = "  mass 1.0\n  length 0.45\n  angle deg\n"
    p = _write(tmp_path, _asf(bones, hier, units=units, root_orientation="10 -20 30"), _amc(frames))
    clip = read_amc(p)
    scale = 0.0254 / 0.45
    assert clip.unit_scale == pytest.approx(scale)
    root = np.round(root, 6)
    c_root = Rotation.from_euler("xyz", [10, -20, 30], degrees=True)
    g = {"root": c_root * Rotation.from_euler("xyz", root[:, 3:], degrees=True) * c_root.inv()}
    start = {"root": root[:, :3]}
    tip = {"root": root[:, :3]}
    for b, par in zip(bones, parents):
        ang = np.zeros((T, 3))
        for k, d in enumerate(b["dof"].split()):
            ang[:, "xyz".index(d[1])] = np.round(vals[b["name"]][:, k], 6)
        c = Rotation.from_euler("xyz", np.round(b["_ax"], 6), degrees=True)  # extrinsic: Rz Ry Rx
        g[b["name"]] = g[par] * c * Rotation.from_euler("xyz", ang, degrees=True) * c.inv()
        start[b["name"]] = tip[par]
        tip[b["name"]] = start[b["name"]] + g[b["name"]].apply(b["_d"] * b["length"])
    for name in start:
        j = clip.index(name)
        np.testing.assert_allclose(clip.positions[:, j], Y_TO_Z.apply(start[name] * scale), atol=1e-6, err_msg=name)
        ref = (Y_TO_Z * g[name]).as_quat()
        got = clip.orientations[:, j][:, [1, 2, 3, 0]]
        assert np.all(np.abs(np.abs(np.sum(ref * got, 1)) - 1) < 1e-6), name
    for b in bones:
        if f"{b['name']}_end" in clip.names:
            np.testing.assert_allclose(clip.positions[:, clip.index(f"{b['name']}_end")],
                                       Y_TO_Z.apply(tip[b["name"]] * scale), atol=1e-6)


def test_root_turns_in_the_sequence_its_order_lists(tmp_path):
    """``order TX TY TZ RZ RY RX``: the root turns about the fixed axes Z, then Y, then X (Acclaim's spec;
    Softimage writes it); it was composed in the ``axis`` order (XYZ) whatever ``order`` said."""
    rng = np.random.default_rng(3)
    T = 4
    root = np.concatenate([rng.normal(0, 5, (T, 3)), rng.uniform(-120, 120, (T, 3))], 1)  # tx ty tz rz ry rx
    frames = [{"root": " ".join(f"{v:.6f}" for v in root[t]), "a": "0"} for t in range(T)]
    p = _write(tmp_path, _asf(TWO_BONES, ["root a", "a b"], root_orientation="10 -20 30",
                              root_order="TX TY TZ RZ RY RX"), _amc(frames))
    clip = read_amc(p)
    c_root = Rotation.from_euler("xyz", [10, -20, 30], degrees=True)
    want = Y_TO_Z * c_root * Rotation.from_euler("zyx", np.round(root[:, 3:], 6), degrees=True) * c_root.inv()
    got = clip.orientations[:, 0][:, [1, 2, 3, 0]]
    assert np.all(np.abs(np.abs(np.sum(want.as_quat() * got, 1)) - 1) < 1e-9)


def test_dof_by_name_and_zero_dof(tmp_path):
    bones = [dict(name="a", direction="0 1 0", length=1, axis="0 0 0 XYZ", dof="rz rx"),
             dict(name="fixed", direction="1 0 0", length=1),
             dict(name="c", direction="0 1 0", length=1, dof="rx ry rz")]
    hier = ["root a", "a fixed", "fixed c"]
    p1 = _write(tmp_path, _asf(bones, hier), _amc([{"root": "0 0 0 0 0 0", "a": "30 45", "c": "10 20 30"}]), "one")
    bones2 = [dict(bones[0], dof="rx rz")] + bones[1:]
    p2 = _write(tmp_path, _asf(bones2, hier), _amc([{"root": "0 0 0 0 0 0", "a": "45 30", "c": "10 20 30"}]), "two")
    a, b = read_amc(p1), read_amc(p2)
    np.testing.assert_allclose(a.positions, b.positions, atol=1e-12)
    # the fixed bone carries its parent's orientation
    np.testing.assert_allclose(np.abs(np.sum(a.orientations[:, a.index("fixed")] * a.orientations[:, a.index("a")], -1)), 1.0)


def test_radians_keyword(tmp_path):
    deg = _write(tmp_path, _asf(TWO_BONES, ["root a", "a b"]), _amc([{"root": "1 2 3 10 20 30", "a": "57"}]), "d")
    rad_vals = {"root": "1 2 3 " + " ".join(repr(float(np.deg2rad(d))) for d in (10, 20, 30)),
                "a": repr(float(np.deg2rad(57)))}
    rad = _write(tmp_path, _asf(TWO_BONES, ["root a", "a b"]), _amc([rad_vals], ":RADIANS"), "r")
    np.testing.assert_allclose(read_amc(deg).positions, read_amc(rad).positions, atol=1e-12)


@pytest.mark.parametrize("units,scale,assumed", [("  length 0.45\n", 0.0254 / 0.45, False),
                                                 ("  length 1.0\n", 0.0254, False),
                                                 ("  mass 1.0\n", 0.0254 / 0.45, True)])
def test_units(tmp_path, units, scale, assumed):
    (tmp_path / "s.asf").write_text(_asf(TWO_BONES, ["root a", "a b"], units=units))
    skel = read_asf(tmp_path / "s.asf")
    assert skel.unit_scale == pytest.approx(scale) and skel.meta["units_length_assumed"] == assumed


def test_example_hdm05(repo_root):
    amc = repo_root / "examples" / "hdm05" / "amc" / "HDM_mm_kickLFront1Reps_023_120.amc"
    clip = read_amc(amc)
    assert clip.meta["asf_found"] == "sibling asf/" and clip.meta["asf"].endswith("HDM_mm.asf")
    assert clip.num_frames == 130 and clip.fps == 120.0 and clip.format == "asf/amc"
    z = clip.positions[..., 2].mean(0)
    assert z[clip.index("head")] > z[clip.index("root")] > z[clip.index("lfoot")]
    assert 0.6 < z[clip.index("lfemur")] < 1.3
    # lfemur sits at the hip: the tip of lhipjoint (2.69788 units from the root)
    d = np.linalg.norm(clip.positions[:, clip.index("lfemur")] - clip.positions[:, clip.index("root")], axis=-1)
    np.testing.assert_allclose(d, 2.69788 * 0.0254 / 0.45, rtol=1e-9)
    # the left foot kicks: it rises well above the right foot at some point
    assert (clip.positions[:, clip.index("lfoot"), 2] - clip.positions[:, clip.index("rfoot"), 2]).max() > 0.3


def test_truncated_amc_is_named_as_such(repo_root, tmp_path):
    """A download cut short ends mid-line (a bone name cut in half is not an 'unknown bone') or on a line
    break inside the last frame: both say the file is truncated."""
    src = repo_root / "examples" / "hdm05"
    data = (src / "amc" / "HDM_mm_kickLFront1Reps_023_120.amc").read_bytes()
    cut = data[:30000]
    assert not cut.endswith(b"\n")
    for name, text, msg in (("mid_line.amc", cut, "the file ends in the middle of this line (truncated)"),
                            ("at_break.amc", cut[: cut.rfind(b"\n") + 1], "missing bones")):
        (tmp_path / name).write_bytes(text)
        with pytest.raises(MotionFileError, match=re.escape(msg)) as e:
            read_amc(tmp_path / name, asf=src / "asf" / "HDM_mm.asf")
        assert name in str(e.value) and "truncated" in str(e.value), str(e.value)


# --- ASF lookup ---------------------------------------------------------------------------------
def test_lookup_order(tmp_path, monkeypatch):
    asf_text = _asf(TWO_BONES, ["root a", "a b"])
    amc_text = _amc([{"root": "0 0 0 0 0 0", "a": "0"}])
    (tmp_path / "amc").mkdir()
    (tmp_path / "asf").mkdir()
    amc = tmp_path / "amc" / "HDM_bd_kick_001_120.amc"
    amc.write_text(amc_text)
    for name in ("HDM.asf", "HDM_bd.asf", "HDM_bdx.asf", "other.asf"):
        (tmp_path / "asf" / name).write_text(asf_text)
    assert find_asf(amc) == (tmp_path / "asf" / "HDM_bd.asf", "sibling asf/")  # longest prefix
    monkeypatch.chdir(tmp_path / "amc")  # given by its bare name, from its own folder
    assert find_asf(amc.name) == (tmp_path / "asf" / "HDM_bd.asf", "sibling asf/")
    assert read_amc(amc.name).meta["asf_found"] == "sibling asf/"
    (tmp_path / "amc" / "HDM_bd_kick_001_120.asf").write_text(asf_text)
    assert find_asf(amc) == (tmp_path / "amc" / "HDM_bd_kick_001_120.asf", "beside")
    explicit = tmp_path / "asf" / "other.asf"
    assert find_asf(amc, explicit) == (explicit, "given")
    assert read_amc(amc, asf=explicit).meta["asf"] == str(explicit)
    with pytest.raises(MotionFileError, match="given"):
        find_asf(amc, tmp_path / "missing.asf")
    # a library sorted into label folders, the skeletons at its top: lib/hop/HDM_bd_x.amc -> lib/HDM_bd.asf
    (tmp_path / "lib" / "hop").mkdir(parents=True)
    (tmp_path / "lib" / "HDM_bd.asf").write_text(asf_text)
    (tmp_path / "lib" / "hop" / "HDM_bd_hop_003_120.amc").write_text(amc_text)
    assert find_asf(tmp_path / "lib" / "hop" / "HDM_bd_hop_003_120.amc") == (tmp_path / "lib" / "HDM_bd.asf",
                                                                            "prefix in parent folder")


def test_lookup_cmu_layout(tmp_path):
    (tmp_path / "01.asf").write_text(_asf(TWO_BONES, ["root a", "a b"]))
    amc = tmp_path / "01_02.amc"
    amc.write_text(_amc([{"root": "0 0 0 0 0 0", "a": "0"}]))
    assert find_asf(amc) == (tmp_path / "01.asf", "prefix in folder")


def test_lookup_error_lists_paths(tmp_path):
    d = tmp_path / "amc"
    d.mkdir()
    amc = d / "HDM_bd_kick_001_120.amc"
    amc.write_text(_amc([{"root": "0 0 0 0 0 0"}]))
    with pytest.raises(MotionFileError) as e:
        read_amc(amc)
    msg = str(e.value)
    assert str(amc) in msg
    for tried in (d / "HDM_bd_kick_001_120.asf", tmp_path / "asf", d / "asf", d):
        assert f"{tried}" in msg


# --- malformed input ------------------------------------------------------------------------------
GOOD_ASF = _asf(TWO_BONES, ["root a", "a b"])
GOOD_FRAMES = [{"root": "0 1 0 0 0 0", "a": "10"}, {"root": "0 1 0 0 0 5", "a": "20"}]
BAD_AMC = {
    "unknown_bone": _amc([GOOD_FRAMES[0], {**GOOD_FRAMES[1], "zz": "1"}]),
    "value_count": _amc([GOOD_FRAMES[0], {"root": "0 1 0 0 0 0", "a": "1 2"}]),
    "missing_bone": _amc([GOOD_FRAMES[0], {"root": "0 1 0 0 0 0"}]),
    "nan": _amc([GOOD_FRAMES[0], {"root": "0 nan 0 0 0 0", "a": "1"}]),
    "inf": _amc([GOOD_FRAMES[0], {"root": "0 1 0 0 0 0", "a": "-inf"}]),
    "text": _amc([GOOD_FRAMES[0], {"root": "0 1 0 x 0 0", "a": "1"}]),
    "zero_frames": ":FULLY-SPECIFIED\n:DEGREES\n",
    "frame_gap": _amc(GOOD_FRAMES).replace("\n2\n", "\n5\n"),
    "data_before_frame": ":DEGREES\nroot 0 0 0 0 0 0\n1\nroot 0 0 0 0 0 0\na 1\n",
    "duplicate_bone": _amc(GOOD_FRAMES) + "a 3\n",
    "garbage": "\x7fELF junk junk\n",
    "huge": _amc([GOOD_FRAMES[0], {"root": "1e308 1e308 0 0 0 0", "a": "1"}]),
}
BAD_ASF = {
    "truncated": GOOD_ASF[: GOOD_ASF.index(":hierarchy")],
    "unknown_in_hierarchy": GOOD_ASF.replace("a b\n", "a zz\n"),
    "orphan": GOOD_ASF.replace("    a b\n", ""),
    "bad_axis_order": GOOD_ASF.replace("0 0 90 XYZ", "0 0 90 XXZ"),
    "no_direction": GOOD_ASF.replace("direction 1 0 0", ""),
    "bad_number": GOOD_ASF.replace("length 2", "length two"),
    "translation_dof": GOOD_ASF.replace("dof rx", "dof tx"),
    "zero_length_unit": GOOD_ASF.replace("length 1.0", "length 0"),
    "garbage": "hello\nworld\n",
    "empty": "",
}


@pytest.mark.parametrize("case", sorted(BAD_AMC))
def test_malformed_amc(tmp_path, case):
    p = _write(tmp_path, GOOD_ASF, BAD_AMC[case])
    with pytest.raises(MotionFileError) as e:
        read_amc(p)
    assert str(p) in str(e.value)


@pytest.mark.parametrize("case", sorted(BAD_ASF))
def test_malformed_asf(tmp_path, case):
    p = _write(tmp_path, BAD_ASF[case], _amc(GOOD_FRAMES))
    with pytest.raises(MotionFileError) as e:
        read_amc(p)
    assert str(tmp_path / "clip.asf") in str(e.value)


def test_good_files_read(tmp_path):
    clip = read_amc(_write(tmp_path, GOOD_ASF, _amc(GOOD_FRAMES)))
    assert clip.num_frames == 2 and np.isfinite(clip.positions).all()


@pytest.mark.parametrize("data", [b"\x00\x00binary", "root 0 0 0 \xe9".encode("latin-1")])
def test_binary_amc(tmp_path, data):
    (tmp_path / "clip.asf").write_text(GOOD_ASF)
    p = tmp_path / "clip.amc"
    p.write_bytes(data)
    with pytest.raises(MotionFileError):
        read_amc(p)


def test_latin1_comment_tolerated(tmp_path):
    """HDM05 headers hold a Latin-1 path in a '#' comment: accepted there, nowhere else."""
    (tmp_path / "clip.asf").write_text(GOOD_ASF)
    p = tmp_path / "clip.amc"
    p.write_bytes("#!OML:ASF X:\\für Bonn\\x.ASF\r\n".encode("latin-1") + _amc(GOOD_FRAMES).encode())
    assert read_amc(p).num_frames == 2
    p.write_bytes(_amc(GOOD_FRAMES).replace("root", "r\u00f6ot", 1).encode("latin-1"))
    with pytest.raises(MotionFileError, match="not UTF-8"):
        read_amc(p)


def test_a_skeleton_prefix_ends_at_a_name_boundary(tmp_path):
    """CMU layout flattened (asf/10.asf, amc/100_01.amc, no 100.asf): subject 100's clip was read with
    subject 10's skeleton, without a word."""
    (tmp_path / "amc").mkdir()
    (tmp_path / "asf").mkdir()
    amc = tmp_path / "amc" / "100_01.amc"
    amc.write_text(_amc([{"root": "0 0 0 0 0 0", "a": "0"}]))
    (tmp_path / "asf" / "10.asf").write_text(_asf(TWO_BONES, ["root a", "a b"]))
    with pytest.raises(MotionFileError, match="no ASF skeleton found"):
        find_asf(amc)
    (tmp_path / "asf" / "100.asf").write_text(_asf(TWO_BONES, ["root a", "a b"]))
    assert find_asf(amc) == (tmp_path / "asf" / "100.asf", "sibling asf/")


def test_info_names_the_skeleton_an_amc_was_read_with(repo_root, capsys):
    from a4mer.cli.main import main
    assert main(["info", str(repo_root / "examples/hdm05/amc/HDM_mm_kickLFront1Reps_023_120.amc")]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("asf "))
    assert line.rstrip().endswith("HDM_mm.asf (sibling asf/)")
