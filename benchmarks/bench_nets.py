"""Training steps of a transformer encoder and of a transposed convolution: retrograd vs PyTorch.

Configurations:

- ``transformer-enc``: ``TransformerEncoder`` of 2 ``TransformerEncoderLayer``s
  (d_model 128, 4 heads, dim_feedforward 512, ReLU, post-norm, dropout 0, batch_first)
  with a causal mask, input (32, 64, 128) float32, MSE loss against a target of the same
  shape.
- ``convtranspose``: ``ConvTranspose2d(32, 16, 4, stride=2, padding=1)`` on
  (32, 32, 14, 14) float32 input (output (32, 16, 28, 28)), MSE loss.

One step is forward, loss, backward and a plain SGD update (lr 0.01), written the same
way for both (``_common.step_runner``: the eager loop). Both start from the same weights
(retrograd's init, copied into PyTorch through the state_dict) and see the same batches in
the same order; PyTorch gets as many threads as NumPy's BLAS. Dropout is 0 so that both
do the same arithmetic: the losses after the run agree. The contenders alternate; the
median of the timed repetitions after a warm-up is reported, wall and process CPU time.

    python benchmarks/bench_nets.py            # markdown table
    python benchmarks/bench_nets.py --only convtranspose --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402
from bench_cnn import _time_alternating, threads  # noqa: E402

LR = 0.01
N_BATCHES = 2
CONTENDERS = ("retrograd", "pytorch")
CONFIGS = {
    "transformer-enc": dict(
        batch=32, steps=3, quick_steps=1,
        description="TransformerEncoder 2 x (d_model 128, 4 heads, ff 512, dropout 0), causal "
        "mask, batch 32 x seq 64 float32, MSE, one SGD step",
    ),
    "convtranspose": dict(
        batch=32, steps=5, quick_steps=1,
        description="ConvTranspose2d(32->16, k4, stride 2, pad 1), batch 32 x 32x14x14 -> "
        "16x28x28 float32, MSE, one SGD step",
    ),
}  # fmt: skip
REPEATS, QUICK_REPEATS = 7, 3


def _data(config: str, quick: bool) -> list:
    import numpy as np

    rng = np.random.default_rng(0)
    if config == "transformer-enc":
        shape = (8, 16, 128) if quick else (32, 64, 128)
        draw = rng.standard_normal
        return [(draw(shape, dtype=np.float32), draw(shape, dtype=np.float32))
                for _ in range(N_BATCHES)]  # fmt: skip
    xs = (4, 32, 14, 14) if quick else (32, 32, 14, 14)
    ys = (xs[0], 16, 28, 28)
    return [(rng.standard_normal(xs, dtype=np.float32), rng.standard_normal(ys, dtype=np.float32))
            for _ in range(N_BATCHES)]  # fmt: skip


def _model(lib: Any, config: str) -> Any:
    nn = lib.nn
    if config == "transformer-enc":
        layer = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, batch_first=True)
        return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    return nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1)


class _Causal:
    """Wraps an encoder so that ``model(x)`` applies the causal mask (same for both)."""

    def __init__(self, model: Any, mask: Any) -> None:
        self.model, self.mask = model, mask

    def __call__(self, x: Any) -> Any:
        return self.model(x, mask=self.mask, is_causal=True)


def build(contender: str, config: str, data: list, steps: int) -> tuple:
    import numpy as np

    import retrograd as rg

    rg.manual_seed(0)
    model_r = _model(rg, config)
    weights = {k: np.array(v) for k, v in model_r.state_dict().items()}
    length = data[0][0].shape[1]
    if contender == "retrograd":
        model = model_r
        opt = rg.optim.SGD(model.parameters(), lr=LR)
        batches = [(rg.tensor(x), rg.tensor(y)) for x, y in data]
        loss_fn = rg.nn.MSELoss()
        if config == "transformer-enc":
            model = _Causal(model, rg.nn.Transformer.generate_square_subsequent_mask(length))
        return C.step_runner(model, loss_fn, opt, batches, steps)
    import torch

    torch.set_num_threads(threads())
    model = _model(torch, config).float()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()})
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
    loss_fn = torch.nn.MSELoss()
    if config == "transformer-enc":
        model = _Causal(model, torch.nn.Transformer.generate_square_subsequent_mask(length))
    return C.step_runner(model, loss_fn, opt, batches, steps)


def run(quick: bool = False, repeats: int | None = None, only: str | None = None) -> list[dict]:
    """Time both contenders on each configuration (alternating); one row per pair."""
    repeats = repeats or (QUICK_REPEATS if quick else REPEATS)
    out = []
    for config, spec in CONFIGS.items():
        if only and config != only:
            continue
        steps = spec["quick_steps"] if quick else spec["steps"]
        data = _data(config, quick)
        batch = data[0][0].shape[0]
        rows, fns, states = {}, {}, {}
        for c in CONTENDERS:
            rows[c] = {
                "suite": "nets", "config": config, "description": spec["description"],
                "contender": c, "status": "ok", "note": "", "batch_size": batch,
                "n_samples": batch * steps, "samples_per_s": None, "epoch_s_median": None,
                "epoch_s": [], "peak_mem_mib": None, "mem_method": None, "steps_per_rep": steps,
                "step_ms_median": None, "speed_vs_pytorch": None, "final_loss": None,
                "cpu_ms_per_step_median": None, "cpu_speed_vs_pytorch": None,
                "threads": threads(),
            }  # fmt: skip
            try:
                fns[c], states[c] = build(c, config, data, steps)
            except ImportError as e:
                rows[c].update(status="skipped", note=str(e))
            except Exception as e:  # noqa: BLE001 - report, do not abort the other contender
                rows[c].update(status="failed", note=f"{type(e).__name__}: {e}")
        times, cpu = _time_alternating(fns, repeats)
        for c, ts in times.items():
            med = C.median(ts)
            rows[c].update(
                epoch_s=ts, epoch_s_median=med, samples_per_s=batch * steps / med,
                step_ms_median=1e3 * med / steps,
                cpu_ms_per_step_median=1e3 * C.median(cpu[c]) / steps,
                final_loss=states[c]["loss"],
            )  # fmt: skip
        if "pytorch" in times:
            ref, ref_cpu = rows["pytorch"]["epoch_s_median"], rows["pytorch"][
                "cpu_ms_per_step_median"]  # fmt: skip
            for c in times:
                rows[c]["speed_vs_pytorch"] = ref / rows[c]["epoch_s_median"]
                rows[c]["cpu_speed_vs_pytorch"] = ref_cpu / rows[c]["cpu_ms_per_step_median"]
        out += [rows[c] for c in CONTENDERS]
    return out


def markdown(rows: list[dict]) -> str:
    lines = []
    for config in dict.fromkeys(r["config"] for r in rows):
        rs = [r for r in rows if r["config"] == config]
        lines += [
            f"{rs[0]['description']}; {rs[0]['threads']} thread(s); {config}",
            "",
            "| contender | status | wall ms/step | speed vs PyTorch (wall) | CPU ms/step "
            "| speed vs PyTorch (CPU) | loss after |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in rs:
            if r["status"] != "ok":
                lines.append(f"| {r['contender']} | {r['status']}: {r['note']} | | | | | |")
                continue
            lines.append(
                f"| {r['contender']} | ok | {r['step_ms_median']:.2f} | "
                f"{r['speed_vs_pytorch'] or float('nan'):.2f}x | "
                f"{r['cpu_ms_per_step_median']:.2f} | "
                f"{r.get('cpu_speed_vs_pytorch') or float('nan'):.2f}x | {r['final_loss']:.6f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--only", choices=sorted(CONFIGS))
    p.add_argument("--json", metavar="PATH", help="also write the rows here")
    a = p.parse_args(argv)
    rows = run(a.quick, a.repeats, a.only)
    print(markdown(rows))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
