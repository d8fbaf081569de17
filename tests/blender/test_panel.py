"""The motif panel draws (through a recording layout) with valid icons, operators and properties."""
from __future__ import annotations

import json
import types

import bpy
from a4mer_blender.bridge import armature
from a4mer_blender.panels import A4MER_PT_motifs
from bl_helpers import even_segments, make_row_rig, smooth_motion

ICONS = set(bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items.keys())


class Recorder:
    def __init__(self, log):
        self.log = log

    def row(self, **kw):
        return self

    column = row

    def label(self, text="", icon="NONE"):
        assert icon in ICONS, icon
        self.log.append(("label", text))

    def prop(self, data, name, **kw):
        assert name in data.bl_rna.properties, name
        self.log.append(("prop", name))

    def operator(self, idname, text="", icon="NONE"):
        assert icon in ICONS, icon
        mod, op = idname.split(".")
        assert hasattr(getattr(bpy.ops, mod), op), idname
        op = types.SimpleNamespace()
        self.log.append(("op", idname))
        self.log.append(("op_props", op))
        return op


def _draw():
    log = []
    A4MER_PT_motifs.draw(types.SimpleNamespace(layout=Recorder(log)), bpy.context)
    return log


def test_panel_lists_motifs(scene, tmp_path):
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=60), scene)
    assert ("label", "No motifs yet: select an SMPL armature and run.") in _draw()
    seg = even_segments(60, 30.0, atom_len=10)
    p = tmp_path / "s.json"
    p.write_text(json.dumps(seg))
    bpy.ops.a4mer.segment(segments_file=str(p))
    bpy.context.window_manager.a4mer_status = "A4Mer: running"
    log = _draw()
    ids = sorted({m["motif_id"] for m in seg["motifs"]})
    assert [t for k, t in log if k == "label" and t.startswith("m")] == [f"m{i}" for i in ids]
    assert ("prop", "a4mer_progress") in log
    assert sum(1 for k, t in log if k == "op" and t == "a4mer.motif_jump") == 2 * len(ids)


def test_extend_with_a_motif_offers_one_occurrence_of_it(scene, tmp_path):
    from a4mer.strips import motif_summary
    from a4mer_blender.bridge import nla
    from a4mer_blender.panels import A4MER_PT_generate
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=90), scene)
    p = tmp_path / "s.json"
    p.write_text(json.dumps(even_segments(90, 30.0, atom_len=10)))
    bpy.ops.a4mer.segment(segments_file=str(p))
    log = []
    A4MER_PT_generate.draw(types.SimpleNamespace(layout=Recorder(log)), bpy.context)
    offered = {op.motif: op.frames for k, op in log if k == "op_props" and hasattr(op, "motif")}
    lib = motif_summary(nla.read_record(obj))
    assert offered == {m["motif_id"]: round(30 * m["duration"] / m["count"]) for m in lib}
    assert len(set(offered.values())) > 1  # motifs of different lengths get different lengths


def test_generate_panel_offers_remove_when_the_generated_track_was_deleted(scene):
    """The README says deleting the A4Mer Generated track gives the animation back; the panel then said
    "No generated frames" with no button, while the action stayed pushed down and Segment refused."""
    from a4mer_blender.panels import A4MER_PT_generate
    from test_fill_extend import delete_keys_inside, rig_with_fingers
    obj, action = rig_with_fingers(scene, T=90, seed=3)
    delete_keys_inside(obj, action, 40, 60)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    tracks = obj.animation_data.nla_tracks
    tracks.remove(tracks["A4Mer Generated"])
    log = []
    A4MER_PT_generate.draw(types.SimpleNamespace(layout=Recorder(log)), bpy.context)
    assert ("op", "a4mer.remove_generated") in log
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"} and obj.animation_data.action == action


def test_panel_names_the_action_as_it_is_called_now(scene, tmp_path):
    obj, _ = make_row_rig("mpi_body_only")
    action = armature.write_motion(obj, smooth_motion(T=60), scene, name="take")
    p = tmp_path / "s.json"
    p.write_text(json.dumps(even_segments(60, 30.0, atom_len=10)))
    bpy.ops.a4mer.segment(segments_file=str(p))
    action.name = "hero_walk_v2"
    assert any(k == "label" and t.endswith("motifs on hero_walk_v2") for k, t in _draw())
