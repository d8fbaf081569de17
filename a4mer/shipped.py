"""Where the files shipped inside the package lie (``a4mer/assets``): the default model bundle, the
heads, the token heads and the motif prototypes. No torch: the CLIs' output checks read it."""
from __future__ import annotations

from pathlib import Path

#: the package's folder of shipped files
ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_BUNDLE = ASSETS / "default.safetensors"
HEADS = ASSETS / "heads.safetensors"
TOKEN_HEADS = ASSETS / "token_heads.safetensors"
MOTIF_PROTOTYPES = ASSETS / "motif_prototypes.safetensors"


def shipped_files() -> list[Path]:
    """The shipped files present: inputs of the commands that default to them, which no output of a
    command may replace."""
    return [p for p in (DEFAULT_BUNDLE, HEADS, TOKEN_HEADS, MOTIF_PROTOTYPES) if p.is_file()]
