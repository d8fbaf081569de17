"""The legacy action API (Blender 4.2: ``action.fcurves``) through stand-ins, beside the slotted API of
the installed bpy: both branches of bridge.anim_compat write the same keys and read back losslessly."""
from __future__ import annotations

import types

import numpy as np

import bpy
from a4mer.geometry import quat_angle
from a4mer_blender.bridge import anim_compat, armature
from bl_helpers import SLOTTED, action_keys, make_row_rig, smooth_motion


class FakeKeyframes:
    def __init__(self):
        self.co = np.zeros((0, 2), dtype=np.float32)
        self.interpolation = np.zeros(0, dtype=np.int32)

    def __len__(self):
        return len(self.co)

    def add(self, n):
        self.co = np.concatenate([self.co, np.zeros((n, 2), np.float32)])
        self.interpolation = np.concatenate([self.interpolation, np.full(n, 2, np.int32)])

    def foreach_set(self, attr, seq):
        arr = getattr(self, attr)
        arr[...] = np.asarray(seq, dtype=arr.dtype).reshape(arr.shape)

    def foreach_get(self, attr, out):
        out[...] = getattr(self, attr).ravel()


class FakeFCurve:
    def __init__(self, data_path, index, group):
        self.data_path, self.array_index, self.group = data_path, index, group
        self.keyframe_points = FakeKeyframes()
        self.modifiers, self.mute = [], False
        self.updated = 0

    def update(self):
        self.updated += 1

    def evaluate(self, frame):
        co = self.keyframe_points.co
        return float(np.interp(frame, co[:, 0], co[:, 1]))


class FakeFCurves(list):
    def new(self, data_path, index=0, action_group=""):  # the 4.2 signature
        assert self.find(data_path, index=index) is None, "duplicate F-Curve"
        fc = FakeFCurve(data_path, index, action_group)
        self.append(fc)
        return fc

    def find(self, data_path, index=0):
        return next((f for f in self if f.data_path == data_path and f.array_index == index), None)


class FakeLegacyAction(dict):
    """A 4.2 action: ``fcurves``, ``frame_range``, custom properties; no ``slots`` / ``layers``."""

    def __init__(self, name):
        super().__init__()
        self.name = name
        self.fcurves = FakeFCurves()

    @property
    def frame_range(self):
        frames = np.concatenate([f.keyframe_points.co[:, 0] for f in self.fcurves])
        return (float(frames.min()), float(frames.max()))


class LegacyObject:
    """Wraps a real armature object; its animation data accepts a legacy action."""

    def __init__(self, obj):
        self._obj = obj
        self.animation_data = types.SimpleNamespace(action=None, drivers=[], nla_tracks=[])

    def __getattr__(self, name):
        return getattr(self._obj, name)


def test_legacy_branch_writes_and_reads_like_slotted(scene):
    obj, _ = make_row_rig("official_smpl_axis_angle")  # axis-angle mode exercises channel conversion too
    motion = smooth_motion(T=20, seed=6)
    legacy = LegacyObject(obj)
    fake = FakeLegacyAction("legacy")
    assert not anim_compat.is_slotted(fake)
    armature.write_motion(legacy, motion, scene, action=fake)
    assert legacy.animation_data.action is fake
    assert all(fc.updated == 1 and fc.group for fc in fake.fcurves)
    assert all(np.all(fc.keyframe_points.interpolation == anim_compat.INTERPOLATION["LINEAR"]) for fc in fake.fcurves)
    back = armature.read_motion(legacy, scene)
    assert quat_angle(back.rotations, motion.rotations).max() < 1e-5
    np.testing.assert_allclose(back.root_translation, motion.root_translation, atol=1e-5)
    # the installed bpy's own branch (slotted on 4.4+, legacy on 4.2) writes exactly the same keys
    action = armature.write_motion(obj, motion, scene)
    assert anim_compat.is_slotted(action) == SLOTTED
    assert not SLOTTED or obj.animation_data.action_slot is not None
    slotted = action_keys(obj)
    legacy_keys = {(f.data_path, f.array_index): f.keyframe_points.co for f in fake.fcurves}
    assert slotted.keys() == legacy_keys.keys()
    for k in slotted:
        np.testing.assert_array_equal(slotted[k], legacy_keys[k])


def test_rewrite_replaces_channels_not_duplicates(scene):
    obj, _ = make_row_rig("mpi_body_only")
    action = armature.write_motion(obj, smooth_motion(T=10, seed=7), scene)
    n = len(action_keys(obj))
    armature.write_motion(obj, smooth_motion(T=15, seed=8), scene, action=action)
    keys = action_keys(obj)
    assert len(keys) == n and all(len(v) == 15 for v in keys.values())
    assert bpy.data.actions.find(action.name) >= 0


def test_curves_are_grouped_by_bone(scene):
    """Every written F-Curve sits in its bone's group (the Graph Editor's per-bone folders), on the
    installed bpy's own API (Blender 4.4's channelbag takes the group apart from ``fcurves.new``)."""
    obj, _ = make_row_rig("mpi_body_only")
    action = armature.write_motion(obj, smooth_motion(T=10, seed=3), scene)
    curves = anim_compat.fcurves_of(obj, action)
    assert len(curves) > 22 * 4
    for fc in curves:
        assert fc.group is not None and fc.group.name == fc.data_path.split('"')[1], fc.data_path
    if anim_compat.is_slotted(action):
        groups = anim_compat.channelbag(action, obj.animation_data.action_slot).groups
    else:
        groups = action.groups
    assert sorted(g.name for g in groups) == sorted({fc.group.name for fc in curves})  # one group per bone
