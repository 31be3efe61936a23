"""Fused recurrent primitives: float64 gradchecks, dtype preservation, graph size, errors."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from gradcheck_registry import covers
from retrograd.autograd.function import PRIMITIVES
from retrograd.ops import rnn as R

T, B, IN, H = 3, 2, 2, 2
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _arrays(rng, kind, bias=True, dtype=np.float64):
    g = GATES[kind]
    arrs = [rng.standard_normal((T, B, IN)), rng.standard_normal((B, H))]
    if kind == "lstm":
        arrs.append(rng.standard_normal((B, H)))
    arrs += [rng.standard_normal((g * H, IN)) * 0.8, rng.standard_normal((g * H, H)) * 0.8]
    if bias:
        arrs += [rng.standard_normal(g * H) * 0.5, rng.standard_normal(g * H) * 0.5]
    return [a.astype(dtype) for a in arrs]


def _packed(kind, **kw):
    """f(*tensors) -> every output of the layer flattened into one tensor."""
    fn = {"rnn": R.rnn_layer, "lstm": R.lstm_layer, "gru": R.gru_layer}[kind]

    def f(*ts):
        outs = fn(*ts, **kw)
        return rg.concatenate([o.reshape(-1) for o in outs])

    return f


def _grad_cases():
    cases = []
    for kind in ("rnn", "lstm", "gru"):
        for reverse in (False, True):
            for lengths in (None, [3, 1]):
                cases.append((kind, dict(reverse=reverse, lengths=lengths), True))
        cases.append((kind, {}, False))
    cases.append(("rnn", dict(nonlinearity="relu"), True))
    cases.append(("rnn", dict(nonlinearity="relu", reverse=True, lengths=[2, 3]), True))
    return cases


def test_every_rnn_primitive_is_gradchecked():
    mine = {name for name, cls in PRIMITIVES.items() if cls.__module__ == R.__name__}
    assert mine == {"RNNLayer", "LSTMLayer", "GRULayer"}


@covers("RNNLayer", "LSTMLayer", "GRULayer")
@pytest.mark.parametrize("kind,kw,bias", _grad_cases(), ids=lambda v: str(v).replace(" ", ""))
def test_gradcheck_float64(rng, kind, kw, bias):
    arrs = _arrays(rng, kind, bias)
    f = _packed(kind, **kw)
    out = f(*[rg.tensor(a, requires_grad=True) for a in arrs])
    # The fused primitive really is in the graph (not a composite of small ops).
    name = {"rnn": "RNNLayer", "lstm": "LSTMLayer", "gru": "GRULayer"}[kind]
    assert _primitives(out) >= {name}
    assert rg.gradcheck(f, arrs) is True


def _primitives(out):
    names, stack, seen = set(), [out], set()
    while stack:
        t = stack.pop()
        if id(t) in seen or t._ctx is None:
            continue
        seen.add(id(t))
        names.add(type(t._ctx).__name__)
        stack.extend(t._ctx.parents)
    return names


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_one_node_per_sequence(rng, kind):
    # A 50-step sequence is still one primitive node: the whole BPTT is fused.
    fn = {"rnn": R.rnn_layer, "lstm": R.lstm_layer, "gru": R.gru_layer}[kind]
    arrs = _arrays(rng, kind)
    arrs[0] = rng.standard_normal((50, B, IN))
    outs = fn(*[rg.tensor(a, requires_grad=True) for a in arrs])
    seen, stack, count = set(), [outs[0]], 0
    while stack:
        t = stack.pop()
        if id(t) in seen or t._ctx is None:
            continue
        seen.add(id(t))
        count += type(t._ctx).__name__ in ("RNNLayer", "LSTMLayer", "GRULayer")
        stack.extend(t._ctx.parents)
    assert count == 1


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("lengths", [None, [3, 2]])
def test_float32_stays_float32(rng, kind, lengths):
    arrs = _arrays(rng, kind, dtype=np.float32)
    ts = [rg.tensor(a, requires_grad=True) for a in arrs]
    outs = _packed(kind, lengths=lengths)(*ts)
    assert outs.dtype == np.float32
    (outs * outs).sum().backward()
    for t in ts:
        assert t.grad is not None and t.grad.dtype == np.float32


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_backward_twice_accumulates(rng, kind):
    # Saved forward state must not be consumed by the first backward.
    ts = [rg.tensor(a, requires_grad=True) for a in _arrays(rng, kind)]
    out = _packed(kind, reverse=True, lengths=[2, 3])(*ts)
    loss = (out * out).sum()
    loss.backward()
    first = [t.grad.copy() for t in ts]
    loss.backward()
    for t, g in zip(ts, first):
        np.testing.assert_allclose(t.grad, 2 * g, rtol=1e-12)


def test_padded_steps_output_zero_and_freeze_state(rng):
    arrs = _arrays(rng, "lstm")
    ts = [rg.tensor(a) for a in arrs]
    y, h, c = R.lstm_layer(*ts, lengths=[1, 3])
    assert np.all(y.data[1:, 0] == 0)
    np.testing.assert_array_equal(h.data[0], y.data[0, 0])
    # The result for a sequence equals running it alone on its valid steps.
    alone = R.lstm_layer(ts[0][:1, :1], ts[1][:1], ts[2][:1], *ts[3:])
    np.testing.assert_allclose(h.data[0], alone[1].data[0], rtol=1e-12)
    np.testing.assert_allclose(c.data[0], alone[2].data[0], rtol=1e-12)


def test_reverse_with_lengths_starts_at_each_last_step(rng):
    arrs = _arrays(rng, "gru")
    ts = [rg.tensor(a) for a in arrs]
    y, h = R.gru_layer(*ts, reverse=True, lengths=[2, 3])
    # Sequence 0 alone (its two valid steps), run in reverse.
    y0, h0 = R.gru_layer(ts[0][:2, :1], ts[1][:1], *ts[2:], reverse=True)
    np.testing.assert_allclose(y.data[:2, 0], y0.data[:, 0], rtol=1e-12)
    np.testing.assert_allclose(h.data[0], h0.data[0], rtol=1e-12)
    assert np.all(y.data[2:, 0] == 0)


def test_layer_argument_errors(rng):
    x, h0 = rg.tensor(rng.standard_normal((T, B, IN))), rg.zeros(B, H, dtype="float64")
    w_ih = rg.tensor(rng.standard_normal((4 * H, IN)))
    w_hh = rg.tensor(rng.standard_normal((4 * H, H)))
    with pytest.raises(ValueError, match=r"lstm_layer: h0 has shape \(3, 2\), expected \(2, 2\)"):
        R.lstm_layer(x, rg.zeros(3, H, dtype="float64"), h0, w_ih, w_hh)
    with pytest.raises(ValueError, match="w_ih has shape"):
        R.lstm_layer(x, h0, h0, w_ih[:, :1], w_hh)
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 3\]"):
        R.lstm_layer(x, h0, h0, w_ih, w_hh, lengths=[4, 1])
    with pytest.raises(ValueError, match=r"lengths has shape \(3,\), expected \(2,\)"):
        R.lstm_layer(x, h0, h0, w_ih, w_hh, lengths=[1, 2, 3])
    with pytest.raises(TypeError, match="share one floating dtype"):
        R.lstm_layer(x.astype("float32"), h0, h0, w_ih, w_hh)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        R.rnn_layer(x, h0, w_ih[:H], w_hh[:H], nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="input must be 3-D"):
        R.gru_layer(x[0], h0, w_ih[: 3 * H], w_hh[: 3 * H])


@covers("LSTMLayer")
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_lstm_gradcheck_across_backward_chunks(rng, reverse, padded):
    # The LSTM backward works in chunks of R._LSTM_CHUNK steps (one weight-gradient GEMM
    # each): 2 full chunks and a partial one, both directions, with and without padding.
    n_steps = 2 * R._LSTM_CHUNK + 1
    lengths = [n_steps, R._LSTM_CHUNK + 2] if padded else None
    arrs = _arrays(rng, "lstm")
    arrs[0] = rng.standard_normal((n_steps, B, IN))
    f = _packed("lstm", reverse=reverse, lengths=lengths)
    assert rg.gradcheck(f, arrs) is True


def test_lstm_output_layout_does_not_leak_into_results(rng):
    # The packed output is a transposed view of the layer's state buffer; slicing, copying
    # and reshaping it must behave exactly like a C-ordered array with the same values.
    arrs = _arrays(rng, "lstm")
    y, h, c = R.lstm_layer(*[rg.tensor(a) for a in arrs])
    assert y.shape == (T, B, H) and h.shape == (B, H) and c.shape == (B, H)
    np.testing.assert_array_equal(y.data[-1], h.data)
    flat = y.data.reshape(T * B, H)
    np.testing.assert_array_equal(flat, np.ascontiguousarray(y.data).reshape(T * B, H))
