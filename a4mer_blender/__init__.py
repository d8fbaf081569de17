"""A4Mer for Blender: find atoms and motifs in SMPL animation (register only; see the submodules)."""
bl_info = {
    "name": "A4Mer Action Motifs",
    "author": "A4Mer authors",
    "version": (0, 1, 0),
    "blender": (4, 2, 0),
    "location": "File > Import > A4Mer motion; 3D Viewport > Sidebar > Animation",
    "description": "Atoms and motifs of SMPL animation as NLA strips",
    "category": "Animation",
}


def _prune_records(_file=None) -> None:
    """``load_post`` handler: delete the opened file's A4Mer records texts that describe nothing any more
    (a deleted rig is then dropped by Blender on the next save; :func:`.bridge.records.prune`)."""
    from .bridge import records
    records.prune()


_prune_records._bpy_persistent = True  # what bpy.app.handlers.persistent sets: kept across file loads


def _classes():
    from . import operators, panels, preferences
    return preferences.classes + operators.classes + panels.classes


def register():
    import bpy
    from . import props
    from .operators import importer
    for cls in _classes():
        bpy.utils.register_class(cls)
    props.register()
    bpy.types.TOPBAR_MT_file_import.append(importer.menu_func)
    bpy.app.handlers.load_post.append(_prune_records)


def unregister():
    import bpy
    from . import props
    from .operators import importer
    bpy.types.TOPBAR_MT_file_import.remove(importer.menu_func)
    if _prune_records in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_prune_records)
    props.unregister()
    for cls in reversed(_classes()):
        bpy.utils.unregister_class(cls)
