"""Fixtures of the model tests (fast: tiny configs, synthetic clips)."""
from __future__ import annotations

import pytest
import torch

from model_helpers import synthetic_motion, tiny_config


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A tiny model trained (stage 1 + stage 2) on synthetic clips; returns (out folder, items, config)."""
    from a4mer.data.dataset import make_item
    from a4mer.train.loop import make_segmenter, train

    cfg = tiny_config()
    seg = make_segmenter(cfg)
    items = [make_item(f"c{i}", synthetic_motion(int(120 + 37 * i % 200), i), seg, cfg.data.fps) for i in range(10)]
    out = tmp_path_factory.mktemp("tiny_run")
    train(None, cfg, out, items=items, progress=False)
    return out, items, cfg
