"""The recurrent-cell kernels against their NumPy twins (bitwise), alone and in the layers."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import kernels
from retrograd.kernels import _rnn_numpy as N
from retrograd.ops.rnn import gru_layer, lstm_layer

B = pytest.importorskip("retrograd.kernels._rnn_numba", reason="Numba is not installed")

DTYPES = [np.float32, np.float64]
SIZES = [(1, 1), (3, 5), (16, 64)]  # (H, batch)


def _bits_equal(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _rand(rng, shape, dtype, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, shape).astype(dtype)


@pytest.fixture(params=[False, True], ids=["serial", "parallel"])
def parallel(request, monkeypatch):
    # The parallel loops start at PARALLEL_MIN elements: lowered so that they run here.
    if request.param:
        monkeypatch.setattr(B, "PARALLEL_MIN", 1)
    return request.param


def _both(name, make, outputs):
    """Run twin and kernel on copies of the same arguments; return both argument lists."""
    args_n, args_b = make(), make()
    ret_n = getattr(N, name)(*args_n)
    ret_b = getattr(B, name)(*args_b)
    for k in outputs:
        assert _bits_equal(args_n[k], args_b[k]), f"{name}: argument {k} differs"
    return ret_n, ret_b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("H, b", SIZES)
def test_lstm_forward_kernels_are_bitwise_the_twins(H, b, dtype, parallel):
    def make():
        rng = np.random.default_rng(0)
        St = np.tanh(_rand(rng, (4 * H, b), dtype, -3, 3))
        Z = _rand(rng, (H, 3, b), dtype)  # cp and cn as strided columns, as in the layer
        return [St, Z[:, 0], np.zeros((H, b), dtype), np.empty((H, b), dtype)]

    _both("lstm_fwd_cell", make, [0, 2])

    def make_out():
        rng = np.random.default_rng(1)
        Z = np.zeros((H + 2, 4, b), dtype)  # the layer's [h; x; 1] slab, column 2
        return [_rand(rng, (H, b), dtype), _rand(rng, (H, b), dtype), np.empty((H, b), dtype),
                Z, 2]  # fmt: skip

    _both("lstm_fwd_out", make_out, [2, 3])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("H, b", SIZES)
def test_lstm_backward_factors_are_bitwise_the_twin(H, b, dtype, parallel):
    m = 3

    def make():
        rng = np.random.default_rng(2)
        Sc = np.tanh(_rand(rng, (m, 4 * H, b), dtype, -3, 3))
        return [Sc, _rand(rng, (m, H, b), dtype), _rand(rng, (m, H, b), dtype, -4, 4),
                np.empty((m, 4 * H, b), dtype), np.empty((m, H, b), dtype)]  # fmt: skip

    _both("lstm_bwd_factors", make, [3, 4])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("H, b", SIZES)
@pytest.mark.parametrize("with_gy", [True, False])
@pytest.mark.parametrize("keep", [True, False])
def test_lstm_backward_step_is_bitwise_the_twin(H, b, dtype, with_gy, keep, parallel):
    def make():
        rng = np.random.default_rng(3)
        G = np.zeros((4 * H, 2, b), dtype)  # the chunk buffer; the step fills G[:, 1]
        gy = _rand(rng, (b, H), dtype).T if with_gy else None  # a transposed view
        return [_rand(rng, (H, b), dtype), gy, _rand(rng, (H, b), dtype),
                _rand(rng, (4 * H, b), dtype), _rand(rng, (H, b), dtype),
                _rand(rng, (H, b), dtype), G, 1, np.empty((H, b), dtype),
                np.empty((H, b), dtype), keep]  # fmt: skip

    ret_n, ret_b = _both("lstm_bwd_step", make, [5, 6])
    assert _bits_equal(ret_n, ret_b)  # dh_t, wherever each version keeps it


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("H, b", SIZES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_gru_forward_kernels_are_bitwise_the_twins(H, b, dtype, with_bias, parallel):
    def make():
        rng = np.random.default_rng(4)
        gh = _rand(rng, (3 * H, b), dtype)
        gh[0, 0] = -0.0  # -0 + b_hn is +0; without a bias it must stay -0
        bhn = _rand(rng, (H, 1), dtype) if with_bias else None
        xw = _rand(rng, (3 * H, b), dtype)
        return [np.tanh(_rand(rng, (2 * H, b), dtype, -3, 3)), gh, bhn, xw[2 * H :],
                np.empty((H, b), dtype), np.empty((H, b), dtype)]  # fmt: skip

    _both("gru_fwd_gates", make, [0, 4, 5])

    def make_out():
        rng = np.random.default_rng(5)
        return [_rand(rng, (H, b), dtype) for _ in range(3)] + [np.empty((H, b), dtype)]

    _both("gru_fwd_out", make_out, [3])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("H, b", SIZES)
@pytest.mark.parametrize("with_gy", [True, False])
@pytest.mark.parametrize("with_valid", [True, False])
def test_gru_backward_step_is_bitwise_the_twin(H, b, dtype, with_gy, with_valid, parallel):
    def make():
        rng = np.random.default_rng(6)
        RZ = rng.uniform(0, 1, (2 * H, b)).astype(dtype)
        gy = _rand(rng, (b, H), dtype).T if with_gy else None
        valid = None
        if with_valid:
            valid = (rng.uniform(0, 1, (1, b)) > 0.4).astype(dtype)
        return [_rand(rng, (H, b), dtype), gy, RZ[:H], RZ[H:], _rand(rng, (H, b), dtype),
                _rand(rng, (H, b), dtype), _rand(rng, (H, b), dtype), valid,
                np.empty((H, b), dtype), np.empty((H, b), dtype), np.empty((H, b), dtype),
                np.empty((4 * H, b), dtype)]  # fmt: skip

    _both("gru_bwd_step", make, [8, 9, 11])


def test_kernels_fall_back_to_the_twins_on_mixed_dtypes():
    rng = np.random.default_rng(7)
    hp, nt, z = (_rand(rng, (2, 3), np.float64) for _ in range(3))
    out_n, out_b = np.empty((2, 3), np.float32), np.empty((2, 3), np.float32)
    N.gru_fwd_out(hp, nt, z, out_n)
    B.gru_fwd_out(hp, nt, z, out_b)
    assert _bits_equal(out_n, out_b)


# ------------------------------------------------------------ the layers, both ways


def _layer_run(choice, cell, dtype, reverse, lengths, seed=0):
    kernels.use(choice)
    try:
        rng = np.random.default_rng(seed)
        T, b, n_in, H = 6, 5, 3, 4
        g = {"LSTM": 4, "GRU": 3}[cell]
        arrays = [rng.standard_normal((T, b, n_in)), rng.standard_normal((b, H))]
        if cell == "LSTM":
            arrays.append(rng.standard_normal((b, H)))
        arrays += [rng.standard_normal(s) * 0.5 for s in ((g * H, n_in), (g * H, H), (g * H,),
                                                             (g * H,))]  # fmt: skip
        ts = [rg.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
        fn = lstm_layer if cell == "LSTM" else gru_layer
        outs = fn(*ts, reverse=reverse, lengths=lengths)
        loss = sum((o * o).sum() for o in outs)
        loss.backward()
        return [o.data.copy() for o in outs] + [t.grad.copy() for t in ts]
    finally:
        kernels.use("auto")


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, [6, 2, 5, 1, 6]])
def test_layers_give_bitwise_the_same_values_and_gradients_either_way(
    cell, dtype, reverse, lengths
):
    a = _layer_run("numpy", cell, dtype, reverse, lengths)
    b = _layer_run("numba", cell, dtype, reverse, lengths)
    for x, y in zip(a, b):
        assert _bits_equal(x, y)
