"""Exporters of the recurrent layers (ONNX RNN/LSTM/GRU) and of the fixed-point layers
(an ONNX ``Loop`` that relaxes until the layer's own tolerance or ``max_iter``).

Gate orders differ: PyTorch (and retrograd) stack an LSTM's gates as i, f, g, o and a
GRU's as r, z, n; ONNX wants i, o, f, c and z, r, h. The weights are re-stacked here.
A GRU applies its reset gate after the hidden matmul, ONNX's ``linear_before_reset=1``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._graph import ExportContext, Value
from ._registry import builtin

# ONNX gate position k takes PyTorch's gate _ORDER[mode][k].
_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}
_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _regate(a: np.ndarray, mode: str) -> np.ndarray:
    chunks = np.split(np.asarray(a), len(_ORDER[mode]), axis=0)
    return np.concatenate([chunks[k] for k in _ORDER[mode]], axis=0)


def _direction_weights(params: list, mode: str, bias: bool, dt: Any) -> tuple:
    w_ih, w_hh = (np.asarray(p.data) for p in params[:2])
    w, r = _regate(w_ih, mode), _regate(w_hh, mode)
    if bias:
        b = np.concatenate([_regate(params[2].data, mode), _regate(params[3].data, mode)])
    else:
        b = np.zeros(2 * w.shape[0], dtype=dt)
    return w, r, b


def _rnn_attrs(mode: str, hidden: int, directions: int) -> dict:
    attrs: dict = {
        "hidden_size": hidden,
        "direction": "bidirectional" if directions == 2 else "forward",
    }
    if mode == "GRU":
        attrs["linear_before_reset"] = 1
    if mode == "RNN_RELU":
        attrs["activations"] = ["Relu"] * directions
    return attrs


def _one_layer(
    ctx: ExportContext, mode: str, bias: bool, seq: str, params_d: list, init: list,
    hidden: int, name: str,
) -> tuple:  # fmt: skip
    """One ONNX RNN/LSTM/GRU node (both directions); returns (Y, Y_h, Y_c or None)."""
    D = len(params_d)
    dt = params_d[0][0].data.dtype
    ws, rs, bs = zip(*(_direction_weights(p, mode, bias, dt) for p in params_d))
    w = ctx.weight(np.stack(ws), f"{name}.W")
    r = ctx.weight(np.stack(rs), f"{name}.R")
    b = ctx.weight(np.stack(bs), f"{name}.B")
    n_out = 3 if mode == "LSTM" else 2
    ins = [seq, w, r, b, "", *init]
    outs = ctx.op(_OP[mode], *ins, outputs=n_out, **_rnn_attrs(mode, hidden, D))
    return outs if n_out == 3 else (*outs, None)


@builtin("RNN", "LSTM", "GRU")
def _rnn(ctx: ExportContext, m: Any, x: Value, hx: Any = None, lengths: Any = None) -> tuple:
    if lengths is not None:
        raise ctx.fail("lengths= (padded batches) is not exported; export the padded layer")
    H, L = m.hidden_size, m.num_layers
    D = 2 if m.bidirectional else 1
    lstm = m.mode == "LSTM"
    unbatched = x.ndim == 2
    if unbatched:
        seq = ctx.unsqueeze(x, [1])
    elif m.batch_first:
        seq = ctx.op("Transpose", x, perm=[1, 0, 2])
    else:
        seq = x.name
    # Initial states (L*D, B, H): layer l uses rows l*D .. l*D+D-1.
    states: list = []
    if hx is not None:
        parts = list(hx) if lstm else [hx]
        for s in parts:
            states.append(ctx.unsqueeze(s, [1]) if unbatched else s.name)
    finals_h, finals_c = [], []
    for layer in range(L):
        init = []
        if states:
            for s in states:
                if L == 1:
                    init.append(s)
                else:
                    init.append(
                        ctx.op(
                            "Slice",
                            s,
                            ctx.ints([layer * D]),
                            ctx.ints([(layer + 1) * D]),
                            ctx.ints([0]),
                        )
                    )
        params_d = [m._layer_params(layer, d) for d in range(D)]
        y, y_h, y_c = _one_layer(ctx, m.mode, m.bias, seq, params_d, init, H, f"l{layer}")
        # Y is (seq, D, batch, H): the next layer (and the output) want (seq, batch, D*H).
        seq = ctx.reshape(ctx.op("Transpose", y, perm=[0, 2, 1, 3]), [0, 0, -1])
        finals_h.append(y_h)
        finals_c.append(y_c)
    h_n = finals_h[0] if L == 1 else ctx.op("Concat", *finals_h, axis=0)
    c_n = None
    if lstm:
        c_n = finals_c[0] if L == 1 else ctx.op("Concat", *finals_c, axis=0)
    out = seq
    if unbatched:
        out = ctx.squeeze(out, [1])
        h_n = ctx.squeeze(h_n, [1])
        c_n = ctx.squeeze(c_n, [1]) if lstm else None
    elif m.batch_first:
        out = ctx.op("Transpose", out, perm=[1, 0, 2])
    return (out, (h_n, c_n)) if lstm else (out, h_n)


@builtin("RNNCell", "LSTMCell", "GRUCell")
def _cell(ctx: ExportContext, m: Any, x: Value, hx: Any = None) -> Any:
    kind = type(m).__name__
    mode = {"LSTMCell": "LSTM", "GRUCell": "GRU"}.get(kind)
    if mode is None:
        mode = "RNN_TANH" if m.nonlinearity == "tanh" else "RNN_RELU"
    lstm = mode == "LSTM"
    unbatched = x.ndim == 1
    xb = ctx.unsqueeze(x, [0]) if unbatched else x.name
    seq = ctx.unsqueeze(xb, [0])
    init = []
    if hx is not None:
        for s in list(hx) if lstm else [hx]:
            if not isinstance(s, Value):
                raise ctx.fail("a state in hx is not a tensor of the graph (None?)")
            sb = ctx.unsqueeze(s, [0]) if unbatched else s.name
            init.append(ctx.unsqueeze(sb, [0]))

    params = [m.weight_ih, m.weight_hh] + ([m.bias_ih, m.bias_hh] if m.bias else [])
    _, y_h, y_c = _one_layer(ctx, mode, m.bias, seq, [params], init, m.hidden_size, "cell")
    drop = [0, 1] if unbatched else [0]
    h = ctx.squeeze(y_h, drop)
    return (h, ctx.squeeze(y_c, drop)) if lstm else h


# ----------------------------------------------------------------------- fixed points
def _initial_state(ctx: ExportContext, x: Value, state: np.ndarray) -> str:
    """Zeros shaped like the state, the batch axis taken from ``x`` at run time."""
    from onnx import numpy_helper

    dt = state.dtype

    value = numpy_helper.from_array(np.zeros(1, dtype=dt), "value")
    if state.shape == x.shape:
        return ctx.op("ConstantOfShape", ctx.op("Shape", x), value=value)
    if state.ndim >= 1 and x.ndim >= 1 and state.shape[0] == x.shape[0]:
        batch = ctx.leading_dim(x)
        shape = ctx.op("Concat", batch, ctx.ints(state.shape[1:]), axis=0)
        return ctx.op("ConstantOfShape", shape, value=value)
    return ctx.op("Expand", ctx.const(np.zeros(1, dtype=dt), "zero"), ctx.ints(state.shape))


def _relaxation_loop(ctx: ExportContext, solver: Any, x: Value, state: np.ndarray, cell) -> str:
    """An ONNX Loop running the relaxation of ``solver`` (a FixedPoint) from zeros.

    It repeats ``h <- (1 - damping) h + damping F(h)``; with ``stop="sample"`` each row
    of a batch stops, and is frozen, once ``||new - h|| <= tol * ||new||`` (``tol`` alone
    for ``tol_mode="absolute"``), norms in float64 as in retrograd; the loop ends when
    every row has stopped or after ``max_iter`` iterations. ``cell(h_value) -> name``
    emits F. Unlike retrograd the graph cannot raise: a state that has not converged
    after ``max_iter`` is returned as it is.
    """
    from onnx import TensorProto as TP
    from onnx import helper

    if solver.h0 is not None:
        raise ctx.fail("an explicit h0 is not exported (the Loop starts from zeros)")
    dt = state.dtype
    elem = helper.np_dtype_to_tensor_dtype(dt)
    per_row = solver.stop == "sample" and state.ndim >= 2
    tau = solver.damping
    relative = solver.tol_mode == "relative"
    h0 = _initial_state(ctx, x, state)
    if per_row:
        batch = ctx.leading_dim(h0)
        active0 = ctx.op(
            "ConstantOfShape", batch, value=helper.make_tensor("value", TP.BOOL, [1], [True])
        )
    else:
        active0 = ctx.const(np.ones(1, dtype=bool), "active")
    trips = ctx.const(np.asarray(solver.max_iter, dtype=np.int64), "max_iter")
    go = ctx.const(np.asarray(True), "cond")

    it, cond_in = ctx.fresh("loop.iter"), ctx.fresh("loop.cond_in")
    h_in, active_in = ctx.fresh("loop.h"), ctx.fresh("loop.active")
    with ctx.subgraph() as body:
        new = cell(Value(h_in, state))
        if tau != 1.0:
            new = ctx.op(
                "Add",
                ctx.op("Mul", h_in, ctx.scalar(1 - tau, dt)),
                ctx.op("Mul", new, ctx.scalar(tau, dt)),
            )
        axes = list(range(1, state.ndim)) if per_row else list(range(state.ndim))

        def norm(t: str) -> str:
            t64 = ctx.op("Cast", t, to=TP.DOUBLE)
            n = ctx.op("Sqrt", ctx.reduce("ReduceSum", ctx.op("Mul", t64, t64), axes, False))
            return n if per_row else ctx.reshape(n, [1])

        diff = norm(ctx.op("Sub", new, h_in))
        bound = ctx.scalar(solver.tol, np.float64)
        if relative:
            bound = ctx.op("Mul", norm(new), bound)
        if per_row:  # (B,) -> (B, 1, ...)
            mask = ctx.reshape(active_in, [-1] + [1] * (state.ndim - 1))
        elif state.ndim:  # (1,) -> (1, ..., 1)
            mask = ctx.reshape(active_in, [1] * state.ndim)
        else:
            mask = ctx.squeeze(active_in, [0])
        h_out = ctx.op("Where", mask, new, h_in)
        # A row keeps moving while its change exceeds the bound (NaN stops it, as in
        # retrograd, where the non-finite state raises instead).
        active_out = ctx.op("And", active_in, ctx.op("Greater", diff, bound))
        anyone = ctx.reduce("ReduceMax", ctx.op("Cast", active_out, to=TP.INT32), [0], False)
        cond_out = ctx.op("Greater", anyone, ctx.const(np.asarray(0, dtype=np.int32), "zero"))
    graph = helper.make_graph(
        body,
        ctx.fresh("relaxation"),
        [
            helper.make_tensor_value_info(it, TP.INT64, []),
            helper.make_tensor_value_info(cond_in, TP.BOOL, []),
            helper.make_tensor_value_info(h_in, elem, [None] * state.ndim),
            helper.make_tensor_value_info(active_in, TP.BOOL, [None]),
        ],
        [
            helper.make_tensor_value_info(cond_out, TP.BOOL, []),
            helper.make_tensor_value_info(h_out, elem, [None] * state.ndim),
            helper.make_tensor_value_info(active_out, TP.BOOL, [None]),
        ],
    )
    h_final, _ = ctx.op("Loop", trips, go, h0, active0, outputs=2, body=graph)
    return h_final


@builtin("FixedPoint")
def _fixed_point(ctx: ExportContext, m: Any, x: Value, *extras: Value) -> str:
    from ..nn.module import Module

    if not isinstance(m.cell, Module):
        raise ctx.fail(
            "its cell is a plain function, which export cannot trace; use a Module cell "
            "(with an exporter) or register an exporter for the layer that owns it"
        )
    state = ctx.output_example

    def cell(h: Value) -> str:
        return ctx.call(m.cell, h, x, *extras, name="cell").name

    return _relaxation_loop(ctx, m, x, state, cell)


@builtin("RecurrentNet")
def _recurrent_net(ctx: ExportContext, m: Any, x: Value) -> str:
    from ..autograd.mode import no_grad
    from ..autograd.tensor import Tensor

    w_in = np.asarray(m.weight_in.data)
    if x.ndim == 2:
        drive = ctx.op(
            "Gemm", x, ctx.weight(w_in, "weight_in"), ctx.weight(m.bias.data, "bias"), transB=1
        )
    else:
        drive = ctx.op(
            "Add",
            ctx.op("MatMul", x, ctx.weight(w_in.T.copy(), "weight_in_t")),
            ctx.weight(m.bias.data, "bias"),
        )
    with no_grad():
        _, state = m(Tensor(x.example), return_state=True)
        w_eff = np.asarray(m.effective_weight().data)
    state = np.asarray(state.data)
    act = {"sigmoid": "Sigmoid", "tanh": "Tanh"}[m.activation]
    w_t = ctx.weight(np.ascontiguousarray(w_eff.T), "effective_weight_t")
    drive_v = Value(drive, state)  # the drive has the state's shape

    def cell(h: Value) -> str:
        return ctx.op(act, ctx.op("Add", ctx.op("MatMul", h, w_t), drive_v))

    h = _relaxation_loop(ctx, m.solver, drive_v, state, cell)
    n = m.n_hidden + m.n_out
    return ctx.op("Slice", h, ctx.ints([m.n_hidden]), ctx.ints([n]), ctx.ints([-1]))


# ----------------------------------------------------------------------- CLI models
@builtin("InputReshape")
def _input_reshape(ctx: ExportContext, m: Any, x: Value) -> str:
    return ctx.reshape(x, [0] + list(m.shape))


@builtin("SequenceClassifier")
def _sequence_classifier(ctx: ExportContext, m: Any, x: Value) -> str:
    seq = Value(
        ctx.reshape(x, [0, m.seq_len, m.input_size]),
        x.example.reshape(x.shape[0], m.seq_len, m.input_size),
    )
    out, _ = ctx.call(m.lstm, seq, name="lstm")
    last = ctx.op("Gather", out, ctx.const(np.asarray(-1, dtype=np.int64), "last"), axis=1)
    return ctx.call(m.head, Value(last, out.example[:, -1]), name="head").name


@builtin("NormBoundedTanhCell")
def _norm_bounded_tanh_cell(ctx: ExportContext, m: Any, h: Value, u: Value) -> str:
    from ..autograd.mode import no_grad

    # The norm bound depends on the weights only: computed once, here, by retrograd.
    with no_grad():
        w = np.asarray(m.recurrent_weight().data)
    w_t = ctx.weight(np.ascontiguousarray(w.T), "recurrent_weight_t")
    return ctx.op("Tanh", ctx.op("Add", ctx.op("MatMul", h, w_t), u))


@builtin("EquilibriumClassifier")
def _equilibrium_classifier(ctx: ExportContext, m: Any, x: Value) -> str:
    u = ctx.call(m.inject, x, name="inject")
    h = ctx.call(m.fixed_point, u, name="fixed_point")
    return ctx.call(m.readout, h, name="readout").name
