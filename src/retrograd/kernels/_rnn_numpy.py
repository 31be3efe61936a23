"""NumPy twins of the recurrent-cell and convolution kernels (see ``_rnn_numba.py``).

Each function is the arithmetic ``ops/rnn.py`` and ``ops/conv.py`` ran inline before the
kernels existed, moved here unchanged: the reference its compiled namesake must match.
The recurrent kernels work on the transposed state layout of ``ops/rnn.py``: a state is
(H, B), a gate block is (G*H, B), gates stacked along the rows.

Buffers named ``scratch``/``tmp`` are work space of the twin; the compiled versions do
not need them (they keep those values in registers) but take them, so both versions have
one signature.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp

# ---------------------------------------------------------------------------- LSTM
# Gate rows in the internal order o, i, f, g (ops/rnn.py's _lstm_perm); rows [:3H] hold
# the sigmoid gates as tanh(a / 2), turned into sigmoid(a) = 0.5 * tanh(a / 2) + 0.5 here.


def lstm_fwd_cell(St: Any, cp: Any, cn: Any, scratch: Any) -> None:
    """Gates and cell state of one LSTM step, in place.

    ``St`` (4H, B) holds tanh of the step's (halved) pre-activations; its sigmoid rows
    become the gate values. ``cn = f * cp + i * g``. ``scratch`` (H, B).
    """
    H = cn.shape[0]
    sg = St[: 3 * H]
    sg *= 0.5
    sg += 0.5
    xp.multiply(St[2 * H : 3 * H], cp, out=cn)
    xp.multiply(St[H : 2 * H], St[3 * H :], out=scratch)
    cn += scratch


def lstm_fwd_out(o: Any, tc: Any, ht: Any, Z: Any, col: int) -> None:
    """``ht = o * tanh(c)``, copied into ``Z[:H, col]`` (the next step's input column).

    ``Z`` is the layer's (K, T + 1, B) slab of right-hand sides ``[h; x; 1]``.
    """
    xp.multiply(o, tc, out=ht)
    xp.copyto(Z[: ht.shape[0], col], ht)


def lstm_bwd_factors(Sc: Any, TC: Any, Cp: Any, P: Any, A: Any) -> None:
    """The factors of a chunk of LSTM backward steps that do not depend on the recurrence.

    ``Sc`` (m, 4H, B) gate values, ``TC`` (m, H, B) tanh(c), ``Cp`` (m, H, B) the previous
    cell states. Writes ``P = [tanh(c) o(1-o), g i(1-i), c_prev f(1-f), i (1-g^2)]``
    (m, 4H, B) and ``A = o (1 - tanh(c)^2)`` (m, H, B).
    """
    H = TC.shape[1]
    H2, H3 = 2 * H, 3 * H
    xp.multiply(Sc, Sc, out=P)
    xp.subtract(Sc[:, :H3], P[:, :H3], out=P[:, :H3])
    xp.subtract(1, P[:, H3:], out=P[:, H3:])
    P[:, :H] *= TC
    P[:, H:H2] *= Sc[:, H3:]
    P[:, H2:H3] *= Cp
    P[:, H3:] *= Sc[:, H:H2]
    xp.multiply(TC, TC, out=A)
    xp.subtract(1, A, out=A)
    A *= Sc[:, :H]


def lstm_bwd_step(
    dh: Any,
    gyt: Any,
    A: Any,
    P: Any,
    F: Any,
    dc: Any,
    G: Any,
    j: int,
    dhbuf: Any,
    u: Any,
    keep: bool,
) -> Any:
    """One LSTM backward step up to the recurrent matmul; returns ``dh_t``.

    ``dh_t = dh + gyt`` (``gyt`` None: no output gradient at this step), then
    ``dc += dh_t * A``, the gate gradients ``G[:, j] = [dh_t, dc, dc, dc] * P`` (4H, B)
    in the chunk buffer ``G`` (4H, chunk, B), and ``dc *= F``. ``dh_t`` is ``dhbuf``
    when ``gyt`` is given or ``keep`` is true (the caller still needs it after
    overwriting ``dh``), else ``dh`` itself. ``u`` (H, B).
    """
    H, B = dc.shape
    Gt = G[:, j]
    if gyt is not None:
        dht = dhbuf
        xp.add(dh, gyt, out=dht)
    elif keep:
        dht = dhbuf
        xp.copyto(dht, dh)
    else:
        dht = dh
    xp.multiply(dht, A, out=u)
    dc += u
    xp.multiply(dht, P[:H], out=Gt[:H])
    xp.multiply(dc, P[H:].reshape(3, H, B), out=Gt[H:].reshape(3, H, B))
    xp.multiply(dc, F, out=dc)
    return dht


# ----------------------------------------------------------------------------- GRU
# Gate rows r, z, n; r and z hold tanh(a / 2) until gru_fwd_gates makes them sigmoids.


def gru_fwd_gates(rz: Any, gh: Any, bhn: Any, xn: Any, ghn: Any, nt: Any) -> None:
    """Middle of one GRU step, in place: sigmoid gates and the candidate's pre-activation.

    ``rz`` (2H, B) holds tanh of the halved r, z pre-activations and becomes r, z;
    ``ghn = gh_n + b_hn`` (``bhn`` (H, 1) or None); ``nt = r * ghn + xn``.
    """
    H = nt.shape[0]
    rz *= 0.5
    rz += 0.5
    if bhn is not None:
        xp.add(gh[2 * H :], bhn, out=ghn)
    else:
        ghn[...] = gh[2 * H :]
    xp.multiply(rz[:H], ghn, out=nt)
    nt += xn


def gru_fwd_out(hp: Any, nt: Any, z: Any, hn: Any) -> None:
    """``h' = n + z * (h - n)`` (PyTorch's form of ``(1 - z) n + z h``) into ``hn``."""
    xp.subtract(hp, nt, out=hn)
    hn *= z
    hn += nt


def gru_bwd_step(
    dh: Any,
    gyt: Any,
    r: Any,
    z: Any,
    nt: Any,
    ghn: Any,
    hp: Any,
    validt: Any,
    dht: Any,
    a: Any,
    omz: Any,
    Et: Any,
) -> None:
    """One GRU backward step up to the recurrent matmul.

    ``dht = dh + gyt`` (``gyt`` None: no output gradient here). Writes
    ``Et = [dA_n, dA_r, dA_z, dA_n * r]`` (4H, B), times ``validt`` (1, B) when given,
    and into ``a`` the direct path's gradient ``dht * z`` (``dht`` itself where
    ``validt`` is 0). ``omz`` (H, B) is scratch.
    """
    H = z.shape[0]
    H2, H3 = 2 * H, 3 * H
    if gyt is not None:
        xp.add(dh, gyt, out=dht)
    else:
        xp.copyto(dht, dh)
    dan = Et[:H]
    xp.subtract(1, z, out=omz)
    # dA_n = dh' (1 - z)(1 - n^2)
    xp.multiply(nt, nt, out=a)
    xp.subtract(1, a, out=a)
    a *= omz
    xp.multiply(a, dht, out=dan)
    # dA_r = dA_n (W_hn h + b_hn) r (1 - r)
    xp.subtract(1, r, out=a)
    a *= r
    a *= ghn
    xp.multiply(dan, a, out=Et[H:H2])
    # dA_z = dh' (h - n) z (1 - z)
    xp.subtract(hp, nt, out=a)
    a *= dht
    a *= omz
    xp.multiply(a, z, out=Et[H2:H3])
    xp.multiply(dan, r, out=Et[H3:])
    if validt is not None:
        Et *= validt
    # The direct path h -> h' carries dh' * z (all of dh' on padded steps).
    xp.multiply(dht, z, out=a)
    if validt is not None:
        xp.copyto(a, dht, where=validt == 0)


__all__ = [
    "lstm_fwd_cell",
    "lstm_fwd_out",
    "lstm_bwd_factors",
    "lstm_bwd_step",
    "gru_fwd_gates",
    "gru_fwd_out",
    "gru_bwd_step",
]
