"""F.glu/prelu/fold/unfold/adaptive_max_pool2d, max_pool2d(return_indices=True),
nn.PReLU/GLU/Unflatten/Fold/Unfold/AdaptiveMaxPool2d and Conv2d's padding modes, against
torch (values, indices, gradients; layers through a copied state_dict)."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from gradcheck_registry import covers

F = rg.nn.functional
torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(x):
    return rg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


def _check(out, ref, ins, tins, rtol=1e-10):
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=1e-12)
    g = np.random.default_rng(5).standard_normal(out.shape)
    out.backward(rg.tensor(g))
    ref.backward(torch.tensor(g))
    for a, b in zip(ins, tins):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel_size": 2},
        {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
        {"kernel_size": (2, 3), "stride": 1, "dilation": (2, 1)},
    ],
)
def test_max_pool2d_return_indices_matches_torch(kw):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 8)).round(1)  # ties
    a, at = _pair(x)
    (v, i), (vt, it) = (
        F.max_pool2d(a, return_indices=True, **kw),
        TF.max_pool2d(at, return_indices=True, **kw),
    )
    np.testing.assert_array_equal(i.data, it.numpy())
    assert i.dtype == np.int64
    _check(v, vt, [a], [at])
    layer = rg.nn.MaxPool2d(return_indices=True, **kw)
    np.testing.assert_array_equal(layer(rg.tensor(x))[1].data, it.numpy())
    v3, i3 = F.max_pool2d(rg.tensor(x[0]), return_indices=True, **kw)  # unbatched
    np.testing.assert_array_equal(i3.data, it.numpy()[0])


@pytest.mark.parametrize(
    "kw", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}]
)
def test_max_pool1d_return_indices_matches_torch(kw):
    x = np.random.default_rng(8).standard_normal((2, 3, 9)).round(1)
    a, at = _pair(x)
    (v, i), (vt, it) = (
        F.max_pool1d(a, return_indices=True, **kw),
        TF.max_pool1d(at, return_indices=True, **kw),
    )
    np.testing.assert_array_equal(i.data, it.numpy())
    _check(v, vt, [a], [at])
    np.testing.assert_array_equal(
        rg.nn.MaxPool1d(return_indices=True, **kw)(rg.tensor(x[0]))[1].data, it.numpy()[0]
    )
    assert rg.nn.MaxPool1d(**kw)(rg.tensor(x)).shape == tuple(vt.shape)


@pytest.mark.parametrize("size", [1, 3, (2, None), (5, 4), (7, 8)])
def test_adaptive_max_pool2d_matches_torch(size):
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 8)).round(1)
    a, at = _pair(x)
    (v, i), (vt, it) = F.adaptive_max_pool2d(a, size, True), TF.adaptive_max_pool2d(at, size, True)
    np.testing.assert_array_equal(i.data, it.numpy())
    _check(v, vt, [a], [at])
    m = rg.nn.AdaptiveMaxPool2d(size)
    np.testing.assert_array_equal(m(rg.tensor(x)).data, vt.detach().numpy())
    assert rg.nn.AdaptiveMaxPool2d(size, return_indices=True)(rg.tensor(x))[1].shape == i.shape


@covers("GetItem", "IndexAdd")
@pytest.mark.parametrize(
    "kw",
    [{"kernel_size": 2}, {"kernel_size": (2, 3), "dilation": (2, 1), "padding": 1, "stride": 2}],
)
def test_fold_unfold_match_torch_and_gradcheck(kw):
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 7))
    a, at = _pair(x)
    u, ut = F.unfold(a, **kw), TF.unfold(at, **kw)
    _check(u, ut, [a], [at])
    c = np.random.default_rng(3).standard_normal(ut.shape)
    b, bt = _pair(c)
    _check(F.fold(b, (6, 7), **kw), TF.fold(bt, (6, 7), **kw), [b], [bt])
    assert rg.gradcheck(lambda t: F.unfold(t, **kw), [x])
    assert rg.gradcheck(lambda t: F.fold(t, (6, 7), **kw), [c])
    assert rg.nn.Unfold(**kw)(rg.tensor(x[0])).shape == tuple(ut.shape[1:])  # unbatched
    assert rg.nn.Fold((6, 7), **kw)(rg.tensor(c)).shape == (2, 3, 6, 7)
    with pytest.raises(ValueError, match="blocks"):
        F.fold(rg.tensor(c), (4, 7), **kw)


def test_glu_and_prelu_match_torch():
    x = np.random.default_rng(4).standard_normal((2, 4, 3))
    x[0, 0, 0] = 0.0  # prelu at exactly 0: the slope branch, as torch
    for dim in (1, -1, 0):
        if x.shape[dim] % 2 == 0:
            a, at = _pair(x)
            _check(F.glu(a, dim), TF.glu(at, dim), [a], [at])
    for w in ([0.2], [0.1, -0.3, 0.5, 2.0]):
        a, at = _pair(x)
        b, bt = _pair(np.array(w))
        _check(F.prelu(a, b), TF.prelu(at, bt), [a, b], [at, bt])
    with pytest.raises(ValueError, match="even size"):
        F.glu(rg.ones(3))
    with pytest.raises(ValueError, match="number of channels"):
        F.prelu(rg.ones(2, 3), rg.ones(2))


def test_prelu_glu_unflatten_layers_match_torch():
    for m, t in ((rg.nn.PReLU(4, init=0.1, dtype="float64"), torch.nn.PReLU(4, 0.1).double()),
                 (rg.nn.PReLU(dtype="float64"), torch.nn.PReLU().double())):  # fmt: skip
        assert set(m.state_dict()) == set(t.state_dict()) == {"weight"}
        t.load_state_dict({k: torch.tensor(v) for k, v in m.state_dict().items()})
        x = np.random.default_rng(6).standard_normal((3, 4, 2))
        a, at = _pair(x)
        _check(m(a), t(at), [a], [at])
        np.testing.assert_allclose(m.weight.grad, t.weight.grad.numpy(), rtol=1e-10)
    assert rg.nn.GLU(1)(rg.ones(2, 6)).shape == tuple(torch.nn.GLU(1)(torch.ones(2, 6)).shape)
    assert rg.nn.Unflatten(1, (2, -1))(rg.ones(4, 6)).shape == (4, 2, 3)
    with pytest.raises(TypeError, match="unflattened_size"):
        rg.nn.Unflatten(1, 6)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same"])
def test_conv2d_padding_modes_match_torch(mode, padding):
    m = rg.nn.Conv2d(3, 4, 3, padding=padding, padding_mode=mode, dtype="float64")
    t = torch.nn.Conv2d(3, 4, 3, padding=padding, padding_mode=mode).double()
    t.load_state_dict({k: torch.tensor(v) for k, v in m.state_dict().items()})
    x = np.random.default_rng(7).standard_normal((2, 3, 6, 7))
    a, at = _pair(x)
    _check(m(a), t(at), [a], [at])
    np.testing.assert_allclose(m.weight.grad, t.weight.grad.numpy(), rtol=1e-10)
    assert f"padding_mode='{mode}'" in repr(m)
    again = rg.nn.Conv2d(**m.get_config())
    assert again.padding_mode == mode
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        rg.nn.Conv2d(1, 1, 3, padding_mode="mirror")


def test_onnx_export_refuses_what_it_cannot_map(tmp_path):
    pytest.importorskip("onnx")
    x = rg.randn(1, 3, 8, 8)
    for model in (rg.nn.Sequential(rg.nn.Conv2d(3, 2, 3, padding=1, padding_mode="reflect")),
                  rg.nn.Sequential(rg.nn.MaxPool2d(2, return_indices=True))):  # fmt: skip
        with pytest.raises(Exception, match="padding_mode|return_indices"):
            rg.onnx.export(model, x, tmp_path / "m.onnx")
