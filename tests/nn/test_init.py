"""Weight initialisation: PyTorch's default for Linear, Xavier/Glorot, Kaiming/He, uniform."""

from __future__ import annotations

import math

import numpy as np
import pytest

import retrograd as rg
from retrograd import nn
from retrograd.nn import init


def _param(*shape):
    return nn.Parameter(np.zeros(shape))


def test_default_linear_init_bounds_like_torch():
    lin = nn.Linear(50, 40)
    bound = 1 / math.sqrt(50)  # kaiming_uniform(a=sqrt(5)) reduces to this
    for p in (lin.weight, lin.bias):
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.9 * bound
    # Uniform on (-b, b): variance b^2 / 3.
    np.testing.assert_allclose(lin.weight.data.var(), bound**2 / 3, rtol=0.1)


def test_xavier_and_kaiming_statistics():
    w = _param(300, 200)
    a = math.sqrt(6 / 500)
    init.xavier_uniform_(w)
    assert np.abs(w.data).max() <= a
    np.testing.assert_allclose(w.data.var(), a**2 / 3, rtol=0.05)
    init.glorot_normal_(w, gain=2.0)
    np.testing.assert_allclose(w.data.std(), 2 * math.sqrt(2 / 500), rtol=0.05)
    init.kaiming_uniform_(w, nonlinearity="relu")
    b = math.sqrt(2) * math.sqrt(3 / 200)
    assert np.abs(w.data).max() <= b
    np.testing.assert_allclose(w.data.var(), b**2 / 3, rtol=0.05)
    init.he_normal_(w, mode="fan_out", nonlinearity="relu")
    np.testing.assert_allclose(w.data.std(), math.sqrt(2 / 300), rtol=0.05)


def test_calculate_gain_matches_torch(torch):
    for nl in ["linear", "sigmoid", "tanh", "relu"]:
        assert init.calculate_gain(nl) == pytest.approx(torch.nn.init.calculate_gain(nl))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2)
    )


def test_uniform_as_in_1986_experiments_and_constants():
    w = _param(20, 10)
    init.uniform_(w, -0.3, 0.3)
    assert w.data.min() >= -0.3 and w.data.max() <= 0.3 and w.data.std() > 0.1
    init.zeros_(w)
    assert not w.data.any()
    init.ones_(w)
    assert (w.data == 1).all()
    init.constant_(w, 0.5)
    assert (w.data == 0.5).all()


def test_init_keeps_dtype_and_identity():
    lin = nn.Linear(3, 4)
    arr = lin.weight.data
    init.xavier_normal_(lin.weight)
    assert lin.weight.data is arr and arr.dtype == np.float32


def test_init_is_reproducible_with_seed_and_generator():
    rg.manual_seed(5)
    a = nn.Linear(4, 4).weight.data.copy()
    rg.manual_seed(5)
    b = nn.Linear(4, 4).weight.data.copy()
    np.testing.assert_array_equal(a, b)
    w1, w2 = _param(3, 3), _param(3, 3)
    init.normal_(w1, generator=np.random.default_rng(1))
    init.normal_(w2, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(w1.data, w2.data)


def test_init_bad_arguments():
    with pytest.raises(ValueError, match=r"at least 2 dims, got shape \(5,\)"):
        init.xavier_uniform_(_param(5))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan'"):
        init.kaiming_uniform_(_param(2, 2), mode="fan")
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match=r"a \(1\) must not exceed b \(-1\)"):
        init.uniform_(_param(2, 2), 1, -1)
