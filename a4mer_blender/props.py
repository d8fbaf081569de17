"""Runtime properties: job progress on the window manager, the active motif on the object."""
from __future__ import annotations

import bpy
from bpy.props import FloatProperty, IntProperty, StringProperty

_PROPS = {
    bpy.types.WindowManager: {
        "a4mer_progress": lambda: FloatProperty(name="A4Mer progress", min=0.0, max=1.0, subtype="FACTOR",
                                                options={"SKIP_SAVE"}),
        "a4mer_status": lambda: StringProperty(name="A4Mer status", default="", options={"SKIP_SAVE"}),
    },
    bpy.types.Object: {
        "a4mer_active_motif": lambda: IntProperty(name="Active motif", default=-1,
                                                  override={"LIBRARY_OVERRIDABLE"}),  # saved on overrides too
    },
}


def register() -> None:
    for owner, props in _PROPS.items():
        for name, make in props.items():
            setattr(owner, name, make())


def unregister() -> None:
    for owner, props in _PROPS.items():
        for name in props:
            if hasattr(owner, name):
                delattr(owner, name)
