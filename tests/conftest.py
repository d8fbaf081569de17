"""Shared fixtures (keep this file small)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (holds examples/ and tests/fixtures/)."""
    return REPO


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Real mocap data: env var A4MER_DATA, default <repo>/../shared/data; skips when absent."""
    root = Path(os.environ.get("A4MER_DATA", REPO.parent / "shared" / "data"))
    if not root.is_dir():
        pytest.skip(f"real mocap data not found at {root} (set A4MER_DATA to the shared/data folder)")
    return root


@pytest.fixture(scope="session")
def cmu_dance(data_root, tmp_path_factory) -> Path:
    """The CMU dance archive unpacked once per test session (``bvh/<kind>/NN.bvh``)."""
    import tarfile
    dest = tmp_path_factory.mktemp("cmu-dance")
    with tarfile.open(data_root / "cmu-dance" / "cmu-dance.tar.xz", "r:xz") as t:
        t.extractall(dest, filter="data")
    return dest
