"""No pickle anywhere: models and checkpoints must never execute code when loaded."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Each pattern is assembled from pieces so this file does not match itself by accident.
_P = "pick" + "le"
PATTERNS = [
    re.compile(rf"^\s*import\s+(c?{_P}|dill|cloudpickle|joblib|shelve|marshal)\b", re.M),
    re.compile(rf"^\s*from\s+(c?{_P}|dill|cloudpickle|joblib|shelve|marshal)\b\s+import", re.M),
    re.compile(r"\bc" + "Pickle\\b"),
    re.compile(rf"\b{_P}\.(loads?|dumps?|Unpickler|Pickler)\b"),
    re.compile(rf"__import__\(\s*['\"]{_P}"),
    re.compile(r"allow_" + _P + r"\s*=\s*True"),
    re.compile(r"\btorch\.load\((?![^)]*weights_only\s*=\s*True)"),
    re.compile(r"\.__reduce(_ex)?__\s*\("),
]


def _python_files():
    for folder in ("src", "tests", "examples", "benchmarks"):
        base = ROOT / folder
        if base.is_dir():
            for path in sorted(base.rglob("*.py")):
                if path.resolve() != Path(__file__).resolve():
                    yield path


def test_no_pickle_in_the_code_base():
    offenders = []
    for path in _python_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for pattern in PATTERNS:
            for m in pattern.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0).strip()}")
    assert not offenders, "pickle-like serialisation found:\n" + "\n".join(offenders)


def test_the_patterns_catch_what_they_should():
    bad = [
        "import " + _P,
        "import c" + _P + " as p",
        "from " + _P + " import loads",
        "x = " + _P + ".loads(b)",
        "np.load(f, allow_" + _P + "=True)",
        "torch.load(path)",
        "import dill",
    ]
    good = ["np.load(f)", "torch.load(path, weights_only=True)", "# no " + _P + " anywhere"]
    for text in bad:
        assert any(p.search(text) for p in PATTERNS), text
    for text in good:
        assert not any(p.search(text) for p in PATTERNS), text
