"""Recurrent layers RNN, LSTM, GRU and their cells, trained by backpropagation through time.

Constructor arguments, parameter names, shapes, gate orders, initialisation and outputs
are PyTorch's, so a ``state_dict`` moves between the two unchanged. Each layer and
direction runs as one fused primitive (:mod:`retrograd.ops.rnn`): the graph of a
20-layer-step sequence has a handful of nodes, not thousands.

Beyond PyTorch's API, ``forward`` takes ``lengths=`` for padded batches of sequences of
different lengths (instead of a PackedSequence): padded steps leave the state unchanged,
output zeros and get no gradient, exactly like ``pack_padded_sequence`` followed by
``pad_packed_sequence``.

Truncated BPTT: carry the state from one window of k steps to the next with
:func:`detach_state`, which cuts the graph between windows::

    state = None
    for xs, ys in windows:
        out, state = lstm(xs, state)
        loss = loss_fn(head(out), ys)
        opt.zero_grad(); loss.backward(); opt.step()
        state = detach_state(state)
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

from .._backend import xp
from .._checks import check_int, resolve_dtype
from ..autograd.tensor import Tensor
from ..ops.rnn import gru_layer, lstm_layer, rnn_layer
from ..ops.shape import concatenate, getitem, stack, transpose, unsqueeze
from . import functional as F
from . import init
from .layers import Linear
from .module import Module, Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def detach_state(state: Any) -> Any:
    """Cut a recurrent state from the graph: Tensors detached, tuples/lists recursed.

    Use it between the windows of truncated backpropagation through time, so the next
    window starts from the carried values but backward stops at the window's edge.

    Example::

        >>> import retrograd as rg
        >>> lstm = rg.nn.LSTM(3, 4)
        >>> out, state = lstm(rg.randn(5, 2, 3))
        >>> h, c = detach_state(state)
        >>> h.requires_grad, h.shape
        (False, (1, 2, 4))
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(
        f"detach_state: expected a Tensor or a tuple/list of Tensors, got {type(state).__name__}"
    )


def _check_size(layer: str, name: str, v: Any, minimum: int = 1) -> int:
    return check_int(v, name, layer, minimum)


def _as_input(x: Any, dtype: Any, where: str, what: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        return Tensor(xp.asarray(x, dtype=dtype))
    if x.dtype != dtype:
        raise TypeError(
            f"{where}: {what} has dtype {x.dtype} but the parameters are {dtype}; convert one "
            f"(x.astype('{dtype}') or module.to('{x.dtype}'))"
        )
    return x


class _RNNBase(Module):
    mode = "RNN_TANH"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = _check_size(name, "input_size", input_size)
        self.hidden_size = _check_size(name, "hidden_size", hidden_size)
        self.num_layers = _check_size(name, "num_layers", num_layers)
        if (
            not isinstance(dropout, numbers.Real)
            or isinstance(dropout, bool)
            or not (0.0 <= dropout <= 1.0)
        ):
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} acts between layers, so it has no effect with "
                f"num_layers=1",
                stacklevel=2,
            )
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        dt = resolve_dtype(dtype)
        gh = _GATES[self.mode] * self.hidden_size
        D = 2 if self.bidirectional else 1
        # Registration order is PyTorch's: per layer, per direction, w_ih w_hh b_ih b_hh.
        for layer in range(self.num_layers):
            n_in = self.input_size if layer == 0 else self.hidden_size * D
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                setattr(self, "weight_ih" + sfx, Parameter(xp.empty((gh, n_in), dtype=dt)))
                setattr(
                    self, "weight_hh" + sfx, Parameter(xp.empty((gh, self.hidden_size), dtype=dt))
                )
                if self.bias:
                    setattr(self, "bias_ih" + sfx, Parameter(xp.empty((gh,), dtype=dt)))
                    setattr(self, "bias_hh" + sfx, Parameter(xp.empty((gh,), dtype=dt)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's init: every weight and bias from U(-1/sqrt(hidden), 1/sqrt(hidden))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _describe(self) -> str:
        return (
            f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size})"
        )

    def _layer_params(self, layer: int, d: int) -> list:
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
        return [getattr(self, n + sfx) for n in names]

    def _n_states(self) -> int:
        return 2 if self.mode == "LSTM" else 1

    def _check_state(self, s: Any, what: str, expected: tuple, dtype: Any) -> Tensor:
        s = _as_input(s, dtype, self._describe(), what)
        if s.shape != expected:
            raise ValueError(
                f"{self._describe()}: {what} has shape {s.shape}, expected {expected} "
                f"(num_layers * num_directions, batch, hidden_size)"
            )
        return s

    def forward(self, input: Any, hx: Any = None, lengths: Any = None) -> tuple:  # noqa: A002
        """Run the sequence; returns ``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``).

        ``input`` is (seq_len, batch, input_size), (batch, seq_len, input_size) with
        ``batch_first``, or unbatched (seq_len, input_size). ``hx`` is the initial state
        (num_layers * num_directions, batch, hidden_size), zeros when omitted; an LSTM
        takes the tuple ``(h0, c0)``. ``lengths`` (batch,) gives each sequence's number
        of valid steps in a padded batch.
        """
        dt = self.weight_hh_l0.dtype
        desc = self._describe()
        x = _as_input(input, dt, desc)
        if x.ndim not in (2, 3):
            raise ValueError(
                f"{desc}: input must be 3-D (seq_len, batch, input_size) "
                f"{'[batch_first: (batch, seq_len, input_size)] ' if self.batch_first else ''}"
                f"or 2-D unbatched (seq_len, input_size), got shape {x.shape}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{desc}: input has shape {x.shape}, expected input_size {self.input_size} in "
                f"the last dimension"
            )
        unbatched = x.ndim == 2
        if unbatched:
            if lengths is not None:
                raise ValueError(f"{desc}: lengths needs a batched (3-D) input")
            x = unsqueeze(x, 1)
        elif self.batch_first:
            x = transpose(x, 0, 1)
        T, B, _ = x.shape
        if T == 0:
            raise ValueError(f"{desc}: input has no time steps (shape {tuple(input.shape)})")
        D = 2 if self.bidirectional else 1
        L = self.num_layers
        H = self.hidden_size
        n_states = self._n_states()
        states = self._initial_states(hx, n_states, L * D, B, H, dt, unbatched)

        zeros = Tensor._wrap(xp.zeros((B, H), dtype=dt), False, None)
        finals: list = [[] for _ in range(n_states)]
        layer_in = x
        for layer in range(L):
            outs = []
            for d in range(D):
                k = layer * D + d
                init_k = [zeros if s is None else getitem(s, k) for s in states]
                res = self._run_layer(
                    layer_in, init_k, self._layer_params(layer, d), reverse=d == 1, lengths=lengths
                )
                outs.append(res[0])
                for j in range(n_states):
                    finals[j].append(res[1 + j])
            layer_in = outs[0] if D == 1 else concatenate(outs, axis=-1)
            if self.dropout and self.training and layer < L - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        output = layer_in
        finals = [stack(f, axis=0) for f in finals]
        if unbatched:
            output = getitem(output, (slice(None), 0))
            finals = [getitem(f, (slice(None), 0)) for f in finals]
        elif self.batch_first:
            output = transpose(output, 0, 1)
        return output, (tuple(finals) if n_states == 2 else finals[0])

    def _initial_states(
        self, hx: Any, n_states: int, LD: int, B: int, H: int, dt: Any, unbatched: bool
    ) -> list:
        desc = self._describe()
        if hx is None:
            return [None] * n_states
        if n_states == 2:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{desc}: hx must be a tuple (h0, c0), got {type(hx).__name__}")
            parts, whats = list(hx), ["h0", "c0"]
        else:
            if isinstance(hx, (tuple, list)):
                raise TypeError(f"{desc}: hx must be a Tensor h0, got a {type(hx).__name__}")
            parts, whats = [hx], ["h0"]
        out = []
        for s, what in zip(parts, whats):
            expected = (LD, H) if unbatched else (LD, B, H)
            s = self._check_state(s, what, expected, dt)
            if unbatched:
                s = unsqueeze(s, 1)
            out.append(s)
        return out

    def _run_layer(
        self, x: Tensor, init_states: list, params: list, reverse: bool, lengths: Any
    ) -> tuple:
        raise NotImplementedError

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(_RNNBase):
    """Elman RNN: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` (or relu).

    Example::

        >>> import retrograd as rg
        >>> rnn = rg.nn.RNN(3, 5, num_layers=2, bidirectional=True)
        >>> out, h_n = rnn(rg.randn(7, 4, 3))
        >>> out.shape, h_n.shape
        ((7, 4, 10), (4, 4, 5))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        object.__setattr__(self, "mode", "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU")
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype
        )
        self.nonlinearity = nonlinearity

    def _run_layer(self, x, init_states, params, reverse, lengths):
        return rnn_layer(
            x,
            init_states[0],
            *params,
            nonlinearity=self.nonlinearity,
            reverse=reverse,
            lengths=lengths,
        )

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(_RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), PyTorch's gates i, f, g, o.

    ``forward(input, (h0, c0)=None, lengths=None)`` returns ``(output, (h_n, c_n))``.

    Example::

        >>> import retrograd as rg
        >>> lstm = rg.nn.LSTM(3, 5, batch_first=True)
        >>> out, (h_n, c_n) = lstm(rg.randn(4, 7, 3))
        >>> out.shape, h_n.shape, c_n.shape
        ((4, 7, 5), (1, 4, 5), (1, 4, 5))
    """

    mode = "LSTM"

    def _run_layer(self, x, init_states, params, reverse, lengths):
        return lstm_layer(
            x, init_states[0], init_states[1], *params, reverse=reverse, lengths=lengths
        )


class GRU(_RNNBase):
    """Gated recurrent unit (Cho et al. 2014), PyTorch's gates r, z, n.

    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    Example::

        >>> import retrograd as rg
        >>> gru = rg.nn.GRU(3, 5)
        >>> out, h_n = gru(rg.randn(7, 4, 3), lengths=[7, 3, 5, 1])
        >>> out.shape, float(abs(out.data[3:, 3]).max())
        ((7, 4, 5), 0.0)
    """

    mode = "GRU"

    def _run_layer(self, x, init_states, params, reverse, lengths):
        return gru_layer(x, init_states[0], *params, reverse=reverse, lengths=lengths)


# ----------------------------------------------------------------------------- cells


class _CellBase(Module):
    gates = 1

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = _check_size(name, "input_size", input_size)
        self.hidden_size = _check_size(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        dt = resolve_dtype(dtype)
        gh = self.gates * self.hidden_size
        self.weight_ih = Parameter(xp.empty((gh, self.input_size), dtype=dt))
        self.weight_hh = Parameter(xp.empty((gh, self.hidden_size), dtype=dt))
        if self.bias:
            self.bias_ih = Parameter(xp.empty((gh,), dtype=dt))
            self.bias_hh = Parameter(xp.empty((gh,), dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _describe(self) -> str:
        return (
            f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size})"
        )

    def _params(self) -> list:
        ps = [self.weight_ih, self.weight_hh]
        return ps + [self.bias_ih, self.bias_hh] if self.bias else ps

    def _prepare(self, input: Any, states: list) -> tuple:  # noqa: A002
        """Validate; return x as (1, B, I), states as (B, H) tensors, and unbatched."""
        dt = self.weight_hh.dtype
        desc = self._describe()
        x = _as_input(input, dt, desc)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{desc}: input has shape {x.shape}, expected (batch, {self.input_size}) or "
                f"unbatched ({self.input_size},)"
            )
        unbatched = x.ndim == 1
        B = 1 if unbatched else x.shape[0]
        expected = (self.hidden_size,) if unbatched else (B, self.hidden_size)
        out = []
        for s, what in states:
            if s is None:
                out.append(Tensor._wrap(xp.zeros((B, self.hidden_size), dtype=dt), False, None))
                continue
            s = _as_input(s, dt, desc, what)
            if s.shape != expected:
                raise ValueError(f"{desc}: {what} has shape {s.shape}, expected {expected}")
            out.append(unsqueeze(s, 0) if unbatched else s)
        x = unsqueeze(x, 0) if unbatched else x
        return unsqueeze(x, 0), out, unbatched

    @staticmethod
    def _finish(t: Tensor, unbatched: bool) -> Tensor:
        return getitem(t, 0) if unbatched else t

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """One step of an Elman RNN: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or relu).

    Example::

        >>> import retrograd as rg
        >>> cell = rg.nn.RNNCell(3, 5)
        >>> h = cell(rg.randn(4, 3))
        >>> cell(rg.randn(4, 3), h).shape
        (4, 5)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        super().__init__(input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Tensor:  # noqa: A002
        x, (h,), unbatched = self._prepare(input, [(hx, "hx")])
        _, h1 = rnn_layer(x, h, *self._params(), nonlinearity=self.nonlinearity)
        return self._finish(h1, unbatched)


class LSTMCell(_CellBase):
    """One LSTM step; ``forward(input, (h, c)=None)`` returns ``(h', c')``.

    Example::

        >>> import retrograd as rg
        >>> cell = rg.nn.LSTMCell(3, 5)
        >>> h, c = cell(rg.randn(4, 3))
        >>> h, c = cell(rg.randn(4, 3), (h, c))
        >>> h.shape, c.shape
        ((4, 5), (4, 5))
    """

    gates = 4

    def forward(self, input: Any, hx: Any = None) -> tuple:  # noqa: A002
        if hx is None:
            hx = (None, None)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"{self._describe()}: hx must be a tuple (h, c), got {type(hx)}")
        x, (h, c), unbatched = self._prepare(input, [(hx[0], "h"), (hx[1], "c")])
        _, h1, c1 = lstm_layer(x, h, c, *self._params())
        return self._finish(h1, unbatched), self._finish(c1, unbatched)


class GRUCell(_CellBase):
    """One GRU step (PyTorch's gates r, z, n and reset-gate placement).

    Example::

        >>> import retrograd as rg
        >>> cell = rg.nn.GRUCell(3, 5)
        >>> cell(rg.randn(3)).shape
        (5,)
    """

    gates = 3

    def forward(self, input: Any, hx: Any = None) -> Tensor:  # noqa: A002
        x, (h,), unbatched = self._prepare(input, [(hx, "hx")])
        _, h1 = gru_layer(x, h, *self._params())
        return self._finish(h1, unbatched)


__all__ = [
    "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "detach_state", "SequenceClassifier",
]  # fmt: skip


class SequenceClassifier(Module):
    """An LSTM reads each row as ``seq_len`` steps of ``input_size`` values; a linear
    layer maps its last hidden output to ``out_features`` scores.

    Example::

        >>> import retrograd as rg
        >>> SequenceClassifier(8, 8, 16, 10)(rg.randn(4, 64)).shape
        (4, 10)
    """

    def __init__(self, seq_len: int, input_size: int, hidden_size: int, out_features: int):
        super().__init__()
        self.seq_len, self.input_size = int(seq_len), int(input_size)
        self.hidden_size, self.out_features = int(hidden_size), int(out_features)
        self.lstm = LSTM(self.input_size, self.hidden_size, batch_first=True)
        self.head = Linear(self.hidden_size, self.out_features)

    def get_config(self) -> dict:
        return {
            "seq_len": self.seq_len, "input_size": self.input_size,
            "hidden_size": self.hidden_size, "out_features": self.out_features,
        }  # fmt: skip

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        want = self.seq_len * self.input_size
        if x.ndim != 2 or x.shape[1] != want:
            raise ValueError(
                f"SequenceClassifier: input has shape {x.shape}, expected (batch, {want}) "
                f"= {self.seq_len} steps of {self.input_size}"
            )
        out, _ = self.lstm(x.reshape(x.shape[0], self.seq_len, self.input_size))
        return self.head(out[:, -1])
