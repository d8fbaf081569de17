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
"""
from __future__ import annotations

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


def _text_of(obj: Any) -> Any:
    """The local records text pointing at ``obj`` (None when there is none)."""
    import bpy
    return next((t for t in bpy.data.texts if t.library is None and t.get(HOLDER_KEY) == obj), None)


def holder(obj: Any, create: bool = False) -> Any:
    """The ID that takes ``obj``'s records: ``obj`` itself, or for a library override its records text
    (None when it has none and ``create`` is False)."""
    if obj is None or not is_override(obj):
        return obj
    text = _text_of(obj)
    if text is not None or not create:
        return text
    import bpy
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
    elif not h.name.startswith(f"{HOLDER_NAME}: {obj.name}"):  # the override was renamed
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
    """Delete the records ``keys`` of ``obj``; a records text goes with its last record."""
    for p in _places(obj):
        if p == obj:
            for key in keys:
                if key in obj:
                    del obj[key]
        else:
            _drop_from(p, keys)
