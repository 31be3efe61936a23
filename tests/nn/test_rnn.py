"""RNN, LSTM, GRU and their cells against PyTorch: outputs and every gradient, all options."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from gradcheck_registry import covers
from retrograd.nn.rnn import detach_state

KINDS = {
    "rnn_tanh": (rg.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (rg.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (rg.nn.LSTM, {}),
    "gru": (rg.nn.GRU, {}),
}
IN, H = 3, 4


def _torch_class(torch, kind):
    return {
        "rnn_tanh": torch.nn.RNN,
        "rnn_relu": torch.nn.RNN,
        "lstm": torch.nn.LSTM,
        "gru": torch.nn.GRU,
    }[kind]


def _pair(torch, kind, dtype="float64", **kw):
    cls, extra = KINDS[kind]
    ours = cls(IN, H, **extra, **kw, dtype=dtype)
    theirs = _torch_class(torch, kind)(IN, H, **extra, **kw)
    theirs = theirs.to(getattr(torch, dtype))
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def _close(a, b, tol, what):
    b = b.detach().numpy() if hasattr(b, "detach") else b
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    scale = max(float(np.abs(b).max()), 1e-30)
    err = float(np.abs(a - b).max()) / scale
    assert err <= tol, f"{what}: max relative error {err:.3g} > {tol:g}"


def _compare(torch, kind, shape, *, dtype="float64", with_state=False, lengths=None, **kw):
    """Run both libraries on the same input/state; compare outputs and all gradients."""
    tol = 1e-10 if dtype == "float64" else 1e-5
    rng = np.random.default_rng(7)
    ours, theirs = _pair(torch, kind, dtype=dtype, **kw)
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    x = rng.standard_normal(shape).astype(dtype)
    batch = None if len(shape) == 2 else shape[0 if kw.get("batch_first") else 1]
    sshape = (L * D, H) if batch is None else (L * D, batch, H)
    n_states = 2 if kind == "lstm" else 1
    states = [rng.standard_normal(sshape).astype(dtype) for _ in range(n_states)]

    rx = rg.tensor(x, requires_grad=True)
    rs = [rg.tensor(s, requires_grad=True) for s in states]
    tx = torch.tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    rhx = thx = None
    if with_state:
        rhx = tuple(rs) if n_states == 2 else rs[0]
        thx = tuple(ts) if n_states == 2 else ts[0]
    out, fin = ours(rx, rhx, lengths=lengths)
    if lengths is None:
        tout, tfin = theirs(tx, thx)
    else:
        nn_rnn = torch.nn.utils.rnn
        packed = nn_rnn.pack_padded_sequence(
            tx,
            torch.tensor(lengths),
            batch_first=kw.get("batch_first", False),
            enforce_sorted=False,
        )
        tout, tfin = theirs(packed, thx)
        total = shape[1] if kw.get("batch_first") else shape[0]
        tout, _ = nn_rnn.pad_packed_sequence(
            tout, batch_first=kw.get("batch_first", False), total_length=total
        )
    fin = list(fin) if n_states == 2 else [fin]
    tfin = list(tfin) if n_states == 2 else [tfin]
    assert out.dtype == np.dtype(dtype)
    _close(out.data, tout, tol, "output")
    for k, (a, b) in enumerate(zip(fin, tfin)):
        _close(a.data, b, tol, f"final state {k}")

    # One scalar loss touching the output and every final state, with random weights.
    ws = [rng.standard_normal(o.shape).astype(dtype) for o in [out] + fin]
    loss = sum(((o * rg.tensor(w)).sum() for o, w in zip([out] + fin, ws)), rg.tensor(0.0))
    tloss = sum((o * torch.tensor(w)).sum() for o, w in zip([tout] + tfin, ws))
    loss.backward()
    tloss.backward()
    _close(rx.grad, tx.grad, tol, "input grad")
    assert rx.grad.dtype == np.dtype(dtype)
    if with_state:
        for k, (a, b) in enumerate(zip(rs, ts)):
            _close(a.grad, b.grad, tol, f"initial state {k} grad")
    tparams = dict(theirs.named_parameters())
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(tparams), "parameter names or order differ from PyTorch"
    for name, p in ours.named_parameters():
        assert p.grad.dtype == np.dtype(dtype)
        _close(p.grad, tparams[name].grad, tol, f"grad of {name}")


OPTIONS = [
    dict(),
    dict(num_layers=2),
    dict(bidirectional=True),
    dict(num_layers=2, bidirectional=True),
    dict(bias=False),
    dict(batch_first=True),
    dict(num_layers=3, bidirectional=True, bias=False, batch_first=True),
]


def _ids(v):
    return ",".join(f"{k}={x}" for k, x in v.items()) or "default"


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("opts", OPTIONS, ids=_ids)
def test_matches_torch_float64(torch, kind, opts):
    shape = (2, 5, IN) if opts.get("batch_first") else (5, 2, IN)
    _compare(torch, kind, shape, with_state=True, **opts)


@pytest.mark.parametrize("kind", list(KINDS))
def test_matches_torch_without_initial_state(torch, kind):
    _compare(torch, kind, (4, 3, IN), num_layers=2)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("opts", [dict(), dict(num_layers=2, bidirectional=True)], ids=_ids)
def test_matches_torch_float32(torch, kind, opts):
    _compare(torch, kind, (6, 3, IN), dtype="float32", with_state=True, **opts)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("opts", [dict(), dict(bidirectional=True, num_layers=2)], ids=_ids)
def test_unbatched_input_matches_torch(torch, kind, opts):
    _compare(torch, kind, (5, IN), with_state=True, **opts)
    _compare(torch, kind, (5, IN), **opts)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(
    "opts",
    [dict(), dict(bidirectional=True), dict(num_layers=2, bidirectional=True, batch_first=True)],
    ids=_ids,
)
def test_lengths_match_pack_padded_sequence(torch, kind, opts):
    shape = (4, 6, IN) if opts.get("batch_first") else (6, 4, IN)
    _compare(torch, kind, shape, with_state=True, lengths=[6, 2, 5, 1], **opts)


def test_lengths_float32_and_without_state(torch):
    _compare(torch, "lstm", (5, 3, IN), dtype="float32", lengths=[3, 5, 1], bidirectional=True)


def test_padded_steps_get_no_gradient_and_do_not_change_results():
    rg.manual_seed(3)
    lstm = rg.nn.LSTM(IN, H, bidirectional=True, dtype="float64")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 2, IN))
    lengths = [6, 3]
    a = rg.tensor(x, requires_grad=True)
    out, (h, c) = lstm(a, lengths=lengths)
    (out.sum() + h.sum() + c.sum()).backward()
    assert np.all(a.grad[3:, 1] == 0)
    assert np.all(out.data[3:, 1] == 0)
    # Garbage in the padding changes nothing.
    x2 = x.copy()
    x2[3:, 1] = 1e3
    out2, (h2, c2) = lstm(rg.tensor(x2), lengths=lengths)
    np.testing.assert_array_equal(out2.data, out.data)
    np.testing.assert_array_equal(h2.data, h.data)
    # And the padded sequence equals the sequence run alone.
    out3, (h3, _) = lstm(rg.tensor(x[:3, 1:2]))
    np.testing.assert_allclose(out.data[:3, 1], out3.data[:, 0], rtol=1e-12)
    np.testing.assert_allclose(h.data[:, 1], h3.data[:, 0], rtol=1e-12)


# --------------------------------------------------------------------------- cells


CELLS = {
    "rnn_tanh": (rg.nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (rg.nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (rg.nn.LSTMCell, {}),
    "gru": (rg.nn.GRUCell, {}),
}


def _cell_pair(torch, kind, bias, dtype="float64"):
    cls, extra = CELLS[kind]
    ours = cls(IN, H, bias=bias, **extra, dtype=dtype)
    tcls = {
        "rnn_tanh": torch.nn.RNNCell,
        "rnn_relu": torch.nn.RNNCell,
        "lstm": torch.nn.LSTMCell,
        "gru": torch.nn.GRUCell,
    }[kind]
    theirs = tcls(IN, H, bias=bias, **extra).to(getattr(torch, dtype))
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cells_match_torch_over_three_steps(torch, kind, bias, batched, dtype):
    tol = 1e-10 if dtype == "float64" else 1e-5
    ours, theirs = _cell_pair(torch, kind, bias, dtype)
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((3, 2, IN) if batched else (3, IN)).astype(dtype)
    s0 = rng.standard_normal((2, H) if batched else (H,)).astype(dtype)
    rx, tx = rg.tensor(xs, requires_grad=True), torch.tensor(xs, requires_grad=True)
    rh, th = rg.tensor(s0, requires_grad=True), torch.tensor(s0, requires_grad=True)
    rstate = (rh, rh * 0.5) if kind == "lstm" else rh
    tstate = (th, th * 0.5) if kind == "lstm" else th
    for t in range(3):
        rstate = ours(rx[t], rstate)
        tstate = theirs(tx[t], tstate)
    rlast = rstate[0] if kind == "lstm" else rstate
    tlast = tstate[0] if kind == "lstm" else tstate
    assert rlast.dtype == np.dtype(dtype)
    _close(rlast.data, tlast, tol, "cell output")
    w = rng.standard_normal(rlast.shape).astype(dtype)
    rloss, tloss = (rlast * rg.tensor(w)).sum(), (tlast * torch.tensor(w)).sum()
    if kind == "lstm":
        rloss = rloss + rstate[1].sum()
        tloss = tloss + tstate[1].sum()
    rloss.backward()
    tloss.backward()
    _close(rx.grad, tx.grad, tol, "input grad")
    _close(rh.grad, th.grad, tol, "state grad")
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad, tp[name].grad, tol, f"grad of {name}")


@pytest.mark.parametrize("kind", list(CELLS))
def test_cells_without_state(torch, kind):
    ours, theirs = _cell_pair(torch, kind, True)
    x = np.random.default_rng(2).standard_normal((2, IN))
    r = ours(rg.tensor(x))
    t = theirs(torch.tensor(x))
    if kind == "lstm":
        _close(r[1].data, t[1], 1e-10, "c")
        r, t = r[0], t[0]
    _close(r.data, t, 1e-10, "h")


@covers("RNNLayer", "LSTMLayer", "GRULayer")
@pytest.mark.parametrize("kind", list(CELLS))
def test_cells_gradcheck_float64(kind):
    cls, extra = CELLS[kind]
    cell = cls(2, 3, **extra, dtype="float64")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 2))
    h = rng.standard_normal((2, 3))
    c = rng.standard_normal((2, 3))
    names = [n for n, _ in cell.named_parameters()]
    params = [p.data for p in cell.parameters()]

    def f(x, h, c, *ps):
        # Put gradcheck's tensors in the parameters' places so the graph runs through them.
        for n, v in zip(names, ps):
            cell._parameters[n] = v
        if kind == "lstm":
            h1, c1 = cell(x, (h, c))
            return h1 * 2 + c1
        return cell(x, h)

    assert rg.gradcheck(f, [x, h, c, *params])


# ------------------------------------------------------------- state dict, init, TBPTT


@pytest.mark.parametrize("kind", list(KINDS))
def test_state_dict_keys_and_shapes_equal_torch(torch, kind):
    cls, extra = KINDS[kind]
    ours = cls(5, 7, num_layers=2, bidirectional=True, **extra)
    theirs = _torch_class(torch, kind)(5, 7, num_layers=2, bidirectional=True, **extra)
    ts = theirs.state_dict()
    assert list(ours.state_dict()) == list(ts)
    for k, v in ours.state_dict().items():
        assert v.shape == tuple(ts[k].shape) and v.dtype == np.float32
    # And a torch state_dict loads into ours unchanged.
    ours.load_state_dict(ts)
    expected = ts["weight_hh_l1_reverse"].numpy().astype(np.float32)
    np.testing.assert_array_equal(ours.weight_hh_l1_reverse.data, expected)


def test_init_is_uniform_in_one_over_sqrt_hidden():
    lstm = rg.nn.LSTM(10, 64, num_layers=2)
    bound = 1 / 8
    allv = np.concatenate([p.data.ravel() for p in lstm.parameters()])
    assert np.abs(allv).max() <= bound
    assert np.abs(allv).max() > 0.95 * bound
    assert abs(allv.mean()) < 0.01 and abs(allv.std() - bound / np.sqrt(3)) < 0.005


def test_dropout_between_layers_only_in_training():
    rg.manual_seed(0)
    gru = rg.nn.GRU(IN, H, num_layers=2, dropout=0.5)
    x = rg.randn(5, 2, IN)
    gru.eval()
    a, _ = gru(x)
    b, _ = gru(x)
    np.testing.assert_array_equal(a.data, b.data)
    gru.train()
    c, _ = gru(x)
    assert not np.allclose(c.data, a.data)
    with pytest.warns(UserWarning, match="no effect with num_layers=1"):
        rg.nn.LSTM(IN, H, dropout=0.3)


def test_detach_state_cuts_graph_for_truncated_bptt():
    lstm = rg.nn.LSTM(IN, H)
    x = rg.randn(8, 2, IN)
    _, state = lstm(x[:4])
    state = detach_state(state)
    assert isinstance(state, tuple) and not any(s.requires_grad for s in state)
    out, _ = lstm(x[4:], state)
    out.sum().backward()
    # The second window's gradient equals that of a fresh run started from the values.
    g = [p.grad.copy() for p in lstm.parameters()]
    lstm.zero_grad()
    h0, c0 = (rg.tensor(s.data.copy()) for s in state)
    out2, _ = lstm(x[4:], (h0, c0))
    out2.sum().backward()
    for a, p in zip(g, lstm.parameters()):
        np.testing.assert_allclose(a, p.grad, rtol=1e-6)
    assert detach_state(None) is None
    with pytest.raises(TypeError, match="detach_state"):
        detach_state("h")


def test_training_reduces_loss():
    rg.manual_seed(0)
    gru = rg.nn.GRU(1, 8, batch_first=True)
    head = rg.nn.Linear(8, 1)
    params = list(gru.parameters()) + list(head.parameters())
    opt = rg.optim.Adam(params, lr=0.02)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (32, 6, 1)).astype(np.float32)
    y = x.sum(axis=1)
    losses = []
    for _ in range(60):
        out, _ = gru(rg.tensor(x))
        loss = rg.nn.functional.mse_loss(head(out[:, -1]), rg.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


# ------------------------------------------------------------------------- errors


def test_wrong_input_size_names_layer_and_shapes():
    lstm = rg.nn.LSTM(3, 4)
    with pytest.raises(
        ValueError,
        match=r"LSTM\(input_size=3, hidden_size=4\): input has "
        r"shape \(5, 2, 7\), expected input_size 3",
    ):
        lstm(rg.zeros(5, 2, 7))
    with pytest.raises(ValueError, match=r"GRU\(input_size=3.*must be 3-D"):
        rg.nn.GRU(3, 4)(rg.zeros(2, 5, 2, 3))


def test_wrong_initial_state_shape():
    lstm = rg.nn.LSTM(3, 4, num_layers=2)
    x = rg.zeros(5, 2, 3)
    with pytest.raises(ValueError, match=r"h0 has shape \(1, 2, 4\), expected \(2, 2, 4\)"):
        lstm(x, (rg.zeros(1, 2, 4), rg.zeros(2, 2, 4)))
    with pytest.raises(ValueError, match=r"c0 has shape \(2, 3, 4\), expected \(2, 2, 4\)"):
        lstm(x, (rg.zeros(2, 2, 4), rg.zeros(2, 3, 4)))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h0, c0\)"):
        lstm(x, rg.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"RNN\(input_size=3, hidden_size=4\): h0 has shape"):
        rg.nn.RNN(3, 4)(x, rg.zeros(2, 4))
    with pytest.raises(ValueError, match=r"GRUCell.*hx has shape \(3, 4\), expected \(2, 4\)"):
        rg.nn.GRUCell(3, 4)(rg.zeros(2, 3), rg.zeros(3, 4))


def test_dtype_mismatch_and_bad_arguments():
    with pytest.raises(TypeError, match=r"input has dtype float64 but the parameters are float32"):
        rg.nn.GRU(3, 4)(rg.zeros(5, 2, 3, dtype="float64"))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        rg.nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be an int >= 1"):
        rg.nn.LSTM(3, 0)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\]"):
        rg.nn.LSTM(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 5\]"):
        rg.nn.LSTM(3, 4)(rg.zeros(5, 2, 3), lengths=[0, 5])
    with pytest.raises(ValueError, match="lengths needs a batched"):
        rg.nn.LSTM(3, 4)(rg.zeros(5, 3), lengths=[5])


def test_numpy_input_is_accepted_in_the_parameters_dtype():
    out, h = rg.nn.RNN(3, 4, dtype="float64")(np.zeros((5, 2, 3), dtype=np.float32))
    assert out.dtype == np.float64 and h.shape == (1, 2, 4)
