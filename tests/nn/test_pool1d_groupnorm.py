"""1-D pools, GroupNorm and InstanceNorm2d: PyTorch parity through state_dicts, errors, files."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import nn

TOL = {"float64": 1e-10, "float32": 1e-5}


def _same_step(torch, layer_r, layer_t, x, rng, tol):
    xr = rg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yr, yt = layer_r(xr), layer_t(xt)
    assert yr.shape == tuple(yt.shape)
    np.testing.assert_allclose(yr.data, yt.detach().numpy(), rtol=0, atol=tol)
    gy = rng.standard_normal(yr.shape).astype(x.dtype)
    yr.backward(gy)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(xr.grad, xt.grad.numpy(), rtol=0, atol=tol * 10)
    tparams = dict(layer_t.named_parameters())
    for name, p in layer_r.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), rtol=0, atol=tol * 10)


def _load(torch, layer_t, layer_r):
    sd = {k: torch.tensor(np.asarray(v)) for k, v in layer_r.state_dict().items()}
    assert list(sd) == list(layer_t.state_dict())
    layer_t.load_state_dict(sd)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "make",
    [lambda m: m.MaxPool1d(2), lambda m: m.MaxPool1d(3, 2, 1, ceil_mode=True),
     lambda m: m.MaxPool1d(2, 1, dilation=2), lambda m: m.AvgPool1d(2),
     lambda m: m.AvgPool1d(3, 2, 1, count_include_pad=False),
     lambda m: m.AvgPool1d(4, ceil_mode=True), lambda m: m.AdaptiveAvgPool1d(4),
     lambda m: m.AdaptiveAvgPool1d(1)],
)  # fmt: skip
def test_pool1d_matches_torch(torch, rng, make, dtype):
    x = np.round(rng.standard_normal((2, 3, 11)), 1).astype(dtype)  # ties included
    _same_step(torch, make(nn), make(torch.nn), x, rng, TOL[dtype])
    _same_step(torch, make(nn), make(torch.nn), x[0], rng, TOL[dtype])  # unbatched (C, L)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "args,kwargs,shape",
    [((3, 6), {}, (2, 6, 4, 5)), ((2, 6), dict(affine=False), (3, 6, 7)),
     ((1, 4), dict(eps=1e-3), (2, 4, 3, 3)), ((4, 4), {}, (2, 4, 5, 2, 2))],
)  # fmt: skip
def test_group_norm_matches_torch(torch, rng, args, kwargs, shape, dtype):
    layer_r = nn.GroupNorm(*args, **kwargs, dtype=dtype)
    if layer_r.weight is not None:
        layer_r.weight.data[:] = rng.standard_normal(args[1])
        layer_r.bias.data[:] = rng.standard_normal(args[1])
    layer_t = torch.nn.GroupNorm(*args, **kwargs).to(getattr(torch, dtype))
    _load(torch, layer_t, layer_r)
    _same_step(torch, layer_r, layer_t, rng.standard_normal(shape).astype(dtype), rng, TOL[dtype])


@pytest.mark.parametrize(
    "kwargs",
    [{}, dict(affine=True), dict(track_running_stats=True),
     dict(affine=True, track_running_stats=True, momentum=0.3)],
)  # fmt: skip
def test_instance_norm_matches_torch_in_training_and_eval(torch, rng, kwargs):
    layer_r = nn.InstanceNorm2d(4, dtype="float64", **kwargs)
    layer_t = torch.nn.InstanceNorm2d(4, **kwargs)
    if layer_r.weight is not None:
        layer_r.weight.data[:] = rng.standard_normal(4)
    _load(torch, layer_t, layer_r)
    x = rng.standard_normal((3, 4, 5, 6))
    for _ in range(2):
        _same_step(torch, layer_r, layer_t, x, rng, 1e-10)
    for k, v in layer_t.state_dict().items():
        np.testing.assert_allclose(layer_r.state_dict()[k], v.numpy(), atol=1e-12, err_msg=k)
    layer_r.eval()
    layer_t.eval()
    _same_step(torch, layer_r, layer_t, x * 2 + 1, rng, 1e-10)
    _same_step(torch, layer_r, layer_t, x[0], rng, 1e-10)  # unbatched (C, H, W)


def test_errors():
    with pytest.raises(ValueError, match="num_channels=6 must be divisible by num_groups=4"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="input has shape \\(2, 5, 3\\), expected \\(N, 6, \\*\\)"):
        nn.GroupNorm(3, 6)(rg.randn(2, 5, 3))
    with pytest.raises(ValueError, match="padding 2 must be at most half the kernel size 3"):
        nn.MaxPool1d(3, padding=2)
    with pytest.raises(
        ValueError, match="input has shape \\(2, 3, 4, 5\\), expected \\(N, C, L\\)"
    ):
        nn.AvgPool1d(2)(rg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="input has 3 channels, expected 4"):
        nn.InstanceNorm2d(4, affine=True)(rg.randn(2, 3, 4, 4))


@pytest.mark.parametrize(
    "make,shape",
    [(lambda: nn.MaxPool1d(3, 2, 1, dilation=1, ceil_mode=True), (2, 3, 9)),
     (lambda: nn.AvgPool1d(3, 1, 1, count_include_pad=False), (2, 3, 9)),
     (lambda: nn.AdaptiveAvgPool1d(3), (2, 3, 9)), (lambda: nn.GroupNorm(2, 4), (2, 4, 3, 3)),
     (lambda: nn.GroupNorm(2, 4, affine=False), (2, 4, 3)),
     (lambda: nn.InstanceNorm2d(3, affine=True, track_running_stats=True), (2, 3, 4, 4))],
)  # fmt: skip
def test_save_and_load(tmp_path, make, shape):
    from retrograd.io import registry

    model = make()
    x = rg.randn(*shape)
    model(x)  # running statistics move (InstanceNorm2d with track_running_stats)
    model.eval()
    path = tmp_path / "m.safetensors"
    rg.save(model, path)
    back = rg.load(path).eval()
    assert type(back) is type(model) and repr(back) == repr(model)
    np.testing.assert_array_equal(model(x).data, back(x).data)
    node = rg.io.module_to_config(model)
    assert registry.estimate_numel(node, "test") <= sum(v.size for v in model.state_dict().values())


def test_compiled_step_with_conv1d_pools_and_group_norm(rng):
    def make():
        rg.manual_seed(0)
        return nn.Sequential(
            nn.Conv1d(2, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(8, 8, 3), nn.AvgPool1d(2), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
            nn.Linear(8, 3),
        )  # fmt: skip

    xs = [rng.standard_normal((4, 2, 16)).astype(np.float32) for _ in range(4)]
    ys = [rng.integers(0, 3, 4) for _ in range(4)]
    runs = []
    for compiled in (False, True):
        model = make()
        opt = rg.optim.Adam(model.parameters(), lr=1e-2)
        loss_fn = nn.CrossEntropyLoss()
        step = rg.train.compile_step(model, loss_fn, opt)
        losses = []
        for x, y in zip(xs, ys):
            if compiled:
                losses.append(step(x, y))
            else:
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
                losses.append(loss.item())
        runs.append(losses)
    assert step.replays == 3 and step.eager_reason is None
    assert runs[0] == runs[1]
