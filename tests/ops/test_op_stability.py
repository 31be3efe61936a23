"""Extreme inputs: logits of +-1e4 in float32 give finite values and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import ops as R

BIG = 1e4


def _leaf(values):
    return rg.tensor(np.asarray(values, dtype=np.float32), requires_grad=True)


def _finite_value_and_grad(fn, x):
    out = fn(x)
    assert out.dtype == np.float32
    assert np.isfinite(out.data).all(), out.data
    out.sum().backward()
    assert x.grad.dtype == np.float32
    assert np.isfinite(x.grad).all(), x.grad
    return out.data, x.grad


def test_cross_entropy_index_targets_at_extreme_logits():
    z = _leaf([[BIG, -BIG, 0.0], [-BIG, BIG, 0.0]])
    loss, g = _finite_value_and_grad(lambda t: R.cross_entropy(t, np.array([1, 1])), z)
    assert loss == pytest.approx(BIG, rel=1e-6)  # (2e4 + 0) / 2
    np.testing.assert_allclose(g, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-6)


@pytest.mark.parametrize(
    "kw", [{"label_smoothing": 0.1}, {"weight": np.array([1.0, 2.0, 0.5], np.float32)}]
)
def test_cross_entropy_variants_at_extreme_logits(kw):
    z = _leaf([[BIG, -BIG, 0.0], [-BIG, BIG, 0.0]])
    _finite_value_and_grad(lambda t: R.cross_entropy(t, np.array([1, 2]), **kw), z)


def test_cross_entropy_probability_targets_at_extreme_logits():
    z = _leaf([[BIG, -BIG], [-BIG, BIG]])
    q = np.array([[0.25, 0.75], [1.0, 0.0]], np.float32)
    loss, _ = _finite_value_and_grad(lambda t: R.cross_entropy(t, q), z)
    assert loss == pytest.approx((0.75 * 2 * BIG + 2 * BIG) / 2, rel=1e-6)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"pos_weight": np.array([3.0, 3.0], np.float32)},
        {"weight": np.array([0.5, 2.0], np.float32)},
    ],
)
def test_bce_with_logits_at_extreme_logits(kw):
    z = _leaf([BIG, -BIG])
    y = np.array([0.0, 1.0], np.float32)  # both maximally wrong
    loss, g = _finite_value_and_grad(
        lambda t: R.binary_cross_entropy_with_logits(t, y, reduction="sum", **kw), z
    )
    assert loss > 0
    z2 = _leaf([BIG, -BIG])
    ok, g2 = _finite_value_and_grad(
        lambda t: R.binary_cross_entropy_with_logits(t, 1 - y, reduction="sum", **kw), z2
    )
    assert ok == pytest.approx(0.0, abs=1e-6)  # both maximally right
    np.testing.assert_allclose(g2, [0.0, 0.0], atol=1e-6)


def test_bce_with_logits_values_at_extremes():
    z = _leaf([BIG, -BIG])
    loss = R.binary_cross_entropy_with_logits(z, np.array([0.0, 1.0], np.float32), reduction="none")
    np.testing.assert_allclose(loss.data, [BIG, BIG], rtol=1e-6)


def test_sigmoid_at_extremes():
    x = _leaf([-BIG, -100.0, 0.0, 100.0, BIG])
    s, g = _finite_value_and_grad(R.sigmoid, x)
    np.testing.assert_allclose(s, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-30)
    np.testing.assert_allclose(g, [0.0, 0.0, 0.25, 0.0, 0.0], atol=1e-30)


def test_softplus_at_extremes():
    x = _leaf([-BIG, -50.0, 0.0, 50.0, BIG])
    s, g = _finite_value_and_grad(R.softplus, x)
    np.testing.assert_allclose(s, [0.0, np.exp(-50.0), np.log(2.0), 50.0, BIG], rtol=1e-6)
    np.testing.assert_allclose(g, [0.0, np.exp(-50.0), 0.5, 1.0, 1.0], rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize("fn", [R.log_softmax, R.softmax])
def test_log_softmax_and_softmax_at_extremes(fn):
    x = _leaf([[BIG, -BIG, 0.0], [-BIG, -BIG, -BIG]])
    out, _ = _finite_value_and_grad(lambda t: fn(t, axis=1) * rg.tensor([1.0, 2.0, 3.0]), x)
    if fn is R.log_softmax:
        np.testing.assert_allclose(out[0] / [1, 2, 3], [0.0, -2 * BIG, -BIG], rtol=1e-6)
        np.testing.assert_allclose(out[1] / [1, 2, 3], [-np.log(3.0)] * 3, rtol=1e-6)


def test_logsumexp_at_extremes():
    x = _leaf([[BIG, -BIG, 0.0], [-BIG, -BIG, -BIG]])
    out, g = _finite_value_and_grad(lambda t: t.logsumexp(axis=1), x)
    np.testing.assert_allclose(out, [BIG, -BIG + np.log(3.0)], rtol=1e-6)
    np.testing.assert_allclose(g, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)


def test_logsumexp_of_all_minus_inf_is_minus_inf_not_nan():
    x = rg.tensor(np.array([-np.inf, -np.inf], np.float32))
    with np.errstate(divide="ignore"):
        assert x.logsumexp().item() == -np.inf


def test_tanh_exp_and_gelu_at_extremes():
    x = _leaf([-BIG, BIG])
    _finite_value_and_grad(R.tanh, x)
    x = _leaf([-BIG, BIG])
    out, g = _finite_value_and_grad(R.gelu, x)
    np.testing.assert_allclose(out, [0.0, BIG])
    np.testing.assert_allclose(g, [0.0, 1.0])
