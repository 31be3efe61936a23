"""The classic 1986 experiments (examples/classic1986.py) as tests.

The full table (20 seeds per problem) is in docs/classic-1986.md. To stay fast these tests
use fewer seeds: XOR 10 seeds, encoder 5, symmetry 8 (capped at 6,000 sweeps), parity 5
(seeds 0..n-1). The criterion
is the one of the examples: every output within 0.1 of its 0/1 target.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")
sys.path.insert(0, EXAMPLES)

import classic1986 as c  # noqa: E402


def test_patterns():
    X, Y = c.PROBLEMS["xor"].patterns()
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and Y.ravel().tolist() == [0, 1, 1, 0]
    X, Y = c.PROBLEMS["symmetry"].patterns()
    assert X.shape == (64, 6) and int(Y.sum()) == 8  # 2^3 palindromes of length 6
    X, Y = c.PROBLEMS["parity4"].patterns()
    assert X.shape == (16, 4) and int(Y.sum()) == 8
    net = c.build_net((6, 2, 1), seed=0)
    assert all(abs(p.data).max() < 0.3 for p in net.parameters())


def test_half_sse_is_the_1986_error():
    import numpy as np

    import retrograd as rg

    out = rg.tensor(np.array([[0.2], [0.7]]), requires_grad=True)
    e = c.half_sse(out, rg.tensor(np.array([[0.0], [1.0]])))
    assert e.item() == pytest.approx(0.5 * (0.04 + 0.09))
    e.backward()
    assert out.grad.ravel().tolist() == pytest.approx([0.2, -0.3])  # dE/dy = y - d


@pytest.mark.slow
def test_xor_558_sweeps():
    s = c.run_many("xor", range(10))
    assert s.success_rate >= 0.6
    # Published: 558 sweeps (one run). Median of the solved seeds within a factor of 2.
    assert 558 / 2 <= s.median_sweeps <= 558 * 2


@pytest.mark.slow
def test_encoder_838():
    s = c.run_many("encoder_838", range(5))
    assert s.success_rate >= 0.8
    assert s.median_sweeps < 5000  # no published count to compare against


@pytest.mark.slow
def test_symmetry_1425_sweeps():
    # Sweep counts of this problem have a long tail (20 seeds: 722 to 16,986, two unsolved
    # in 20,000; docs/classic-1986.md). To keep the test short, 8 seeds are capped at
    # 6,000 sweeps: at least 40% must solve it, with a median within a factor of 3 of 1,425.
    s = c.run_many("symmetry", range(8), max_sweeps=6000)
    assert s.success_rate >= 0.4
    assert 1425 / 3 <= s.median_sweeps <= 1425 * 3


@pytest.mark.slow
def test_parity4():
    s = c.run_many("parity4", range(5))
    assert s.success_rate >= 0.4
    assert s.median_sweeps < 5000


def test_example_script_runs():
    proc = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "xor.py"), "--seeds", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| xor | 2-2-1 | 0.5 / 0.9 | 2 |" in proc.stdout
