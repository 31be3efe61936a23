"""Conv1d, transposed convolutions and resampling layers: PyTorch parity, errors, files."""

from __future__ import annotations

import math

import numpy as np
import pytest

import retrograd as rg
from gradcheck_registry import covers
from retrograd import nn

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

TOL = {"float64": 1e-10, "float32": 1e-5}


def _to_torch(torch, layer_t, layer_r):
    sd = {k: torch.tensor(np.asarray(v)) for k, v in layer_r.state_dict().items()}
    assert list(sd) == list(layer_t.state_dict())
    for k, v in layer_t.state_dict().items():
        assert tuple(sd[k].shape) == tuple(v.shape), k
    layer_t.load_state_dict(sd)


def _same_step(torch, layer_r, layer_t, x, rng, tol, **kwargs):
    xr = rg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yr, yt = layer_r(xr, **kwargs), layer_t(xt, **kwargs)
    assert yr.shape == tuple(yt.shape)
    np.testing.assert_allclose(yr.data, yt.detach().numpy(), rtol=0, atol=tol)
    gy = rng.standard_normal(yr.shape).astype(x.dtype)
    yr.backward(gy)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(xr.grad, xt.grad.numpy(), rtol=0, atol=tol * 10)
    tparams = dict(layer_t.named_parameters())
    for name, p in layer_r.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), rtol=0, atol=tol * 10)


def _torch_dtype(torch, dtype):
    return getattr(torch, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "args,kwargs",
    [((3, 4, 3), {}), ((4, 6, 4), dict(stride=2, padding=1)),
     ((4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
     ((2, 3, (3, 2)), dict(stride=(2, 3), padding=(1, 0), output_padding=(0, 2), bias=False)),
     ((3, 3, 2), dict(dilation=2, output_padding=1, groups=3))],
)  # fmt: skip
def test_conv_transpose2d_matches_torch(torch, rng, args, kwargs, dtype):
    layer_r = nn.ConvTranspose2d(*args, **kwargs, dtype=dtype)
    layer_t = torch.nn.ConvTranspose2d(*args, **kwargs).to(_torch_dtype(torch, dtype))
    _to_torch(torch, layer_t, layer_r)
    x = rng.standard_normal((2, args[0], 5, 6)).astype(dtype)
    _same_step(torch, layer_r, layer_t, x, rng, TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "args,kwargs",
    [((3, 4, 3), {}), ((4, 6, 4), dict(stride=2, padding=1, output_padding=1, groups=2)),
     ((2, 2, 3), dict(dilation=2, bias=False))],
)  # fmt: skip
def test_conv_transpose1d_matches_torch(torch, rng, args, kwargs, dtype):
    layer_r = nn.ConvTranspose1d(*args, **kwargs, dtype=dtype)
    layer_t = torch.nn.ConvTranspose1d(*args, **kwargs).to(_torch_dtype(torch, dtype))
    _to_torch(torch, layer_t, layer_r)
    _same_step(torch, layer_r, layer_t, rng.standard_normal((3, args[0], 7)).astype(dtype), rng,
               TOL[dtype])  # fmt: skip


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "args,kwargs",
    [((3, 4, 3), {}), ((4, 6, 5), dict(stride=2, padding=2, groups=2)),
     ((2, 3, 3), dict(padding="same", dilation=2, bias=False)), ((2, 3, 4), dict(padding="same")),
     ((3, 3, 2), dict(stride=3, dilation=3, groups=3, padding="valid"))],
)  # fmt: skip
def test_conv1d_matches_torch(torch, rng, args, kwargs, dtype):
    layer_r = nn.Conv1d(*args, **kwargs, dtype=dtype)
    layer_t = torch.nn.Conv1d(*args, **kwargs).to(_torch_dtype(torch, dtype))
    _to_torch(torch, layer_t, layer_r)
    _same_step(torch, layer_r, layer_t, rng.standard_normal((2, args[0], 11)).astype(dtype), rng,
               TOL[dtype])  # fmt: skip


def test_unbatched_inputs(torch, rng):
    for r, t, shape in [
        (nn.Conv1d(3, 4, 3, dtype="float64"), torch.nn.Conv1d(3, 4, 3), (3, 9)),
        (nn.ConvTranspose1d(3, 4, 3, dtype="float64"), torch.nn.ConvTranspose1d(3, 4, 3), (3, 9)),
        (nn.ConvTranspose2d(3, 4, 3, 2, dtype="float64"), torch.nn.ConvTranspose2d(3, 4, 3, 2),
         (3, 4, 5)),
    ]:  # fmt: skip
        _to_torch(torch, t, r)
        _same_step(torch, r, t, rng.standard_normal(shape), rng, 1e-10)


def test_conv_transpose2d_output_size(torch, rng):
    layer_r = nn.ConvTranspose2d(3, 2, 3, stride=3, padding=1, dtype="float64")
    layer_t = torch.nn.ConvTranspose2d(3, 2, 3, stride=3, padding=1)
    _to_torch(torch, layer_t, layer_r)
    x = rng.standard_normal((1, 3, 4, 4))
    for size in [(10, 10), (11, 12), [1, 2, 12, 10]]:
        _same_step(torch, layer_r, layer_t, x, rng, 1e-10, output_size=size)
    with pytest.raises(ValueError, match="valid sizes range from 10 to 12"):
        layer_r(rg.tensor(x), output_size=(13, 10))


@covers("ConvTranspose2d")
@pytest.mark.parametrize(
    "kwargs",
    [{}, dict(stride=2, padding=1, output_padding=1),
     dict(stride=(1, 2), dilation=(2, 1), groups=2, output_padding=(1, 0))],
)  # fmt: skip
def test_conv_transpose2d_gradcheck(rng, kwargs):
    from retrograd.ops.conv import conv_transpose2d

    x = rng.standard_normal((2, 4, 3, 3))
    w = rng.standard_normal((4, 2, 3, 2))
    b = rng.standard_normal(2 * kwargs.get("groups", 1))
    assert rg.gradcheck(lambda x, w, b: conv_transpose2d(x, w, b, **kwargs), [x, w, b])


def test_conv_transpose_default_init_follows_pytorch_law():
    layer = nn.ConvTranspose2d(8, 16, 3)
    # PyTorch's fan_in for a transposed conv weight (in, out/g, kh, kw): out/g * kh * kw.
    bound = 1 / math.sqrt(16 * 9)
    w = layer.weight.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(layer.bias.data).max() <= bound


def test_conv_errors():
    with pytest.raises(ValueError, match="output_padding \\(2, 2\\) must be smaller than stride"):
        nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="groups=2 must divide in_channels=3"):
        nn.ConvTranspose1d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="input has shape \\(2, 5, 7\\) with 5 channels"):
        nn.Conv1d(3, 4, 3)(rg.randn(2, 5, 7))
    with pytest.raises(ValueError, match="input has shape \\(5,\\), expected \\(N, 3, L\\)"):
        nn.ConvTranspose1d(3, 4, 3)(rg.randn(5))
    with pytest.raises(ValueError, match="gives an empty output"):
        nn.ConvTranspose2d(2, 2, 1, padding=3)(rg.randn(1, 2, 2, 2))
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        nn.Conv1d(2, 2, 3, stride=2, padding="same")


# ------------------------------------------------------------------------ resampling


@pytest.mark.parametrize(
    "kwargs,shape",
    [(dict(scale_factor=2), (2, 3, 4, 5)), (dict(size=(7, 3)), (2, 3, 4, 5)),
     (dict(scale_factor=1.7, mode="bilinear"), (2, 3, 4, 5)),
     (dict(size=(6, 9), mode="bilinear", align_corners=True), (2, 3, 4, 5)),
     (dict(scale_factor=(0.5, 1.5), mode="bilinear", recompute_scale_factor=True), (1, 2, 6, 4)),
     (dict(size=(5, 7), mode="nearest-exact"), (1, 2, 3, 4)),
     (dict(scale_factor=2.5, mode="linear"), (2, 3, 5)),
     (dict(size=4, mode="linear", align_corners=True), (2, 3, 7)),
     (dict(scale_factor=3), (2, 3, 5))],
)  # fmt: skip
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_upsample_matches_torch(torch, rng, kwargs, shape, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    _same_step(torch, nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), x, rng, TOL[dtype])


def test_upsampling_aliases_and_pixel_shuffle(torch, rng):
    x = rng.standard_normal((2, 8, 3, 4))
    for r, t in [
        (nn.UpsamplingNearest2d(scale_factor=2), torch.nn.UpsamplingNearest2d(scale_factor=2)),
        (nn.UpsamplingBilinear2d(size=(5, 7)), torch.nn.UpsamplingBilinear2d(size=(5, 7))),
        (nn.PixelShuffle(2), torch.nn.PixelShuffle(2)),
        (nn.PixelUnshuffle(1), torch.nn.PixelUnshuffle(1)),
    ]:
        _same_step(torch, r, t, x, rng, 1e-12)
    y = rng.standard_normal((2, 3, 6, 4))
    _same_step(torch, nn.PixelUnshuffle(2), torch.nn.PixelUnshuffle(2), y, rng, 1e-12)


def test_resampling_errors():
    F = rg.nn.functional
    x = rg.randn(1, 2, 3, 4)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="mode must be one of"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="mode 'linear' needs 3-D"):
        F.interpolate(x, scale_factor=2, mode="linear")
    with pytest.raises(ValueError, match="align_corners only applies to the linear modes"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="expected a multiple of upscale_factor\\*\\*2 = 4"):
        F.pixel_shuffle(rg.randn(1, 6, 2, 2), 2)


# ------------------------------------------------------------------------ files, steps


@pytest.mark.parametrize(
    "make,shape",
    [(lambda: nn.Conv1d(3, 4, 3, stride=2, padding="valid", groups=1), (2, 3, 9)),
     (lambda: nn.ConvTranspose1d(4, 2, 3, stride=2, output_padding=1, bias=False), (2, 4, 5)),
     (lambda: nn.ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, groups=2), (2, 4, 5, 5)),
     (lambda: nn.Upsample(scale_factor=(2, 1.5), mode="bilinear", align_corners=False),
      (1, 2, 4, 4)),
     (lambda: nn.UpsamplingBilinear2d(size=(5, 5)), (1, 2, 3, 3)),
     (lambda: nn.PixelShuffle(2), (1, 8, 3, 3))],
)  # fmt: skip
def test_save_and_load(tmp_path, make, shape):
    from retrograd.io import registry

    model = make()
    x = rg.randn(*shape)
    path = tmp_path / "m.safetensors"
    rg.save(model, path)
    back = rg.load(path)
    assert type(back) is type(model) and repr(back) == repr(model)
    np.testing.assert_array_equal(model(x).data, back(x).data)
    node = rg.io.module_to_config(model)
    assert registry.estimate_numel(node, "test") <= sum(v.size for v in model.state_dict().values())


def test_compiled_step_with_transposed_conv_matches_eager(rng):
    def make():
        rg.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(4, 1, 4, stride=2, padding=1), nn.Upsample(scale_factor=1),
        )  # fmt: skip

    xs = [rng.standard_normal((3, 1, 8, 8)).astype(np.float32) for _ in range(4)]
    results = []
    for compiled in (False, True):
        model = make()
        opt = rg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        loss_fn = nn.MSELoss()
        step = rg.train.compile_step(model, loss_fn, opt)
        losses = []
        for x in xs:
            if compiled:
                losses.append(step(x, x))
            else:
                opt.zero_grad()
                loss = loss_fn(model(x), x)
                loss.backward()
                opt.step()
                losses.append(loss.item())
        results.append(losses)
    assert step.replays == 3 and step.eager_reason is None
    assert results[0] == results[1]
