"""A whole MLP training step (forward, softmax cross-entropy, backward) as one Numba call.

For small networks a recorded step is mostly Python: some twenty NumPy and kernel calls
of a microsecond each around products of a few thousand multiply-adds. Here the chain
``Linear(+ReLU) ... Linear -> cross_entropy(labels)`` runs as one compiled function that
calls NumPy's own BLAS (:mod:`._blas`) for the products with the arguments ``np.dot``
passes, and does the work between them with the loops of the kernels the ops call
(``bias_relu``, ``relu_grad_bias``, ``softmax_xent_grad``): the same operations in the
same order, so the same bits as the step run op by op. The op-by-op replay is this
kernel's twin; ``train.compile_step`` compares the two bit for bit on the recorded batch
before it uses the kernel, and the tests compare them over many steps and shapes.

Which BLAS call NumPy makes (``cblas_matrixproduct``): for a batch of one row, the row
times a matrix is a ``gemv``; for a batch of several rows, ``gemm`` with a transposed
operand for a Fortran-ordered one (``w.T``, ``g.T``). Layers with one input or one output
unit take other paths in NumPy (scalar and dot products) and are not fused.

The BLAS functions are called by address (an integer argument), not as ctypes objects,
so that Numba can cache the compiled function on disk.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from ._blas import COL_MAJOR, NO_TRANS, ROW_MAJOR, TRANS
from ._numba import _bias_relu_rows_c, _relu_grad_bias_serial, _softmax_xent_grad


@intrinsic
def _call(typingctx, addr, args):  # pragma: no cover - compiled
    """Call the C function at ``addr`` (returning void) with the scalars in ``args``."""
    if not isinstance(addr, types.Integer) or not isinstance(args, types.BaseTuple):
        return None
    sig = types.void(addr, args)

    def codegen(context, builder, signature, llargs):
        fn_addr, tup = llargs
        vals = cgutils.unpack_tuple(builder, tup, len(args))
        fnty = ir.FunctionType(ir.VoidType(), [v.type for v in vals])
        builder.call(builder.inttoptr(fn_addr, fnty.as_pointer()), vals)
        return context.get_dummy_value()

    return sig, codegen


_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
_I = np.int64  # CBLAS_INT of the ILP64 OpenBLAS NumPy ships (the only one used here)
_E = np.int32  # a C enum


@_jit
def _x_wt(gemm, gemv, x, w, z):  # pragma: no cover - compiled
    """``z = np.dot(x, w.T)``: x (B, i) C-ordered, w (o, i) C-ordered, z (B, o) new."""
    b, i = x.shape
    o = w.shape[0]
    one, zero = z.dtype.type(1), z.dtype.type(0)
    if b == 1:  # a row times the F-ordered (i, o) matrix w.T: column-major gemv
        _call(gemv, (_E(COL_MAJOR), _E(TRANS), _I(i), _I(o), one, w.ctypes.data, _I(i),
                     x.ctypes.data, _I(1), zero, z.ctypes.data, _I(1)))  # fmt: skip
    else:
        _call(gemm, (_E(ROW_MAJOR), _E(NO_TRANS), _E(TRANS), _I(b), _I(o), _I(i), one,
                     x.ctypes.data, _I(i), w.ctypes.data, _I(i), zero, z.ctypes.data,
                     _I(o)))  # fmt: skip


@_jit
def _g_w(gemm, gemv, g, w, gx):  # pragma: no cover - compiled
    """``gx = np.dot(g, w)``: g (B, o), w (o, i), gx (B, i), all C-ordered."""
    b, o = g.shape
    i = w.shape[1]
    one, zero = gx.dtype.type(1), gx.dtype.type(0)
    if b == 1:  # a row times the C-ordered (o, i) matrix w: row-major gemv
        _call(gemv, (_E(ROW_MAJOR), _E(TRANS), _I(o), _I(i), one, w.ctypes.data, _I(i),
                     g.ctypes.data, _I(1), zero, gx.ctypes.data, _I(1)))  # fmt: skip
    else:
        _call(gemm, (_E(ROW_MAJOR), _E(NO_TRANS), _E(NO_TRANS), _I(b), _I(i), _I(o), one,
                     g.ctypes.data, _I(o), w.ctypes.data, _I(i), zero, gx.ctypes.data,
                     _I(i)))  # fmt: skip


@_jit
def _gt_x(gemm, g, x, gw):  # pragma: no cover - compiled
    """``gw`` = Linear's weight gradient: ``g.T * x`` for one row, else ``np.dot(g.T, x)``."""
    b, o = g.shape
    i = x.shape[1]
    if b == 1:  # an outer product, each element one multiplication
        for r in range(o):
            for c in range(i):
                gw[r, c] = g[0, r] * x[0, c]
        return
    one, zero = gw.dtype.type(1), gw.dtype.type(0)
    _call(gemm, (_E(ROW_MAJOR), _E(TRANS), _E(NO_TRANS), _I(o), _I(i), _I(b), one,
                 g.ctypes.data, _I(o), x.ctypes.data, _I(i), zero, gw.ctypes.data,
                 _I(i)))  # fmt: skip


@_jit
def _bias_act(z, bias, relu):  # pragma: no cover - compiled
    """``bias_relu``'s own loop (LinearAct with ReLU), or Linear's ``z += bias``."""
    if relu:
        _bias_relu_rows_c(z, bias, 0, z.shape[0])
        return
    for r in range(z.shape[0]):
        row = z[r]
        for c in range(row.shape[0]):
            row[c] += bias[c]


@_jit
def _column_sums(g, gb):  # pragma: no cover - compiled
    """Linear's bias gradient: the row itself for one row, else ``add.reduce(g, axis=0)``
    (each column summed over the rows in order, from +0)."""
    b, c = g.shape
    for j in range(c):
        gb[j] = g[0, j] if b == 1 else g.dtype.type(0)
    if b > 1:
        for r in range(b):
            for j in range(c):
                gb[j] += g[r, j]


@_jit
def mlp_step(x, y, ws, bs, relu, mean, gemm, gemv):  # pragma: no cover - compiled
    """Forward, loss and gradients of ``Linear(+ReLU)* -> cross_entropy`` on one batch.

    ``ws``/``bs``: the layers' (out, in) weights and biases, one dtype, C-ordered;
    ``relu[l]``: layer l is followed by ReLU; ``mean``: the loss is the batch mean (else
    the sum); ``gemm``/``gemv``: addresses of NumPy's BLAS functions for the dtype.
    Returns ``(status, logits, loss, weight grads, bias grads)``, the gradients listed
    from the last layer to the first and the loss as a 1-element array; status 1: a label is
    outside [0, classes) (nothing computed: the caller runs the op-by-op step, which
    raises), status 2: the shapes do not chain (the same).
    """
    n_layers = len(ws)
    b = x.shape[0]
    dt = x.dtype
    classes = ws[n_layers - 1].shape[0]
    gws = [np.empty((0, 0), dt) for _ in range(0)]  # (typed empty lists)
    gbs = [np.empty(0, dt) for _ in range(0)]
    width = x.shape[1]
    for layer in range(n_layers):
        if ws[layer].shape[1] != width or bs[layer].shape[0] != ws[layer].shape[0]:
            return 2, np.empty((0, 0), dt), np.empty(1, dt), gws, gbs
        width = ws[layer].shape[0]
    flat = np.empty(b, np.int64)
    for r in range(b):
        t = y[r]
        if t < 0 or t >= classes:
            return 1, np.empty((0, 0), dt), np.empty(1, dt), gws, gbs
        flat[r] = r * classes + t
    # forward: each layer's output, activated in place
    hs = []
    for layer in range(n_layers):
        w = ws[layer]
        z = np.empty((b, w.shape[0]), dt)
        if layer == 0:
            _x_wt(gemm, gemv, x, w, z)
        else:
            _x_wt(gemm, gemv, hs[layer - 1], w, z)
        _bias_act(z, bs[layer], relu[layer])
        hs.append(z)
    logits = hs[n_layers - 1]
    # loss and its gradient (cross_entropy's forward_backward with a root gradient of 1)
    one = dt.type(1)
    scale = one / dt.type(b) if mean else one
    g = np.empty_like(logits)
    total = dt.type(_softmax_xent_grad(logits, flat, scale, g))
    loss = np.empty(1, dt)
    loss[0] = total / dt.type(b) if mean else total
    # backward, last layer first (the gradients are listed in that order)
    for layer in range(n_layers - 1, -1, -1):
        w = ws[layer]
        gb = np.empty(w.shape[0], dt)
        if relu[layer]:
            gm = np.empty_like(g)
            _relu_grad_bias_serial(g, hs[layer], gm, gb)
        else:
            gm = g
            _column_sums(gm, gb)
        gw = np.empty_like(w)
        if layer == 0:
            _gt_x(gemm, gm, x, gw)
        else:
            _gt_x(gemm, gm, hs[layer - 1], gw)
            g = np.empty((b, w.shape[1]), dt)
            _g_w(gemm, gemv, gm, w, g)
        gws.append(gw)
        gbs.append(gb)
    return 0, logits, loss, gws, gbs


__all__ = ["mlp_step"]
