"""Conv, pooling and normalisation layers: PyTorch parity through state_dicts, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import retrograd as rg
from retrograd import nn

GRADCHECKED: set = set()  # the layers add no primitives: see tests/ops/test_conv_ops.py


def _to_torch(torch, layer_t, layer_r):
    layer_t.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in
                             layer_r.state_dict().items()})  # fmt: skip


def _same_step(torch, layer_r, layer_t, x, rng, tol=1e-10):
    """Forward and backward through both layers; outputs, input and parameter grads agree."""
    xr = rg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yr, yt = layer_r(xr), layer_t(xt)
    np.testing.assert_allclose(yr.data, yt.detach().numpy(), rtol=0, atol=tol)
    gy = rng.standard_normal(yr.shape)
    yr.backward(gy)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(xr.grad, xt.grad.numpy(), rtol=0, atol=tol)
    tparams = dict(layer_t.named_parameters())
    for name, p in layer_r.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), rtol=0, atol=tol)


@pytest.mark.parametrize(
    "args,kwargs",
    [((3, 4, 3), {}), ((4, 6, (3, 2)), dict(stride=2, padding=1, groups=2)),
     ((2, 3, 3), dict(padding="same", dilation=2, bias=False)),
     ((3, 6, 2), dict(stride=(2, 1), padding=(0, 1), dilation=(1, 2), groups=3))],
)  # fmt: skip
def test_conv2d_state_dict_moves_to_torch(torch, rng, args, kwargs):
    layer_r = nn.Conv2d(*args, **kwargs, dtype="float64")
    layer_t = torch.nn.Conv2d(*args, **kwargs)
    assert list(layer_r.state_dict()) == list(layer_t.state_dict())
    for k, v in layer_t.state_dict().items():
        assert layer_r.state_dict()[k].shape == tuple(v.shape)
    _to_torch(torch, layer_t, layer_r)
    _same_step(torch, layer_r, layer_t, rng.standard_normal((2, args[0], 7, 8)), rng)


def test_conv2d_default_init_follows_pytorch_law():
    conv = nn.Conv2d(8, 16, 3)
    fan_in = 8 * 9
    # kaiming_uniform(a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias likewise.
    bound = 1 / math.sqrt(fan_in)
    w, b = conv.weight.data, conv.bias.data
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.9 * bound  # really spread over the range
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound


@pytest.mark.parametrize(
    "make",
    [lambda m: m.MaxPool2d(2), lambda m: m.MaxPool2d(3, 2, 1, ceil_mode=True),
     lambda m: m.MaxPool2d((2, 3), (1, 2), dilation=(2, 1)), lambda m: m.AvgPool2d(2),
     lambda m: m.AvgPool2d(3, 2, 1, count_include_pad=False),
     lambda m: m.AvgPool2d((3, 2), ceil_mode=True), lambda m: m.AdaptiveAvgPool2d(1),
     lambda m: m.AdaptiveAvgPool2d((3, None)), lambda m: m.AdaptiveAvgPool2d((2, 3))],
)  # fmt: skip
def test_pool_layers_match_torch(torch, rng, make):
    x = np.round(rng.standard_normal((2, 3, 7, 8)), 1)  # ties included
    _same_step(torch, make(nn), make(torch.nn), x, rng)


@pytest.mark.parametrize(
    "cls,shape",
    [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (4, 3, 3, 2))],
)
@pytest.mark.parametrize(
    "kwargs",
    [{}, dict(momentum=None), dict(affine=False), dict(track_running_stats=False),
     dict(momentum=0.3, eps=1e-3)],
)  # fmt: skip
def test_batch_norm_train_then_eval_matches_torch(torch, rng, cls, shape, kwargs):
    layer_r = getattr(nn, cls)(3, **kwargs, dtype="float64")
    layer_t = getattr(torch.nn, cls)(3, **kwargs)
    if layer_r.affine:
        layer_r.weight.data[:] = rng.uniform(0.5, 2, 3)
        layer_r.bias.data[:] = rng.standard_normal(3)
    _to_torch(torch, layer_t, layer_r)
    for _ in range(3):  # running statistics move over several training batches
        _same_step(torch, layer_r, layer_t, rng.standard_normal(shape) * 2 + 1, rng)
    sd_t = layer_t.state_dict()
    assert list(layer_r.state_dict()) == list(sd_t)
    for k, v in layer_r.state_dict().items():
        np.testing.assert_allclose(v, sd_t[k].numpy(), atol=1e-12, err_msg=k)
    layer_r.eval()
    layer_t.eval()
    _same_step(torch, layer_r, layer_t, rng.standard_normal(shape), rng)


def test_batch_norm_buffers_load_into_torch_and_give_same_eval_output(torch, rng):
    bn = nn.BatchNorm2d(4, dtype="float64")
    for _ in range(2):
        bn(rg.tensor(rng.standard_normal((5, 4, 3, 3)) * 3 + 2))
    assert int(bn.num_batches_tracked.data) == 2
    assert not np.allclose(bn.running_var.data, 1)
    bt = torch.nn.BatchNorm2d(4)
    _to_torch(torch, bt, bn)
    bn.eval()
    bt.eval()
    x = rng.standard_normal((2, 4, 3, 3))
    np.testing.assert_allclose(
        bn(rg.tensor(x)).data, bt(torch.tensor(x)).detach().numpy(), atol=1e-12
    )


@pytest.mark.parametrize(
    "args,kwargs", [((5,), {}), (((3, 5),), dict(eps=1e-3)), ((5,), dict(bias=False)),
                    ((5,), dict(elementwise_affine=False))],
)  # fmt: skip
def test_layer_norm_matches_torch(torch, rng, args, kwargs):
    layer_r = nn.LayerNorm(*args, **kwargs, dtype="float64")
    layer_t = torch.nn.LayerNorm(*args, **kwargs)
    for p in layer_r.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    _to_torch(torch, layer_t, layer_r)
    _same_step(torch, layer_r, layer_t, rng.standard_normal((2, 3, 5)) * 3 + 1, rng)


def test_dropout2d_layer_train_and_eval():
    d = nn.Dropout2d(0.5)
    x = rg.ones(8, 16, 2, 2, requires_grad=True)
    y = d(x)
    kept = y.data.reshape(8, 16, 4)
    assert ((kept == 0).all(axis=2) | (kept == 2).all(axis=2)).all()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)  # the gradient takes the same mask
    d.eval()
    assert d(x) is x


def test_small_cnn_trains_and_state_dict_round_trips_through_torch(torch, rng):
    def build(m):
        return m.Sequential(
            m.Conv2d(1, 4, 3, padding=1),
            m.BatchNorm2d(4),
            m.ReLU(),
            m.MaxPool2d(2),
            m.Flatten(),
            m.Linear(4 * 4 * 4, 3),
        )

    net = build(nn).double()
    x, y = rg.tensor(rng.standard_normal((6, 1, 8, 8))), rg.tensor(rng.integers(0, 3, 6))
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for _ in range(20):
        net.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        first = first if first is not None else loss.item()
        for p in net.parameters():
            p.data -= 0.1 * p.grad
    assert loss.item() < 0.5 * first
    tnet = build(torch.nn)
    _to_torch(torch, tnet, net)
    net.eval()
    tnet.eval()
    np.testing.assert_allclose(net(x).data, tnet(torch.tensor(x.data)).detach().numpy(), atol=1e-10)


# -------------------------------------------------------------------- configuration

CONFIG_LAYERS = [
    lambda: nn.Conv2d(4, 8, (3, 5), stride=2, padding=(1, 2), dilation=(1, 2), groups=2,
                      bias=False),
    lambda: nn.Conv2d(1, 2, 3, padding="same"),
    lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True),
    lambda: nn.AvgPool2d(2, count_include_pad=False, divisor_override=3),
    lambda: nn.AdaptiveAvgPool2d((2, None)),
    lambda: nn.BatchNorm1d(5, momentum=None, affine=False),
    lambda: nn.BatchNorm2d(3, eps=1e-3, track_running_stats=False),
    lambda: nn.LayerNorm((2, 3), elementwise_affine=True, bias=False),
    lambda: nn.Dropout2d(0.2),
]  # fmt: skip


@pytest.mark.parametrize("make", CONFIG_LAYERS)
def test_get_config_is_json_and_rebuilds_the_layer(make):
    layer = make()
    cfg = layer.get_config()
    cfg2 = json.loads(json.dumps(cfg))
    clone = type(layer)(**cfg2)
    assert clone.get_config() == cfg
    assert {k: v.shape for k, v in clone.state_dict().items()} == {
        k: v.shape for k, v in layer.state_dict().items()
    }


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "make,x_shape,match",
    [
        (lambda: nn.Conv2d(3, 8, 3), (8, 8), r"Conv2d\(3, 8.*\(8, 8\).*\(N, 3, H, W\)"),
        (lambda: nn.Conv2d(3, 8, 3), (2, 3, 8, 8, 1), r"Conv2d\(3, 8.*\(2, 3, 8, 8, 1\)"),
        (lambda: nn.Conv2d(3, 8, 3), (2, 4, 8, 8), r"Conv2d\(3, 8.*\(2, 4, 8, 8\).*\(N, 3"),
        (lambda: nn.Conv2d(1, 2, 5, padding=1), (1, 1, 2, 2),
         r"Conv2d\(1, 2.*\(1, 1, 2, 2\).*\(4, 4\).*\(5, 5\)"),
        (lambda: nn.MaxPool2d(3), (1, 1, 2, 2), r"MaxPool2d\(kernel_size=\(3, 3\).*\(1, 1, 2, 2\)"),
        (lambda: nn.AvgPool2d(2), (4, 4), r"AvgPool2d.*\(4, 4\)"),
        (lambda: nn.BatchNorm2d(3), (2, 3, 4), r"BatchNorm2d\(3\).*\(2, 3, 4\).*\(N, 3, H, W\)"),
        (lambda: nn.BatchNorm1d(3), (2, 4), r"BatchNorm1d\(3\).*\(2, 4\).*\(N, 3\)"),
        (lambda: nn.LayerNorm(4), (2, 3), r"LayerNorm.*\(2, 3\).*\(\*, 4\)"),
        (lambda: nn.Dropout2d(), (2, 3), r"Dropout2d.*\(2, 3\)"),
    ],
)  # fmt: skip
def test_bad_input_shape_names_layer_and_shapes(make, x_shape, match):
    with pytest.raises(ValueError, match=match):
        make()(rg.ones(*x_shape))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: nn.Conv2d(1, 2, 3, stride=0), r"Conv2d: stride must be >= 1, got 0"),
        (lambda: nn.Conv2d(1, 2, 3, stride=(1, 0)), "stride"),
        (lambda: nn.Conv2d(4, 6, 3, groups=3), r"groups=3.*in_channels=4.*out_channels=6"),
        (lambda: nn.Conv2d(3, 4, 3, groups=2), "groups=2"),
        (lambda: nn.Conv2d(1, 2, 0), "kernel_size"),
        (lambda: nn.Conv2d(1, 2, 3, padding=-1), "padding"),
        (lambda: nn.Conv2d(1, 2, 3, stride=2, padding="same"), "same"),
        (lambda: nn.Conv2d(1, 2, 3, padding="full"), "padding"),
        (lambda: nn.MaxPool2d(2, stride=0), "stride"),
        (lambda: nn.MaxPool2d(2, padding=2), "half"),
        (lambda: nn.BatchNorm2d(0), "num_features"),
        (lambda: nn.BatchNorm1d(3, momentum=2.0), "momentum"),
        (lambda: nn.LayerNorm(0), "normalized_shape"),
        (lambda: nn.Dropout2d(1.5), "p must be"),
        (lambda: nn.AdaptiveAvgPool2d(0), "output_size"),
    ],
)  # fmt: skip
def test_bad_hyperparameters_raise_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_unbatched_conv_like_torch(torch, rng):
    conv = nn.Conv2d(2, 3, 3, dtype="float64")
    tconv = torch.nn.Conv2d(2, 3, 3)
    _to_torch(torch, tconv, conv)
    x = rng.standard_normal((2, 5, 5))
    np.testing.assert_allclose(
        conv(rg.tensor(x)).data, tconv(torch.tensor(x)).detach().numpy(), atol=1e-12
    )


def test_layers_are_exported_from_rg_nn():
    for name in (
        "Conv2d",
        "MaxPool2d",
        "AvgPool2d",
        "AdaptiveAvgPool2d",
        "BatchNorm1d",
        "BatchNorm2d",
        "LayerNorm",
        "Dropout2d",
    ):
        assert issubclass(getattr(rg.nn, name), nn.Module)
