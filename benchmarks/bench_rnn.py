"""One training step of an LSTM and of a GRU: retrograd's fused BPTT against PyTorch.

Each configuration: a one-layer LSTM or GRU (input 32, hidden 128) over a batch of 64
float32 sequences of 32 steps, a linear head 128 -> 1 on the last output, MSE loss,
backward through time and a plain SGD update (lr 0.01). Both contenders start from the
same weights and see the same batches; PyTorch gets as many threads as NumPy's BLAS
(``torch.set_num_threads``). The contenders alternate (``_common.time_alternating``); a
timed repetition is ``STEPS`` steps, and the median over the repetitions after a warm-up
is reported.

``retrograd-1t`` is retrograd with ``RETROGRAD_RNN_BLAS_THREADS=1``: the recurrent
layer's per-step products on one BLAS thread, the calling one (the products over all
steps keep every thread); ``retrograd`` runs them on every BLAS thread (the default).
With both cores idle the second BLAS thread speeds these products up; with the cores
busy with other work each product waits for it to be scheduled.

``products`` makes only the matrix products of retrograd's step (float32 NumPy/BLAS into
preallocated arrays, nothing between them): the per-step recurrent products forward and
backward, the input projections, the weight and input gradients, the head. No program
that forms these gradients with these products runs faster on this BLAS: a ceiling for
the step, measured in the same alternation.

Memory: for retrograd, the tracemalloc peak over one step (forward graph + backward);
for PyTorch, whose allocator tracemalloc cannot see, the bytes of the tensors its
autograd graph saves for backward (``saved_tensors_hooks``, each storage counted once).

    python benchmarks/bench_rnn.py            # markdown table
    python benchmarks/bench_rnn.py --json out.json

``run(quick=False)`` returns one row per configuration and contender (the keys of
``_common.RESULT_KEYS`` plus ``step_ms_median``, ``speed_vs_pytorch``, ``final_loss`` and
``threads``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

LR = 0.01
BATCH, SEQ, INPUT, HIDDEN = 64, 32, 32, 128
N_BATCHES = 4
STEPS, QUICK_STEPS = 5, 2
REPEATS, QUICK_REPEATS = 11, 5
CONTENDERS = ("retrograd", "retrograd-1t", "pytorch", "products")
CELLS = ("LSTM", "GRU")


class Skip(Exception):
    """A contender that cannot run here, with the reason."""


def description(cell: str) -> str:
    return (
        f"{cell}(input {INPUT}, hidden {HIDDEN}), batch {BATCH} x {SEQ} steps float32, "
        f"linear head on the last output, MSE, one SGD step (forward, loss, BPTT, update)"
    )


def make_data(seed: int = 0) -> list:
    import numpy as np

    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((SEQ, BATCH, INPUT)).astype(np.float32),
         rng.standard_normal((BATCH, 1)).astype(np.float32))
        for _ in range(N_BATCHES)
    ]  # fmt: skip


def init_weights(cell: str, seed: int = 0) -> dict:
    """PyTorch's init law (U(+-1/sqrt(hidden)) for the RNN, Linear's for the head)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    g = 4 if cell == "LSTM" else 3
    b = 1.0 / np.sqrt(HIDDEN)

    def u(shape: tuple) -> Any:
        return rng.uniform(-b, b, shape).astype(np.float32)

    return {
        "rnn.weight_ih_l0": u((g * HIDDEN, INPUT)), "rnn.weight_hh_l0": u((g * HIDDEN, HIDDEN)),
        "rnn.bias_ih_l0": u((g * HIDDEN,)), "rnn.bias_hh_l0": u((g * HIDDEN,)),
        "head.weight": u((1, HIDDEN)), "head.bias": u((1,)),
    }  # fmt: skip


def build_retrograd(cell: str, weights: dict, data: list, steps: int) -> Any:
    try:
        import retrograd as rg
        from retrograd._malloc import tune

        tune()  # what fit does when training starts (retrograd/_malloc.py)
        nn = rg.nn
        rg.optim.SGD  # noqa: B018 - written separately; check it is there
        layer_cls = getattr(nn, cell)
    except Exception as e:  # noqa: BLE001
        raise Skip(f"retrograd.nn/optim unavailable: {type(e).__name__}: {e}") from e

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = layer_cls(INPUT, HIDDEN)
            self.head = nn.Linear(HIDDEN, 1)

        def forward(self, x: Any) -> Any:
            out, _ = self.rnn(x)
            return self.head(out[-1])

    model = Model()
    model.load_state_dict(weights)
    loss_fn = nn.MSELoss()
    opt = rg.optim.SGD(model.parameters(), lr=LR)
    batches = [(rg.tensor(x), rg.tensor(y)) for x, y in data]
    return C.step_runner(model, loss_fn, opt, batches, steps)


def build_retrograd_one_thread(cell: str, weights: dict, data: list, steps: int) -> Any:
    """retrograd with ``RETROGRAD_RNN_BLAS_THREADS=1`` (read by every layer call)."""
    run_steps, state = build_retrograd(cell, weights, data, steps)
    name = "RETROGRAD_RNN_BLAS_THREADS"

    def run() -> None:
        old = os.environ.get(name)
        os.environ[name] = "1"
        try:
            run_steps()
        finally:
            if old is None:
                del os.environ[name]
            else:
                os.environ[name] = old

    return run, state


def _torch_model(torch: Any, cell: str) -> Any:
    nn = torch.nn

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = getattr(nn, cell)(INPUT, HIDDEN)
            self.head = nn.Linear(HIDDEN, 1)

        def forward(self, x: Any) -> Any:
            out, _ = self.rnn(x)
            return self.head(out[-1])

    return Model().float()


def build_pytorch(cell: str, weights: dict, data: list, steps: int) -> Any:
    try:
        import torch
    except ImportError as e:
        raise Skip("PyTorch is not installed") from e
    torch.set_num_threads(C.blas_threads())
    model = _torch_model(torch, cell)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()})
    loss_fn = torch.nn.MSELoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
    return C.step_runner(model, loss_fn, opt, batches, steps)


def build_products(cell: str, weights: dict, data: list, steps: int) -> Any:
    """The step's matrix products only (see the module docstring), ``steps`` times."""
    import numpy as np

    g = 4 if cell == "LSTM" else 3
    G, H, B, T, n_in = g * HIDDEN, HIDDEN, BATCH, SEQ, INPUT
    rng = np.random.default_rng(1)
    f32 = np.float32

    def arr(*shape: int) -> Any:
        return rng.standard_normal(shape).astype(f32)

    if cell == "LSTM":
        # retrograd's LSTM: one product per step on [h; x; 1] (K rows), the weight
        # gradient [dW_hh | dW_ih | db] as one product over all steps
        k = H + n_in + 1
        w_fwd, rhs, gates = arr(G, k), arr(T, k, B), np.empty((T, G, B), f32)
        wg_rhs = arr(k, T * B)
    else:
        # retrograd's GRU: the input projection of all steps in one product, then one
        # product per step on h; weight gradients of the input and recurrent parts
        k = H
        w_in, xa, xw = arr(G, n_in + 1), arr(n_in + 1, T * B), np.empty((G, T * B), f32)
        w_fwd, rhs, gates = arr(G, H), arr(T, H, B), np.empty((T, G, B), f32)
        wg_rhs = arr(H + 1, T * B)
        wg_in = arr(n_in + 1, T * B)
    w_t, dgates, dh = arr(H, G), arr(T, G, B), np.empty((H, B), f32)
    w_ih, gx = arr(G, n_in), np.empty((T * B, n_in), f32)
    head_w, head_g, h_last, gh = arr(1, H), arr(B, 1), arr(B, H), np.empty((B, H), f32)
    d2 = dgates.transpose(1, 0, 2).reshape(G, T * B).copy()

    def run_steps() -> None:
        for _ in range(steps):
            if cell != "LSTM":
                np.matmul(w_in, xa, out=xw)
            for t in range(T):
                np.matmul(w_fwd, rhs[t], out=gates[t])
            h_last @ head_w.T  # the head forward, its weight and input gradients
            head_g.T @ h_last
            np.matmul(head_g, head_w, out=gh)
            for t in range(T):
                np.matmul(w_t, dgates[t], out=dh)
            d2 @ wg_rhs.T
            if cell != "LSTM":
                d2 @ wg_in.T
            np.matmul(d2.T, w_ih, out=gx)

    return run_steps, {"loss": None}


def torch_saved_mib(state: dict) -> float:
    """Bytes PyTorch's autograd graph saves for one step's backward, each storage once."""
    import torch

    seen: dict = {}

    def pack(t: Any) -> Any:
        try:
            key = t.untyped_storage().data_ptr()
            seen[key] = max(seen.get(key, 0), t.untyped_storage().nbytes())
        except Exception:  # noqa: BLE001 - e.g. tensors without storage
            pass
        return t

    x, y = state["batches"][0]
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = state["loss_fn"](state["model"](x), y)
    loss.backward()
    state["model"].zero_grad()
    return sum(seen.values()) / 2**20


def run(quick: bool = False, repeats: int | None = None, threads: int | None = None) -> list[dict]:
    """Time both contenders on each configuration (alternating); one row per pair.

    ``threads``: limit NumPy's BLAS to this many threads (threadpoolctl) and give
    PyTorch the same; default: NumPy's BLAS as configured.
    """
    if threads is not None:
        import numpy  # noqa: F401 - load the BLAS first: threadpoolctl limits loaded libraries
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=threads, user_api="blas"):
            return run(quick, repeats)
    steps = QUICK_STEPS if quick else STEPS
    repeats = repeats or (QUICK_REPEATS if quick else REPEATS)
    data = make_data()
    out = []
    for cell in CELLS:
        weights = init_weights(cell)
        rows, fns, states = {}, {}, {}
        for c in CONTENDERS:
            rows[c] = {
                "suite": "rnn", "config": f"{cell.lower()}-b{BATCH}-t{SEQ}-h{HIDDEN}",
                "description": description(cell), "contender": c, "status": "ok", "note": "",
                "batch_size": BATCH, "n_samples": BATCH * steps, "samples_per_s": None,
                "epoch_s_median": None, "epoch_s": [], "peak_mem_mib": None,
                "mem_method": None, "steps_per_rep": steps, "step_ms_median": None,
                "speed_vs_pytorch": None, "final_loss": None, "threads": C.blas_threads(),
            }  # fmt: skip
            try:
                fns[c], states[c] = BUILDERS[c](cell, weights, data, steps)
            except Skip as e:
                rows[c].update(status="skipped", note=str(e))
            except Exception as e:  # noqa: BLE001 - report, do not abort the other contender
                rows[c].update(status="failed", note=f"{type(e).__name__}: {e}")
        times = C.time_alternating(fns, repeats=repeats, warmup=2)
        for c, ts in times.items():
            med = C.median(ts)
            rows[c].update(
                epoch_s=ts,
                epoch_s_median=med,
                samples_per_s=BATCH * steps / med,
                step_ms_median=1e3 * med / steps,
                final_loss=states[c]["loss"],
            )
            if c == "retrograd":
                one = BUILDERS[c](cell, weights, data, 1)[0]
                rows[c]["peak_mem_mib"] = C.traced_peak_mib(one)
                rows[c]["mem_method"] = "tracemalloc peak over one step"
            elif c == "products":
                rows[c]["note"] = "matrix products only: a ceiling"
            elif c == "retrograd-1t":
                rows[c]["note"] = "RETROGRAD_RNN_BLAS_THREADS=1"
            else:
                rows[c]["peak_mem_mib"] = torch_saved_mib(states[c])
                rows[c]["mem_method"] = "tensors saved by autograd for one step"
        if "pytorch" in times:
            ref = rows["pytorch"]["epoch_s_median"]
            for c in times:
                rows[c]["speed_vs_pytorch"] = ref / rows[c]["epoch_s_median"]
        out += [rows[c] for c in CONTENDERS]
    return out


BUILDERS = {
    "retrograd": build_retrograd, "retrograd-1t": build_retrograd_one_thread,
    "pytorch": build_pytorch, "products": build_products,
}  # fmt: skip


def markdown(rows: list[dict]) -> str:
    lines = [
        f"One training step, batch {BATCH} x {SEQ} steps, input {INPUT}, hidden {HIDDEN}, "
        f"float32; {rows[0]['threads']} thread(s) for NumPy's BLAS and for PyTorch",
        "",
        "| model | contender | status | ms / step (median) | speed vs PyTorch | memory MiB "
        "| loss after |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        model = r["config"].split("-")[0].upper()
        if r["status"] != "ok":
            lines.append(f"| {model} | {r['contender']} | {r['status']}: {r['note']} | | | | |")
            continue
        mem = "" if r["peak_mem_mib"] is None else f"{r['peak_mem_mib']:.1f} ({r['mem_method']})"
        loss = "-" if r["final_loss"] is None else f"{r['final_loss']:.5f}"
        lines.append(
            f"| {model} | {r['contender']} | ok | {r['step_ms_median']:.2f} | "
            f"{r['speed_vs_pytorch'] or float('nan'):.2f}x | {mem} | {loss} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="BLAS/PyTorch threads")
    p.add_argument("--json", metavar="PATH", help="also write the rows here")
    a = p.parse_args(argv)
    rows = run(a.quick, a.repeats, a.threads)
    print(markdown(rows))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
