"""Special functions and NaN-aware helpers: edge values against torch, and the NumPy
fallbacks (used when SciPy is absent) against SciPy. Gradients of the smooth cases are
in the op table (tests/ops/op_cases.py)."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.ops import special

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _torch_float32_default():
    # Other tests set torch's default dtype to float64; these compare dtypes with torch's
    # out-of-the-box default, float32 (retrograd's too).
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(before)


INF, NAN = float("inf"), float("nan")


def _same(ours, theirs):
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6, atol=1e-12)
    assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))


@pytest.mark.parametrize(
    "name, values",
    [
        ("erfc", [-INF, -30.0, 0.0, 5.0, 30.0, INF, NAN]),
        ("erfinv", [-1.0, -0.999999, 0.0, 0.3, 0.999999, 1.0, 1.5, -2.0, NAN]),
        ("lgamma", [-2.0, -1.5, -0.0, 0.0, 1e-8, 0.5, 1.0, 2.0, 171.5, 1e30, INF, -INF, NAN]),
        ("digamma", [-2.5, -1.0, -0.0, 0.0, 1e-6, 0.5, 1.0, 7.5, 1e6, INF, NAN]),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("scipy_kernels", [True, False], ids=["scipy", "numpy-fallback"])
def test_edge_values_match_torch(name, values, dtype, scipy_kernels, monkeypatch):
    if not scipy_kernels:
        monkeypatch.setattr(special, "_KERNELS", dict.fromkeys(
            ("erfc", "gammaln", "erfinv", "psi", "polygamma")))  # fmt: skip
    with np.errstate(all="ignore"):
        ours = getattr(rg, name)(rg.tensor(np.array(values, dtype=dtype)))
    theirs = getattr(torch, name)(torch.tensor(values, dtype=getattr(torch, dtype)))
    _same(ours, theirs)


def test_integer_input_gives_the_default_float_dtype():
    for name in ("erfc", "erfinv", "lgamma", "digamma", "logit"):
        ours = getattr(rg, name)(rg.tensor([0, 1, 2]))
        theirs = getattr(torch, name)(torch.tensor([0, 1, 2]))
        with np.errstate(all="ignore"):
            _same(ours, theirs)


def test_numpy_fallbacks_agree_with_scipy():
    sp = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-0.999, 0.999, 2000), [0.0, 1e-12, -1e-9, 0.9999999]])
    np.testing.assert_allclose(special.erfinv_numpy(x), sp.erfinv(x), rtol=1e-10, atol=1e-15)
    assert special.erfinv_numpy(np.array([1.0, -1.0, 1.5])).tolist()[:2] == [INF, -INF]
    assert np.isnan(special.erfinv_numpy(np.array([1.5]))[0])
    z = np.concatenate([rng.uniform(-20, 30, 3000), rng.uniform(1e-3, 2, 500), [1e6, 0.5]])
    z = z[np.abs(z - np.round(z)) > 1e-3]  # away from the poles
    np.testing.assert_allclose(special.polygamma_numpy(z, 0), sp.psi(z), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        special.polygamma_numpy(z, 1), sp.polygamma(1, z), rtol=1e-11, atol=1e-12
    )
    assert special.polygamma_numpy(np.array([0.0, -0.0, -3.0]), 0)[:2].tolist() == [-INF, INF]
    assert np.isnan(special.polygamma_numpy(np.array([-3.0]), 0)[0])
    np.testing.assert_allclose(special._lgamma_numpy(z), sp.gammaln(z), rtol=1e-13, atol=1e-13)
    assert special._lgamma_numpy(np.array([0.0, -2.0])).tolist() == [INF, INF]
    np.testing.assert_allclose(
        special._elementwise(__import__("math").erfc, z), sp.erfc(z), rtol=1e-13, atol=1e-300
    )


def test_fallbacks_are_used_without_scipy(monkeypatch):
    monkeypatch.setattr(special, "_KERNELS", dict.fromkeys(("erfc", "gammaln", "erfinv", "psi",
                                                            "polygamma")))  # fmt: skip
    x = rg.tensor([0.3, 1.7, 4.0], dtype=rg.float64, requires_grad=True)
    for name in ("erfc", "lgamma", "digamma"):
        assert rg.gradcheck(getattr(rg, name), [x])
        xt = torch.tensor([0.3, 1.7, 4.0], dtype=torch.float64)
        np.testing.assert_allclose(getattr(rg, name)(x).data, getattr(torch, name)(xt), rtol=1e-12)
    p = rg.tensor([-0.7, 0.1, 0.6], dtype=rg.float64, requires_grad=True)
    assert rg.gradcheck(rg.erfinv, [p])


def test_xlogy_zero_and_nan_cases_match_torch():
    a = [0.0, 0.0, 0.0, 0.0, 2.0, 1.0]
    b = [0.0, NAN, INF, 3.0, 0.0, NAN]
    x, y = rg.tensor(a, dtype=rg.float64, requires_grad=True), rg.tensor(b, dtype=rg.float64)
    xt, yt = torch.tensor(a, dtype=torch.float64, requires_grad=True), torch.tensor(b).double()
    with np.errstate(all="ignore"):
        out = rg.xlogy(x, y)
    _same(out, torch.xlogy(xt, yt).detach())
    # Python scalars on either side, as torch.
    _same(rg.xlogy(2.0, rg.tensor([3.0])), torch.xlogy(2.0, torch.tensor([3.0])))
    _same(rg.xlogy(rg.tensor([3.0]), 2), torch.xlogy(torch.tensor([3.0]), 2))


def test_fmax_fmin_nan_and_ties_match_torch():
    a = [1.0, NAN, NAN, 2.0, -3.0, 5.0]
    b = [NAN, 4.0, NAN, 2.0, -3.0, 1.0]
    for name in ("fmax", "fmin"):
        x = rg.tensor(a, dtype=rg.float64, requires_grad=True)
        z = rg.tensor(b, dtype=rg.float64, requires_grad=True)
        xt = torch.tensor(a, dtype=torch.float64, requires_grad=True)
        zt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
        out, ref = getattr(rg, name)(x, z), getattr(torch, name)(xt, zt)
        _same(out, ref.detach())
        g = np.arange(1.0, 7.0)
        out.backward(rg.tensor(g))
        ref.backward(torch.tensor(g))
        np.testing.assert_array_equal(x.grad, xt.grad.numpy())
        np.testing.assert_array_equal(z.grad, zt.grad.numpy())
    with pytest.raises(ValueError, match="fmax"):
        rg.fmax(rg.ones(2), rg.ones(3))


def test_nan_to_num_matches_torch():
    v = [NAN, INF, -INF, 1.5, -0.0]
    for dtype in ("float32", "float64"):
        for kw in ({}, {"nan": 2.0}, {"nan": 1.0, "posinf": 9.0, "neginf": -9.0}):
            x = rg.tensor(np.array(v, dtype=dtype), requires_grad=True)
            xt = torch.tensor(v, dtype=getattr(torch, dtype), requires_grad=True)
            out, ref = rg.nan_to_num(x, **kw), torch.nan_to_num(xt, **kw)
            _same(out, ref.detach())
            out.sum().backward()
            ref.sum().backward()
            np.testing.assert_array_equal(x.grad, xt.grad.numpy())
    i = rg.tensor([1, 2])
    assert rg.nan_to_num(i).tolist() == [1, 2] and rg.nan_to_num(i).dtype == i.dtype
    y = rg.tensor([NAN, 1.0])
    assert y.nan_to_num_(nan=3.0) is y and y.tolist() == [3.0, 1.0]


def test_nansum_nanmean_with_nans_match_torch():
    v = np.array([[NAN, 1.0, 2.0], [NAN, NAN, NAN], [3.0, -1.0, NAN]])
    for fn in ("nansum", "nanmean"):
        for dim, keep in ((None, False), (0, False), (1, True), ((0, 1), False)):
            x = rg.tensor(v, requires_grad=True)
            xt = torch.tensor(v, requires_grad=True)
            kw = {} if dim is None else {"dim": dim, "keepdim": keep}
            with np.errstate(all="ignore"):
                out = getattr(x, fn)(**kw)
            ref = getattr(xt, fn)(**kw)
            _same(out, ref.detach())
            g = np.ones(out.shape)
            out.backward(rg.tensor(g))
            ref.backward(torch.tensor(g))
            np.testing.assert_allclose(x.grad, xt.grad.numpy())
    with pytest.raises(TypeError, match="nanmean"):
        rg.nanmean(rg.tensor([1, 2]))
    assert rg.nansum(rg.tensor([1, 2])).item() == 3


def test_addcmul_addcdiv_in_place_and_errors():
    p = rg.tensor([1.0, 2.0])
    assert p.addcmul_(rg.tensor([2.0, 2.0]), rg.tensor([3.0, 0.5]), value=0.5) is p
    assert p.tolist() == [4.0, 2.5]
    p.addcdiv_(rg.tensor([1.0, 1.0]), rg.tensor([2.0, 4.0]), value=-2)
    assert p.tolist() == [3.0, 2.0]
    with pytest.raises(TypeError, match="integer division"):
        rg.addcdiv(rg.ones(2), rg.tensor([1, 2]), rg.tensor([1, 1]))
    # Inside a graph, with gradients, as torch.
    w = rg.tensor([1.0, 2.0], requires_grad=True)
    wt = torch.tensor([1.0, 2.0], requires_grad=True)
    h, ht = w * 1, wt * 1
    h.addcmul_(w, w, value=2).addcdiv_(w, w + 1)
    ht.addcmul_(wt, wt, value=2).addcdiv_(wt, wt + 1)
    h.sum().backward()
    ht.sum().backward()
    _same(h.detach(), ht.detach())
    np.testing.assert_allclose(w.grad, wt.grad.numpy(), rtol=1e-6)


def test_logit_eps_clamps_like_torch():
    v = [0.0, 0.05, 0.5, 0.95, 1.0]
    x = rg.tensor(v, dtype=rg.float64, requires_grad=True)
    xt = torch.tensor(v, dtype=torch.float64, requires_grad=True)
    out, ref = rg.logit(x, eps=0.1), torch.logit(xt, eps=0.1)
    _same(out, ref.detach())
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy())
    with np.errstate(all="ignore"):
        _same(rg.logit(rg.tensor(v)), torch.logit(torch.tensor(v)))
