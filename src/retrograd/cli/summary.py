"""``retrograd summary``: the layers of a saved model, their output shapes and sizes."""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
from typing import Any

from ._common import Formatter, add_debug, add_model_data_args

EPILOG = """\
examples:
  retrograd summary digits.safetensors
  retrograd summary mnist_cnn.safetensors --batch 32

The output shapes come from one forward pass of a dummy batch of zeros, whose width is the
feature count stored in the file (or --features for a model not saved by retrograd train).
A safetensors file whose architecture cannot be rebuilt (written by another program, e.g.
safetensors.torch.save_file, or naming a custom layer that is not registered) is listed
tensor by tensor: names, dtypes, shapes and the parameter count.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "summary",
        help="show a model file's layers, output shapes, parameter counts and metadata",
        description="Print a table of a saved model's layers and what the file records.",
        epilog=EPILOG,
        formatter_class=Formatter,
    )
    add_model_data_args(p, model="a model file (rg.save / retrograd train)", data=False)
    p.add_argument(
        "--batch", type=int, default=1, metavar="N", help="rows in the dummy batch (default 1)"
    )
    p.add_argument(
        "--features", type=int, metavar="F", help="input width when the file does not record it"
    )
    add_debug(p)
    p.set_defaults(func=run)


def _shape(v: Any) -> str:
    if isinstance(v, (tuple, list)):
        parts = [_shape(u) for u in v]
        return ", ".join(p for p in parts if p)
    shape = getattr(v, "shape", None)
    return "" if shape is None else "(" + ", ".join(str(s) for s in shape) + ")"


def trace_shapes(model: Any, x: Any) -> tuple:
    """Run ``model(x)`` once and return ({module id: output shape text}, output)."""
    from ..autograd.mode import no_grad

    shapes: dict = {}
    patched = []
    from ..nn import Sequential

    def unfused(*a: Any, _seq: Any, **k: Any) -> Any:
        # Sequential fuses Linear+activation pairs into one call; run them one by one so
        # every layer reports its own output.
        x = a[0]
        for child in _seq.children():
            x = child(x)
        return x

    for _name, m in model.named_modules():
        original = m.forward
        if isinstance(m, Sequential):
            original = functools.partial(unfused, _seq=m)

        def wrapper(*a: Any, _m: Any = m, _f: Any = original, **k: Any) -> Any:
            out = _f(*a, **k)
            shapes.setdefault(id(_m), _shape(out))
            return out

        # An instance attribute shadows the class's forward for this one call.
        object.__setattr__(m, "forward", wrapper)
        patched.append(m)
    try:
        was = getattr(model, "training", False)
        model.eval()
        with no_grad():
            out = model(x)
        model.train(was)
    finally:
        for m in patched:
            object.__delattr__(m, "forward")
    return shapes, out


# The dummy batch's size beyond which summary does not build it (elements).
MAX_TRACE_ELEMENTS = 10_000_000


def _why_not_traced(batch: int, F: Any) -> str | None:
    """Why the dummy forward pass is not run, or None: its width comes from the file."""
    if F is not None and int(F) * max(int(batch), 1) > MAX_TRACE_ELEMENTS:
        return f"a dummy batch of {batch} x {F} would be over {MAX_TRACE_ELEMENTS:,} values"
    return None


@contextlib.contextmanager
def _one_step_relaxations(model: Any) -> Any:
    """Fixed-point layers run a single relaxation step (shapes do not depend on how many):
    a summary reads a file, and must not run the up to ``max_iter`` steps per call that
    a file with ``tol=0`` asks for."""
    import warnings

    from ..nn.fixedpoint import FixedPoint

    saved = [(m, m.max_iter, m.on_nonconvergence) for m in model.modules()
             if isinstance(m, FixedPoint)]  # fmt: skip
    try:
        for m, _, _ in saved:
            m.max_iter, m.on_nonconvergence = 1, "warn"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield bool(saved)
    finally:
        for m, max_iter, policy in saved:
            m.max_iter, m.on_nonconvergence = max_iter, policy


def _in_dtype(model: Any, dtype: Any) -> Any:
    """Token ids (int64) for a model that starts with an Embedding, else the float dtype."""
    from ..nn import Embedding

    first = next((m for m in model.modules() if m._parameters), None)
    return "int64" if isinstance(first, Embedding) else dtype


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..errors import ModelFileError
    from ..io import load
    from . import _common as C

    if args.batch < 1:
        raise C.UsageError(f"--batch: expected a positive integer, got {args.batch}")
    if args.features is not None and args.features < 1:
        raise C.UsageError(f"--features: expected a positive integer, got {args.features}")
    if not os.path.isfile(args.model):
        raise FileNotFoundError(f"no such model file: {args.model!r}")
    try:
        model, extra = load(args.model, with_extra=True)
    except ModelFileError as exc:
        return tensor_listing(args.model, str(exc))
    # A model that loads but whose metadata is damaged is an error, not a listing.
    meta = C.cli_metadata(args.model, extra, model)
    size = os.path.getsize(args.model)
    print(f"model file: {args.model} ({size:,} bytes)")
    F = args.features or meta.get("n_features")
    if F is None:
        first = next(iter(model.parameters()), None)
        F = getattr(model, "in_features", None) or (
            first.shape[-1] if first is not None and first.ndim == 2 else None
        )
    dtype = next((p.dtype for p in model.parameters()), np.float32)
    shapes: dict = {}
    out_shape = "?"
    error = None
    skip = _why_not_traced(args.batch, F)
    one_step = False
    if skip is not None:
        from ._meta import model_widths

        n_out = model_widths(model)[1]
        out_shape = "?" if n_out is None else f"({args.batch}, {n_out})"
    elif F is not None:
        try:
            with _one_step_relaxations(model) as one_step:
                shapes, out = trace_shapes(
                    model, np.zeros((args.batch, int(F)), dtype=_in_dtype(model, dtype))
                )
            out_shape = _shape(out)
        except Exception as exc:  # noqa: BLE001 - the table is still useful without shapes
            error = f"{type(exc).__name__}: {exc}"
    rows = [["(input)", "", f"({args.batch}, {F})" if F else "?", ""]]
    total = 0
    for name, m in model.named_modules():
        own = sum(p.numel() for p in m.parameters(recurse=False))
        total += own
        depth = name.count(".") + (1 if name else 0)
        label = ("  " * max(depth - 1, 0) + name) if name else "(model)"
        rows.append([label, type(m).__name__, shapes.get(id(m), ""), f"{own:,}" if own else "-"])
    print(C.fmt_table(rows, ["layer", "type", "output shape", "parameters"], "llll"))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(
        f"total parameters: {total:,} ({trainable:,} trainable, {np.dtype(dtype).name}); "
        f"output {out_shape}"
    )
    if skip is not None:
        print(f"(output shapes not traced: {skip})")
    elif one_step and not error:
        print("(fixed-point layers traced with one relaxation step: the shapes, not the values)")
    elif error:
        print(f"(no output shapes: the dummy forward pass failed: {error})")
    bad = C.nonfinite_tensors(model)
    if bad:
        print(
            f"WARNING: NaN or Inf in the weights ({C._shown_counts(bad)}); evaluate and "
            "predict refuse this file"
        )
    if meta:
        print()
        task = meta.get("task", "?")
        line = f"task: {task}, {meta.get('n_features', '?')} features"
        classes = meta.get("classes")
        if classes:
            shown = " ".join(classes[:20]) + (" ..." if len(classes) > 20 else "")
            line += f", {len(classes)} classes: {shown}"
        print(line)
        names = meta.get("feature_names")
        if names:
            shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
            line = f"columns: target {meta.get('target')!r}; features {shown}"
            if meta.get("dropped"):
                line += "; dropped " + ", ".join(str(c) for c in meta["dropped"])
            print(line)
        if meta.get("missing") == "mean":
            print("missing values: filled in with the training means stored in the file")
        if meta.get("standardize"):
            print(
                f"preprocessing: standardize ({meta['standardize']}) with the training "
                "statistics stored in the file"
            )
        bits = [f"data {meta.get('data')}", f"model {meta.get('model_spec')}"]
        if meta.get("activation") and str(meta.get("model_spec", "")).startswith("mlp"):
            bits.append(f"activation {meta['activation']}")
        bits += [f"loss {meta.get('loss')}", f"{meta.get('optimizer')} lr {meta.get('lr')}"]
        bs = meta.get("batch_size")
        bits.append(f"batch {'full' if bs is None else bs}")
        print("trained: " + ", ".join(bits))
        hist = meta.get("history") or {}
        last = {k: v[-1] for k, v in hist.items() if v and k != "epoch_time"}
        if meta.get("epochs") is not None:
            res = ", ".join(
                f"{k} {last[k]:.4f}"
                for k in ("loss", "accuracy", "val_loss", "val_accuracy")
                if k in last
            )
            print(f"  {meta['epochs']} epochs ({meta.get('stop_reason')}); last epoch: {res}")
            if meta.get("best_epoch") not in (None, meta["epochs"]):
                print(
                    f"  the file holds the weights of epoch {meta['best_epoch']} (early stopping)"
                )
        test = meta.get("test")
        if isinstance(test, dict):
            from ._holdout import describe

            print(f"  held-out test part ({test.get('rows')} rows): {describe(test)}")
    else:
        print("(no retrograd train metadata in this file)")
    return 0


def tensor_listing(path: str, reason: str) -> int:
    """Print the tensors of a safetensors file whose model cannot be rebuilt."""
    import math

    from ..io.safetensors_format import DTYPES, read_safetensors_header

    entries, metadata = read_safetensors_header(path)
    size = os.path.getsize(path)
    print(f"safetensors file: {path} ({size:,} bytes, {len(entries)} tensors)")
    if "retrograd" in metadata:
        print(f"(the model cannot be rebuilt: {reason})")
    else:
        print("(not written by retrograd: no architecture, weights only)")
    rows, total = [], 0
    by_dtype: dict = {}
    for name, (code, shape) in sorted(entries.items()):
        n = math.prod(shape)
        total += n
        dt = DTYPES[code].name if code in DTYPES else code
        by_dtype[dt] = by_dtype.get(dt, 0) + n
        rows.append([name, dt, "(" + ", ".join(str(s) for s in shape) + ")", f"{n:,}"])
    from . import _common as C

    print(C.fmt_table(rows, ["tensor", "dtype", "shape", "parameters"], "lllr"))
    kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(by_dtype.items()))
    print(f"total parameters: {total:,} ({kinds})")
    other = {k: v for k, v in metadata.items() if k != "retrograd"}
    if other:
        shown = ", ".join(f"{k}={v[:40]!r}" for k, v in list(other.items())[:8])
        print(f"metadata: {shown}")
    print(
        "load the weights into a model you build with "
        "model.load_state_dict(rg.io.load_state_dict_file(path))"
    )
    return 0
