"""Fused recurrent layers: one Function per layer and direction, backpropagation through time.

Each primitive runs a whole sequence. Forward does the input projections of all time
steps in one matmul and one small matmul per step for the recurrence (the LSTM folds the
projection into that per-step matmul instead); backward walks the steps in reverse with
the cell's VJP written out by hand and forms the weight gradients with large matmuls
(``dW_hh = dG^T @ H_prev`` over all steps, or over chunks of steps). The graph therefore
holds one node per layer and direction, not dozens per step.

Layouts, gate orders and formulas are PyTorch's:

- RNN: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, ``act`` tanh or relu.
- LSTM: gates i, f, g, o in the rows of ``W_ih``/``W_hh``;
  ``c' = f*c + i*g``, ``h' = o*tanh(c')``.
- GRU: gates r, z, n; ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``,
  ``h' = (1-z)*n + z*h``.

A primitive returns one array that packs the per-step outputs and the final states along
the time axis, ``(T + k, B, H)``: rows ``[:T]`` are the outputs, ``[T]`` the final hidden
state and, for the LSTM, ``[T + 1]`` the final cell state (the LSTM's is a transposed view
of a (T + 2, H, B) buffer, not C-ordered). The public functions below slice it into
separate tensors.

Variable lengths: with ``lengths`` (one per batch element), steps ``t >= lengths[b]``
leave element ``b``'s state unchanged, output zeros and receive no gradient, so the final
state is the one at each sequence's last valid step. A reverse layer walks ``t = T-1 .. 0``
under the same mask, so its state stays at ``h0`` through the padding and the real work
starts at each sequence's own last step -- no gather or reversal of the input is needed.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from .._backend import xp
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..kernels import K as _K
from . import _composites
from ._util import ensure_tensor
from .shape import getitem

#: The environment variable that says where the per-step products run: ``all`` (every
#: thread of NumPy's BLAS, as configured) or ``1`` (one BLAS thread, the calling one).
RNN_BLAS_THREADS = "RETROGRAD_RNN_BLAS_THREADS"
#: Its value when unset.
RNN_BLAS_THREADS_DEFAULT = "all"


def _per_step() -> Any:
    """The context manager (a factory) a loop of small per-time-step products runs in.

    ``RETROGRAD_RNN_BLAS_THREADS=all`` (the default) leaves NumPy's BLAS as configured;
    ``1`` runs the loop's products on one BLAS thread, the calling one
    (:func:`retrograd.kernels._blas.one_thread`), while the large products over all
    steps keep every thread. Measured on two cores (BENCHMARKS.md): with both cores idle
    the second BLAS thread makes these products 1.5-1.8x faster; with the cores busy with
    other work each product waits for that thread to be scheduled, and the step ran up
    to several times slower than on one thread. ``1`` is not the default because in
    NumPy's OpenBLAS (a pthreads build) the count is the process's: other threads' BLAS
    calls made during the loop run on one thread too. The setting is fixed rather than
    chosen from the load because a product's bits may depend on OpenBLAS's thread count
    (they do with its Haswell kernels): results must not depend on the load.
    """
    value = os.environ.get(RNN_BLAS_THREADS, "").strip().lower() or RNN_BLAS_THREADS_DEFAULT
    if value == "all":
        return contextlib.nullcontext
    if value != "1":
        raise ValueError(
            f"{RNN_BLAS_THREADS} is {value!r}, expected 1 (per-step products on the calling "
            "thread) or all (every thread of NumPy's BLAS)"
        )
    from ..kernels._blas import one_thread  # ctypes; not imported by ``import retrograd``

    return one_thread


# NOTE: sigmoid is computed as 0.5 * tanh(x / 2) + 0.5. The /2 is folded into the
# weights (exact: a power-of-two scale), so a single tanh call covers every gate of a
# step and no exp can overflow for large |x|.


def _masks(lengths: Any, T: int, dtype: Any) -> tuple:
    """(valid, pad) for the time steps: valid (T, B, 1) as ``dtype``, pad (T, B, 1) bool."""
    if lengths is None:
        return None, None
    valid = xp.arange(T)[:, None] < lengths[None, :]
    if valid.all():
        return None, None
    return valid[:, :, None].astype(dtype), ~valid[:, :, None]


def _order(T: int, reverse: bool) -> tuple:
    """Processing order of the time steps, and where the state before/after step t lives.

    The states live in an array ``Hall`` of T + 1 rows. Forward: ``Hall[t]`` is the state
    before step t, ``Hall[t + 1]`` after it. Reverse: ``Hall[t + 1]`` before, ``Hall[t]``
    after. So ``Hprev = Hall[prev_slice]`` and ``Hout = Hall[out_slice]`` for all t at once.
    """
    if reverse:
        return range(T - 1, -1, -1), 1, 0, slice(1, T + 1), slice(0, T), 0
    return range(T), 0, 1, slice(0, T), slice(1, T + 1), T


def _weight_grads(self, dG: Any, Hprev: Any, G: int, has_bias: bool, first_w: int) -> list:
    """dW_ih, dW_hh, db from the stacked gate gradients (T, B, G*H): one matmul each."""
    T, B, _ = dG.shape
    n = self.needs
    d2 = dG.reshape(T * B, -1)
    out = [None, None, None, None]
    if n[first_w]:
        out[0] = d2.T @ self.X2
    if n[first_w + 1]:
        out[1] = d2.T @ Hprev.reshape(T * B, -1)
    if has_bias and (n[first_w + 2] or n[first_w + 3]):
        db = d2.sum(axis=0)
        out[2] = db if n[first_w + 2] else None
        out[3] = (db.copy() if n[first_w + 2] else db) if n[first_w + 3] else None
    return out


# ---------------------------------------------------------------------------------- RNN


class RNNLayer(Function):
    """Elman RNN over a whole sequence: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    Arguments: ``x`` (T, B, I), ``h0`` (B, H), ``w_ih`` (H, I), ``w_hh`` (H, H) and
    optionally ``b_ih``, ``b_hh`` (H,). Returns (T + 1, B, H): outputs, then h_n.
    """

    replay = "pure"

    def forward(
        self,
        x,
        h0,
        w_ih,
        w_hh,
        b_ih=None,
        b_hh=None,
        nonlinearity="tanh",
        reverse=False,
        lengths=None,
    ):
        T, B, n_in = x.shape
        H = w_hh.shape[0]
        dt = x.dtype
        self.relu = nonlinearity == "relu"
        self.has_bias = b_ih is not None
        self.reverse = reverse
        self.valid, self.pad = valid, pad = _masks(lengths, T, dt)
        self.X2 = X2 = x.reshape(T * B, n_in)
        self.w_ih, self.w_hh = w_ih, w_hh
        A = X2 @ w_ih.T
        if self.has_bias:
            A += b_ih + b_hh
        A = A.reshape(T, B, H)
        WhhT = xp.ascontiguousarray(w_hh.T)
        order, pi, oi, self.prev_sl, self.out_sl, last = _order(T, reverse)
        Hall = xp.empty((T + 1, B, H), dtype=dt)
        Hall[T if reverse else 0] = h0
        tmp = xp.empty((B, H), dtype=dt)
        with _per_step()():
            for t in order:
                hp, hn = Hall[t + pi], Hall[t + oi]
                xp.matmul(hp, WhhT, out=tmp)
                tmp += A[t]
                if self.relu:
                    xp.maximum(tmp, 0, out=hn)
                else:
                    xp.tanh(tmp, out=hn)
                if pad is not None:
                    xp.copyto(hn, hp, where=pad[t])
        self.Hall = Hall
        out = xp.empty((T + 1, B, H), dtype=dt)
        Hout = Hall[self.out_sl]
        if valid is None:
            out[:T] = Hout
        else:
            xp.multiply(Hout, valid, out=out[:T])
        out[T] = Hall[last]
        return out

    def backward(self, g):
        Hall, valid, pad = self.Hall, self.valid, self.pad
        T = Hall.shape[0] - 1
        _, B, H = Hall.shape
        gy = g[:T] if valid is None else g[:T] * valid
        Hout = Hall[self.out_sl]
        # D: the derivative of the nonlinearity at each step, zero on padded steps.
        if self.relu:
            D = (Hout > 0).astype(Hall.dtype)
        else:
            D = 1 - Hout * Hout
        if valid is not None:
            D *= valid
        dA = xp.empty((T, B, H), dtype=Hall.dtype)
        dh = g[T].copy()
        dht = xp.empty((B, H), dtype=Hall.dtype)
        w_hh = self.w_hh
        order = range(T) if self.reverse else range(T - 1, -1, -1)
        with _per_step()():
            for t in order:
                xp.add(dh, gy[t], out=dht)
                xp.multiply(dht, D[t], out=dA[t])
                xp.matmul(dA[t], w_hh, out=dh)
                if pad is not None:
                    # Padded steps pass the state (and its gradient) through unchanged.
                    dh += dht * pad[t]
        return self._grads(dA, dh, Hall[self.prev_sl])

    def _grads(self, dA, dh, Hprev):
        n = self.needs
        T, B, _ = dA.shape
        gx = (dA.reshape(T * B, -1) @ self.w_ih).reshape(T, B, -1) if n[0] else None
        gh0 = dh if n[1] else None
        ws = _weight_grads(self, dA, Hprev, 1, self.has_bias, 2)
        return (gx, gh0, *ws[: len(n) - 2])

    def composite(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        return _composites.rnn(x, h0, w_ih, w_hh, b_ih, b_hh, self.relu, self.reverse, self.pad)


# --------------------------------------------------------------------------------- LSTM
#
# The LSTM and GRU loops work on transposed states, (H, B) instead of (B, H): every gate
# is then a contiguous block of rows of the (G*H, B) gate matrix, and NumPy's elementwise
# calls on contiguous blocks cost a third of those on strided column slices. The layout
# is converted once at the edges (inputs, outputs, weight gradients; the LSTM hands its
# output out as a transposed view instead of converting it).


def _augment(x: Any) -> Any:
    """(T, B, I) -> (T, I + 1, B): transposed inputs with a row of ones (for the bias)."""
    T, B, n_in = x.shape
    xa = xp.empty((T, n_in + 1, B), dtype=x.dtype)
    xa[:, :n_in] = x.transpose(0, 2, 1)
    xa[:, n_in] = 1
    return xa


def _pack_outputs(Hall: Any, out_sl: slice, last: int, valid: Any, finals: tuple) -> Any:
    """Packed (T + k, B, H) output from transposed states (T + 1, H, B)."""
    T = Hall.shape[0] - 1
    _, H, B = Hall.shape
    out = xp.empty((T + len(finals), B, H), dtype=Hall.dtype)
    out[:T] = Hall[out_sl].transpose(0, 2, 1)
    if valid is not None:
        out[:T] *= valid
    for k, s in enumerate(finals):
        out[T + k] = s[last].T
    return out


#: Steps per chunk of the weight-gradient accumulation in the backward loops.
_CHUNK = 4


class _ChunkGrads:
    """Weight (and input) gradients of a recurrent layer, accumulated every few steps.

    The backward loop hands each step's gate gradient ``G_t`` (rows, B) to :meth:`store`.
    Every ``_CHUNK`` steps, ``R += [G_t ...] [Z_t ...]^T`` is one matmul over the chunk,
    where ``Z_t`` stacks the step's inputs (``sources``: (T, rows_k, B) arrays, the first
    and, with ``ones``, a row of ones for the bias); the input gradient of the chunk is
    ``[G_t ...]^T @ w``. The chunk buffers are small and reused, so no (rows, T * B)
    array is ever built.
    """

    def __init__(
        self, fn: Any, sources: list, rows: int, want_w: bool, w: Any, ones: bool = False
    ) -> None:
        src0 = sources[0]
        T, _, B = src0.shape
        dt = src0.dtype
        self.B, self.T = B, T
        self.sources = sources
        self.ones = ones
        self.w = w
        self.G = xp.empty((rows, _CHUNK * B), dtype=dt)
        self.R = None
        self.Z = None
        if want_w:
            nz = sum(s.shape[1] for s in sources) + ones
            self.Z = xp.empty((nz, _CHUNK * B), dtype=dt)
            self.R = xp.zeros((rows, nz), dtype=dt)
        self.gx = None if w is None else xp.empty((T, B, w.shape[1]), dtype=dt)
        self.lo = self.hi = 0

    def chunks(self, order: Any, *also: _ChunkGrads) -> Any:
        """Iterate over ``order`` (consecutive times) a chunk (list of times) at a time.

        Each chunk is flushed when the next one is asked for (and after the last), so the
        caller's work on a chunk ends before its GEMMs run. ``also``: further accumulators
        fed by the same loop.
        """
        order = list(order)
        accs = (self, *also)
        for k in range(0, len(order), _CHUNK):
            chunk = order[k : k + _CHUNK]
            for a in accs:
                a.lo, a.hi = min(chunk), max(chunk) + 1
            yield chunk
            for a in accs:
                a._flush()

    def store(self, t: int, Gt: Any) -> None:
        self.slot(t)[...] = Gt

    def slot(self, t: int) -> Any:
        """The (rows, B) column block of the chunk buffer that holds step t's gradient."""
        j = t - self.lo
        return self.G[:, j * self.B : (j + 1) * self.B]

    def _flush(self) -> None:
        lo, hi, B = self.lo, self.hi, self.B
        m = (hi - lo) * B
        G = self.G[:, :m]
        if self.R is not None:
            Z = self.Z
            r = 0
            for src in self.sources:
                k = src.shape[1]
                Z[r : r + k, :m].reshape(k, hi - lo, B)[...] = src[lo:hi].transpose(1, 0, 2)
                r += k
            if self.ones:
                Z[r, :m] = 1
            self.R += G @ Z[:, :m].T
        if self.w is not None:
            self.gx[lo:hi] = (G.T @ self.w).reshape(hi - lo, B, -1)


#: Steps per chunk of the LSTM backward (measured: 8 beats 4, 2 and 16 at H = 128, B = 64).
_LSTM_CHUNK = 8


def _lstm_perm(H: int) -> Any:
    # Internal gate order o, i, f, g: the three sigmoid gates are contiguous ([:3H]), and
    # so are the three gates whose gradient is dc times a factor ([H:]).
    return xp.concatenate(
        [xp.arange(3 * H, 4 * H), xp.arange(0, H), xp.arange(H, 2 * H), xp.arange(2 * H, 3 * H)]
    )


class LSTMLayer(Function):
    """LSTM over a whole sequence (PyTorch's gates i, f, g, o).

    Arguments: ``x`` (T, B, I), ``h0``, ``c0`` (B, H), ``w_ih`` (4H, I), ``w_hh`` (4H, H)
    and optionally ``b_ih``, ``b_hh`` (4H,). Returns (T + 2, B, H): outputs, h_n, c_n (a
    transposed view of an (T + 2, H, B) buffer, so the states are never transposed).

    Forward: every step's right-hand side ``z_t = [h_prev; x_t; 1]`` lives in one slab
    ``Z`` (K, T + 1, B), K = H + I + 1. Each step is one matmul ``[W_hh | W_ih | b] @ z_t``
    straight into the step's gate block (input projection and bias included, nothing to
    add afterwards), one tanh over all four gates and a few small elementwise calls; the
    new state is written into the next column of ``Z``. Backward: the per-step factors
    that do not depend on the recurrence are formed a chunk of steps at a time in a few
    large calls, leaving five elementwise calls and one matmul per step; every
    ``_LSTM_CHUNK`` steps, ``[dW_hh | dW_ih | db] += dG Z^T`` is one GEMM whose right
    operand is a view of ``Z`` (no copy).
    """

    replay = "pure"

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False, lengths=None):
        T, B, n_in = x.shape
        H = w_hh.shape[1]
        H3, H4 = 3 * H, 4 * H
        nb = b_ih is not None
        K = H + n_in + nb
        dt = x.dtype
        self.has_bias = nb
        self.reverse = reverse
        self.valid, self.pad = valid, pad = _masks(lengths, T, dt)
        self.perm = perm = _lstm_perm(H)
        order, pi, oi, self.prev_sl, _, last = _order(T, reverse)
        prev_sl = self.prev_sl
        first = T if reverse else 0
        # Column t + pi of Z is step t's right-hand side; the step writes its state into
        # column t + oi. The one column outside prev_sl only ever holds the final state.
        Z = xp.empty((K, T + 1, B), dtype=dt)
        Z[H:, T - first] = 0
        Z[H : H + n_in, prev_sl] = x.transpose(2, 0, 1)
        if nb:
            Z[K - 1, prev_sl] = 1
        Z[:H, first] = h0.T
        self.w_hhP = w_hh[perm]
        self.w_ihP = w_ih[perm]
        # Sigmoid rows halved: sigmoid(a) = 0.5 * tanh(a / 2) + 0.5 (exact power-of-two scale).
        Wc = xp.empty((H4, K), dtype=dt)
        Wc[:, :H] = self.w_hhP
        Wc[:, H : H + n_in] = self.w_ihP
        if nb:
            Wc[:, K - 1] = (b_ih + b_hh)[perm]
        Wc[:H3] *= 0.5
        S = xp.empty((T, H4, B), dtype=dt)
        Call = xp.empty((T + 1, H, B), dtype=dt)
        Call[first] = c0.T
        TC = xp.empty((T, H, B), dtype=dt)
        Hout = xp.empty((T + 2, H, B), dtype=dt)
        padT = None if pad is None else pad.transpose(0, 2, 1)
        ig = xp.empty((H, B), dtype=dt)
        Zh = Z[:H]
        fwd_cell, fwd_out = _K.lstm_fwd_cell, _K.lstm_fwd_out
        with _per_step()():
            for t in order:
                St = S[t]
                xp.matmul(Wc, Z[:, t + pi], out=St)
                xp.tanh(St, out=St)
                cp, cn = Call[t + pi], Call[t + oi]
                fwd_cell(St, cp, cn, ig)  # sigmoid gates from St, cn = f * cp + i * g
                tc = TC[t]
                xp.tanh(cn, out=tc)
                # h into the (contiguous) output, then into Z's strided column for next step.
                fwd_out(St[:H], tc, Hout[t], Z, t + oi)
                if padT is not None:
                    xp.copyto(cn, cp, where=padT[t])
                    xp.copyto(Zh[:, t + oi], Zh[:, t + pi], where=padT[t])
        self.S, self.Z, self.Call, self.TC = S, Z, Call, TC
        if valid is not None:
            Hout[:T] *= valid.transpose(0, 2, 1)
        Hout[T] = Zh[:, last]
        Hout[T + 1] = Call[last]
        return Hout.transpose(0, 2, 1)

    def backward(self, g):
        S, TC, Z, valid, pad = self.S, self.TC, self.Z, self.valid, self.pad
        T, H4, B = S.shape
        H = H4 // 4
        H2, H3 = 2 * H, 3 * H
        K = Z.shape[0]
        dt = S.dtype
        prev_sl = self.prev_sl
        pi = prev_sl.start
        n_in = K - H - self.has_bias
        n = self.needs
        want_w = any(n[3:])
        gy = g[:T] if valid is None else g[:T] * valid
        has_gy = gy.reshape(T, -1).any(axis=1)
        Cprev = self.Call[prev_sl]
        pT = validT = None
        if pad is not None:
            pT = pad.transpose(0, 2, 1)
            validT = valid.transpose(0, 2, 1)
        ch = min(_LSTM_CHUNK, T)
        # Per chunk, the factors that do not depend on the recurrence, in a few large calls:
        # P = [tanh(c) o(1-o), g i(1-i), c_prev f(1-f), i (1-g^2)] makes the gate gradients
        # dG = [dh, dc, dc, dc] * P, and A = o (1 - tanh(c)^2) is dh's factor in dc.
        Pbuf = xp.empty((ch, H4, B), dtype=dt)
        Abuf = xp.empty((ch, H, B), dtype=dt)
        Fbuf = None if pad is None else xp.empty((ch, H, B), dtype=dt)
        # The chunk's gate gradients side by side: (4H, ch * B) is the GEMM's left operand.
        G = xp.empty((H4, ch, B), dtype=dt)
        R = None
        gx = xp.empty((T, B, n_in), dtype=dt) if n[0] else None
        dh = xp.ascontiguousarray(g[T].T)
        dc = xp.ascontiguousarray(g[T + 1].T)
        dhbuf = xp.empty((H, B), dtype=dt)
        u = xp.empty((H, B), dtype=dt)
        WT = self.w_hhP.T
        factors, bwd_step = _K.lstm_bwd_factors, _K.lstm_bwd_step
        starts = range(0, T, ch)
        per_step = _per_step()  # entered for every chunk
        for lo in starts if self.reverse else reversed(starts):
            hi = min(lo + ch, T)
            m = hi - lo
            Sc, P, A = S[lo:hi], Pbuf[:m], Abuf[:m]
            factors(Sc, TC[lo:hi], Cprev[lo:hi], P, A)
            F = Sc[:, H2:H3]
            if pT is not None:
                # Padded steps: no gate gradient; dc (F = 1) and dh pass through unchanged.
                P *= validT[lo:hi]
                A *= validT[lo:hi]
                F = Fbuf[:m]
                xp.multiply(Sc[:, H2:H3], validT[lo:hi], out=F)
                F += pT[lo:hi]
            # The chunk's steps (the small products), then its GEMMs over all its steps.
            with per_step():
                for t in range(lo, hi) if self.reverse else range(hi - 1, lo - 1, -1):
                    j = t - lo
                    # dh_t = dh (+ gy_t); dc += dh_t A; G[:, j] = [dh_t, dc, dc, dc] P;
                    # dc *= F. Without padding dh_t is only read before the matmul
                    # overwrites dh.
                    dht = bwd_step(
                        dh, gy[t].T if has_gy[t] else None, A[j], P[j], F[j], dc, G, j, dhbuf,
                        u, pT is not None,
                    )  # fmt: skip
                    xp.matmul(WT, G[:, j], out=dh)
                    if pT is not None:
                        xp.add(dh, dht, out=dh, where=pT[t])
            G2 = G[:, :m].reshape(H4, m * B)
            if want_w:
                # Z's columns lo + pi .. hi + pi are exactly these steps' [h_prev; x; 1].
                r = G2 @ Z[:, lo + pi : hi + pi].reshape(K, m * B).T
                if R is None:
                    R = r
                else:
                    R += r
            if gx is not None:
                xp.matmul(G2.T, self.w_ihP, out=gx[lo:hi].reshape(m * B, n_in))
        ws = [None] * (len(n) - 3)
        if want_w:
            # Rows put back from the internal gate order (o, i, f, g) to PyTorch's (i, f, g, o).
            R = R[xp.argsort(self.perm)]
            ws[0] = R[:, H : H + n_in] if n[3] else None
            ws[1] = R[:, :H] if n[4] else None
            if self.has_bias:
                db = R[:, K - 1]
                ws[2] = db if n[5] else None
                ws[3] = db.copy() if n[6] else None
        return (gx, dh.T if n[1] else None, dc.T if n[2] else None, *ws)

    def composite(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
        return _composites.lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh, self.reverse, self.pad)


# ---------------------------------------------------------------------------------- GRU


class GRULayer(Function):
    """GRU over a whole sequence (PyTorch's gates r, z, n and reset-gate placement).

    Arguments: ``x`` (T, B, I), ``h0`` (B, H), ``w_ih`` (3H, I), ``w_hh`` (3H, H) and
    optionally ``b_ih``, ``b_hh`` (3H,). Returns (T + 1, B, H): outputs, then h_n.
    """

    replay = "pure"

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False, lengths=None):
        T, B, n_in = x.shape
        H = w_hh.shape[1]
        dt = x.dtype
        H2 = 2 * H
        self.has_bias = b_ih is not None
        self.reverse = reverse
        self.valid, self.pad = valid, pad = _masks(lengths, T, dt)
        self.w_ih, self.w_hh = w_ih, w_hh
        scale = xp.ones((3 * H, 1), dtype=dt)
        scale[:H2] = 0.5
        Wa = xp.zeros((3 * H, n_in + 1), dtype=dt)
        Wa[:, :n_in] = w_ih * scale
        bhn = None
        if self.has_bias:
            Wa[:, n_in] = b_ih * scale[:, 0]
            # b_hr and b_hz simply add; b_hn sits inside r * (W_hn h + b_hn).
            Wa[:H2, n_in] += b_hh[:H2] * 0.5
            bhn = b_hh[H2:, None]
        self.xa = xa = _augment(x)
        XW = xp.matmul(Wa, xa)
        Whh = w_hh * scale
        order, pi, oi, self.prev_sl, self.out_sl, last = _order(T, reverse)
        Hall = xp.empty((T + 1, H, B), dtype=dt)
        Hall[T if reverse else 0] = h0.T
        padT = None if pad is None else pad.transpose(0, 2, 1)
        RZ = xp.empty((T, H2, B), dtype=dt)
        GHN = xp.empty((T, H, B), dtype=dt)
        N = xp.empty((T, H, B), dtype=dt)
        gh = xp.empty((3 * H, B), dtype=dt)
        fwd_gates, fwd_out = _K.gru_fwd_gates, _K.gru_fwd_out
        with _per_step()():
            for t in order:
                hp, hn, Xt = Hall[t + pi], Hall[t + oi], XW[t]
                xp.matmul(Whh, hp, out=gh)
                rz = RZ[t]
                xp.add(Xt[:H2], gh[:H2], out=rz)
                xp.tanh(rz, out=rz)
                nt = N[t]
                # r, z = sigmoids; GHN[t] = W_hn h + b_hn; nt = r * GHN[t] + (W_in x + b_in)
                fwd_gates(rz, gh, bhn, Xt[H2:], GHN[t], nt)
                xp.tanh(nt, out=nt)
                # h' = (1 - z) * n + z * h, written as n + z * (h - n) as PyTorch does.
                fwd_out(hp, nt, rz[H:], hn)
                if padT is not None:
                    xp.copyto(hn, hp, where=padT[t])
        self.Hall, self.RZ, self.GHN, self.N = Hall, RZ, GHN, N
        return _pack_outputs(Hall, self.out_sl, last, valid, (Hall,))

    def backward(self, g):
        RZ, N, GHN, valid, pad = self.RZ, self.N, self.GHN, self.valid, self.pad
        T, H, B = N.shape
        H3 = 3 * H
        dt = N.dtype
        gy = g[:T] if valid is None else g[:T] * valid
        has_gy = gy.reshape(T, -1).any(axis=1)
        Hprev = self.Hall[self.prev_sl]
        validT = None if pad is None else valid.transpose(0, 2, 1)
        n = self.needs
        nb = self.has_bias
        # Et = [dA_n, dA_r, dA_z, dA_n * r]: rows [:3H] are the gradient of the input
        # pre-activations (gates n r z), rows [H:] that of the recurrent ones (W_hh h + b_hh,
        # gates r z n). The two get their weight gradients from separate accumulators.
        rot = xp.concatenate([xp.arange(H, H3), xp.arange(0, H)])  # (n, r, z) -> (r, z, n)
        acc_i = _ChunkGrads(
            self, [self.xa], H3, n[2] or (nb and n[4]), self.w_ih[xp.argsort(rot)] if n[0] else None
        )
        acc_h = _ChunkGrads(self, [Hprev], H3, n[3] or (nb and n[5]), None, ones=True)
        dh = xp.ascontiguousarray(g[T].T)
        dht = xp.empty((H, B), dtype=dt)
        a = xp.empty((H, B), dtype=dt)
        omz = xp.empty((H, B), dtype=dt)
        Et = xp.empty((4 * H, B), dtype=dt)
        WT = self.w_hh.T
        bwd_step = _K.gru_bwd_step
        per_step = _per_step()  # entered for every chunk; the flushes run outside it
        for chunk in acc_i.chunks(range(T) if self.reverse else range(T - 1, -1, -1), acc_h):
            with per_step():
                for t in chunk:
                    # Et = [dA_n, dA_r, dA_z, dA_n * r] (zero on padded steps), a = the
                    # gradient that the direct path h -> h' carries: dh' * z (all of dh' on
                    # padded steps).
                    bwd_step(
                        dh, gy[t].T if has_gy[t] else None, RZ[t, :H], RZ[t, H:], N[t],
                        GHN[t], Hprev[t], None if validT is None else validT[t], dht, a, omz,
                        Et,
                    )  # fmt: skip
                    acc_i.store(t, Et[:H3])
                    acc_h.store(t, Et[H:])
                    xp.matmul(WT, Et[H:], out=dh)
                    dh += a
        n_in = self.xa.shape[1] - 1
        out = [acc_i.gx, dh.T if n[1] else None, None, None] + ([None, None] if nb else [])
        if acc_i.R is not None:
            Ri = acc_i.R[rot]
            out[2] = Ri[:, :n_in] if n[2] else None
            if nb and n[4]:
                out[4] = Ri[:, n_in]
        if acc_h.R is not None:
            out[3] = acc_h.R[:, :H] if n[3] else None
            if nb and n[5]:
                out[5] = acc_h.R[:, H]
        return tuple(out)

    def composite(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        return _composites.gru(x, h0, w_ih, w_hh, b_ih, b_hh, self.reverse, self.pad)


# -------------------------------------------------------------------- public functions


def _check_lengths(lengths: Any, T: int, B: int, fn: str) -> Any:
    if lengths is None:
        return None
    arr = lengths.data if isinstance(lengths, Tensor) else xp.asarray(lengths)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and arr.size and (arr == xp.round(arr)).all():
            arr = arr.astype(xp.int64)
        else:
            raise TypeError(f"{fn}: lengths must be integers, got dtype {arr.dtype}")
    if arr.shape != (B,):
        raise ValueError(f"{fn}: lengths has shape {arr.shape}, expected ({B},) (one per sequence)")
    if B and (arr.min() < 1 or arr.max() > T):
        raise ValueError(
            f"{fn}: lengths must lie in [1, {T}] (the padded sequence length), got "
            f"min {int(arr.min())}, max {int(arr.max())}"
        )
    return arr.astype(xp.int64, copy=False)


def _check_args(
    fn: str, x: Tensor, states: dict, w_ih: Tensor, w_hh: Tensor, b_ih: Any, b_hh: Any, gates: int
) -> int:
    if x.ndim != 3:
        raise ValueError(f"{fn}: input must be 3-D (seq_len, batch, input_size), got {x.shape}")
    T, B, n_in = x.shape
    if w_hh.ndim != 2 or w_hh.shape[0] % gates or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(f"{fn}: w_hh has shape {w_hh.shape}, expected ({gates} * hidden, hidden)")
    H = w_hh.shape[1]
    if w_ih.shape != (gates * H, n_in):
        raise ValueError(f"{fn}: w_ih has shape {w_ih.shape}, expected ({gates * H}, {n_in})")
    for name, s in states.items():
        if s.shape != (B, H):
            raise ValueError(f"{fn}: {name} has shape {s.shape}, expected ({B}, {H})")
    if (b_ih is None) != (b_hh is None):
        raise ValueError(f"{fn}: give both b_ih and b_hh, or neither")
    tensors = [x, *states.values(), w_ih, w_hh]
    if b_ih is not None:
        for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
            if b.shape != (gates * H,):
                raise ValueError(f"{fn}: {name} has shape {b.shape}, expected ({gates * H},)")
        tensors += [b_ih, b_hh]
    dts = {t.dtype for t in tensors}
    if len(dts) != 1 or next(iter(dts)).kind != "f":
        raise TypeError(
            f"{fn}: input, states and weights must share one floating dtype, got "
            f"{sorted(str(d) for d in dts)}"
        )
    return T


def _split(out: Tensor, T: int, n_states: int) -> tuple:
    return (getitem(out, slice(0, T)),) + tuple(getitem(out, T + k) for k in range(n_states))


def rnn_layer(
    x: Any,
    h0: Any,
    w_ih: Any,
    w_hh: Any,
    b_ih: Any = None,
    b_hh: Any = None,
    nonlinearity: str = "tanh",
    reverse: bool = False,
    lengths: Any = None,
) -> tuple:
    """One direction of one Elman RNN layer over a sequence, as one graph node.

    ``x`` is (T, B, I), ``h0`` (B, H); returns ``(output (T, B, H), h_n (B, H))``.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.rnn import rnn_layer
        >>> y, h = rnn_layer(rg.ones(5, 2, 3), rg.zeros(2, 4), rg.ones(4, 3), rg.eye(4))
        >>> y.shape, h.shape
        ((5, 2, 4), (2, 4))
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_layer: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    x, h0, w_ih, w_hh = map(ensure_tensor, (x, h0, w_ih, w_hh))
    b = () if b_ih is None else (ensure_tensor(b_ih), ensure_tensor(b_hh))
    T = _check_args("rnn_layer", x, {"h0": h0}, w_ih, w_hh, *(b or (None, None)), 1)
    lengths = _check_lengths(lengths, T, x.shape[1], "rnn_layer")
    out = RNNLayer.apply(
        x, h0, w_ih, w_hh, *b, nonlinearity=nonlinearity, reverse=bool(reverse), lengths=lengths
    )
    return _split(out, T, 1)


def lstm_layer(
    x: Any,
    h0: Any,
    c0: Any,
    w_ih: Any,
    w_hh: Any,
    b_ih: Any = None,
    b_hh: Any = None,
    reverse: bool = False,
    lengths: Any = None,
) -> tuple:
    """One direction of one LSTM layer over a sequence, as one graph node.

    Returns ``(output (T, B, H), h_n (B, H), c_n (B, H))``.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.rnn import lstm_layer
        >>> y, h, c = lstm_layer(rg.ones(5, 2, 3), rg.zeros(2, 4), rg.zeros(2, 4),
        ...                      rg.ones(16, 3), rg.ones(16, 4))
        >>> y.shape, c.shape
        ((5, 2, 4), (2, 4))
    """
    x, h0, c0, w_ih, w_hh = map(ensure_tensor, (x, h0, c0, w_ih, w_hh))
    b = () if b_ih is None else (ensure_tensor(b_ih), ensure_tensor(b_hh))
    T = _check_args("lstm_layer", x, {"h0": h0, "c0": c0}, w_ih, w_hh, *(b or (None, None)), 4)
    lengths = _check_lengths(lengths, T, x.shape[1], "lstm_layer")
    out = LSTMLayer.apply(x, h0, c0, w_ih, w_hh, *b, reverse=bool(reverse), lengths=lengths)
    return _split(out, T, 2)


def gru_layer(
    x: Any,
    h0: Any,
    w_ih: Any,
    w_hh: Any,
    b_ih: Any = None,
    b_hh: Any = None,
    reverse: bool = False,
    lengths: Any = None,
) -> tuple:
    """One direction of one GRU layer over a sequence, as one graph node.

    Returns ``(output (T, B, H), h_n (B, H))``.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.rnn import gru_layer
        >>> y, h = gru_layer(rg.ones(5, 2, 3), rg.zeros(2, 4), rg.ones(12, 3), rg.ones(12, 4))
        >>> y.shape
        (5, 2, 4)
    """
    x, h0, w_ih, w_hh = map(ensure_tensor, (x, h0, w_ih, w_hh))
    b = () if b_ih is None else (ensure_tensor(b_ih), ensure_tensor(b_hh))
    T = _check_args("gru_layer", x, {"h0": h0}, w_ih, w_hh, *(b or (None, None)), 3)
    lengths = _check_lengths(lengths, T, x.shape[1], "gru_layer")
    out = GRULayer.apply(x, h0, w_ih, w_hh, *b, reverse=bool(reverse), lengths=lengths)
    return _split(out, T, 1)


__all__ = ["rnn_layer", "lstm_layer", "gru_layer"]
