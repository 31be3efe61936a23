"""RETROGRAD_RNN_BLAS_THREADS: the recurrent layers' per-step products on every BLAS thread
(``all``, the default) or on one, the calling thread (``1``).

The setting may change a product's last bits (OpenBLAS's bits depend on its thread
count), never the structure of the results: the replayed step stays bitwise the eager
step, the values agree with the default setting to float32 rounding, and this thread's
BLAS thread count is what it was after forward and backward, even when they raise.
"""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.kernels import K, _blas
from retrograd.ops import rnn as R

ENV = R.RNN_BLAS_THREADS
# Big enough that OpenBLAS runs the per-step products (512 x 145 @ 145 x 32 forward,
# 128 x 512 @ 512 x 32 backward) on several threads, so the setting has an effect.
T, B, IN, H = 4, 32, 16, 128


def _lib():
    lib = _blas.openblas()
    if lib is None or lib.set_threads_local is None or lib.get_threads is None:
        pytest.skip("no OpenBLAS with openblas_set_num_threads_local here")
    if lib.get_threads() < 2:
        pytest.skip("OpenBLAS runs one thread: nothing to tell apart")
    return lib


class _Net(rg.nn.Module):
    """A recurrent layer (the primitive, called directly) and a linear head.

    ``capture_safe``: its forward is the recorded ops only, so compile_step replays it
    (the ``rg.nn`` recurrent modules are not capture-safe: they run eagerly there).
    """

    capture_safe = True

    def __init__(self, cell):
        super().__init__()
        self.cell = cell
        rnn = getattr(rg.nn, cell)(IN, H)  # for PyTorch's initialisation
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = rnn._layer_params(0, 0)
        self.head = rg.nn.Linear(H, 1)
        self.register_buffer("zeros", rg.zeros(B, H))  # the initial states

    def forward(self, x):
        zeros = self.zeros
        states = (zeros, zeros) if self.cell == "LSTM" else (zeros,)
        fn = {"RNN": R.rnn_layer, "LSTM": R.lstm_layer, "GRU": R.gru_layer}[self.cell]
        out = fn(x, *states, self.w_ih, self.w_hh, self.b_ih, self.b_hh)[0]
        return self.head(out[-1])


def _train(cell, compiled, steps=3):
    rng = np.random.default_rng(0)
    rg.manual_seed(0)
    net = _Net(cell)
    opt = rg.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    lf = rg.nn.MSELoss()
    step = rg.train.compile_step(net, lf, opt) if compiled else None
    losses = []
    for _ in range(steps):
        x = rng.standard_normal((T, B, IN)).astype(np.float32)
        y = rng.standard_normal((B, 1)).astype(np.float32)
        if compiled:
            losses.append(step(x, y))
        else:
            opt.zero_grad()
            loss = lf(net(rg.tensor(x)), rg.tensor(y))
            loss.backward()
            opt.step()
            losses.append(float(loss.data))
    return losses, [p.data.copy() for p in net.parameters()], step


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("setting", ["1", "all"])
def test_the_replay_is_bitwise_the_eager_step(monkeypatch, cell, setting):
    monkeypatch.setenv(ENV, setting)
    l1, p1, _ = _train(cell, compiled=False)
    l2, p2, step = _train(cell, compiled=True)
    assert step.eager_reason is None and step.replays == 2
    assert l1 == l2
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
def test_the_setting_changes_no_more_than_rounding(monkeypatch, cell):
    monkeypatch.setenv(ENV, "all")
    l1, p1, _ = _train(cell, compiled=False)
    monkeypatch.setenv(ENV, "1")
    l2, p2, _ = _train(cell, compiled=False)
    np.testing.assert_allclose(l2, l1, rtol=1e-5)
    for a, b in zip(p1, p2):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def _layer(cell, rng):
    g = {"RNN": 1, "LSTM": 4, "GRU": 3}[cell]
    arrays = [rng.standard_normal((T, B, IN)), rng.standard_normal((B, H))]
    if cell == "LSTM":
        arrays.append(rng.standard_normal((B, H)))
    arrays += [rng.standard_normal(s) * 0.1 for s in ((g * H, IN), (g * H, H), (g * H,),
                                                         (g * H,))]  # fmt: skip
    ts = [rg.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    fn = {"RNN": R.rnn_layer, "LSTM": R.lstm_layer, "GRU": R.gru_layer}[cell]
    return fn, ts


def _probe(lib, seen):
    """Record the BLAS thread count in effect for this thread (reads, sets nothing)."""
    seen.append(lib.get_threads())


# (cell, a kernel called inside the forward loop, one inside the backward loop)
LOOP_KERNELS = [
    ("LSTM", "lstm_fwd_cell", "lstm_bwd_step"),
    ("GRU", "gru_fwd_gates", "gru_bwd_step"),
]


@pytest.mark.parametrize("cell, fwd_kernel, bwd_kernel", LOOP_KERNELS)
@pytest.mark.parametrize("setting", [None, "1", "all"])
def test_the_loops_run_on_the_count_asked_for_and_restore_it(
    monkeypatch, cell, fwd_kernel, bwd_kernel, setting
):
    lib = _lib()
    if setting is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, setting)
    before = lib.get_threads()
    seen = {"fwd": [], "bwd": []}
    for key, name in (("fwd", fwd_kernel), ("bwd", bwd_kernel)):
        real = getattr(K, name)

        def spy(*args, _real=real, _seen=seen[key]):
            _probe(lib, _seen)
            return _real(*args)

        monkeypatch.setattr(K, name, spy)
    fn, ts = _layer(cell, np.random.default_rng(0))
    outs = fn(*ts)
    assert lib.get_threads() == before  # after forward
    sum((o * o).sum() for o in outs).backward()
    assert lib.get_threads() == before  # after backward
    want = 1 if (setting or R.RNN_BLAS_THREADS_DEFAULT) == "1" else before
    assert seen["fwd"] == [want] * T and seen["bwd"] == [want] * T


def _boom(*args, **kwargs):
    raise RuntimeError("kernel failed")


@pytest.mark.parametrize("cell, fwd_kernel, bwd_kernel", LOOP_KERNELS)
def test_the_count_is_restored_when_the_loop_raises(monkeypatch, cell, fwd_kernel, bwd_kernel):
    lib = _lib()
    monkeypatch.setenv(ENV, "1")
    before = lib.get_threads()
    assert before != 1  # else a count left at 1 could not be seen
    fn, ts = _layer(cell, np.random.default_rng(1))
    with monkeypatch.context() as m:
        m.setattr(K, fwd_kernel, _boom)
        with pytest.raises(RuntimeError, match="kernel failed"):
            fn(*ts)
    assert lib.get_threads() == before
    outs = fn(*ts)
    loss = sum((o * o).sum() for o in outs)
    with monkeypatch.context() as m:
        m.setattr(K, bwd_kernel, _boom)
        with pytest.raises(RuntimeError, match="kernel failed"):
            loss.backward()
    assert lib.get_threads() == before


def test_a_bad_setting_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv(ENV, "2")
    fn, ts = _layer("GRU", np.random.default_rng(2))
    with pytest.raises(ValueError, match=ENV + ".*'2'"):
        fn(*ts)
