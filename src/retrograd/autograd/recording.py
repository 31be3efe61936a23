"""Recording: the primitive calls a computation makes, kept to be run again on new arrays.

``train.compile_step`` records one eager training step with :class:`record` and writes
the calls out as straight-line code (each primitive's ``forward``, then its ``backward`` in
the engine's order, then the engine's hand-over of the gradients), which it runs on later
batches of the same shapes. Whether a recorded call may run again on other arrays is a
property of its primitive: every :class:`~retrograd.autograd.Function` subclass declares
it in the class attribute ``replay``, one of :data:`REPLAY_KINDS`:

``"pure"``
    ``forward(*arrays, **params)`` is the whole call: it reads nothing but its arrays,
    its keyword arguments and the global random generator, keeps on ``self`` what its
    ``backward`` reads, and its caller chose the keywords without looking at the values
    of the arrays. Run again with the same keywords on arrays of the same shapes and
    dtypes it computes what the eager call would (Add, MatMul, Softmax, Dropout).
``"checked"``
    The caller chose a keyword from the *values* of the arrays (cross-entropy passes
    ``checked=True`` once it has verified that the labels are valid class indices). The
    class also defines ``replay_check(arrays, params) -> bool`` (a static method); a
    replay runs the call only where it returns True for the new arrays, and otherwise the
    step runs eagerly (where the caller makes its choice again, or raises).
``"never"``
    The call cannot be run again on other arrays: its keywords hold numbers computed from
    the batch (BatchNorm's mean and variance), or its forward runs other ops itself
    (FixedPointSolve). A step containing it always runs eagerly.

The test-suite's primitive meta-test (tests/ops/test_primitive_coverage.py) fails for a
primitive of the package that declares none of these. A class defined outside the
package that declares nothing is treated as ``"never"``.

Example::

    >>> import retrograd as rg
    >>> x = rg.tensor([1.0, 2.0], requires_grad=True)
    >>> with rg.autograd.record() as calls:
    ...     y = (x * x).sum()
    >>> [(type(c.fn).__name__, type(c.fn).replay) for c in calls]
    [('Mul', 'pure'), ('Sum', 'pure')]
    >>> calls[1].inputs[0] is calls[0].output
    True
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .mode import MODE

#: What a primitive may declare as its ``replay`` (see the module docstring).
REPLAY_KINDS = ("pure", "checked", "never")

HOW_TO_DECLARE = (
    'declare it on the class: replay = "pure" (forward reads only its arrays, keywords and '
    'the global generator), replay = "checked" plus a static method replay_check(arrays, '
    'params) -> bool (a keyword was chosen from array values), or replay = "never"; '
    "see retrograd.autograd.recording"
)


class Record(NamedTuple):
    """One primitive call seen by :class:`record`."""

    #: The Function object that ran (it holds what ``forward`` saved for ``backward``).
    fn: Any
    #: The Tensors passed positionally, in order.
    inputs: tuple
    #: The keyword arguments, as passed to ``forward``.
    params: dict
    #: The Tensor returned.
    output: Any


class record:
    """Context manager that collects every primitive call made inside it, in order.

    ``with record() as calls:`` binds a list that receives one :class:`Record` per
    ``Function.apply``, whether or not gradients are being recorded. Recordings do not
    nest. The calls keep their Function objects, and with them the arrays saved for
    backward, for as long as the list lives.
    """

    def __init__(self) -> None:
        self.calls: list[Record] = []

    def __enter__(self) -> list[Record]:
        if MODE.tape is not None:
            raise RuntimeError("record: a recording is already running (recordings do not nest)")
        MODE.set_tape(self.calls)
        return self.calls

    def __exit__(self, *exc: Any) -> bool:
        MODE.set_tape(None)
        return False


def is_recording() -> bool:
    """True inside a :class:`record` block."""
    return MODE.tape is not None


def check_declaration(cls: type) -> None:
    """Raise TypeError when ``cls`` declares ``replay`` / ``replay_check`` inconsistently."""
    own = cls.__dict__
    if "replay" in own and own["replay"] not in REPLAY_KINDS:
        raise TypeError(
            f"{cls.__name__}.replay is {own['replay']!r}, expected one of "
            f"{', '.join(map(repr, REPLAY_KINDS))}"
        )
    kind = getattr(cls, "replay", None)
    check = getattr(cls, "replay_check", None)
    if kind == "checked" and not callable(check):
        raise TypeError(
            f'{cls.__name__} declares replay = "checked" but defines no replay_check(arrays, '
            "params) -> bool (a static method)"
        )
    if check is not None and kind != "checked":
        raise TypeError(
            f"{cls.__name__} defines replay_check but declares replay = {kind!r}: declare "
            'replay = "checked" (the check only runs for such primitives)'
        )


def replay_refusal(fn: Any) -> str | None:
    """Why a recorded call of ``fn`` can never be replayed, or None when it may be."""
    cls = type(fn)
    kind = getattr(cls, "replay", None)
    if kind == "pure" or kind == "checked":
        return None
    if kind == "never":
        return f"{cls.__name__} cannot be replayed (it declares replay = 'never')"
    return f"{cls.__name__} does not say whether it can be replayed: {HOW_TO_DECLARE}"


__all__ = ["REPLAY_KINDS", "Record", "record", "is_recording", "replay_refusal"]
