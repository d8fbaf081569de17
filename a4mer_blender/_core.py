"""Where the add-on gets the light core: the copy bundled in the extension zip (``<addon>/a4mer``),
else the installed ``a4mer`` package (development checkout). Other modules import from here."""
from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

CORE = f"{__package__}.a4mer" if importlib.util.find_spec(f"{__package__}.a4mer") is not None else "a4mer"

errors = importlib.import_module(f"{CORE}.errors")
rig = importlib.import_module(f"{CORE}.rig")
channels = importlib.import_module(f"{CORE}.channels")
strips = importlib.import_module(f"{CORE}.strips")
motion = importlib.import_module(f"{CORE}.motion")
amass = importlib.import_module(f"{CORE}.io.amass")
floor = importlib.import_module(f"{CORE}.floor")
gaps = importlib.import_module(f"{CORE}.gaps")
skeleton = importlib.import_module(f"{CORE}.skeleton")
processes = importlib.import_module(f"{CORE}.processes")
wording = importlib.import_module(f"{CORE}.wording")


def optional(name: str) -> ModuleType | None:
    """Core submodule ``name`` (e.g. ``"api"``, ``"model"``) or None when it is absent or cannot import
    (``model`` needs torch, which a stock Blender lacks)."""
    try:
        return importlib.import_module(f"{CORE}.{name}")
    except ImportError:
        return None
