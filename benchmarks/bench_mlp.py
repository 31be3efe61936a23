"""One training epoch of a ReLU MLP: retrograd against PyTorch, scikit-learn and NumPy.

Every contender trains the same network (same initial weights, float32), with SGD
(momentum 0.9, no dampening, no weight decay, constant learning rate) on the mean
softmax cross-entropy, over the same pre-made batches in the same order. One epoch of
each is timed in turn (see ``_common.time_alternating``) and the median is reported.

Run one configuration (what ``run.py`` does, one fresh process per configuration)::

    python benchmarks/bench_mlp.py --config mlp784-b128 --json out.json

``run(quick=False)`` runs every configuration in this process and returns the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

LR = 0.01
MOMENTUM = 0.9
CONTENDERS = (
    "retrograd", "retrograd-numpy", "retrograd-eager", "pytorch", "torch-compile", "jax",
    "sklearn", "numpy", "products",
)  # fmt: skip
#: Contenders whose memory Python's tracemalloc cannot see (their own allocators): their
#: peak is the growth of the process's peak RSS over the first epoch (run.py measures it).
RSS_ONLY = ("pytorch", "torch-compile", "jax")
#: Contenders that do not train (no loss to check after the warm-up epoch).
NOT_TRAINING = ("products",)
MEM_TRACEMALLOC = "tracemalloc peak over one epoch (after warm-up)"
MEM_RSS = "ru_maxrss growth over the first epoch (fresh process)"
MEM_XLA = "XLA memory_analysis of the compiled step (arguments + outputs + temporaries)"

# name: network sizes, data, batch size, samples used, passes over the data per timed rep
CONFIGS: dict[str, dict] = {
    "mlp784-b32": dict(sizes=(784, 256, 256, 10), data="mnist", batch=32, n=8192, passes=1),
    "mlp784-b128": dict(sizes=(784, 256, 256, 10), data="mnist", batch=128, n=8192, passes=1),
    "mlp784-b512": dict(sizes=(784, 256, 256, 10), data="mnist", batch=512, n=8192, passes=1),
    "digits-b16": dict(sizes=(64, 32, 32, 10), data="digits", batch=16, n=None, passes=1),
    "digits-online": dict(sizes=(64, 32, 32, 10), data="digits", batch=1, n=None, passes=1),
    # One full-batch step is ~1 ms: a timed repetition is 20 steps (20 passes).
    "digits-full": dict(sizes=(64, 32, 32, 10), data="digits", batch=0, n=None, passes=20),
}
# --quick: the same code paths on tiny data, for the smoke test.
QUICK: dict[str, dict] = {
    "quick-b64": dict(sizes=(784, 32, 32, 10), data="mnist", batch=64, n=256, passes=1),
    "quick-online": dict(sizes=(64, 32, 32, 10), data="digits", batch=1, n=32, passes=1),
}
REPEATS, QUICK_REPEATS = 7, 3


def describe(cfg: dict, n: int) -> str:
    net = "-".join(str(s) for s in cfg["sizes"])
    batch = cfg["batch"]
    kind = "full batch" if batch in (0, n) else ("online" if batch == 1 else f"batch {batch}")
    data = "MNIST-shaped synthetic" if cfg["data"] == "mnist" else "digits"
    extra = f", {cfg['passes']} passes per timed rep" if cfg["passes"] > 1 else ""
    return f"MLP {net} (ReLU), {kind}, {data} {n} samples{extra}"


def load_data(cfg: dict) -> tuple:
    if cfg["data"] == "mnist":
        X, y = C.synthetic_classification(cfg["n"], cfg["sizes"][0], cfg["sizes"][-1])
        return X, y, "synthetic (class centres + uniform noise)"
    return C.digits_data(cfg["n"])


class Skip(Exception):
    """A contender that cannot run here (missing package or API), with the reason."""


# -------------------------------------------------------------------- contenders
# Each builder returns (epoch, params): epoch() trains one pass over the batches,
# params() returns [(weight (out, in), bias)] as float32 ndarrays.


def _eager_epoch(model: Any, loss_fn: Any, opt: Any, data: list) -> Any:
    """The textbook loop, the same code for retrograd and PyTorch (their APIs agree)."""

    def epoch() -> None:
        for xb, yb in data:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()

    return epoch


def build_retrograd(
    init: list, batches: list, passes: int, compiled: bool = True, kernels: str = "auto"
) -> tuple:
    """retrograd as ``fit`` trains: the recorded step replayed (``rg.train.compile_step``).

    ``compiled=False`` is the eager loop (zero_grad, forward, loss, backward, step), the
    engine walking a fresh graph every step: the ``retrograd-eager`` contender.
    ``kernels="numpy"`` runs the compiled step on the NumPy twins of the compiled kernels
    (``retrograd.kernels.use``), as an install without the ``[fast]`` extra does: the
    ``retrograd-numpy`` contender (the same as ``retrograd`` where Numba is absent).
    """
    try:
        import retrograd as rg
        from retrograd._malloc import tune

        tune()  # what fit does when training starts (retrograd/_malloc.py)
        nn, optim = rg.nn, rg.optim
        optim.SGD  # noqa: B018 - rg.optim is written separately; check it is there
    except Exception as e:  # noqa: BLE001
        raise Skip(f"retrograd.nn/optim unavailable: {type(e).__name__}: {e}") from e
    layers: list = []
    for i, (w, _) in enumerate(init):
        layers.append(nn.Linear(w.shape[1], w.shape[0]))
        if i < len(init) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    state = {}
    for i, (w, b) in enumerate(init):
        state[f"{2 * i}.weight"], state[f"{2 * i}.bias"] = w, b
    model.load_state_dict(state)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    data = [(rg.tensor(xb), rg.tensor(yb)) for xb, yb in batches] * passes

    if compiled:
        step = rg.train.compile_step(model, loss_fn, opt)
        from retrograd import kernels as rk

        def epoch() -> None:
            rk.use(kernels)  # the contenders alternate in one process: set it each epoch
            try:
                for xb, yb in data:
                    step(xb, yb)
            finally:
                rk.use("auto")
            if step.eager_reason is not None:
                raise RuntimeError(f"the compiled step ran eagerly: {step.eager_reason}")

    else:
        epoch = _eager_epoch(model, loss_fn, opt, data)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    return epoch, lambda: [(m.weight.data, m.bias.data) for m in linears]


def build_pytorch(init: list, batches: list, passes: int, compile_model: bool = False) -> tuple:
    try:
        import torch
    except ImportError as e:
        raise Skip("PyTorch is not installed") from e
    torch.set_num_threads(C.blas_threads())
    layers: list = []
    for i, (w, b) in enumerate(init):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(init) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    data = [(torch.from_numpy(xb), torch.from_numpy(yb)) for xb, yb in batches] * passes
    run = model
    if compile_model:
        try:
            run = torch.compile(model)
            # Compile forward and backward now, outside the timed and measured epochs
            # (the gradients are dropped: the weights stay the shared initial ones).
            loss_fn(run(data[0][0]), data[0][1]).backward()
            opt.zero_grad()
        except Exception as e:  # noqa: BLE001 - no compiler, unsupported platform ...
            raise Skip(f"torch.compile does not work here: {type(e).__name__}: {e}") from e
    epoch = _eager_epoch(run, loss_fn, opt, data)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    return epoch, lambda: [
        (m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in linears
    ]


def build_torch_compile(init: list, batches: list, passes: int, quick: bool = False) -> tuple:
    """The PyTorch contender with ``torch.compile(model)`` (inductor, CPU; backward too).

    Compiling takes tens of seconds (a C++ compiler is needed): skipped by ``--quick``.
    """
    if quick:
        raise Skip("torch.compile takes tens of seconds to compile: not in --quick runs")
    return build_pytorch(init, batches, passes, compile_model=True)


def build_jax(init: list, batches: list, passes: int) -> tuple:
    """JAX: the whole step (forward, loss, gradients, optax SGD momentum) under ``jax.jit``.

    ``optax.sgd(lr, momentum)`` is PyTorch's rule (``trace = g + m * trace``, then
    ``p -= lr * trace``); parameters and optimizer state are donated to the step, so XLA
    updates them in place. The epoch ends by waiting for the last step's result.
    """
    try:
        import jax
        import numpy as np
        import optax
    except ImportError as e:
        raise Skip("JAX/optax are not installed (pip install jax jaxlib optax)") from e
    n_layers = len(init)
    if C.blas_threads() == 1:
        # One thread, as every other contender (XLA reads the flags at its first use).
        # Current XLA ignores these; run_config's one-CPU affinity is what holds it to
        # one core (see pin_for_threads).
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "")
            + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        )

    def loss_fn(params: Any, x: Any, y: Any) -> Any:
        a = x
        for i, (w, b) in enumerate(params):
            a = a @ w.T + b
            if i < n_layers - 1:
                a = jax.nn.relu(a)
        return optax.softmax_cross_entropy_with_integer_labels(a, y).mean()

    opt = optax.sgd(LR, momentum=MOMENTUM)

    def step(params: Any, state: Any, x: Any, y: Any) -> tuple:
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    cpu = jax.devices("cpu")[0]
    box = {"params": [(jax.device_put(w, cpu), jax.device_put(b, cpu)) for w, b in init]}
    box["state"] = opt.init(box["params"])
    data = [
        (jax.device_put(xb, cpu), jax.device_put(yb.astype(np.int32), cpu)) for xb, yb in batches
    ] * passes
    # Compiled ahead of time (every batch has the same shape): no compilation in an epoch.
    jstep = jax.jit(step, donate_argnums=(0, 1)).lower(box["params"], box["state"], *data[0])
    jstep = jstep.compile()

    def epoch() -> None:
        params, state, loss = box["params"], box["state"], None
        for xb, yb in data:
            params, state, loss = jstep(params, state, xb, yb)
        loss.block_until_ready()
        box["params"], box["state"] = params, state

    mem = jstep.memory_analysis()
    if mem is not None:
        # What XLA allocates for one step: arguments, outputs and temporaries.
        total = mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
        epoch.peak_mem = (total / 2**20, MEM_XLA)  # type: ignore[attr-defined]
    return epoch, lambda: [(np.asarray(w), np.asarray(b)) for w, b in box["params"]]


def build_sklearn(init: list, batches: list, passes: int) -> tuple:
    try:
        import numpy as np
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError as e:
        raise Skip("scikit-learn is not installed") from e
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    bs = len(batches[0][0])
    # partial_fit on the batches laid end to end with shuffle=False is exactly one epoch
    # over the same batches in the same order, and keeps the momentum between calls.
    X = np.concatenate([xb for xb, _ in batches])
    y = np.concatenate([yb for _, yb in batches])
    clf = MLPClassifier(
        hidden_layer_sizes=tuple(w.shape[0] for w, _ in init[:-1]), activation="relu",
        solver="sgd", learning_rate="constant", learning_rate_init=LR, momentum=MOMENTUM,
        nesterovs_momentum=False, alpha=0.0, batch_size=bs, shuffle=False, max_iter=1,
        tol=0.0, n_iter_no_change=10**9, early_stopping=False,
    )  # fmt: skip
    classes = np.arange(init[-1][0].shape[0])
    clf.partial_fit(X[:bs], y[:bs], classes=classes)  # allocate the network ...
    for (w, b), cw, cb in zip(init, clf.coefs_, clf.intercepts_):
        cw[...] = w.T  # ... then start from the shared initial weights
        cb[...] = b
    del clf._optimizer  # and from zero momentum (re-created on the next call)
    if clf.coefs_[0].dtype != np.float32:
        raise Skip(f"scikit-learn trains in {clf.coefs_[0].dtype}, not float32")

    def epoch() -> None:
        for _ in range(passes):
            clf.partial_fit(X, y)

    return epoch, lambda: [(cw.T.copy(), cb.copy()) for cw, cb in zip(clf.coefs_, clf.intercepts_)]


def build_numpy(init: list, batches: list, passes: int) -> tuple:
    """Hand-written explicit backprop: the speed NumPy allows for this network.

    Written as a careful NumPy programmer would: activations kept for the backward pass,
    ReLU masks from the saved outputs, softmax cross-entropy gradient in place, momentum
    updated in place. It computes the loss too, as every other contender does.
    """
    import numpy as np

    W = [w.copy() for w, _ in init]
    B = [b.copy() for _, b in init]
    vW = [np.zeros_like(w) for w in W]
    vB = [np.zeros_like(b) for b in B]
    L = len(W)
    # Constants as 0-d float32 arrays: same values as the Python floats, and NumPy skips
    # the scalar conversion on every call (~0.5 us each on small arrays).
    f32 = np.float32
    m, lr, zero = np.asarray(MOMENTUM, f32), np.asarray(LR, f32), np.zeros((), f32)
    n = len(batches[0][0])
    rows = np.arange(n)
    inv_n = np.asarray(1.0 / n, f32)
    data = list(batches) * passes

    def step(x: Any, y: Any) -> Any:
        acts = [x]
        a = x
        for i in range(L):
            a = a @ W[i].T
            a += B[i]
            if i < L - 1:
                np.maximum(a, zero, out=a)
            acts.append(a)
        # softmax cross-entropy on the logits, then its gradient in the same buffer
        a -= a.max(axis=1, keepdims=True)
        e = np.exp(a)
        se = e.sum(axis=1, keepdims=True)
        loss = (np.log(se[:, 0]) - a[rows, y]).sum() / n
        e /= se
        e[rows, y] -= 1
        e *= inv_n
        d = e
        for i in range(L - 1, -1, -1):
            gw = d.T @ acts[i]
            gb = d.sum(axis=0)
            if i > 0:
                d = d @ W[i]
                d *= acts[i] > zero
            vW[i] *= m
            vW[i] += gw
            W[i] -= lr * vW[i]
            vB[i] *= m
            vB[i] += gb
            B[i] -= lr * vB[i]
        return loss

    def epoch() -> None:
        for xb, yb in data:
            step(xb, yb)

    return epoch, lambda: list(zip(W, B))


def build_products(init: list, batches: list, passes: int) -> tuple:
    """Only the matrix products of each step: a ceiling on anything that makes them.

    Per batch, the forward products and, backward, every weight gradient and the input
    gradient of every layer but the first, each written into a preallocated output (no
    bias, activation, loss or update; the operands are fixed arrays of the right shapes).
    No program computing this network's gradients with these products can train faster;
    the NumPy limit and every contender are compared with it in the same run.
    """
    import numpy as np

    ws = [w for w, _ in init]
    n = len(batches[0][0])
    rng = np.random.default_rng(0)
    f32 = np.float32
    acts = [rng.random((n, w.shape[0]), dtype=f32) for w in ws]  # layer outputs
    deltas = [rng.random((n, w.shape[0]), dtype=f32) for w in ws]  # their gradients
    data = list(batches) * passes

    outs: dict = {}  # one output buffer per product, shared by the batches

    def plan(x: Any) -> list:
        ins = [x] + acts[:-1]  # each layer's input
        pairs = [(a, w.T) for a, w in zip(ins, ws)]  # forward
        for i in range(len(ws) - 1, -1, -1):
            pairs.append((deltas[i].T, ins[i]))  # weight gradient
            if i:
                pairs.append((deltas[i], ws[i]))  # input gradient
        return [
            (
                a,
                b,
                outs.setdefault(
                    (k, a.shape[0], b.shape[1]), np.empty((a.shape[0], b.shape[1]), dtype=f32)
                ),
            )
            for k, (a, b) in enumerate(pairs)
        ]

    plans = {id(xb): plan(xb) for xb, _ in batches}

    def epoch() -> None:
        for xb, _ in data:
            for a, b, out in plans[id(xb)]:
                np.matmul(a, b, out=out)

    return epoch, lambda: None


BUILDERS = {
    "retrograd": build_retrograd,
    "retrograd-numpy": lambda init, batches, passes: build_retrograd(
        init, batches, passes, kernels="numpy"
    ),
    "retrograd-eager": lambda init, batches, passes: build_retrograd(init, batches, passes, False),
    "pytorch": build_pytorch,
    "torch-compile": build_torch_compile,
    "jax": build_jax,
    "sklearn": build_sklearn,
    "numpy": build_numpy,
    "products": build_products,
}


# ------------------------------------------------------------------------ running


def _row(name: str, cfg: dict, desc: str, contender: str, n_used: int) -> dict:
    return {
        "suite": "mlp", "config": name, "description": desc, "contender": contender,
        "status": "ok", "note": "", "batch_size": cfg["batch"] or n_used, "n_samples": n_used,
        "passes": cfg["passes"], "samples_per_s": None, "epoch_s_median": None,
        "epoch_s": [], "peak_mem_mib": None, "mem_method": None, "loss_after_1_epoch": None,
    }  # fmt: skip


def run_config(
    name: str, quick: bool = False, repeats: int | None = None, contenders: Any = CONTENDERS
) -> list[dict]:
    """Time every contender on one configuration in this process; one row per contender."""
    import numpy as np

    cfg = (QUICK if quick else CONFIGS)[name]
    repeats = repeats or (QUICK_REPEATS if quick else REPEATS)
    cpus = pin_for_threads(C.blas_threads())
    X, y, source = load_data(cfg)
    bs = cfg["batch"] or len(X)
    batches = C.make_batches(X, y, bs)
    n_used = len(batches) * bs
    desc = describe(cfg, n_used)
    X_used = np.concatenate([xb for xb, _ in batches])
    y_used = np.concatenate([yb for _, yb in batches])
    init = C.init_params(cfg["sizes"])
    rows, epochs, getters = {}, {}, {}
    for c in contenders:
        rows[c] = _row(name, cfg, desc, c, n_used)
        rows[c]["data"] = source
        rows[c]["cpus"] = cpus
        try:
            if c == "torch-compile":
                epochs[c], getters[c] = build_torch_compile(init, batches, cfg["passes"], quick)
            else:
                epochs[c], getters[c] = BUILDERS[c](init, batches, cfg["passes"])
        except Skip as e:
            rows[c].update(status="skipped", note=str(e))
        except Exception as e:  # noqa: BLE001 - report, do not abort the other contenders
            rows[c].update(status="failed", note=f"{type(e).__name__}: {e}")
    good = dict(epochs)
    for c in list(good):
        # The warm-up epoch. From the same start on the same batches, every contender's
        # loss after it must agree (to float32 rounding): the check that all did the same
        # work. Later epochs may drift apart (different BLAS kernels round differently
        # and online SGD amplifies it), so the check is made here.
        try:
            good[c]()
            if c not in NOT_TRAINING:
                rows[c]["loss_after_1_epoch"] = C.mlp_loss(getters[c](), X_used, y_used)
        except Exception as e:  # noqa: BLE001 - report, time the others
            rows[c].update(status="failed", note=f"{type(e).__name__}: {e}")
            del good[c]
    settle = 0.02 if quick else 0.2
    cpu: dict = {c: [] for c in good}
    times = C.time_alternating(
        {c: _cpu_timed(fn, cpu[c]) for c, fn in good.items()}, repeats=repeats, warmup=0,
        settle=settle,
    )  # fmt: skip
    for c, ts in times.items():
        med = C.median(ts)
        r = rows[c]
        r.update(epoch_s=ts, epoch_s_median=med, samples_per_s=n_used * cfg["passes"] / med)
        # CPU seconds of the whole process per wall second over the timed epochs: 1.0 for
        # a contender computing on one core, up to the thread count when it uses more.
        r["cpu_per_wall"] = sum(cpu[c]) / sum(ts) if sum(ts) > 0 else None
        if hasattr(good[c], "peak_mem"):
            r["peak_mem_mib"], r["mem_method"] = good[c].peak_mem
        elif c in RSS_ONLY:
            r["mem_method"] = MEM_RSS
            r["note"] = "memory: tracemalloc cannot see this contender's allocator"
        else:
            r["peak_mem_mib"] = C.traced_peak_mib(good[c])
            r["mem_method"] = MEM_TRACEMALLOC
    return [rows[c] for c in contenders]


def pin_for_threads(threads: int) -> list[int] | None:
    """With one thread for every contender, run this process on one CPU only.

    NumPy's BLAS and PyTorch obey their thread settings, but XLA (JAX) sizes its thread
    pool from the CPUs it may run on and ignores the ``XLA_FLAGS`` thread options in
    current versions: confined to one CPU, every contender computes on one core (the
    ``cpu_per_wall`` column shows it). Threads started later inherit the affinity.
    Returns the CPUs this process may use afterwards (None where unsupported).
    """
    try:
        allowed = sorted(os.sched_getaffinity(0))
        if threads == 1 and len(allowed) > 1:
            os.sched_setaffinity(0, {allowed[-1]})
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return None


def _cpu_timed(fn: Any, into: list) -> Any:
    """``fn`` that appends the process CPU seconds each call takes to ``into``."""
    import time

    def timed() -> None:
        t0 = time.process_time()
        fn()
        into.append(time.process_time() - t0)

    return timed


def rss_growth(name: str, contender: str, quick: bool = False) -> float | None:
    """Peak-RSS growth over the first epoch of one contender; call in a fresh process."""
    cfg = (QUICK if quick else CONFIGS)[name]
    pin_for_threads(C.blas_threads())
    X, y, _ = load_data(cfg)
    batches = C.make_batches(X, y, cfg["batch"] or len(X))
    init = C.init_params(cfg["sizes"])
    try:
        epoch, _ = BUILDERS[contender](init, batches, cfg["passes"])
    except Skip:
        return None
    import gc

    gc.collect()
    before = C.maxrss_mib()
    epoch()
    return C.maxrss_mib() - before


def run(quick: bool = False) -> list[dict]:
    """Every configuration, in this process (``run.py`` uses one process per config)."""
    rows = []
    for name in QUICK if quick else CONFIGS:
        rows += run_config(name, quick)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="comma-separated, from: " + ", ".join(CONFIGS))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--rss", metavar="CONTENDER", help="only measure first-epoch RSS growth")
    p.add_argument("--json", metavar="PATH", help="write the rows here (default: stdout)")
    a = p.parse_args(argv)
    names = a.config.split(",")
    known = QUICK if a.quick else CONFIGS
    bad = [n for n in names if n not in known]
    if bad:
        p.error(f"--config: unknown {bad}; choose from {list(known)}")
    if a.rss:
        out: Any = {"rss_growth_mib": rss_growth(names[0], a.rss, a.quick)}
    else:
        out = [row for n in names for row in run_config(n, a.quick, a.repeats)]
    text = json.dumps(out, indent=1)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
