"""Which primitives have a float64 gradcheck test: the registry the meta-test reads.

Every ``Function`` subclass in the retrograd package must be checked by ``rg.gradcheck``
in float64 somewhere in the test-suite. A test file says which primitives it checks in
one of two ways (use the class name, as in ``retrograd.autograd.function.PRIMITIVES``)::

    from gradcheck_registry import covers

    @covers("Conv2d", "MaxPool2d")
    def test_conv_gradcheck():
        assert rg.gradcheck(lambda x, w: rg.ops.conv2d(x, w), [x, w])

or, for a table of cases, at module level: ``GRADCHECKED.update({"Conv2d", ...})``.

The meta-test (tests/ops/test_primitive_coverage.py) imports every tests/**/test_*.py
module and fails when a registered primitive of the package is in neither.

Second order, the same way: a test that runs ``rg.gradgradcheck`` (float64) through a
primitive declares it with ``@covers_second_order("Conv2d")``, or adds names to
``GRADGRADCHECKED`` (module level in a test file, or this shared set). A primitive that
cannot be differentiated twice declares ``second_order = False`` and a
``second_order_reason`` on its class instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

#: Names of the primitives that some test checks with ``rg.gradcheck`` in float64.
GRADCHECKED: set[str] = set()

#: Names of the primitives that some test checks with ``rg.gradgradcheck`` in float64.
GRADGRADCHECKED: set[str] = set()

F = TypeVar("F", bound=Callable)


def covers(*names: str) -> Callable[[F], F]:
    """Decorator recording that the decorated test gradchecks the primitives ``names``."""
    for n in names:
        if not isinstance(n, str) or not n:
            raise TypeError(f"covers: primitive names must be non-empty strings, got {n!r}")
    GRADCHECKED.update(names)

    def mark(fn: F) -> F:
        return fn

    return mark


def covers_second_order(*names: str) -> Callable[[F], F]:
    """Decorator recording that the decorated test gradgradchecks the primitives ``names``."""
    for n in names:
        if not isinstance(n, str) or not n:
            raise TypeError(
                f"covers_second_order: primitive names must be non-empty strings, got {n!r}"
            )
    GRADGRADCHECKED.update(names)

    def mark(fn: F) -> F:
        return fn

    return mark
