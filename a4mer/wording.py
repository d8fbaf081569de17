"""Words in the messages a user reads (numpy-free, so the add-on can import it too)."""
from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the number it takes: ``counted(1, "motif") == "1 motif"``,
    ``counted(2, "motif") == "2 motifs"``, ``counted(2, "motif occurrence") == "2 motif occurrences"``;
    ``plural`` is the plural where it is not the noun plus ``s``."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"
