"""The end of the result layer of generated frames (:mod:`.generated`): :func:`bake` writes what its
spans show into the user's action, the only way generated keys enter it; :func:`remove_result` drops
the layer and makes the user's action active again, unchanged. Either way the spans' motif-track marks
(:mod:`.motif_marks`) go with them, but those of baked spans, which stay where the spans were baked,
showing the user's action there."""
from __future__ import annotations

import numpy as np

from .._core import channels as core_channels, errors
from . import anim_compat, armature, body_channels, generated, motif_marks, nla


#: handle types Blender recomputes from the neighbouring keys (on every key insertion)
AUTO_HANDLES = ("AUTO", "AUTO_CLAMPED")


def _smoothed_runs(auto: np.ndarray, order: np.ndarray, new: np.ndarray, beside: np.ndarray) -> np.ndarray:
    """``beside (M,)`` (over the merged keys in time ``order``; ``new``: the keys to add) widened, for a
    curve with Continuous Acceleration smoothing, by the user's keys with an automatic handle that lie in a
    run (no new key between) with a key beside a new one that has one automatic handle only: Blender
    solves the automatic handles of such a run together, from its ends, and freezing one end's other
    side changes that solution. ``auto (N, 2)``: whether each key's left and right handles are automatic
    (by key index, as ``order`` counts them)."""
    auto = auto[order]
    run = ~new & auto.any(axis=1)  # keys a run goes through
    seeds = beside & ~new & (auto.sum(axis=1) == 1)
    label = np.cumsum(~run)  # the keys of one run share a label (each key out of runs starts the next)
    return beside | (run & np.isin(label, label[seeds]))


#: DNA values (``HD_*``) of ``Keyframe.handle_left_type``/``handle_right_type``, as foreach reads them
_HANDLE = {"FREE": 0, "AUTO": 1, "VECTOR": 2, "ALIGNED": 3, "AUTO_CLAMPED": 4}
_AUTO = np.array([_HANDLE[h] for h in AUTO_HANDLES], np.uint8)

#: the per-key properties :func:`merge_keys` carries with each key to its place in time order: (name,
#: dtype, values per key); enums as uint8, their DNA char, which foreach copies directly (see
#: armature.set_keys). The selection flags (bits of a char) foreach reads and writes key by key, slowly
#: (on Blender 5 too ``co`` and the handles): they are written only when a key's place changes them.
_KEY_PROPS = (("handle_left", np.float32, 2), ("handle_right", np.float32, 2), ("interpolation", np.uint8, 1),
              ("handle_left_type", np.uint8, 1), ("handle_right_type", np.uint8, 1), ("easing", np.uint8, 1),
              ("type", np.uint8, 1), ("back", np.float32, 1), ("amplitude", np.float32, 1),
              ("period", np.float32, 1))
_KEY_FLAGS = ("select_control_point", "select_left_handle", "select_right_handle")


def _keys_on(keyed: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``frames (F,)``: the index of the key of ``keyed (N,)`` (frames, in key order) nearest
    to it (the first of equally near ones) and whether it lies closer than 1e-3 to it (on it); searched
    in sorted order, not frame by key."""
    on, hit = np.zeros(len(frames), np.int64), np.zeros(len(frames), bool)
    if not len(keyed):
        return on, hit
    srt = np.argsort(keyed, kind="stable")
    ks = keyed[srt].astype(np.float64)
    lo = np.searchsorted(ks, frames - 2e-3, "left")  # with a margin: the exact test is below
    hi = np.searchsorted(ks, frames + 2e-3, "right")
    for j in np.flatnonzero(hi > lo):  # frames with a key about them: few
        near = srt[lo[j]:hi[j]]
        gap = np.abs(keyed[near].astype(np.float64) - frames[j])
        best = near[np.lexsort((near, gap))[0]]
        on[j], hit[j] = best, abs(float(keyed[best]) - frames[j]) < 1e-3
    return on, hit


def _frozen(left: np.ndarray, right: np.ndarray, keys: np.ndarray, lined_up: np.ndarray) -> None:
    """Fix the automatic handles of keys ``keys (K,)`` (indices into the handle types ``left``/``right``
    (N,), changed in place) where they are, so new keys beside them do not bend the user's curve between
    them and their other neighbours: both automatic become aligned where the two handles line up
    (``lined_up (N,)``, :func:`_lined_up`), else both free; one automatic beside another type becomes
    free (the other side is left as it is). The handles' positions are not touched."""
    auto_l, auto_r = np.isin(left[keys], _AUTO), np.isin(right[keys], _AUTO)
    both = keys[auto_l & auto_r]
    left[both] = right[both] = np.where(lined_up[both], _HANDLE["ALIGNED"], _HANDLE["FREE"])
    left[keys[auto_l & ~auto_r]] = _HANDLE["FREE"]
    right[keys[auto_r & ~auto_l]] = _HANDLE["FREE"]


def _lined_up(co: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``(N,)`` whether the handles ``left``/``right (N, 2)`` of keys at ``co (N, 2)`` point in opposite
    directions on one line (as Blender aligns them: an Auto Clamped handle beside an Automatic one at a
    peak does not)."""
    a, b = (left - co).astype(np.float64), (right - co).astype(np.float64)
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    # the handles are float32: at frame 5000 their rounding alone turns them by more than 1e-5
    rounding = 4.0 * np.finfo(np.float32).eps * np.abs(np.stack([co, left, right])).max(axis=(0, 2)) * (na + nb)
    return (np.abs(cross) <= 1e-5 * na * nb + rounding) & ((a * b).sum(axis=1) <= 0)


def merge_keys(fc, frames: np.ndarray, values: np.ndarray) -> int:
    """Insert keys ``values (N,)`` at whole ``frames (N,)`` into F-Curve ``fc`` in bulk. A key already on
    one of ``frames`` gets the new value (:func:`bake` refuses before that happens to a key of the user's,
    :func:`check_keys_under`); every other key keeps its value, handles and interpolation
    (automatic handles of the keys next to new ones are fixed where they are, :func:`_frozen`:
    Blender would recompute them from the new neighbours and bend the curve beyond them). The new keys are linear,
    like the generated strips' keys, so the baked curve plays as the preview did. Returns the number of
    keys added.

    The curve is written once, in time order: every key's properties (:data:`_KEY_PROPS`, the selection
    flags) move with it to its place, so ``fc.update()`` moves no key (its sort shifts an out-of-place
    key one place per pass over the curve: appended keys cost their curve's length squared)."""
    kp = fc.keyframe_points
    n = len(kp)
    co = np.empty(2 * n, dtype=np.float32)
    kp.foreach_get("co", co)
    co = co.reshape(n, 2)
    frames = np.asarray(frames, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    on, hit = _keys_on(co[:, 0], frames)
    was = co.copy()  # where the handles were drawn from
    co[on[hit], 1] = values[hit]
    add = int((~hit).sum())
    if not add:
        kp.foreach_set("co", co.ravel())
        fc.update()  # the handles, from the new values
        return 0
    kp.add(add)  # appended at the end, with Blender's defaults: the keys are put in order below
    co = np.concatenate([co, np.stack([frames[~hit], values[~hit]], axis=1).astype(np.float32)])
    keys = {}
    for name, dtype, width in _KEY_PROPS:
        keys[name] = np.empty((n + add) * width, dtype=dtype)
        kp.foreach_get(name, keys[name])
    keys["interpolation"][n:] = anim_compat.INTERPOLATION["LINEAR"]
    order = np.argsort(co[:, 0], kind="stable")  # Blender's sort (a bubble sort) is stable too
    if n:  # keys whose neighbour in time becomes a new key
        new = order >= n
        beside = np.zeros(len(order), bool)
        beside[:-1] |= new[1:]
        beside[1:] |= new[:-1]
        if fc.auto_smoothing == "CONT_ACCEL":
            auto = np.isin(np.stack([keys["handle_left_type"], keys["handle_right_type"]], axis=1),
                           _AUTO)
            beside = _smoothed_runs(auto, order, new, beside)
        _frozen(keys["handle_left_type"], keys["handle_right_type"], order[beside & ~new],
                _lined_up(np.concatenate([was, co[n:]]), keys["handle_left"].reshape(-1, 2),
                          keys["handle_right"].reshape(-1, 2)))
    kp.foreach_set("co", co[order].ravel())
    for name, _, width in _KEY_PROPS:
        kp.foreach_set(name, keys[name].reshape(n + add, width)[order].ravel())
    for name in _KEY_FLAGS:
        flags = np.empty(n + add, dtype=bool)
        kp.foreach_get(name, flags)
        if not np.array_equal(flags[order], flags):
            kp.foreach_set(name, flags[order])
    fc.update()  # the new keys' handles (the keys are in order: the sort moves none)
    new = order >= n
    kept = ~new
    kept[np.argsort(order)[on[hit]]] = False  # keys that took a new value: their handles are Blender's
    keep_handles(fc, {name: keys[name].reshape(n + add, 2)[order] for name in _HANDLE_SIDES}, kept, new)
    return add


_HANDLE_SIDES = ("handle_left", "handle_right")

#: a handle that Blender's update moves further than this (relative to its coordinates, at least 1) is
#: one Blender must change; below it, the update only re-rounds the handle in float32
HANDLE_SETTLED = 1e-5


def keep_handles(fc, old: dict[str, np.ndarray], kept: np.ndarray, new: np.ndarray) -> None:
    """Put the handles of the user's keys of ``fc`` (mask ``kept (N,)``, in the curve's key order) back at
    ``old["handle_left"/"handle_right"] (N, 2)``, after ``fc.update()`` (which recomputes aligned and
    automatic handles in float32, a few float steps off, or solves them anew under Continuous
    Acceleration) and so that Blender's next update (the user's next edit) keeps them. A Vector handle
    facing a ``new`` key points at it, and an aligned one there that Blender shortens (reaching past the
    new key), are left to Blender. Any other handle Blender moves once put back (the aligned partner of
    such a Vector handle; Vector and automatic handles that Blender draws anew from a neighbour whose
    handle type was fixed, which can run along the curve) is fixed where it is: automatic as
    :func:`_frozen` does, Vector and aligned ones free; then all are put back and checked again, until
    Blender moves none of them."""
    kp = fc.keyframe_points
    facing = {"handle_left": kept & np.r_[False, new[:-1]], "handle_right": kept & np.r_[new[1:], False]}
    tol = {name: HANDLE_SETTLED * np.maximum(1.0, np.abs(old[name])) for name in _HANDLE_SIDES}
    lined_up = _lined_up(armature.key_coords(fc), old["handle_left"], old["handle_right"])
    fixable = (*_AUTO, _HANDLE["VECTOR"], _HANDLE["ALIGNED"])
    for _ in range(2 * len(kp) + 2):  # each round fixes a handle (automatic ones may take two): it ends
        types = {name: _get(kp, f"{name}_type", np.uint8) for name in _HANDLE_SIDES}
        for name in _HANDLE_SIDES:
            now = _get(kp, name, np.float32).reshape(-1, 2)
            back = kept & ~(facing[name] & (types[name] == _HANDLE["VECTOR"]))
            now[back] = old[name][back]
            kp.foreach_set(name, now.ravel())
        fc.update()
        moved = {name: kept & (np.abs(_get(kp, name, np.float32).reshape(-1, 2) - old[name]) > tol[name]).any(axis=1)
                 for name in _HANDLE_SIDES}
        fix = {name: moved[name] & ~facing[name] & np.isin(types[name], fixable) for name in _HANDLE_SIDES}
        if not any(m.any() for m in fix.values()):
            break
        free = {name: fix[name] & ~np.isin(types[name], _AUTO) for name in _HANDLE_SIDES}  # Vector, aligned
        left, right = types["handle_left"], types["handle_right"]
        _frozen(left, right, np.flatnonzero(fix["handle_left"] | fix["handle_right"]), lined_up)
        for name, t in (("handle_left", left), ("handle_right", right)):
            t[free[name]] = _HANDLE["FREE"]
            kp.foreach_set(f"{name}_type", t)
    for name in _HANDLE_SIDES:  # exactly where they were, where Blender keeps them
        now = _get(kp, name, np.float32).reshape(-1, 2)
        keep = kept & ~moved[name]
        now[keep] = old[name][keep]
        kp.foreach_set(name, now.ravel())


def _get(kp, name: str, dtype) -> np.ndarray:
    """Property ``name`` of every key of ``kp`` as a flat ``dtype`` array (``foreach_get``)."""
    width = 2 if name in _HANDLE_SIDES else 1
    out = np.empty(width * len(kp), dtype=dtype)
    kp.foreach_get(name, out)
    return out


def _additive(mod) -> bool:
    """True for an F-Curve modifier that adds a value of the frame alone to the curve (so a key under it
    can be set to show a wanted value): Noise but Multiply, additive (Function) Generators; Cycles
    changes nothing on frames inside the keys."""
    if mod.type == "NOISE":
        return mod.blend_type != "MULTIPLY"
    if mod.type in ("GENERATOR", "FNGENERATOR"):
        return bool(mod.use_additive)
    return mod.type == "CYCLES"


def check_modifiers(fc) -> None:
    """:class:`A4merError` when an acting modifier of ``fc`` makes what a key shows depend on the key
    (Limits, Envelope, Stepped, a replacing Generator, Noise Multiply): no key would show the span."""
    odd = [m.type.title() for m in fc.modifiers if not m.mute and not _additive(m)]
    if odd:
        raise errors.A4merError(f"the F-Curve {fc.data_path}[{fc.array_index}] has a {', '.join(odd)} modifier: "
                                "keys under it would not play as the generated frames do; apply or remove it, "
                                "then bake")


def check_inside_cycle(fc, shown: tuple[int, int]) -> None:
    """:class:`A4merError` when ``fc`` loops (an acting Cycles modifier) and the frames ``shown`` (first,
    last) lie outside its keys: keys there would lengthen the loop and change every frame after it."""
    if not len(fc.keyframe_points):
        return
    keys = armature.key_coords(fc)[:, 0]
    lo, hi = float(keys.min()), float(keys.max())
    if (shown[0] < lo - 1e-6 and body_channels.loops(fc, after=False)) or (shown[1] > hi + 1e-6 and body_channels.loops(fc, after=True)):
        raise errors.A4merError(f"the F-Curve {fc.data_path}[{fc.array_index}] loops over frames {lo:g}..{hi:g} (a "
                                f"Cycles modifier) and the generated frames {shown[0]}..{shown[1]} lie outside them: "
                                "keys there would lengthen the loop and change every frame after it; remove the "
                                "Cycles modifier (Graph Editor) to bake them, or remove the generated frames")


def modifier_offsets(fc, frames: np.ndarray) -> np.ndarray:
    """What ``fc``'s acting modifiers add on ``frames (N,)`` (evaluated value minus the keys' curve;
    zeros without modifiers), to be taken off baked keys so they play as shown. The modifiers are
    switched off only while the keys' curve is read, and switched back."""
    # Cycles stays on: it adds nothing on frames inside the keys, which the baked frames become (before
    # the bake, an extension's frames lie after the last key, where it would count the cycle as an offset)
    acting = [m for m in fc.modifiers if not m.mute and m.type != "CYCLES"]
    if not acting:
        return np.zeros(len(frames))
    shown = np.array([fc.evaluate(float(f)) for f in frames])
    try:
        for m in acting:
            m.mute = True
        raw = np.array([fc.evaluate(float(f)) for f in frames])
    finally:
        for m in acting:
            m.mute = False
    return shown - raw


def _uncovered(fc, first: int, last: int, content: tuple[int, int]) -> np.ndarray:
    """Whole frames ``(N,)`` around the span ``first..last`` whose present values baked keys would change,
    to be keyed with those values: the frames between ``fc``'s last key before the span and its first key
    after it that the span leaves out (a span the user moved within a gap: keys put on the span change how
    the curve interpolates there; keys between whole frames count), and, where ``fc`` has keys on one
    side of the span only, the frame next to the span on the other side if it lies in the user's
    ``content`` (first, last) frames (the curve held its end key's value there and would hold the span's
    end value), two frames with linear extrapolation (the line goes on)."""
    keyed = armature.key_coords(fc)[:, 0].astype(np.float64)
    if not len(keyed):
        return np.zeros(0)
    before, after = keyed[keyed < first - 1e-3], keyed[keyed > last + 1e-3]
    reach = 2 if fc.extrapolation == "LINEAR" else 1
    if len(before):
        lo = np.arange(int(np.floor(before.max() + 1e-3)) + 1, first)
    else:
        lo = np.arange(first - reach, first) if first - 1 >= content[0] else np.zeros(0, np.int64)
    if len(after):
        hi = np.arange(last + 1, int(np.ceil(after.min() - 1e-3)))
    else:
        hi = np.arange(last + 1, last + 1 + reach) if last + 1 <= content[1] else np.zeros(0, np.int64)
    return np.concatenate([lo, hi]).astype(np.float64)


def rest_value(obj, fc, strip) -> float:
    """The value Blender's NLA gives channel ``fc`` (of a generated strip's action; one the user's action
    does not animate) on frames no strip keys it: the property's default. :class:`A4merError` naming the
    channel and ``strip`` for a custom property, which has none to read."""
    owner_path, _, prop = fc.data_path.rpartition(".")
    try:
        owner = obj.path_resolve(owner_path) if owner_path else obj
        rna = None if fc.data_path.endswith("]") else owner.bl_rna.properties.get(prop)
    except ValueError:
        rna = None
    if rna is None or rna.type not in {"FLOAT", "INT", "BOOLEAN"}:
        raise errors.A4merError(f"the strip {strip.name!r} keys {fc.data_path}[{fc.array_index}], which your action "
                                "does not animate (keyed in tweak mode?): Bake cannot tell what it shows outside "
                                "the strip; key it in your action too, or delete it from the strip, then bake")
    return float(rna.default_array[fc.array_index] if rna.is_array else rna.default)


def check_keys_under(obj, shown: list[dict], users: dict) -> None:
    """:class:`A4merError` when a key of the user's lies on the frames a shown span covers (``shown``:
    :func:`.generated.spans` entries; ``users``: the user's F-Curves by (data path, index)) on a channel
    it bakes: baking puts a generated key on every frame the span covers, so that key (inserted after
    the fill, or under a strip moved onto keyed frames) would get the generated value. Names the
    channels and frames, and what to do; nothing changes."""
    parts = []
    for sp in shown:
        first, last = sp["shown"]
        channels, frames = {}, []  # data path -> [indices]
        for fc in anim_compat.fcurves_of(obj, sp["strip"].action):
            target = users.get((fc.data_path, fc.array_index))
            if target is None:
                continue
            keyed = armature.key_coords(target)[:, 0].astype(np.float64)
            under = keyed[(keyed > first - 1e-3) & (keyed < last + 1e-3)]
            if len(under):
                channels.setdefault(fc.data_path, []).append(fc.array_index)
                frames += under.tolist()
        if channels:
            named = [f"{path}[{idx[0]}]" if len(idx) == 1 else path for path, idx in list(channels.items())[:3]]
            more = f" and {len(channels) - 3} more" if len(channels) > 3 else ""
            parts.append(f"{core_channels.frames_text(np.array(frames))} of the strip "
                         f"{sp['strip'].name!r} (on frames {first}-{last}): {', '.join(named)}{more}")
    if parts:
        raise errors.A4merError(f"keys of yours lie under a generated strip, at {'; '.join(parts)}; Bake would "
                                "replace them with generated keys: move or trim the strip off those frames (NLA "
                                "editor), or delete those keys, then bake")


def remove_result(obj, keep_marks: list[dict] = ()) -> int:
    """Delete the generated spans' strips and actions (the generated track too, unless it holds strips of
    the user's: see :func:`.generated.foreign_strips`), and put the user's action back as the active
    action (its keys untouched), also when the user deleted the source track; the spans' motif-track
    marks go too, but for the stored span records in ``keep_marks`` (baked: the motif occurrences are in
    the action). :class:`A4merError` before any change when the user's action is on no track, another
    action is active and A4Mer's pointer is its last user (dropping it would lose the action). A source
    strip the user moved, scaled, repeated or reversed stays on its track as they placed it
    (:func:`.generated.source_retimed`), with the NLA on and the tracks it muted still muted (as they
    played). Returns the number of spans removed. :class:`A4merError` in NLA tweak mode (the tweaked
    action would stay on its track, with none active)."""
    state = generated.read_state(obj)
    if state is None:
        return 0
    nla.check_not_tweaking(obj)
    anim = obj.animation_data
    if anim is None:  # the user cleared the animation data: nothing of A4Mer's is left to remove
        anim_compat.keep_in_file(generated.source_action(obj, state), 1)  # held by the record's pointer only
        generated.write_state(obj, None)
        return 0
    src = generated.source_track(obj, state)
    lost = generated.source_action(obj, state) if src is None else None  # its track was deleted
    if lost is not None and anim.action is not None and anim.action != lost and lost.users <= 1:
        raise errors.A4merError(f"your action {lost.name!r} is on no track any more (the "
                                f"{generated.SOURCE_TRACK!r} track was deleted) and {anim.action.name!r} is "
                                f"active: A4Mer holds the last reference to it; make {lost.name!r} active "
                                "(Action editor), then remove the generated frames")
    track = generated.generated_track(obj, state)
    ours = generated.spans(obj, state)
    for sp in state.get("spans", []):  # the generated frames go away: so do their marks on the motif track
        if sp.get("motif") and sp not in keep_marks:
            motif_marks.unmark_motif(obj, sp)
    for sp in generated.pieces(obj, state) + ours:  # a span's action goes with its last strip
        generated.drop_strip(track, sp["strip"])
    if track is not None and not len(track.strips):
        anim.nla_tracks.remove(track)
    if src is not None or lost is not None:
        settings = state.get("action_settings") or {"blend": src.strips[0].blend_type if src else "REPLACE",
                                                    "influence": 1.0,
                                                    "extrapolation": src.strips[0].extrapolation if src else "HOLD"}
        retimed = src is not None and generated.source_retimed(src.strips[0]) is not None
        if retimed:  # the user's track now, named for their action (not taken for a leftover A4Mer track)
            src.name = src.strips[0].action.name
        if anim.action is None and not retimed:  # else the user's action stays on its track: another action
            action = src.strips[0].action if src is not None else lost  # is active, or the user moved it there
            slot = state.get("slot", "")
            if src is not None:  # the slot it plays now (renamed, or chosen in the NLA editor)
                slot = getattr(getattr(src.strips[0], "action_slot", None), "identifier", slot)
                anim.nla_tracks.remove(src)
            anim_compat.restore_action(obj, action, slot)
            anim.action_blend_type, anim.action_extrapolation = settings["blend"], settings["extrapolation"]
            anim.action_influence = settings["influence"]
        if not retimed:  # a moved strip plays on the NLA, over what played with it
            for t in generated.muted_tracks(obj, settings):
                t.mute = False
            anim.use_nla = settings.get("use_nla", True)
    generated.write_state(obj, None)
    return len(ours)


#: how far past an end of the action (frames) :func:`end_lines` reads the extrapolated line
LINE_PROBE_FRAMES = 10.0


def end_lines(fc, frames: np.ndarray) -> dict[str, tuple[float, float]]:
    """Where ``fc`` draws its linear extrapolation past the ends that keys at ``frames (N,)`` leave its end
    keys (none past the first or last key, which would move that end): ``{end: (frame, value)}``, one point
    :data:`LINE_PROBE_FRAMES` past each such end, for :func:`ends_turned` to read again after the keys
    are in. Empty without Extrapolation Linear (or with a Cycles modifier, which draws past the ends)."""
    kp = fc.keyframe_points
    if fc.extrapolation != "LINEAR" or not len(kp) or not len(frames) \
            or any(m.type == "CYCLES" and not m.mute for m in fc.modifiers):
        return {}
    co = armature.key_coords(fc)[:, 0]
    lo, hi = float(co.min()), float(co.max())
    out = {}
    if frames.min() > lo:
        out["before the first key"] = (lo - LINE_PROBE_FRAMES, fc.evaluate(lo - LINE_PROBE_FRAMES))
    if frames.max() < hi:
        out["after the last key"] = (hi + LINE_PROBE_FRAMES, fc.evaluate(hi + LINE_PROBE_FRAMES))
    return out


def ends_turned(fc, lines: dict[str, tuple[float, float]]) -> list[str]:
    """The ends of :func:`end_lines` ``lines`` whose line ``fc`` now draws elsewhere: with Extrapolation
    Linear, Blender draws the line past a Linear end key from the key beside it, which may now be a new
    one (a Bezier or Constant end key keeps its line: its handle draws it)."""
    return [end for end, (x, y) in lines.items() if abs(fc.evaluate(x) - y) > 1e-6 * max(1.0, abs(y))]


def bake(obj) -> tuple[int, int, list[str]]:
    """Write what the unmuted spans show into the user's action (a key on every whole scene frame their
    strips cover, where the user may have moved, trimmed or scaled them, and on the frames of the gap a
    moved strip left uncovered, with the values shown there), then remove the result layer (the user's
    action is active again). The motif-track marks of the baked spans move to where their strips showed
    them; those of spans not baked (muted, or deleted by the user) go. Returns (spans baked, keys added,
    the channels whose linear extrapolation past an end of the action turned, with those ends:
    :func:`ends_turned`).
    Refused before any change (:class:`A4merError`) when a baked channel is locked, has a modifier no key
    could show the span under, or has a key of the user's on a frame a span covers
    (:func:`check_keys_under`): the user's keys are never changed."""
    state = generated.read_state(obj)
    track = generated.generated_track(obj, state)
    if track is None:
        raise errors.A4merError(f"{obj.name!r} has no A4Mer generated frames to bake")
    if track.mute:
        raise errors.A4merError(f"the A4Mer Generated track {track.name!r} is muted: unmute it to bake it, or "
                                "delete it")
    action = generated.user_action(obj)
    if action.library is not None:
        raise errors.A4merError(f"the action {action.name!r} of {obj.name!r} is linked from "
                                f"{action.library.filepath!r} and cannot take keys: make it local (Outliner in Blender File view: "
                                "right-click the action > Make Local; the Action editor shows no action while generated "
                                "frames show), then bake; the generated frames stay shown until then")
    if getattr(action, "override_library", None) is not None:
        raise errors.A4merError(f"the action {action.name!r} of {obj.name!r} is a library override, whose keys "
                                "Blender does not save: make it local (Outliner in Blender File view: right-click the action > Make Local), then bake; the generated "
                                "frames stay shown until then")
    own = [sp for sp in generated.spans(obj, state) if not sp["strip"].mute and sp["strip"].action is not None]
    shown = own + [sp for sp in generated.pieces(obj, state) if not sp["strip"].mute]
    users = {(fc.data_path, fc.array_index): fc for fc in anim_compat.fcurves_of(obj, action)}
    generated.check_replacing(obj)  # every refusal before the first change
    rest = {}  # channels only the generated strips key (keys added in tweak mode): their value elsewhere
    for sp in shown:
        generated.check_plain(sp["strip"])
        for fc in anim_compat.fcurves_of(obj, sp["strip"].action):
            target = users.get((fc.data_path, fc.array_index))
            if target is None:
                rest[fc.data_path, fc.array_index] = rest_value(obj, fc, sp["strip"])
                continue
            if target.lock:
                raise errors.A4merError(f"the F-Curve {target.data_path}[{target.array_index}] is locked: unlock it "
                                        "(Graph Editor), then bake")
            if target.group is not None and target.group.lock:
                raise errors.A4merError(f"the channel group {target.group.name!r} is locked: unlock it (Graph "
                                        "Editor), then bake")
            check_modifiers(target)
            check_inside_cycle(target, sp["shown"])
    check_keys_under(obj, shown, users)
    try:  # the body's keys (an extension's bake holds its last pose though a finger is keyed on)
        content = generated.content_range(obj, action, armature.detect_rig(obj))
    except errors.A4merError:  # bones renamed since the fill
        f0, T = armature.action_frames(action, obj)
        content = (f0, f0 + T - 1)
    sink = anim_compat.FCurveSink(obj, action)
    # every span's keys of a curve are merged in one pass (a pass per span rewrote the whole curve each
    # time: blocking a 2-minute take took 72 s to bake), each read as the preview showed it: the spans'
    # frames, and the frames around them that keys there would change, at the user's own values
    per_curve: dict[int, tuple] = {}
    for sp in shown:
        strip = sp["strip"]
        frames = np.arange(sp["shown"][0], sp["shown"][1] + 1, dtype=np.float64)
        times = generated.strip_time(strip, frames)
        for fc in anim_compat.fcurves_of(obj, strip.action):
            target = sink.ensure(fc.data_path, fc.array_index, body_channels.channel_group(fc.data_path))
            _, spans_at, extras_at = per_curve.setdefault(target.as_pointer(), (target, [], []))
            spans_at.append((frames, armature.sample_fcurve(fc, times)))
            if (fc.data_path, fc.array_index) in rest:  # held at that value on both sides, as shown
                extra = np.array([sp["shown"][0] - 1, sp["shown"][1] + 1], dtype=np.float64)
                extras_at.append((extra, np.full(2, rest[fc.data_path, fc.array_index])))
            else:
                extra = _uncovered(target, *sp["shown"], content)
                extras_at.append((extra, armature.sample_fcurve(target, extra)))
    added, turned = 0, {}
    for target, spans_at, extras_at in per_curve.values():
        at, values = (np.concatenate(x) for x in zip(*spans_at))
        at, first = np.unique(at, return_index=True)  # strips the user made touch share a frame: the first's
        values = values[first]
        ex, ex_values = (np.concatenate(x) for x in zip(*extras_at))
        ex, first = np.unique(ex, return_index=True)
        keep = ~np.isin(ex, at)  # a frame of another span is that span's
        at, values = np.concatenate([at, ex[keep]]), np.concatenate([values, ex_values[first][keep]])
        lines = end_lines(target, at)
        added += merge_keys(target, at, values - modifier_offsets(target, at))  # shown as they were
        for end in ends_turned(target, lines):
            turned.setdefault(f"{target.data_path}[{target.array_index}]", []).append(end)
    ends = [sp["shown"][1] for sp in shown if sp.get("kind") == "extend"]
    if action.use_frame_range and not action.use_cyclic and ends:  # a manual range (exporters read it) reaches
        action.frame_end = max(action.frame_end, max(ends))  # the baked extension
    baked = [generated.stored(sp) for sp in own]
    motif_marks.follow_strips(obj, [(rec, sp["strip"]) for rec, sp in zip(baked, own) if rec.get("motif")])
    remove_result(obj, keep_marks=baked)
    motif_marks.show_baked(obj, [rec for rec in baked if rec.get("motif")], action)  # the user's action is active
    return len(own), added, [f"{name} {' and '.join(ends)}" for name, ends in turned.items()]

