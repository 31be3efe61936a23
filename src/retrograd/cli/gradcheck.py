"""``retrograd gradcheck``: compare backprop's gradients with finite differences."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import Formatter, add_debug, add_model_data_args

EPILOG = """\
examples:
  retrograd gradcheck digits.safetensors --data digits
  retrograd gradcheck lstm.safetensors --data digits --samples 2 --max-elements 32
  retrograd gradcheck iris.safetensors --data iris.csv --target species --rtol 1e-4

Each parameter element checked is perturbed by +-eps in a float64 copy of the model (in
eval mode, on the first --samples rows, standardized as in training); the central
difference of the loss is compared with the gradient backprop computes. An element passes
when |analytic - numeric| <= atol + rtol * |numeric|. The exit status is 3 if any fails
(1 is a run-time error).
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "gradcheck",
        help="check every parameter's gradient against finite differences (float64)",
        description=(
            "Check backpropagation's gradient of the loss for every parameter of a saved "
            "model against central finite differences, in float64, and print the worst "
            "relative error per layer."
        ),
        epilog=EPILOG,
        formatter_class=Formatter,
    )
    add_model_data_args(p)
    p.add_argument(
        "--samples", type=int, default=4, metavar="N", help="rows of data to use (default 4)"
    )
    p.add_argument(
        "--max-elements",
        type=int,
        default=64,
        metavar="K",
        help="elements checked per parameter, drawn at random (default 64; 0: all)",
    )
    p.add_argument("--eps", type=float, default=1e-6, help="finite-difference step (1e-6)")
    p.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (1e-5)")
    p.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance (1e-3)")
    p.add_argument("--seed", type=int, default=0, help="seed for the elements drawn (0)")
    add_debug(p)
    p.set_defaults(func=run)


def check_parameters(
    model: Any,
    loss_fn: Any,
    x: Any,
    y: Any,
    eps: float,
    atol: float,
    rtol: float,
    max_elements: int | None,
    seed: int,
) -> list:
    """Per parameter: (name, elements checked, worst relative error, worst abs error, ok)."""
    import copy

    import numpy as np

    from ..autograd.tensor import Tensor
    from ..nn import FixedPoint
    from ..nn.gradcheck import parameter_gradients

    m = copy.deepcopy(model).double()
    m.eval()
    for sub in m.modules():
        if isinstance(sub, FixedPoint):
            # Finite differences through a relaxation need it solved far below eps.
            sub.tol = sub.backward_tol = 1e-13
            sub.max_iter = sub.backward_max_iter = max(sub.max_iter, 5000)
    xt = Tensor(np.asarray(x, np.float64))
    yt = Tensor(y if np.asarray(y).dtype.kind in "iu" else np.asarray(y, np.float64))

    def loss() -> Any:
        return loss_fn(m(xt), yt)

    results = []
    for name, _p, idx, ana, num in parameter_gradients(m, loss, eps, max_elements, seed):
        err = np.abs(ana - num)
        rel = err / np.maximum(np.maximum(np.abs(ana), np.abs(num)), atol)
        ok = bool(np.all(err <= atol + rtol * np.abs(num)) and np.isfinite(num).all())
        results.append((name, int(idx.size), float(rel.max()), float(err.max()), ok))
    return results


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from . import _common as C
    from ._common import UsageError
    from .train import CLASS_LOSSES, make_loss

    if args.samples < 1:
        raise UsageError("--samples must be >= 1")
    import math

    for flag, v, positive in (("eps", args.eps, True), ("atol", args.atol, False),
                              ("rtol", args.rtol, False)):  # fmt: skip
        if not math.isfinite(v) or v < 0 or (positive and v == 0):
            raise UsageError(
                f"--{flag}: expected a finite number {'> 0' if positive else '>= 0'}, got {v}"
            )
    if args.max_elements < 0:
        raise UsageError("--max-elements must be >= 0")
    model, meta = C.load_model(args.model)
    task = meta.get("task", "classify")
    d = C.load_data(args.data, args.target, default_part="test", meta=meta)
    if d.y is None:
        raise ValueError(f"{d.name}: no targets; the check needs a loss")
    n = min(args.samples, d.n)
    X = C.prepare_inputs(d, meta)[:n]
    loss_name = meta.get("loss", "cross_entropy" if task == "classify" else "mse")
    if task == "classify":
        classes = list(meta.get("classes") or [])
        y = C.encode_classes(d, classes)[:n] if classes else np.asarray(d.y)[:n]
        if loss_name not in CLASS_LOSSES:  # mse on one-hot rows, as in training
            y = C.one_hot(y, len(classes), np.float64)
    else:
        y = np.asarray(d.y, np.float64).reshape(d.n, -1)[:n]
        mean = np.asarray(meta.get("target_mean", 0.0), np.float64)
        std = np.asarray(meta.get("target_std", 1.0), np.float64)
        y = (y - mean) / std
    results = check_parameters(
        model,
        make_loss(loss_name),
        X,
        y,
        args.eps,
        args.atol,
        args.rtol,
        args.max_elements or None,
        args.seed,
    )
    print(
        f"gradcheck {args.model}: {n} samples of {d.name}, float64, eps {args.eps:g}, "
        f"pass if |analytic - numeric| <= {args.atol:g} + {args.rtol:g} * |numeric|"
    )
    layers: dict = {}
    for name, count, rel, err, ok in results:
        layer = name.rsplit(".", 1)[0] if "." in name else "(model)"
        L = layers.setdefault(layer, {"params": [], "n": 0, "rel": 0.0, "abs": 0.0, "ok": True})
        L["params"].append(name.rsplit(".", 1)[-1])
        L["n"] += count
        L["rel"] = max(L["rel"], rel)
        L["abs"] = max(L["abs"], err)
        L["ok"] = L["ok"] and ok
    rows = [
        [
            layer,
            ",".join(L["params"]),
            L["n"],
            f"{L['rel']:.2e}",
            f"{L['abs']:.2e}",
            "ok" if L["ok"] else "FAIL",
        ]
        for layer, L in layers.items()
    ]
    print(
        C.fmt_table(
            rows, ["layer", "parameters", "checked", "worst rel err", "worst abs err", ""], "llrrrl"
        )
    )
    failed = [r[0] for r in rows if r[-1] == "FAIL"]
    if failed:
        print(f"FAILED: {len(failed)} of {len(rows)} layers ({', '.join(failed)})")
        from . import EXIT_GRADCHECK_FAILED

        return EXIT_GRADCHECK_FAILED
    worst = max((L["rel"] for L in layers.values()), default=0.0)
    print(f"passed: all {len(rows)} layers, worst relative error {worst:.2e}")
    return 0
