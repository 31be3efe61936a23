"""The Tensor surface a PyTorch user reaches for, compared with torch 2.13.

dim=/keepdim= (axis=/keepdims= kept as aliases), size/numel/dim/to/cpu/clone/...,
creators with torch's signatures, 0-d tensors with dim 0 and -1, torch's nan/inf values
where it does not raise, and shape errors catchable as ValueError and RuntimeError.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import retrograd as rg

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _torch_default_float32():
    # Other tests may leave torch's default dtype at float64; compare with torch's default.
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(old)


X = np.array([[1.0, 5.0, 2.0], [3.0, 4.0, 0.5]], dtype=np.float32)


def _pair(arr=X, grad=True):
    return rg.tensor(arr, requires_grad=grad), torch.tensor(arr, requires_grad=grad)


def _close(a, b, **kw):
    a = a.data if isinstance(a, rg.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, **kw)


REDUCTIONS = {
    "sum": lambda t, **k: t.sum(**k),
    "mean": lambda t, **k: t.mean(**k),
    "amax": lambda t, **k: t.amax(**k),
    "amin": lambda t, **k: t.amin(**k),
    "logsumexp": lambda t, **k: t.logsumexp(**k),
    "var": lambda t, **k: t.var(**k),
    "std": lambda t, **k: t.std(**k),
    "softmax": lambda t, dim, keepdim=None: t.softmax(dim=dim),
    "log_softmax": lambda t, dim, keepdim=None: t.log_softmax(dim=dim),
}


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_dim_keepdim_forward_and_backward_match_torch(name, dim, keepdim):
    f = REDUCTIONS[name]
    (a, b) = _pair()
    kw = {} if name in ("softmax", "log_softmax") else {"keepdim": keepdim}
    ya, yb = f(a, dim=dim, **kw), f(b, dim=dim, **kw)
    _close(ya, yb)
    w = np.linspace(0.5, 1.5, ya.numel()).reshape(ya.shape).astype(np.float32)
    (ya * rg.tensor(w)).sum().backward()
    (yb * torch.tensor(w)).sum().backward()
    _close(a.grad, b.grad)


def test_axis_and_keepdims_are_aliases():
    a = rg.tensor(X)
    assert np.array_equal(a.sum(axis=1, keepdims=True).data, a.sum(dim=1, keepdim=True).data)
    assert np.array_equal(rg.cat([a, a], axis=1).data, rg.cat([a, a], dim=1).data)
    assert np.array_equal(rg.stack([a, a], axis=1).data, rg.stack([a, a], dim=1).data)
    assert np.array_equal(a.softmax(axis=0).data, a.softmax(dim=0).data)
    assert a.unsqueeze(dim=0).shape == a.unsqueeze(axis=0).shape == (1, 2, 3)
    assert a.unsqueeze(0).squeeze(dim=0).shape == (2, 3)
    assert np.array_equal(rg.nn.functional.softmax(a, dim=1).data, a.softmax(1).data)


def test_max_min_follow_torch():
    a, b = _pair()
    va, vb = a.max(dim=1), b.max(dim=1)
    _close(va.values, vb.values)
    assert va.indices.tolist() == vb.indices.tolist() and va.indices.dtype == np.int64
    values, indices = a.min(0, keepdim=True)  # unpacks like torch's named tuple
    _close(values, b.min(0, keepdim=True).values)
    (va.values.sum() + values.sum()).backward()
    (vb.values.sum() + b.min(0, keepdim=True).values.sum()).backward()
    _close(a.grad, b.grad)
    _close(a.max(), b.max())
    _close(rg.max(a, rg.tensor(np.full_like(X, 2.5))), torch.max(b, torch.full_like(b, 2.5)))
    assert a.argmax(dim=1).tolist() == b.argmax(dim=1).tolist()
    assert a.argmin(dim=0, keepdim=True).tolist() == b.argmin(dim=0, keepdim=True).tolist()
    assert a.argmax().item() == b.argmax().item()
    # NumPy's axis= keeps NumPy's meaning (the values), documented in docs/conformance.md
    _close(a.max(axis=1), vb.values)


@pytest.mark.parametrize("dim", [0, -1])
def test_zero_dim_tensors_take_dim_0_and_minus_1(dim):
    for name in ("sum", "mean", "amax", "amin", "logsumexp", "softmax", "log_softmax"):
        a, b = _pair(np.array(2.5, np.float32))
        ya, yb = REDUCTIONS[name](a, dim=dim), REDUCTIONS[name](b, dim=dim)
        _close(ya, yb)
        ya.backward()
        yb.backward()
        _close(a.grad, b.grad)
    a, b = _pair(np.array(2.5, np.float32))
    ma, mb = a.max(dim), b.max(dim)
    _close(ma.values, mb.values)
    assert ma.indices.item() == mb.indices.item() == 0
    ma.values.backward()
    mb.values.backward()
    _close(a.grad, b.grad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("var", "std"):  # one element: nan, as torch
            _close(REDUCTIONS[name](a, dim=dim), REDUCTIONS[name](b, dim=dim))
    assert a.squeeze(dim).shape == () and a.unsqueeze(dim).shape == (1,)


def test_nan_and_inf_where_torch_does_not_raise():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e_a, e_b = rg.ones(0, 3), torch.ones(0, 3)
        _close(e_a.mean(0), e_b.mean(0))
        _close(e_a.mean(), e_b.mean())
        one_a, one_b = rg.tensor([2.0]), torch.tensor([2.0])
        _close(one_a.var(), one_b.var())
        _close(one_a.std(), one_b.std())
        _close(rg.tensor(X).var(0, correction=2), torch.tensor(X).var(0, correction=2))
    with pytest.warns(UserWarning, match=r"degrees of freedom"):
        rg.tensor([1.0]).var()
    a, b = _pair()
    _close(a.clip(2.0, 1.0), b.clamp(2.0, 1.0))  # min > max: all max
    a.clamp(2.0, 1.0).sum().backward()
    b.clamp(2.0, 1.0).sum().backward()
    _close(a.grad, b.grad)


def test_var_std_signatures():
    a, b = _pair()
    _close(a.var(1, unbiased=False), b.var(1, unbiased=False))
    _close(a.std(0, True, True), b.std(0, True, True))
    _close(a.var(dim=1, correction=0, keepdim=True), b.var(dim=1, correction=0, keepdim=True))
    _close(a.var(), b.var())


def test_size_numel_dim_and_friends():
    a, b = _pair()
    assert a.size() == tuple(b.size()) and a.size(1) == b.size(1) and a.size(-1) == b.size(-1)
    assert a.numel() == b.numel() and a.dim() == b.dim() and a.ndim == b.ndim
    with pytest.raises(IndexError):
        a.size(2)
    assert a.to("cpu") is a and a.cpu() is a and a.contiguous() is a and a.device == "cpu"
    assert a.to(rg.float64).dtype == np.float64 and a.to("cpu", "float64").dtype == np.float64
    assert a.to(dtype="float64", device="cpu").dtype == np.float64
    assert a.to(rg.tensor([1], dtype="int64")).dtype == np.int64
    with pytest.raises(ValueError, match=r"CPU only"):
        a.to("cuda")
    assert a.type_as(rg.zeros(1, dtype="float64")).dtype == np.float64
    assert a.long().dtype == np.int64 and a.int().dtype == np.int32 and a.bool().dtype == bool
    assert a.half().dtype == np.float16 and a.double().float().dtype == np.float32
    assert a.tolist() == b.tolist() and a[0, 1].item() == b[0, 1].item()
    c = a.clone()
    assert c.data is not a.data and c.requires_grad and not c.is_leaf
    (c * 2).sum().backward()
    assert np.array_equal(a.grad, np.full_like(X, 2.0))
    d = a.detach()
    assert d.data is a.data and not d.requires_grad
    assert a.view(3, 2).shape == a.view_as(rg.zeros(3, 2)).shape == (3, 2)
    assert a.t().shape == (3, 2) and a.expand_as(rg.zeros(4, 2, 3)).shape == (4, 2, 3)
    assert a.numpy() is a.data


def test_creators_follow_torch_signatures():
    assert rg.full((2, 2), 7).dtype == torch.full((2, 2), 7).numpy().dtype
    assert rg.full((2,), 7.0).dtype == np.float32 and rg.full((2,), True).dtype == bool
    assert rg.full([2], 1.5, dtype="float64").dtype == np.float64
    assert rg.empty(2, 3).shape == (2, 3) and rg.empty((2, 3)).dtype == np.float32
    for lo, hi, st, dt in [(0, 5, 1, np.int64), (1, 2, 0.25, np.float32), (5, 0, -2, np.int64)]:
        ra, rb = rg.arange(lo, hi, st), torch.arange(lo, hi, st)
        assert ra.tolist() == pytest.approx(rb.tolist()) and ra.dtype == dt
    assert rg.arange(4).tolist() == torch.arange(4).tolist()
    assert rg.arange(0, end=3).tolist() == [0, 1, 2]
    _close(rg.linspace(-1, 1, 5), torch.linspace(-1, 1, 5))
    assert rg.linspace(0, 1, 5).dtype == np.float32
    base = rg.zeros(2, 3, dtype="float64")
    for f in (rg.zeros_like, rg.ones_like, rg.empty_like, rg.rand_like, rg.randn_like):
        out = f(base)
        assert out.shape == (2, 3) and out.dtype == np.float64
    assert rg.full_like(base, 4).tolist() == [[4.0] * 3] * 2
    rg.manual_seed(0)
    r = rg.randint(3, 8, (100,))
    assert r.dtype == np.int64 and r.shape == (100,) and 3 <= r.data.min() and r.data.max() < 8
    assert rg.randint(5, (2, 2)).shape == (2, 2)
    assert rg.randint(0, 4, size=(3,)).shape == (3,)
    assert rg.randint_like(base, 3).dtype == np.float64
    n = rg.normal(2.0, 0.5, (4000,))
    assert n.dtype == np.float32 and abs(float(n.data.mean()) - 2.0) < 0.05
    assert rg.normal(rg.zeros(2, 3), 1.0).shape == (2, 3)
    assert rg.normal(0.0, rg.ones(4, dtype="float64")).dtype == np.float64
    u = rg.zeros(1000).uniform_(-2, 2)
    assert -2 <= u.data.min() and u.data.max() < 2


def test_from_numpy_shares_and_tensor_copies():
    arr = np.zeros(3, np.float32)
    shared, copied = rg.from_numpy(arr), rg.tensor(arr)
    arr[0] = 5.0
    assert shared.tolist()[0] == 5.0 and copied.tolist()[0] == 0.0  # as torch
    with pytest.raises(TypeError):
        rg.from_numpy([1.0, 2.0])


def test_shape_errors_are_value_and_runtime_errors():
    for call in (
        lambda: rg.zeros(2, 3) @ rg.zeros(2, 3),
        lambda: rg.zeros(2, 3).reshape(4, 2),
        lambda: rg.cat([rg.zeros(2, 3), rg.zeros(2, 4)]),
        lambda: rg.stack([rg.zeros(2), rg.zeros(3)]),
        lambda: rg.zeros(2, 3).expand(4, 3),
        lambda: rg.zeros(2, 3) + rg.zeros(4, 3),
        lambda: rg.zeros(2, 3).item(),
    ):
        with pytest.raises(RuntimeError):
            call()
        with pytest.raises(ValueError):
            call()
        with pytest.raises(rg.ShapeError):
            call()
