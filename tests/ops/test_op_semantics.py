"""Op semantics the case table does not reach: kinks, ties, edge values, dtypes, creation."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import ops as R

KINKS = {
    "relu": (R.relu, lambda t, x: t.relu(x)),
    "abs": (R.abs, lambda t, x: t.abs(x)),
    "leaky_relu": (lambda x: R.leaky_relu(x, 0.1), lambda t, x: t.nn.functional.leaky_relu(x, 0.1)),
    "clip": (lambda x: R.clip(x, -1.0, 0.0), lambda t, x: t.clamp(x, -1.0, 0.0)),
    "maximum": (lambda x: R.maximum(x, x * 0.0), lambda t, x: t.maximum(x, x * 0.0)),
    "minimum": (lambda x: R.minimum(x, x * 0.0), lambda t, x: t.minimum(x, x * 0.0)),
    "pow0": (lambda x: x**0.0, lambda t, x: x**0.0),
    "pow2": (lambda x: x**2, lambda t, x: x**2),
    "pow1": (lambda x: x**1.0, lambda t, x: x**1.0),
    "max": (lambda x: x.reshape(1, 3).max(axis=1), lambda t, x: t.amax(x.reshape(1, 3), dim=1)),
    "min-all": (lambda x: x.min(), lambda t, x: t.amin(x)),
    "sqrt": (lambda x: (x + 1.0).sqrt(), lambda t, x: (x + 1.0).sqrt()),
    "gelu": (R.gelu, lambda t, x: t.nn.functional.gelu(x)),
    "softplus-threshold": (
        lambda x: R.softplus(x + 20.0),
        lambda t, x: t.nn.functional.softplus(x + 20.0),
    ),
}


@pytest.mark.parametrize("name", sorted(KINKS))
def test_values_and_subgradients_at_kinks_match_torch(name, torch):
    fn, tfn = KINKS[name]
    a = np.array([-1.0, 0.0, 0.0])  # exactly at the kinks (0, and -1 for clip's lower end)
    x = rg.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    out, ref = fn(x), tfn(torch, tx)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-300)
    with np.errstate(divide="ignore"):  # sqrt's slope at 0 is inf, in torch too
        out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-300)


def test_pow_of_zero_with_zero_exponent_has_zero_gradients(torch):
    a, b = np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.0])
    x, y = rg.tensor(a, requires_grad=True), rg.tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (x**y).sum().backward()
    (tx**ty).sum().backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    np.testing.assert_array_equal(y.grad, ty.grad.numpy())


def test_repeated_integer_indices_add_up():
    x = rg.tensor(np.arange(4.0), requires_grad=True)
    x[[0, 0, 3, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 0.0, 1.0])
    m = rg.tensor(np.zeros((3, 2)), requires_grad=True)
    (m[np.array([2, 2]), np.array([1, 1])] * rg.tensor([1.0, 5.0])).sum().backward()
    np.testing.assert_array_equal(m.grad, [[0, 0], [0, 0], [0, 6.0]])


def test_basic_slices_route_gradients():
    x = rg.tensor(np.zeros((3, 4)), requires_grad=True)
    y = x[1:, ::2]
    assert y.shape == (2, 2)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0]])


def test_var_and_std_default_to_bessel_correction():
    a = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 9.0]])
    x = rg.tensor(a)
    np.testing.assert_allclose(x.var(axis=1).data, a.var(axis=1, ddof=1))
    np.testing.assert_allclose(x.std().data, a.std(ddof=1))
    np.testing.assert_allclose(R.var(x, correction=0).data, a.var())


def test_creation_dtypes():
    assert rg.tensor(1.5).dtype == np.float32
    assert rg.tensor([1.0, 2]).dtype == np.float32
    assert rg.tensor([1, 2]).dtype == np.int64
    assert rg.tensor(np.ones(2)).dtype == np.float64  # arrays keep their dtype
    assert rg.tensor([1.0], dtype="float64").dtype == np.float64
    for make in (rg.zeros, rg.ones, rg.randn, rg.rand):
        assert make(2, 3).dtype == np.float32
        assert make((2, 3), dtype="float64").shape == (2, 3)
    assert rg.arange(3).dtype == np.int64 and rg.arange(0.0, 1.0, 0.5).dtype == np.float32
    assert rg.eye(3).dtype == np.float32 and rg.full((2,), 7.0).data.tolist() == [7.0, 7.0]
    z = rg.zeros_like(rg.ones(2, dtype="float64"))
    assert z.dtype == np.float64 and z.shape == (2,)


def test_scalars_never_upcast_float32():
    x = rg.tensor(np.ones(3, np.float32), requires_grad=True)
    outs = [
        x * np.float64(2.0),
        x + 1,
        2.0**x,
        x / 3.0,
        x.clip(np.float64(0.5)),
        R.maximum(x, 0.5),
        R.where(x > 0, x, 0.0),
        x.var(),
        x.pad(((1, 1),), value=0.5),
    ]
    for o in outs:
        assert o.dtype == np.float32
    sum(o.sum() for o in outs).backward()
    assert x.grad.dtype == np.float32


def test_mixed_precision_follows_numpy_promotion():
    x = rg.tensor(np.ones(2, np.float32), requires_grad=True)
    y = rg.tensor(np.ones(2, np.float64), requires_grad=True)
    out = x * y
    assert out.dtype == np.float64
    out.sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64


def test_cast_methods():
    x = rg.tensor(np.ones(2, np.float32), requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64 and y.float().dtype == np.float32
    (y * 2.0).sum().backward()
    assert x.grad.dtype == np.float32
    assert x.astype("int32").dtype == np.int32 and not x.astype("int32").requires_grad


def test_cross_entropy_all_ignored_gives_nan_like_torch(torch):
    z = rg.tensor(np.zeros((2, 3)), requires_grad=True)
    t = np.array([-100, -100])
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = R.cross_entropy(z, t)
    ref = torch.nn.functional.cross_entropy(torch.zeros(2, 3), torch.tensor(t))
    assert np.isnan(loss.item()) and torch.isnan(ref).item()


def test_bce_target_may_be_an_integer_array():
    z = rg.tensor(np.zeros(3), requires_grad=True)
    loss = R.binary_cross_entropy_with_logits(z, np.array([0, 1, 1]))
    assert loss.item() == pytest.approx(np.log(2.0))


def test_tensor_methods_and_aliases():
    x = rg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.T.shape == (3, 2) and x.mT.shape == (3, 2)
    assert x.view(3, 2).shape == (3, 2) and x.flatten().shape == (6,)
    assert x.argmax(axis=1).data.tolist() == [2, 2]
    assert x.unsqueeze(0).squeeze(0).shape == (2, 3)
    assert (+x) is x and (-x).data[0, 1] == -1.0
    y = x.exp().log().relu().sigmoid().tanh().softmax().log_softmax()
    y.sum().backward()
    assert x.grad.shape == (2, 3)


def test_rg_namespace_exports_the_ops():
    for name in (
        "exp",
        "log",
        "relu",
        "sigmoid",
        "softmax",
        "log_softmax",
        "logsumexp",
        "matmul",
        "where",
        "maximum",
        "minimum",
        "cat",
        "stack",
        "pad",
        "clip",
    ):
        assert callable(getattr(rg, name))
    for name in (
        "linear",
        "cross_entropy",
        "binary_cross_entropy_with_logits",
        "mse_loss",
        "mse",
        "var",
        "std",
        "leaky_relu",
        "gelu",
        "softplus",
        "log1p",
        "sqrt",
    ):
        assert callable(getattr(rg.ops, name))
