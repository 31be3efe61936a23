"""Generate the name tables of docs/conformance.md from the code (run it to refresh them).

    python tests/conformance_page.py

For each public name of ``torch.Tensor``, the ``torch`` namespace,
``torch.nn.functional``, ``torch.nn``'s layers, ``torch.linalg``, ``torch.optim`` and
``torch.optim.lr_scheduler``, the page says whether retrograd has it (``rg.Tensor``,
``rg``, ``rg.nn.functional``, ``rg.nn``, ``rg.linalg``, ``rg.optim``,
``rg.optim.lr_scheduler``). The torch names come from torch
itself when it is installed (and are then saved to ``tests/conformance_torch_names.json``),
else from that saved list.
``tests/test_conformance_page.py`` regenerates the tables and fails when the page differs.
"""

from __future__ import annotations

import inspect
import json
import sys
import textwrap
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "conformance.md"
NAMES = ROOT / "tests" / "conformance_torch_names.json"
BEGIN = "<!-- BEGIN GENERATED: python tests/conformance_page.py -->"
END = "<!-- END GENERATED -->"

# Where torch's public functions live (so typing helpers and re-exported modules drop out).
_TORCH_MODULES = {"torch", "torch.functional", "torch.random"}
_F_MODULES = {"torch.nn.functional", "torch", "torch._C._nn", "torch._C"}


def _public_functions(mod: object, modules: set) -> list:
    out = []
    for n in dir(mod):
        if n.startswith("_"):
            continue
        o = getattr(mod, n, None)
        if not callable(o) or inspect.isclass(o) or isinstance(o, types.ModuleType):
            continue
        if getattr(o, "__module__", None) in modules:
            out.append(n)
    return sorted(out)


def torch_names() -> dict:
    """The torch names to check, from torch when installed, else from the saved list."""
    try:
        import torch
    except ImportError:
        return json.loads(NAMES.read_text())
    nn = torch.nn
    return {
        "torch_version": torch.__version__.split("+")[0],
        "tensor": sorted(n for n in dir(torch.Tensor) if not n.startswith("_")),
        "torch": _public_functions(torch, _TORCH_MODULES),
        "functional": _public_functions(nn.functional, _F_MODULES),
        "modules": sorted(
            n
            for n in dir(nn)
            if not n.startswith("_")
            and inspect.isclass(getattr(nn, n))
            and issubclass(getattr(nn, n), nn.Module)
            and getattr(nn, n).__module__.startswith("torch.nn.modules")
        ),
        "linalg": _public_functions(torch.linalg, {"torch.linalg", "torch._C._linalg"}),
        "optim": sorted(
            n
            for n in dir(torch.optim)
            if inspect.isclass(getattr(torch.optim, n))
            and issubclass(getattr(torch.optim, n), torch.optim.Optimizer)
            and n != "Optimizer"
        ),
        "lr_scheduler": sorted(
            n
            for n in dir(torch.optim.lr_scheduler)
            if not n.startswith("_")
            and inspect.isclass(getattr(torch.optim.lr_scheduler, n))
            and getattr(torch.optim.lr_scheduler, n).__module__ == "torch.optim.lr_scheduler"
            and n not in ("LRScheduler", "Optimizer", "Tensor")
        ),
    }


def _names_block(names: list) -> str:
    if not names:
        return "(none)\n"
    text = ", ".join(f"`{n}`" for n in names)
    return "\n".join(textwrap.wrap(text, 92, break_on_hyphens=False)) + "\n"


def tables(names: dict) -> str:
    """The generated part of the page."""
    import retrograd as rg
    import retrograd.nn.functional as F

    sections = [
        ("Tensor methods and attributes", "tensor", rg.Tensor, "rg.Tensor"),
        ("torch functions", "torch", rg, "rg"),
        ("torch.nn.functional", "functional", F, "rg.nn.functional"),
        ("torch.nn layers and losses", "modules", rg.nn, "rg.nn"),
        ("torch.linalg", "linalg", rg.linalg, "rg.linalg"),
        ("torch.optim optimizers", "optim", rg.optim, "rg.optim"),
        ("torch.optim.lr_scheduler", "lr_scheduler", rg.optim.lr_scheduler,
         "rg.optim.lr_scheduler"),
    ]  # fmt: skip
    out = [
        BEGIN,
        "",
        f"Checked against torch {names['torch_version']}: a name is available when "
        "retrograd defines it in the place named (`hasattr`). Regenerate with "
        "`python tests/conformance_page.py`.",
        "",
    ]
    for title, key, where, label in sections:
        if key not in names:
            continue  # a saved list from before the section existed
        have = [n for n in names[key] if hasattr(where, n)]
        missing = [n for n in names[key] if not hasattr(where, n)]
        out += [
            f"### {title}: {len(have)} of {len(names[key])} in `{label}`",
            "",
            "Available:",
            "",
            _names_block(have),
            "Not available:",
            "",
            _names_block(missing),
        ]
    out.append(END)
    return "\n".join(out) + "\n"


def render(page: str, names: dict) -> str:
    """``page`` with its generated part replaced (appended when it has none)."""
    block = tables(names)
    if BEGIN in page and END in page:
        head, rest = page.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        return head + block.rstrip("\n") + tail
    return page.rstrip("\n") + "\n\n## Which torch names exist\n\n" + block


def main() -> int:
    names = torch_names()
    NAMES.write_text(json.dumps(names, indent=1) + "\n")
    PAGE.write_text(render(PAGE.read_text(), names))
    print(f"wrote {PAGE.relative_to(ROOT)} and {NAMES.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    raise SystemExit(main())
