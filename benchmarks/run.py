"""Run every benchmark and print (or write) the comparison with its peers.

    python benchmarks/run.py                          # everything, markdown to stdout
    python benchmarks/run.py --write BENCHMARKS.md    # the committed results
    python benchmarks/run.py --quick                  # tiny smoke run (seconds)
    python benchmarks/run.py --only mlp --configs digits-online

Each MLP configuration runs in a fresh subprocess, where the contenders (retrograd,
PyTorch, scikit-learn, a hand-written NumPy backprop) alternate epoch by epoch; the other
suites (``bench_rnn.py``, ``bench_cnn.py``, when present) each run in a subprocess of
their own. Subprocesses run without the OpenBLAS kernel pins (OPENBLAS_CORETYPE,
OPENBLAS_L2_SIZE), which slow a current NumPy. ``retrograd bench`` calls :func:`main`.

This module imports only the standard library at the top, so importing it is cheap.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
#: Suites written as separate scripts exposing ``run(quick=False) -> list[dict]``.
EXTRA_SUITES = {
    "rnn": "bench_rnn.py", "cnn": "bench_cnn.py", "nets": "bench_nets.py", "mpi": "bench_mpi.py",
    "deq": "bench_deq.py",
}  # fmt: skip
SUITES = ("mlp",) + tuple(EXTRA_SUITES)
PEER_NAMES = {
    "retrograd": "retrograd", "pytorch": "PyTorch (eager, CPU)", "sklearn": "scikit-learn",
    "numpy": "NumPy limit (hand-written backprop)", "jax": "JAX jit (optax)",
    "torch-compile": "torch.compile (inductor, CPU)",
}  # fmt: skip
#: (config, peer) -> minimum speed ratio retrograd / peer (the issue's targets).
TARGETS = {
    ("mlp784-b128", "pytorch"): 1.15, ("mlp784-b128", "numpy"): 0.9,
    ("mlp784-b128", "sklearn"): 1.5,
    ("mlp784-b512", "pytorch"): 1.15, ("mlp784-b512", "numpy"): 0.9,
    ("mlp784-b512", "sklearn"): 1.5,
    ("digits-b16", "pytorch"): 4.0, ("digits-b16", "numpy"): 0.8,
    ("digits-online", "pytorch"): 5.0,
}  # fmt: skip
#: The MLP table's contender columns, in order (each but the first two gets a ratio).
MLP_COLUMNS = (
    "retrograd", "retrograd-numpy", "retrograd-eager", "pytorch", "torch-compile", "jax",
    "sklearn", "numpy", "products",
)  # fmt: skip
IMPORT_TARGET_S = 0.35
CHILD_TIMEOUT_S = 1800


# ---------------------------------------------------------------------- children


def _bench_env() -> tuple[dict, list[str]]:
    sys.path.insert(0, HERE)
    import _common

    return _common.bench_env()


def _run_child(args: list[str], timeout: float = CHILD_TIMEOUT_S) -> tuple[Any, str]:
    """Run ``python <args> --json TMP`` in the benchmark environment; (parsed JSON, error)."""
    env, _ = _bench_env()
    if "--quick" in args:
        # The smoke run uses one thread everywhere: on a busy machine two-thread BLAS
        # calls on tiny matrices can wait milliseconds each for a descheduled thread.
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    fd, path = tempfile.mkstemp(suffix=".json", prefix="rg-bench-")
    os.close(fd)
    try:
        proc = subprocess.run(
            [sys.executable, *args, "--json", path], env=env, cwd=HERE, capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            return None, f"exit {proc.returncode}: {tail[0][:300]}"
        with open(path, encoding="utf-8") as fh:
            return json.load(fh), ""
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    except (OSError, ValueError) as e:
        return None, f"{type(e).__name__}: {e}"
    finally:
        os.unlink(path)


def run_mlp(
    quick: bool, configs: list[str] | None = None, rss: bool = True, log: Any = None
) -> list[dict]:
    """One subprocess per MLP configuration (plus one per contender for RSS growth)."""
    sys.path.insert(0, HERE)
    import bench_mlp

    names = list(bench_mlp.QUICK if quick else bench_mlp.CONFIGS)
    if configs:
        names = [n for n in names if n in configs]
    rows: list[dict] = []
    # One fresh process per configuration; --quick puts its tiny ones in a single process
    # to save the ~3 s that importing PyTorch and scikit-learn costs each time.
    groups = [names] if quick else [[n] for n in names]
    for group in groups:
        name = ",".join(group)
        t0 = time.perf_counter()
        args = [os.path.join(HERE, "bench_mlp.py"), "--config", name] + (
            ["--quick"] if quick else []
        )
        out, err = _run_child(args)
        if out is None:
            rows.append(_failed_row("mlp", name, err))
            continue
        for r in out:
            r["rss_growth_mib"] = None
            if rss and r["status"] == "ok":
                base = [os.path.join(HERE, "bench_mlp.py"), "--config", r["config"]]
                got, _ = _run_child(
                    base + (["--quick"] if quick else []) + ["--rss", r["contender"]]
                )
                if got is not None:
                    r["rss_growth_mib"] = got["rss_growth_mib"]
            if r["mem_method"] == bench_mlp.MEM_RSS and r["status"] == "ok":
                # tracemalloc cannot see their allocators: the peak is the RSS growth.
                r["peak_mem_mib"] = r["rss_growth_mib"]
        rows += out
        if log:
            log(f"  mlp {name}: {time.perf_counter() - t0:.1f} s")
    return rows


def _failed_row(suite: str, config: str, note: str, status: str = "failed") -> dict:
    return {
        "suite": suite, "config": config, "description": "", "contender": "(all)",
        "status": status, "note": note, "batch_size": None, "n_samples": None,
        "samples_per_s": None, "epoch_s_median": None, "epoch_s": [], "peak_mem_mib": None,
        "mem_method": None,
    }  # fmt: skip


def run_extra(suite: str, path: str, quick: bool) -> dict:
    """Run ``path``'s ``run(quick)`` in a subprocess: {"rows": [...], "markdown": str}."""
    if not os.path.exists(path):
        note = f"{os.path.basename(path)} not found"
        return {"rows": [_failed_row(suite, "-", note, "skipped")], "markdown": ""}
    args = [os.path.abspath(__file__), "--_child", path] + (["--quick"] if quick else [])
    out, err = _run_child(args)
    if out is None:
        return {"rows": [_failed_row(suite, "-", err)], "markdown": ""}
    for r in out["rows"]:
        r.setdefault("suite", suite)
    return out


def _child_main(path: str, quick: bool, json_path: str) -> int:
    """In the subprocess: import a suite by path, run it, write its rows as JSON."""
    import importlib.util

    sys.path.insert(0, os.path.dirname(path))
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.run(quick=quick)
    md = mod.markdown(rows) if hasattr(mod, "markdown") else ""
    with open(json_path, "w", encoding="utf-8") as fh:
        json.dump({"rows": rows, "markdown": md}, fh, indent=1)
    return 0


def import_time_s(repeats: int = 5) -> float:
    """Median wall time of ``python -c "import retrograd"`` (fresh interpreter each)."""
    env, _ = _bench_env()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import retrograd"], env=env, check=True)
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


# ----------------------------------------------------------------------- results


def add_ratios(rows: list[dict]) -> None:
    """``speed_ratio``: retrograd's samples/s over each contender's, per configuration."""
    base = {
        (r["suite"], r["config"]): r["samples_per_s"]
        for r in rows
        if r.get("contender") == "retrograd" and r.get("samples_per_s")
    }
    for r in rows:
        mine = base.get((r.get("suite"), r.get("config")))
        theirs = r.get("samples_per_s")
        r["speed_ratio"] = mine / theirs if mine and theirs else None


def check_targets(rows: list[dict], import_s: float | None) -> list[dict]:
    by = {(r["config"], r["contender"]): r for r in rows if r.get("suite") == "mlp"}
    out = []
    for (config, peer), want in TARGETS.items():
        r = by.get((config, peer))
        got = r.get("speed_ratio") if r else None
        out.append({
            "target": f"{config}: retrograd >= {want:g}x {PEER_NAMES[peer]}", "want": want,
            "got": got, "met": None if got is None else got >= want,
        })  # fmt: skip
    if import_s is not None:
        out.append({
            "target": f'python -c "import retrograd" < {IMPORT_TARGET_S} s',
            "want": IMPORT_TARGET_S, "got": import_s, "met": import_s < IMPORT_TARGET_S,
        })  # fmt: skip
    return out


def _f(x: Any, fmt: str = "{:,.0f}") -> str:
    return "-" if x is None else fmt.format(x)


def markdown(result: dict) -> str:
    """The BENCHMARKS.md text for a result of :func:`collect`."""
    m, rows = result["machine"], result["rows"]
    blas = "; ".join(
        f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')} kernel, "
        f"{b.get('num_threads')} threads)"
        for b in m.get("blas_runtime", [])
    )
    out = [
        "# Benchmarks",
        "",
        f"Generated by `{result['command']}` on {result['date']} "
        f"({result['elapsed_s']:.0f} s). Higher samples/s is better; a ratio is "
        "retrograd's samples/s divided by the peer's (> 1: retrograd is faster).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {m['cpu']} ({m['machine']}), {m['logical_cpus']} logical CPUs, "
        f"{m['usable_cpus']} usable |",
        f"| OS | {m['os']} |",
        f"| Python | {m['python']} |",
        f"| NumPy | {m['numpy']} (built with {m['numpy_blas_build']}) |",
        f"| BLAS at run time | {blas or '-'} |",
        f"| retrograd | {m['retrograd']} |",
        f"| PyTorch | {m['torch'] or 'not installed'} |",
        f"| scikit-learn | {m['scikit-learn'] or 'not installed'} |",
        f"| Threads | {result['threads']} for every contender (NumPy's BLAS threads; "
        "`torch.set_num_threads` the same) |",
        f"| OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE | "
        f"{'unset for the runs (were ' + str(m['openblas_env']) + ')' if m['openblas_env'] else 'not set'} |",  # noqa: E501
        f"| Load average (1/5/15 min) before / after | {m['load_average']} / "
        f"{result['load_after']} |",
        "",
        "## MLP training epoch: samples/s",
        "",
        "Same network, same initial weights, float32, SGD (lr 0.01, momentum 0.9), mean",
        "softmax cross-entropy, same batches in the same order. Median of the timed epochs",
        "after one warm-up epoch; contenders alternate epoch by epoch in one process per",
        "configuration. `torch.compile` is the PyTorch loop with `torch.compile(model)`",
        "(inductor; compiled before timing). `JAX jit` is the whole step (forward, loss,",
        "gradients, `optax.sgd` momentum) under `jax.jit`, compiled ahead of time, parameters",
        "and optimizer state donated. `retrograd, NumPy kernels` is `retrograd` with the",
        "compiled kernels (Numba, the `[fast]` extra) switched off: what an install without",
        "the extra runs. `retrograd` trains as `rg.train.fit` does: the step",
        "recorded once and replayed (`rg.train.compile_step`, bitwise the eager result;",
        "with the extra, these MLPs' forward, loss and backward replay as one compiled",
        "call that makes NumPy's own BLAS calls, the same bits); `retrograd eager`",
        "is the plain loop (zero_grad, forward, loss, backward, step) on a fresh graph each",
        "step. `products only` makes just the step's matrix products (forward, weight and",
        "input gradients) into preallocated arrays, nothing else: no program that computes",
        "these gradients with these products can train faster, so it is a ceiling for every",
        "contender, measured in the same alternation. The ratio columns are `retrograd`'s;",
        "the last one is the eager loop's.",
        "",
        "| configuration | retrograd | retrograd, NumPy kernels | retrograd eager | PyTorch "
        "| torch.compile | JAX jit | scikit-learn | NumPy limit | products only | vs PyTorch "
        "| vs torch.compile | vs JAX jit | vs scikit-learn | vs NumPy limit | of products only "
        "| eager vs PyTorch | NumPy kernels vs JAX jit | NumPy kernels vs NumPy limit |",
        "|---|" + "---:|" * 18,
    ]
    mlp = [r for r in rows if r.get("suite") == "mlp"]
    configs = list(dict.fromkeys(r["config"] for r in mlp))
    by = {(r["config"], r["contender"]): r for r in mlp}
    notes = []
    for c in configs:
        cells, ratios = [], []
        for peer in MLP_COLUMNS:
            r = by.get((c, peer))
            if r is None or r["status"] != "ok":
                cells.append(r["status"] if r else "-")
                if r is not None and r.get("note"):
                    notes.append(f"{c} / {peer}: {r['status']}: {r['note']}")
            else:
                cells.append(_f(r["samples_per_s"]))
            if peer not in ("retrograd", "retrograd-numpy", "retrograd-eager"):
                ratios.append(_f(r.get("speed_ratio") if r else None, "{:.2f}x"))
        eager, torch_row = by.get((c, "retrograd-eager")), by.get((c, "pytorch"))
        ratios.append(
            _f(
                eager["samples_per_s"] / torch_row["samples_per_s"]
                if eager and torch_row and eager.get("samples_per_s")
                and torch_row.get("samples_per_s") else None,
                "{:.2f}x",
            )
        )  # fmt: skip
        plain = by.get((c, "retrograd-numpy"))
        for peer in ("jax", "numpy"):
            other = by.get((c, peer))
            ok = plain and other and plain.get("samples_per_s") and other.get("samples_per_s")
            ratios.append(
                _f(plain["samples_per_s"] / other["samples_per_s"] if ok else None, "{:.2f}x")
            )
        desc = next((by[k]["description"] for k in by if k[0] == c and by[k]["description"]), c)
        out.append(f"| `{c}`: {desc} | " + " | ".join(cells + ratios) + " |")
    if notes:
        out += ["", "Notes: " + "; ".join(notes)]
    out += [
        "",
        "## MLP: epoch times, loss check and memory",
        "",
        "`loss after 1 epoch` is every contender's mean loss on the data after the warm-up",
        "epoch (computed the same way for all, in float64): equal values show the contenders",
        "did the same work (`products only` trains nothing: no loss). Peak memory: for",
        "NumPy-based contenders the tracemalloc peak over",
        "one epoch after warm-up (arrays and Python objects allocated during the epoch);",
        "PyTorch and torch.compile allocate outside Python's view, so their peak is the growth",
        "of the process's peak RSS (ru_maxrss) over the first epoch in a fresh process; JAX's",
        "is XLA's own account of the compiled step (arguments, outputs and temporaries).",
        "`RSS growth` is that",
        "same measure for every contender (coarse: allocator and first-use effects count).",
        "",
        "`CPU / wall`: the process's CPU seconds per wall second over the timed epochs (at",
        "most 1.0 for a one-thread run, which is held to one CPU; lower when other work took",
        "the core).",
        "",
        "| configuration | contender | median epoch (s) | all epochs (s) | CPU / wall "
        "| loss after 1 epoch | peak memory (MiB) | RSS growth (MiB) |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in mlp:
        if r["status"] != "ok":
            continue
        eps = ", ".join(f"{t:.3f}" for t in r["epoch_s"])
        out.append(
            f"| `{r['config']}` | {r['contender']} | {r['epoch_s_median']:.4f} | {eps} | "
            f"{_f(r.get('cpu_per_wall'), '{:.2f}')} | "
            f"{_f(r.get('loss_after_1_epoch'), '{:.6f}')} | "
            f"{_f(r.get('peak_mem_mib'), '{:.2f}')} | {_f(r.get('rss_growth_mib'), '{:.1f}')} |"
        )
    out += [
        "",
        "Reading these figures: every contender's loss after the warm-up epoch agrees to",
        "float32 rounding except `digits-online`, where 1797 single-sample SGD steps amplify",
        "rounding differences between BLAS kernels (the four agree to 1e-7 after 100 and",
        "500 steps, then diverge). Epoch times on a shared machine vary with other load (see",
        "the load averages above and the spread of the epochs); the medians and the",
        "side-by-side alternation temper that, and a rerun moves the ratios by several",
        "percent, more for the 784-wide networks whose BLAS calls use two threads.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---:|---|",
    ]
    for t in result["targets"]:
        fmt = "{:.3f} s" if "import" in t["target"] else "{:.2f}x"
        met = "-" if t["met"] is None else ("yes" if t["met"] else "**no**")
        out.append(f"| {t['target']} | {_f(t['got'], fmt)} | {met} |")
    for suite, extra in result.get("extra", {}).items():
        out += ["", f"## {suite.upper()} (`benchmarks/{EXTRA_SUITES[suite]}`)", ""]
        if extra.get("markdown"):
            out.append(extra["markdown"])
        else:
            for r in extra["rows"]:
                out.append(
                    f"- {r.get('config')} / {r.get('contender')}: {r.get('status')} "
                    f"{r.get('note') or ''} {_f(r.get('samples_per_s'))} samples/s"
                )
    out.append("")
    return "\n".join(out)


def collect(
    quick: bool = False,
    only: list[str] | None = None,
    configs: list[str] | None = None,
    rss: bool | None = None,
    log: Any = None,
) -> dict:
    """Run the selected suites and return machine details, rows, ratios and targets."""
    sys.path.insert(0, HERE)
    import _common

    t0 = time.perf_counter()
    only = list(only or SUITES)
    machine = _common.machine_info()
    env, removed = _common.bench_env()
    rows: list[dict] = []
    extra: dict = {}
    if "mlp" in only:
        rows += run_mlp(quick, configs, rss=(not quick) if rss is None else rss, log=log)
    for suite, fname in EXTRA_SUITES.items():
        if suite in only:
            t1 = time.perf_counter()
            extra[suite] = run_extra(suite, os.path.join(HERE, fname), quick)
            rows += extra[suite]["rows"]
            if log:
                log(f"  {suite}: {time.perf_counter() - t1:.1f} s")
    add_ratios(rows)
    imp = None if quick else import_time_s()
    cmd = "python benchmarks/run.py" + (" --quick" if quick else "")
    return {
        "command": cmd, "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": machine, "threads": _common.blas_threads(), "openblas_unset": removed,
        "rows": rows, "extra": extra, "import_s": imp, "targets": check_targets(rows, imp),
        "elapsed_s": time.perf_counter() - t0, "load_after": _common.load_average(),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command line entry point (also ``retrograd bench``); returns the exit status."""
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny smoke run (seconds)")
    p.add_argument("--only", help="comma-separated suites: " + ",".join(SUITES))
    p.add_argument("--configs", help="comma-separated MLP configurations to run")
    p.add_argument("--no-rss", action="store_true", help="skip the RSS-growth subprocesses")
    p.add_argument("--write", metavar="PATH", help="write the markdown report here")
    p.add_argument("--json", metavar="PATH", help="write the raw results here")
    p.add_argument("--render", metavar="JSON", help="re-render a saved --json result, no runs")
    p.add_argument("--_child", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a._child:
        return _child_main(a._child, a.quick, a.json)
    if a.render:
        with open(a.render, encoding="utf-8") as fh:
            text = markdown(json.load(fh))
        if a.write:
            with open(a.write, "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            print(text)
        return 0
    only = a.only.split(",") if a.only else None
    bad = [s for s in only or [] if s not in SUITES]
    if bad:
        p.error(f"--only: unknown suite(s) {bad}; choose from {list(SUITES)}")
    configs = a.configs.split(",") if a.configs else None

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result = collect(a.quick, only, configs, rss=False if a.no_rss else None, log=log)
    if a.write:
        result["command"] = (
            "python benchmarks/run.py" + (" --quick" if a.quick else "") + (f" --write {a.write}")
        )
    text = markdown(result)
    if a.write:
        with open(a.write, "w", encoding="utf-8") as fh:
            fh.write(text)
        log(f"wrote {a.write}")
    else:
        print(text)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
