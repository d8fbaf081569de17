"""The one module that knows slotted actions (Blender 4.4+ / 5.0) from the legacy action API (4.2).

Slotted: keys live in ``action.layers[0].strips[0].channelbag(slot).fcurves`` (5.0 removed
``Action.fcurves``); an object animates through ``animation_data.action_slot``. Legacy: keys live in
``action.fcurves``. Callers get an :class:`FCurveSink` / a plain F-Curve sequence and never branch.
The branch is chosen per action (``hasattr(action, "slots")``), so tests can drive the legacy path
with a stand-in action object.
"""
from __future__ import annotations

from typing import Any, Iterable

from .._core import errors

#: enum values of ``Keyframe.interpolation`` for ``foreach_set`` (DNA ``BEZT_IPO_*``)
INTERPOLATION = {"CONSTANT": 0, "LINEAR": 1, "BEZIER": 2}


def is_slotted(action: Any) -> bool:
    """True for a slotted (layered) action: Blender 4.4+."""
    return hasattr(action, "slots") and hasattr(action, "layers")


def _slot_for(id_owner: Any, action: Any) -> Any:
    """The slot ``id_owner`` animates with ``action``: its assigned slot when ``action`` is active, else
    the slot of its first NLA strip showing ``action`` (a pushed-down action), else the first suitable
    one. (An action shared by several objects has one slot per object: the first suitable slot may be
    another object's.)"""
    anim = getattr(id_owner, "animation_data", None)
    if anim is not None and anim.action == action and getattr(anim, "action_slot", None) is not None:
        return anim.action_slot
    for track in anim.nla_tracks if anim is not None else ():
        for strip in track.strips:
            if strip.action == action and getattr(strip, "action_slot", None) is not None:
                return strip.action_slot
    return next((slot for slot in action.slots if slot.target_id_type in ("UNSPECIFIED", "OBJECT")), None)


def check_plays_a_slot(id_owner: Any, action: Any) -> None:
    """:class:`A4merError` when ``action`` is ``id_owner``'s active action but none of its slots is assigned
    (4.4+: an action another object animates with, given to this one; Blender then plays none of it here).
    Reading, filling or marking it would work on another object's motion."""
    anim = getattr(id_owner, "animation_data", None)
    if (anim is not None and anim.action == action and is_slotted(action) and len(action.slots)
            and getattr(anim, "action_slot", None) is None):
        raise errors.A4merError(
            f"{id_owner.name!r} plays no slot of its action {action.name!r} (Blender shows the rig in its rest pose; "
            f"the action's slots: {', '.join(repr(s.name_display) for s in action.slots)}): choose the rig's slot in "
            "the Action editor's Slot menu, or give the rig an action of its own, and rerun")


def channelbag(action: Any, slot: Any, ensure: bool = False) -> Any:
    """The channelbag of ``slot`` in ``action`` (first layer and keyframe strip holding one); with
    ``ensure``, created in the first strip of the first layer when missing (both made when absent).
    The RNA API directly: ``bpy_extras.anim_utils`` has no such helpers before Blender 5.0."""
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot)
            if bag is not None:
                return bag
    if not ensure:
        return None
    layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot, ensure=True)


def assign_action(id_owner: Any, action: Any) -> None:
    """Make ``action`` the active action of ``id_owner`` (an Object), with a slot on 4.4+."""
    anim = id_owner.animation_data or id_owner.animation_data_create()
    if is_slotted(action):
        slot = _slot_for(id_owner, action)
        if slot is None:
            slot = action.slots.new(id_type="OBJECT", name=id_owner.name)
        anim.action = action
        if anim.action_slot != slot:
            anim.action_slot = slot
    else:
        anim.action = action


def fcurves_of(id_owner: Any, action: Any) -> list:
    """The F-Curves animating ``id_owner`` in ``action`` (empty when it has none)."""
    if action is None:
        return []
    if not is_slotted(action):
        return list(action.fcurves)
    slot = _slot_for(id_owner, action)
    if slot is None:
        return []
    bag = channelbag(action, slot)
    return list(bag.fcurves) if bag is not None else []


class FCurveSink:
    """Creates/replaces F-Curves of ``id_owner`` in ``action`` (slotted or legacy)."""

    def __init__(self, id_owner: Any, action: Any):
        self.action = action
        if is_slotted(action):
            slot = _slot_for(id_owner, action)
            if slot is None:
                slot = action.slots.new(id_type="OBJECT", name=id_owner.name)
            self._bag = channelbag(action, slot, ensure=True)
            self._curves = self._bag.fcurves
        else:
            self._bag = None
            self._curves = action.fcurves

    def fresh(self, data_path: str, index: int, group: str) -> Any:
        """A new, empty F-Curve for ``data_path[index]`` (an existing one is removed first)."""
        old = self._curves.find(data_path, index=index)
        if old is not None:
            self._curves.remove(old)
        return self._new(data_path, index, group)

    def ensure(self, data_path: str, index: int, group: str) -> Any:
        """The F-Curve for ``data_path[index]``: the existing one (keys kept) or a new, empty one."""
        old = self._curves.find(data_path, index=index)
        return old if old is not None else self._new(data_path, index, group)

    def _new(self, data_path: str, index: int, group: str) -> Any:
        if self._bag is None:
            return self._curves.new(data_path, index=index, action_group=group)
        if "group_name" in self._curves.bl_rna.functions["new"].parameters:  # 5.0+
            return self._curves.new(data_path, index=index, group_name=group)
        fc = self._curves.new(data_path, index=index)  # 4.4, 4.5: the group is made and set apart
        fc.group = self._bag.groups.get(group) or self._bag.groups.new(group)
        return fc

    def remove_paths(self, paths: Iterable[str]) -> None:
        """Remove every F-Curve whose data path is in ``paths``."""
        paths = set(paths)
        for fc in [fc for fc in self._curves if fc.data_path in paths]:
            self._curves.remove(fc)


#: bytes of UTF-8 a strip or track name holds in Blender
NAME_BYTES = 63


def fit_name(name: str) -> str:
    """``name`` cut to :data:`NAME_BYTES` bytes of UTF-8 on a character boundary (``strips.new`` cuts a
    long name inside a character, and reading it back then raises UnicodeDecodeError)."""
    return name.encode("utf-8")[:NAME_BYTES].decode("utf-8", "ignore")


def new_strip(track: Any, name: str, frame_start: int, action: Any) -> Any:
    """A new NLA strip named ``name`` (cut by :func:`fit_name`) on ``track`` (Blender 4.2-4.4 ignore the
    name given to ``strips.new`` and name the strip after the action: the name is set again)."""
    name = fit_name(name)
    strip = track.strips.new(name, frame_start, action)
    try:
        same = strip.name == name
    except UnicodeDecodeError:  # named after an action whose long name was cut inside a character
        same = False
    if not same:
        strip.name = name
    return strip


def set_strip_slot(strip: Any, id_owner: Any) -> None:
    """Give an NLA strip the owner's slot on 4.4+ (no-op on the legacy API)."""
    anim = id_owner.animation_data
    if hasattr(strip, "action_slot") and anim is not None and getattr(anim, "action_slot", None) is not None:
        if strip.action_slot != anim.action_slot:
            strip.action_slot = anim.action_slot


def active_slot_identifier(id_owner: Any) -> str:
    """Identifier of the slot ``id_owner`` animates with (``""`` on the legacy API or without one)."""
    anim = getattr(id_owner, "animation_data", None)
    slot = getattr(anim, "action_slot", None) if anim is not None else None
    return str(getattr(slot, "identifier", "")) if slot is not None else ""


def also_played_by(id_owner: Any, action: Any, objects) -> list[str]:
    """Names of the other ``objects`` that play ``action``'s channels of ``id_owner`` (as their active
    action or an NLA strip; on slotted actions with the same slot): keys written there move them too."""
    slot = _slot_for(id_owner, action) if is_slotted(action) else None
    names = []
    for o in objects:
        anim = getattr(o, "animation_data", None)
        if o == id_owner or anim is None:
            continue
        plays = [(anim.action, getattr(anim, "action_slot", None))]
        plays += [(st.action, getattr(st, "action_slot", None)) for t in anim.nla_tracks for st in t.strips]
        if any(a == action and (slot is None or sl == slot) for a, sl in plays):
            names.append(o.name)
    return names


def keep_in_file(action: Any, holders: int) -> None:
    """Give ``action`` a fake user when its ``holders`` (about to let go of it) are all its users, so that
    saving the file keeps the user's action (a linked action stays in its library: left alone)."""
    if action is not None and action.library is None and action.users <= holders and not action.use_fake_user:
        action.use_fake_user = True


def restore_action(id_owner: Any, action: Any, slot_identifier: str = "") -> None:
    """Make ``action`` active again on ``id_owner`` with the slot named ``slot_identifier`` when it
    still exists (else as :func:`assign_action` picks it)."""
    assign_action(id_owner, action)
    if slot_identifier and is_slotted(action):
        slot = next((s for s in action.slots if s.identifier == slot_identifier), None)
        if slot is not None and id_owner.animation_data.action_slot != slot:
            id_owner.animation_data.action_slot = slot
