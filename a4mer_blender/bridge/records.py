"""Where the add-on keeps its records of an object (:mod:`.generated`'s result-layer state, :mod:`.nla`'s
segments record and their ID pointers).

On an ordinary local object they are ID properties of the object itself, as always. A library override
(a character linked from another file and overridden in the shot) keeps in the .blend only what the
override's operations say; custom properties added on it, strings and ID pointers alike, are gone after a
save and reload (Blender 4.2, 4.4 and 5.0 alike), while NLA tracks and strips added on it, the local actions
they show and its active action are saved. Its records therefore live on a local Text data-block ("A4Mer
records: <name>", a fake user keeps it in the file) as the same ID properties, next to an ID pointer to
the object: the pointer follows renames of the override and the library resyncs of a reload, and one
character linked twice gets two texts. The text body only says what it is. Deleting the text makes A4Mer
forget its tracks on that rig, as deleting the properties does on a local object. An override made local
later (Make Local) reads its text still, and each record moves onto the object when next written.

A linked object (not overridden) is refused before any record is written (:func:`.generated.check_storable`).
Texts that describe nothing any more (their override was cleared and made again, or their rig deleted)
are deleted by :func:`prune` (every operator's start, and each file load).
"""
from __future__ import annotations

import re
from typing import Any

#: ID property of a records text: the object (a library override) whose records it holds
HOLDER_KEY = "a4mer_records_of"
HOLDER_NAME = "A4Mer records"


def is_override(obj: Any) -> bool:
    """True for a local library override (its records are kept on a text, :func:`holder`)."""
    return getattr(obj, "override_library", None) is not None and getattr(obj, "library", None) is None


def _note(obj: Any) -> str:
    return (f"A4Mer keeps its records of the library override {obj.name!r} here (Blender does not save custom "
            "properties added to an override). Deleting this text makes A4Mer forget the tracks it made on "
            "that rig; Remove Generated Frames / Remove A4Mer Tracks first.\n")


def _texts_of(obj: Any) -> list:
    """The local records texts pointing at ``obj``, stale ones too (:func:`_stale`)."""
    import bpy
    return [t for t in bpy.data.texts if t.library is None and HOLDER_KEY in t and t[HOLDER_KEY] == obj]


#: ID property of an action A4Mer generated (:mod:`.generated`)
GENERATED_ACTION_KEY = "a4mer_generated"


def _added_tracks(obj: Any) -> list:
    """``obj``'s NLA tracks added in this file (on an override, not the library's own)."""
    anim = getattr(obj, "animation_data", None)
    return [t for t in anim.nla_tracks if not t.is_override_data] if anim is not None else []


def _stale(text: Any) -> bool:
    """Whether a records ``text`` describes nothing any more: its object is gone or linked, or holds no
    track of the records. Blender moves an ID pointer to whatever replaces its target: clearing an override
    (Outliner > Library Override > Clear) points the text at the linked object, and overriding that again
    (or making it local) points it at an object that has none of the old override's tracks. A4Mer's tracks
    show the actions the records point at (the action pushed down under generated frames, the one the
    atoms and motifs were found on) or actions A4Mer generated; a text pointing at no action (one being
    written, or of an earlier version) counts an override's added tracks."""
    import bpy
    obj = text.get(HOLDER_KEY)
    if obj is None or getattr(obj, "library", None) is not None:
        return True
    pointed = [v for k, v in text.items() if k != HOLDER_KEY and isinstance(v, bpy.types.Action)]
    tracks = _added_tracks(obj)
    if not pointed:
        return is_override(obj) and not tracks
    return not any(s.action is not None and (s.action.get(GENERATED_ACTION_KEY) or any(s.action == a for a in pointed))
                   for t in tracks for s in t.strips)


def _orphaned(text: Any) -> bool:
    """Whether the object of a records ``text`` was deleted from the file's scenes (the text's pointer,
    a user, would keep it and its actions in the file for ever)."""
    obj = text.get(HOLDER_KEY)
    return obj is not None and not obj.users_collection and obj.users <= 1 and not obj.use_fake_user


def prune() -> int:
    """Delete the records texts that are stale (:func:`_stale`) or whose object was deleted
    (:func:`_orphaned`: Blender then drops the object on the next save); returns how many. Run where
    Blender data may be written (an operator, a file load), before records are read."""
    import bpy
    gone = [t for t in bpy.data.texts if t.library is None and HOLDER_KEY in t and (_stale(t) or _orphaned(t))]
    for t in gone:
        bpy.data.texts.remove(t)
    return len(gone)


def _text_of(obj: Any) -> Any:
    """The records text of ``obj`` (None when there is none, or only a stale one)."""
    return next((t for t in _texts_of(obj) if not _stale(t)), None)


def holder(obj: Any, create: bool = False) -> Any:
    """The ID that takes ``obj``'s records: ``obj`` itself, or for a library override its records text
    (None when it has none and ``create`` is False)."""
    if obj is None or not is_override(obj):
        return obj
    text = _text_of(obj)
    if text is not None or not create:
        return text
    import bpy
    for t in _texts_of(obj):  # stale: another override's records (it had none of its tracks)
        bpy.data.texts.remove(t)
    text = bpy.data.texts.new(f"{HOLDER_NAME}: {obj.name}")
    text[HOLDER_KEY] = obj
    text.use_fake_user = True
    text.write(_note(obj))
    return text


def _places(obj: Any) -> list:
    """Where ``obj``'s records are read, in order: an override's text; a local object itself, then a text
    pointing at it (an override the user made local since: its records stay readable there)."""
    if obj is None:
        return []
    if is_override(obj):
        return [t for t in (_text_of(obj),) if t is not None]
    text = _text_of(obj) if getattr(obj, "library", None) is None else None
    return [obj] + ([text] if text is not None else [])


def get(obj: Any, key: str, default: Any = None) -> Any:
    """The record ``key`` of ``obj`` (``default`` when absent)."""
    return next((p[key] for p in _places(obj) if key in p), default)


def has(obj: Any, key: str) -> bool:
    return any(key in p for p in _places(obj))


def put(obj: Any, key: str, value: Any) -> None:
    """Store ``value`` (a string, or an ID: a pointer) as the record ``key`` of ``obj``."""
    h = holder(obj, create=True)
    h[key] = value
    if h == obj:  # a text left from when it was an override: the object's own record replaces its entry
        _drop_from(_text_of(obj), (key,))
    elif re.fullmatch(re.escape(f"{HOLDER_NAME}: {obj.name}") + r"(\.\d{3,})?", h.name) is None:  # renamed
        h.name = f"{HOLDER_NAME}: {obj.name}"
        h.clear()
        h.write(_note(obj))


def _drop_from(text: Any, keys) -> None:
    """Delete ``keys`` from a records ``text``, and the text once it holds no record."""
    if text is None:
        return
    for key in keys:
        if key in text:
            del text[key]
    if not any(k != HOLDER_KEY for k in text.keys()):
        import bpy
        bpy.data.texts.remove(text)


def drop(obj: Any, *keys: str) -> None:
    """Delete the records ``keys`` of ``obj``; a records text goes with its last record (stale ones too:
    Remove deletes the tracks before the records)."""
    texts = _texts_of(obj) if obj is not None and getattr(obj, "library", None) is None else []
    for p in ([obj] if obj is not None and not is_override(obj) else []) + texts:
        if p == obj:
            for key in keys:
                if key in obj:
                    del obj[key]
        else:
            _drop_from(p, keys)

