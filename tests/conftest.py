"""Shared fixtures. PyTorch is a test oracle only: tests that need it skip without it."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg


@pytest.fixture(autouse=True)
def _seed():
    rg.manual_seed(0)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    # One thread: on a small shared CI machine torch's pool only adds contention here.
    torch.set_num_threads(1)
    return torch
