"""Bake writes the generated keys into the user's curves in one pass, in time order (bake.merge_keys):
every property of the user's keys moves with the key to its new place, where Blender's own sort
(fc.update() after appending the keys) used to move them, one place per pass over the curve (quadratic
in the curve's length: 13 s for one 60-frame span early in a 2-minute 120 fps take)."""
from __future__ import annotations

import numpy as np
import pytest

import bpy
from a4mer_blender.bridge import anim_compat, armature, bake, generated
from bl_helpers import make_row_rig, smooth_motion

#: every writable property of a key: (name, dtype foreach reads it as, values per key)
PROPS = (("co", np.float32, 2), ("handle_left", np.float32, 2), ("handle_right", np.float32, 2),
         ("interpolation", np.uint8, 1), ("handle_left_type", np.uint8, 1), ("handle_right_type", np.uint8, 1),
         ("easing", np.uint8, 1), ("type", np.uint8, 1), ("back", np.float32, 1), ("amplitude", np.float32, 1),
         ("period", np.float32, 1), ("select_control_point", bool, 1), ("select_left_handle", bool, 1),
         ("select_right_handle", bool, 1))
AUTO = (bake._HANDLE["AUTO"], bake._HANDLE["AUTO_CLAMPED"])


def key_state(fc) -> dict:
    """{property: (N, width) array} of every key of ``fc`` (exact copies)."""
    kp, out = fc.keyframe_points, {}
    for name, dtype, width in PROPS:
        buf = np.empty(len(kp) * width, dtype=dtype)
        kp.foreach_get(name, buf)
        out[name] = buf.reshape(len(kp), width)
    return out


def enum_values(name: str) -> np.ndarray:
    return np.array([i.value for i in bpy.types.Keyframe.bl_rna.properties[name].enum_items], np.uint8)


def mix_properties(fc, rng, handles: np.ndarray | None = None) -> None:
    """Give every key of ``fc`` random properties but its frame and value: interpolations, handle types
    (among ``handles``, default all), keyframe types, easings, Back/Elastic settings and selections."""
    kp, n = fc.keyframe_points, len(fc.keyframe_points)
    for name, dtype, _ in PROPS[3:]:
        if dtype is bool:
            v = rng.random(n) < 0.5
        elif dtype == np.uint8:
            v = enum_values(name) if handles is None or "handle" not in name else np.asarray(handles, np.uint8)
            v = v[rng.integers(0, len(v), n)]
        else:
            v = rng.uniform(0.5, 3.0, n).astype(np.float32)
        kp.foreach_set(name, v)
    for attr, off in (("handle_left", -1.0), ("handle_right", 1.0)):  # free handles somewhere of their own
        co = np.empty(2 * n, np.float32)
        kp.foreach_get("co", co)
        co[0::2] += off * rng.uniform(0.1, 0.4, n)
        co[1::2] += rng.normal(0.0, 0.2, n)
        kp.foreach_set(attr, co)
    fc.update()


def test_merge_keys_carries_every_keyframe_property():
    """Every writable property of Blender's keys is carried (a new one in a later Blender fails here:
    add it to bake._KEY_PROPS), and the handle type values merge_keys writes are Blender's."""
    writable = {p.identifier for p in bpy.types.Keyframe.bl_rna.properties if not p.is_readonly}
    carried = {"co", *bake._KEY_FLAGS, *(name for name, _, _ in bake._KEY_PROPS)}
    assert writable - {"rna_type", "co_ui"} == carried  # co_ui: co, moving the handles along
    assert {p[0] for p in PROPS} == carried
    handle_types = bpy.types.Keyframe.bl_rna.properties["handle_left_type"].enum_items
    assert {name: handle_types[name].value for name in bake._HANDLE} == bake._HANDLE


def merge_by_sorting(fc, frames: np.ndarray, values: np.ndarray) -> int:
    """The reference: merge_keys as it was, the new keys appended and put in place by Blender's sort
    (whole keys swapped; quadratic in the curve's length), automatic handles beside them frozen key by key."""
    kp, n = fc.keyframe_points, len(fc.keyframe_points)
    co = key_state(fc)["co"].copy()
    gap = np.abs(co[:, 0][None, :] - frames[:, None]) if n else np.full((len(frames), 1), np.inf)
    on = gap.argmin(axis=1)
    hit = gap[np.arange(len(frames)), on] < 1e-3
    co[on[hit], 1] = values[hit]
    add = int((~hit).sum())
    if add and n:
        order = np.argsort(np.concatenate([co[:, 0], frames[~hit]]), kind="stable")
        new = order >= n
        beside = np.zeros(len(order), bool)
        beside[:-1] |= new[1:]
        beside[1:] |= new[:-1]
        if fc.auto_smoothing == "CONT_ACCEL":  # the run of automatic handles a one-sided key ends
            auto = [[k.handle_left_type in bake.AUTO_HANDLES, k.handle_right_type in bake.AUTO_HANDLES] for k in kp]
            for p in np.flatnonzero(beside & ~new):
                if sum(auto[order[p]]) != 1:
                    continue
                for step in (-1, 1):
                    q = p + step
                    while 0 <= q < len(order) and not new[q] and any(auto[order[q]]):
                        beside[q] = True
                        q += step
        for i in order[beside & ~new]:
            k = kp[int(i)]
            left, right = tuple(k.handle_left), tuple(k.handle_right)
            auto_l, auto_r = k.handle_left_type in bake.AUTO_HANDLES, k.handle_right_type in bake.AUTO_HANDLES
            a, b = np.subtract(left, k.co), np.subtract(right, k.co)  # opposite, on one line: aligned
            lined_up = abs(a[0] * b[1] - a[1] * b[0]) <= 1e-5 * np.hypot(*a) * np.hypot(*b) and a @ b <= 0
            if auto_l and auto_r:
                k.handle_left_type = k.handle_right_type = "ALIGNED" if lined_up else "FREE"
            elif auto_l:
                k.handle_left_type = "FREE"
            elif auto_r:
                k.handle_right_type = "FREE"
            k.handle_left, k.handle_right = left, right
    mine = key_state(fc)  # the user's keys' handles as they stand (frozen beside the new keys)
    kp.add(add)
    kp.foreach_set("co", np.concatenate([co, np.stack([frames[~hit], values[~hit]], 1)]).astype(np.float32).ravel())
    interp = np.empty(n + add, np.uint8)
    kp.foreach_get("interpolation", interp)
    interp[n:] = anim_compat.INTERPOLATION["LINEAR"]
    kp.foreach_set("interpolation", interp)
    fc.update()
    # the user's keys' handles as they were, but the keys that took a new value (bake.keep_handles)
    state = key_state(fc)
    new = ~np.isin(state["co"][:, 0], mine["co"][:, 0])
    kept = ~new & ~np.isin(state["co"][:, 0], mine["co"][on[hit], 0])
    old = {}
    for side in ("handle_left", "handle_right"):
        old[side] = state[side].copy()
        at = {float(f): i for i, f in enumerate(mine["co"][:, 0])}
        for j in np.flatnonzero(kept):
            old[side][j] = mine[side][at[float(state["co"][j, 0])]]
    bake.keep_handles(fc, old, kept, new)
    return add


@pytest.mark.parametrize("seed", range(6))
def test_merge_keys_writes_what_blenders_sort_did(scene, seed):
    """Two copies of a curve of keys with mixed properties (sub-frame keys, keys near whole frames;
    automatic handles in runs, Continuous Acceleration or not), keys merged into one by merge_keys and
    into the other as before: every property of every key bit-identical, frames in time order; new keys
    before, among and after the user's, some on the user's frames, in any order."""
    rng = np.random.default_rng(seed)
    obj = bpy.data.objects.new("curves", None)
    scene.collection.objects.link(obj)
    obj.location = (0.0, 0.0, 0.0)
    for i in (0, 1):
        obj.keyframe_insert("location", index=i, frame=1)
    a, b = anim_compat.fcurves_of(obj, obj.animation_data.action)
    n = 80
    frames = np.sort(rng.choice(np.arange(0, 200), n, replace=False)).astype(np.float32)
    frames[rng.integers(0, n, 4)] += np.float32(0.25)
    frames[rng.integers(0, n, 2)] += np.float32(4e-4)
    frames = np.unique(frames)
    a.keyframe_points.clear()
    a.keyframe_points.add(len(frames))
    a.keyframe_points.foreach_set("co", np.stack([frames, rng.normal(size=len(frames))], 1).astype(np.float32).ravel())
    a.auto_smoothing = "CONT_ACCEL" if seed % 2 else "NONE"
    a.extrapolation = "LINEAR" if seed % 3 == 1 else "CONSTANT"
    a.update()
    mix_properties(a, rng, handles=None if seed < 2 else np.array([1, 4, 4, 4, 4, 0, 2, 3], np.uint8))
    before = key_state(a)
    b.auto_smoothing, b.extrapolation = a.auto_smoothing, a.extrapolation  # first: these recompute handles
    b.keyframe_points.clear()
    b.keyframe_points.add(len(frames))
    for name, _, _ in PROPS:
        b.keyframe_points.foreach_set(name, before[name].ravel())
    assert [k for k in before if not np.array_equal(before[k], key_state(b)[k])] == []
    at = rng.permutation(np.unique(rng.integers(-10, 215, 40))).astype(np.float64)
    values = rng.normal(size=len(at))
    assert bake.merge_keys(a, at, values) == merge_by_sorting(b, at, values) > 0
    got, want = key_state(a), key_state(b)
    for name in got:
        assert np.array_equal(got[name], want[name]), name
    assert (np.diff(got["co"][:, 0]) > 0).all()
    selected = got["select_control_point"]
    assert len(got["co"]) > len(before["co"]) and selected.any() and not selected.all()


@pytest.mark.parametrize("smoothing,seed", [("NONE", 7), ("CONT_ACCEL", 7), ("NONE", 3), ("CONT_ACCEL", 4)])
def test_bake_keeps_every_property_of_the_users_keys_around_the_span(scene, smoothing, seed):
    """The user's keys before and after a filled gap with mixed interpolations, handle types, keyframe
    types, easings, Back/Elastic settings and selections: after Bake the keys are in time order, the
    generated ones linear on every frame of the span, and every user key keeps its frame, value,
    interpolation, easing, Back/Elastic settings, keyframe type and selection bit for bit, and its
    handle types but the automatic ones of the keys beside the span (and, with Continuous Acceleration,
    of the automatic run one of them ends), made aligned or free, and Vector or automatic handles that
    Blender would solve anew because of that (made free or aligned). Every handle away from the span
    stays where it was, bit for bit (Blender's update after the merge turned aligned ones a few float
    steps and solved some anew), and so does every one beside it that Blender keeps: not a Vector handle,
    which points at the new key, nor an aligned one Blender moves (reaching past the new key, or turned
    with such a Vector handle). The curve plays as before up to the keys beside the span, and one more
    update (the user's next edit) changes it nowhere: put back where Blender would solve them anew,
    handles changed the curve by 2e-3 at the next edit instead."""
    rng = np.random.default_rng(seed)
    obj, _ = make_row_rig("mpi_body_only")
    action = armature.write_motion(obj, smooth_motion(T=120, seed=4), scene)
    user, played = {}, {}
    for fc in anim_compat.fcurves_of(obj, action):
        kp = fc.keyframe_points
        for i in reversed(range(len(kp))):
            if 50 < kp[i].co[0] < 71:
                kp.remove(kp[i])
        fc.auto_smoothing = smoothing
        mix_properties(fc, rng)
        user[(fc.data_path, fc.array_index)] = key_state(fc)
        played[(fc.data_path, fc.array_index)] = np.array(
            [fc.evaluate(x) for x in np.r_[np.linspace(1.0, 49.0, 300), np.linspace(72.0, 120.0, 300)]])
    scene.frame_end = 120
    assert bpy.ops.a4mer.fill_gaps(frame_start=51, frame_end=70) == {"FINISHED"}
    assert [(s["first"], s["last"]) for s in generated.read_state(obj)["spans"]] == [(51, 70)]
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    frozen = baked = kept_beside = kept_aligned = 0
    for fc in anim_compat.fcurves_of(obj, action):
        got, was = key_state(fc), user[(fc.data_path, fc.array_index)]
        f = got["co"][:, 0]
        assert (np.diff(f) > 0).all(), fc.data_path
        mine = np.isin(f, was["co"][:, 0])
        if len(f) == len(was["co"]):  # a channel the span does not bake: untouched
            assert [k for k in got if not np.array_equal(got[k], was[k])] == [], fc.data_path
            continue
        baked += 1
        assert mine.sum() == len(was["co"]) == len(f) - 20
        assert f[~mine].tolist() == list(range(51, 71))
        assert (got["interpolation"][~mine] == anim_compat.INTERPOLATION["LINEAR"]).all()
        for name, _, _ in PROPS:
            if name not in ("handle_left_type", "handle_right_type", "handle_left", "handle_right"):
                assert np.array_equal(got[name][mine], was[name]), (fc.data_path, name)
        types = np.concatenate([got["handle_left_type"][mine], got["handle_right_type"][mine]], 1)
        old = np.concatenate([was["handle_left_type"], was["handle_right_type"]], 1)
        changed = (types != old).any(axis=1)
        beside = np.isin(was["co"][:, 0], [50.0, 71.0])
        for t, o in zip(types[changed], old[changed]):  # fixed where they are: automatic -> aligned (both,
            auto = np.isin(o, AUTO)  # lined up) or free; Vector and aligned -> free
            for side in np.flatnonzero(t != o):
                want = ("ALIGNED", "FREE") if auto.all() else ("FREE",)
                assert t[side] in [bake._HANDLE[w] for w in want], (fc.data_path, t, o)
        frozen += changed.sum()
        for side in ("left", "right"):  # every handle of the user's keys where it was, bit for bit
            kind, moved = was[f"handle_{side}_type"][:, 0], got[f"handle_{side}"][mine] - was[f"handle_{side}"]
            moved = moved.any(axis=1)
            assert not moved[~beside].any(), (fc.data_path, side)
            now = got[f"handle_{side}_type"][mine][:, 0]
            blenders = moved & beside & (now != bake._HANDLE["VECTOR"])  # a Vector one points at the new key
            assert (now[blenders] == bake._HANDLE["ALIGNED"]).all(), (fc.data_path, side)
            kept_beside += (beside & ~moved).sum()
            kept_aligned += (~beside & (kind == bake._HANDLE["ALIGNED"])).sum()
        outside = np.r_[np.linspace(1.0, 49.0, 300), np.linspace(72.0, 120.0, 300)]
        assert np.abs(np.array([fc.evaluate(x) for x in outside]) - played[(fc.data_path, fc.array_index)]).max() < 1e-5
        xs = np.linspace(1.0, 120.0, 600)
        curve = np.array([fc.evaluate(x) for x in xs])
        fc.update()  # as the user's next edit of the channel would
        drift = np.abs(np.array([fc.evaluate(x) for x in xs]) - curve).max()
        assert drift < 1e-5, (fc.data_path, fc.array_index, drift)
    assert frozen > 0 and baked >= 60 and kept_beside > 30 and kept_aligned > 100


@pytest.mark.parametrize("kept_end", [False, True])
def test_bake_warns_where_a_linear_end_key_extrapolates_from_a_baked_key(scene, capfd, kept_end):
    """Linear keys (as imported mocap) with Extrapolation Linear and a span right before the last key:
    Blender draws the line past a Linear end key from the key beside it, now a baked one, so the line
    after the action's end turns. Bake cannot keep it without changing the user's key, and says so,
    naming each channel once; a Bezier end key keeps its line (its handle draws it) and is not named.
    With one bone still keyed on the frames before the last key (``kept_end``) the span stops short of
    them and Bake keys the other channels there on their own line: no line turns, and none is named."""
    obj, _ = make_row_rig("mpi_body_only")
    action = armature.write_motion(obj, smooth_motion(T=120, seed=4), scene)
    lines, bezier = {}, None
    for fc in anim_compat.fcurves_of(obj, action):
        kp = fc.keyframe_points
        held = kept_end and fc.data_path == 'pose.bones["pelvis"].location' and fc.array_index == 0
        for i in reversed(range(len(kp))):
            if 100 < kp[i].co[0] < (110 if held else 120):
                kp.remove(kp[i])
        fc.extrapolation = "LINEAR"
        for k in kp:
            k.interpolation = "LINEAR"
        if bezier is None and fc.data_path.endswith("location"):
            bezier = (fc.data_path, fc.array_index)
            kp[len(kp) - 1].interpolation = "BEZIER"
        fc.update()
        lines[(fc.data_path, fc.array_index)] = fc.evaluate(130.0)
    scene.frame_end = 120
    assert bpy.ops.a4mer.fill_gaps(frame_start=1, frame_end=120) == {"FINISHED"}
    capfd.readouterr()
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    out = capfd.readouterr()
    text = out.out + out.err
    turned = [key for key, v in lines.items()
              if abs(next(fc for fc in anim_compat.fcurves_of(obj, action)
                          if (fc.data_path, fc.array_index) == key).evaluate(130.0) - v) > 1e-4]
    if kept_end:
        assert turned == [] and "Linear extrapolation" not in text
        return
    assert len(turned) > 30 and bezier not in turned  # the Linear ends turned, the Bezier one did not
    assert f"{len(turned)} channel(s) with Linear extrapolation and a Linear end key" in text
    assert f"{turned[0][0]}[{turned[0][1]}] after the last key" in text


@pytest.mark.parametrize("start", [10.0, 5000.0, 14000.0])
def test_automatic_handles_blender_drew_count_as_lined_up(scene, start):
    """Blender draws a key's two automatic handles on one line; in float32 far along the timeline their
    rounding alone turns them by more than 1e-5 (at frame 5000 half of them failed a plain angle test,
    so Bake made them free instead of aligned)."""
    obj = bpy.data.objects.new("far", None)
    scene.collection.objects.link(obj)
    obj.keyframe_insert("location", index=0, frame=1)
    fc = anim_compat.fcurves_of(obj, obj.animation_data.action)[0]
    kp = fc.keyframe_points
    kp.clear()
    kp.add(40)
    x = start + 1.37 * np.arange(40)
    kp.foreach_set("co", np.stack([x, 50.0 + 3.0 * np.sin(x / 4.0)], 1).astype(np.float32).ravel())
    kp.foreach_set("handle_left_type", np.full(40, bake._HANDLE["AUTO"], np.uint8))
    kp.foreach_set("handle_right_type", np.full(40, bake._HANDLE["AUTO"], np.uint8))
    fc.auto_smoothing = "NONE"
    fc.update()
    st = key_state(fc)
    assert bake._lined_up(st["co"], st["handle_left"], st["handle_right"])[1:-1].all()
    bent = st["handle_right"].copy()
    bent[:, 1] += 0.05  # a handle turned by hand is not in line
    assert not bake._lined_up(st["co"], st["handle_left"], bent)[1:-1].any()
