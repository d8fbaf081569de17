"""The ``a4mer`` command line: ``main(argv) -> int``; each verb lives in its own module."""
from .main import main

__all__ = ["main"]
