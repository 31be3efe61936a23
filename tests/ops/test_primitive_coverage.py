"""META-TEST: every primitive of retrograd has a float64 gradcheck test and says whether
a recorded call of it can be replayed.

How it works (follow this when you add a primitive, i.e. a ``Function`` subclass):

1. It imports every module of the ``retrograd`` package, so that every ``Function``
   subclass registers itself in ``retrograd.autograd.function.PRIMITIVES`` (keyed by class
   name). Classes defined outside the package (in tests, say) are ignored, as are
   subclasses that set ``differentiable = False``.
2. It imports every ``tests/**/test_*.py`` module and collects the primitive names they
   declare as gradchecked, in either of two ways:

   - ``from gradcheck_registry import covers`` and decorate the test that runs
     ``rg.gradcheck`` on float64 inputs: ``@covers("Conv2d", "MaxPool2d")``; or add names
     to the shared set: ``gradcheck_registry.GRADCHECKED.update({...})`` (the op table in
     tests/ops/test_op_cases.py does this);
   - or give the test module a module-level set ``GRADCHECKED = {"Conv2d", ...}``.

3. It fails, naming them, when a registered primitive is declared by no test.

Declaring a name is a promise that a float64 ``rg.gradcheck`` of that primitive runs in
the declaring module; keep it honest (e.g. assert the primitive appears in the graph).

Replayability: every ``Function`` subclass of the package (differentiable or not) sets,
in its own class body, ``replay = "pure"``, ``"checked"`` (with a static method
``replay_check(arrays, params) -> bool``) or ``"never"``; the compiled training step
(``train.compile_step``) reads it. What each value promises is in the docstring of
``retrograd/autograd/recording.py``; ``tests/train/test_compiled.py`` is where replays are
compared with eager steps bit for bit.

Second order (``create_graph=True``): every such primitive also either

- has a second-order rule on its class, ``backward_graph(self, g, out)`` or
  ``composite(self, *tensors)`` (see retrograd/autograd/engine.py), checked by a test
  that runs ``rg.gradgradcheck`` through it in float64 and declares it with
  ``@covers_second_order("Name")`` from tests/gradcheck_registry.py (or adds it to
  ``GRADGRADCHECKED``, the registry's set or a module-level set in the test file); or
- is declared first-order-only on its class: ``second_order = False`` plus a non-empty
  ``second_order_reason = "..."`` (``create_graph`` through it then raises
  ``SecondOrderError`` naming it).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path

import pytest

import gradcheck_registry
import retrograd
from retrograd.autograd.function import PRIMITIVES, Function
from retrograd.autograd.recording import HOW_TO_DECLARE, REPLAY_KINDS

TESTS_ROOT = Path(__file__).resolve().parents[1]


def import_package_modules() -> list:
    """Import every module of retrograd; return (name, error) for those that failed."""
    failed = []
    for info in pkgutil.walk_packages(retrograd.__path__, "retrograd."):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue  # importing it would run the command line
        try:
            importlib.import_module(info.name)
        except ModuleNotFoundError as e:
            # An optional third-party dependency (mpi4py, ...) is not installed: its
            # module cannot define primitives we could test here anyway.
            if e.name and e.name.split(".")[0] == "retrograd":
                failed.append((info.name, repr(e)))
        except Exception as e:  # noqa: BLE001 - reported below, with the module's name
            failed.append((info.name, repr(e)))
    return failed


def import_test_modules(kind: str = "GRADCHECKED") -> tuple:
    """Import every tests/**/test_*.py; return (declared names, failed imports).

    ``kind`` is the registry set read: ``GRADCHECKED`` (first order) or ``GRADGRADCHECKED``.
    """
    loaded = {}
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if f:
            loaded[str(Path(f).resolve())] = mod
    declared, failed = set(), []
    for path in sorted(TESTS_ROOT.rglob("test_*.py")):
        resolved = str(path.resolve())
        mod = loaded.get(resolved)
        if mod is None:
            rel = path.relative_to(TESTS_ROOT).with_suffix("")
            name = "_gradcheck_coverage." + ".".join(rel.parts)
            # Test modules import helpers from their own folder (pytest's default
            # "prepend" import mode puts it on sys.path); do the same while importing.
            sys.path.insert(0, str(path.parent))
            try:
                spec = importlib.util.spec_from_file_location(name, path)
                mod = importlib.util.module_from_spec(spec)
                sys.modules[name] = mod
                spec.loader.exec_module(mod)
            except pytest.skip.Exception:
                sys.modules.pop(name, None)
                continue
            except Exception as e:  # noqa: BLE001 - reported with the file's name
                sys.modules.pop(name, None)
                failed.append((str(path.relative_to(TESTS_ROOT)), repr(e)))
                continue
            finally:
                sys.path.remove(str(path.parent))
        names = getattr(mod, kind, None)
        if isinstance(names, (set, frozenset, list, tuple)):
            declared.update(names)
    declared.update(getattr(gradcheck_registry, kind))
    return declared, failed


def required_primitives() -> dict:
    """The registered primitives of the retrograd package that need a gradcheck case."""
    return {
        name: cls
        for name, cls in PRIMITIVES.items()
        if (cls.__module__ == "retrograd" or cls.__module__.startswith("retrograd."))
        and getattr(cls, "differentiable", True)
    }


def undeclared_replay() -> list:
    """Primitives of the package whose own class body does not declare ``replay``."""
    return sorted(
        name
        for name, cls in PRIMITIVES.items()
        if (cls.__module__ == "retrograd" or cls.__module__.startswith("retrograd."))
        and cls.__dict__.get("replay") not in REPLAY_KINDS
    )


def uncovered(declared: set) -> list:
    return sorted(set(required_primitives()) - declared)


def test_every_primitive_has_a_float64_gradcheck_case():
    pkg_failed = import_package_modules()
    declared, test_failed = import_test_modules()
    missing = uncovered(declared)
    required = required_primitives()
    notes = ""
    if pkg_failed or test_failed:
        notes = "\nModules that failed to import (their primitives/cases may be unseen): " + (
            "; ".join(f"{n}: {e}" for n, e in pkg_failed + test_failed)
        )
    assert not missing, (
        "primitives without a float64 gradcheck case: "
        + ", ".join(f"{n} ({required[n].__module__})" for n in missing)
        + ". Add a test calling rg.gradcheck on it and declare it with "
        "@covers(...) from tests/gradcheck_registry.py (see this file's docstring)." + notes
    )
    assert not pkg_failed, f"retrograd modules failed to import: {pkg_failed}"


def test_meta_test_catches_an_uncovered_primitive():
    # A throwaway primitive that claims to live in the package: the check must flag it.
    probe = type(
        "ProbeWithoutCase",
        (Function,),
        {"__module__": "retrograd._coverage_probe", "forward": lambda self, a: a},
    )
    try:
        assert "ProbeWithoutCase" in uncovered(set(gradcheck_registry.GRADCHECKED))
        assert "ProbeWithoutCase" not in uncovered({"ProbeWithoutCase"})
    finally:
        PRIMITIVES.pop("ProbeWithoutCase", None)
    assert probe.__name__ not in PRIMITIVES


def test_meta_test_ignores_classes_defined_outside_the_package():
    class Exp(Function):  # same name as the library's Exp, defined in a test module
        def forward(self, a):
            return a

    try:
        assert PRIMITIVES["Exp"].__module__ == "retrograd.ops.elementwise"
        assert "Exp" not in {n for n, c in required_primitives().items() if c is Exp}
        assert all(c is not Exp for c in required_primitives().values())
    finally:
        PRIMITIVES.pop(f"{Exp.__module__}.{Exp.__qualname__}", None)


def test_non_differentiable_primitives_are_exempt():
    probe = type(
        "ProbeNoGrad",
        (Function,),
        {"__module__": "retrograd._coverage_probe", "differentiable": False},
    )
    try:
        assert "ProbeNoGrad" not in uncovered(set())
    finally:
        PRIMITIVES.pop(probe.__name__, None)


def test_every_primitive_declares_whether_it_can_be_replayed():
    pkg_failed = import_package_modules()
    missing = undeclared_replay()
    assert not missing, (
        "primitives that do not say whether a recorded call can be replayed: "
        + ", ".join(f"{n} ({PRIMITIVES[n].__module__})" for n in missing)
        + f". For each, {HOW_TO_DECLARE}."
    )
    assert not pkg_failed, f"retrograd modules failed to import: {pkg_failed}"


def test_replay_meta_test_catches_an_undeclared_primitive():
    probe = type(
        "ProbeNoReplay",
        (Function,),
        {"__module__": "retrograd._coverage_probe", "forward": lambda self, a: a},
    )
    # A subclass of a declared primitive must still declare its own (its forward may differ).
    child = type("ProbeChild", (PRIMITIVES["Exp"],), {"__module__": "retrograd._coverage_probe"})
    try:
        assert {"ProbeNoReplay", "ProbeChild"} <= set(undeclared_replay())
    finally:
        PRIMITIVES.pop(probe.__name__, None)
        PRIMITIVES.pop(child.__name__, None)


@pytest.mark.parametrize(
    "body, message",
    [
        ({"replay": "sometimes"}, "expected one of 'pure', 'checked', 'never'"),
        ({"replay": "checked"}, "defines no replay_check"),
        ({"replay": "pure", "replay_check": staticmethod(lambda a, p: True)}, "declare replay"),
    ],
)
def test_a_wrong_replay_declaration_fails_when_the_class_is_made(body, message):
    with pytest.raises(TypeError, match=message):
        type("ProbeBadReplay", (Function,), {"__module__": "retrograd._coverage_probe", **body})
    PRIMITIVES.pop("ProbeBadReplay", None)


# ---------------------------------------------------------------------- second order

HOW_TO_DECLARE_SECOND_ORDER = (
    "Each must either (a) have a second-order rule on its class -- `backward_graph(self, g, "
    "out)`, its VJP written with differentiable ops on Tensors, or `composite(self, "
    "*tensors)`, its forward rebuilt from other primitives (retrograd/autograd/engine.py "
    "explains both) -- and a float64 `rg.gradgradcheck` through it in a test declared with "
    '`@covers_second_order("Name")` from tests/gradcheck_registry.py (or the name added '
    "to GRADGRADCHECKED); or (b) be declared first-order-only on the class with "
    '`second_order = False` and `second_order_reason = "why"` (create_graph=True through '
    "it then raises SecondOrderError naming it)."
)


def second_order_problems(declared: set) -> tuple:
    """(undeclared primitives, first-order-only declarations without a reason)."""
    missing, no_reason = [], []
    for name, cls in sorted(required_primitives().items()):
        if getattr(cls, "second_order", True) is False:
            reason = getattr(cls, "second_order_reason", "")
            if not isinstance(reason, str) or not reason.strip():
                no_reason.append(name)
        elif name not in declared:
            missing.append(name)
    return missing, no_reason


def test_every_primitive_is_second_order_checked_or_declared_first_order_only():
    import_package_modules()
    declared, _ = import_test_modules("GRADGRADCHECKED")
    missing, no_reason = second_order_problems(declared)
    required = required_primitives()
    assert not missing, (
        "primitives with neither a float64 second-order check nor a first-order-only "
        "declaration: "
        + ", ".join(f"{n} ({required[n].__module__})" for n in missing)
        + ". "
        + HOW_TO_DECLARE_SECOND_ORDER
    )
    assert not no_reason, (
        f"primitives declared second_order = False without a second_order_reason: {no_reason}"
        ". " + HOW_TO_DECLARE_SECOND_ORDER
    )


def test_second_order_meta_test_catches_an_undeclared_primitive():
    probe = type(
        "ProbeNoSecondOrder",
        (Function,),
        {"__module__": "retrograd._coverage_probe", "forward": lambda self, a: a},
    )
    quiet = type(
        "ProbeFirstOrderOnly",
        (Function,),
        {"__module__": "retrograd._coverage_probe", "second_order": False},
    )
    told = type(
        "ProbeFirstOrderWithReason",
        (Function,),
        {
            "__module__": "retrograd._coverage_probe",
            "second_order": False,
            "second_order_reason": "a probe",
        },
    )
    try:
        missing, no_reason = second_order_problems(set())
        assert "ProbeNoSecondOrder" in missing
        assert "ProbeFirstOrderOnly" in no_reason
        assert "ProbeFirstOrderWithReason" not in missing + no_reason
        missing, _ = second_order_problems({"ProbeNoSecondOrder"})
        assert "ProbeNoSecondOrder" not in missing
    finally:
        for cls in (probe, quiet, told):
            PRIMITIVES.pop(cls.__name__, None)


def test_first_order_only_primitives_are_listed_with_their_reasons():
    # What a tool (or the docs) can print: every declared first-order-only primitive.
    import_package_modules()
    listed = {
        n: c.second_order_reason
        for n, c in required_primitives().items()
        if getattr(c, "second_order", True) is False
    }
    assert "FixedPointSolve" in listed and "adjoint" in listed["FixedPointSolve"]
