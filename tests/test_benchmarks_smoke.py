"""Smoke test of the benchmark harness: structure of the output, never any timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCH)

import _common  # noqa: E402
import run as bench_run  # noqa: E402


@pytest.mark.slow
def test_quick_run_writes_every_contender_and_the_report(tmp_path):
    out_json, out_md = tmp_path / "r.json", tmp_path / "B.md"
    rc = bench_run.main(
        ["--quick", "--only", "mlp", "--json", str(out_json), "--write", str(out_md)]
    )
    assert rc == 0
    result = json.loads(out_json.read_text())
    for key in ("cpu", "logical_cpus", "numpy", "blas_runtime", "python", "retrograd"):
        assert key in result["machine"]
    rows = result["rows"]
    import bench_mlp

    assert {r["config"] for r in rows} == set(bench_mlp.QUICK)
    assert {r["contender"] for r in rows} == set(bench_mlp.CONTENDERS)
    losses: dict = {}
    for r in rows:
        assert set(_common.RESULT_KEYS) <= set(r), r
        assert r["status"] in ("ok", "skipped", "failed")
        if r["contender"] in ("retrograd", "retrograd-eager", "numpy", "products"):
            assert r["status"] == "ok", r["note"]
        if r["status"] != "ok":
            assert r["note"]
            continue
        assert len(r["epoch_s"]) == bench_mlp.QUICK_REPEATS
        assert r["samples_per_s"] > 0 and r["epoch_s_median"] > 0
        assert r["mem_method"]
        if r["contender"] in bench_mlp.NOT_TRAINING:
            assert r["loss_after_1_epoch"] is None  # the products-only ceiling trains nothing
            continue
        losses.setdefault(r["config"], []).append(r["loss_after_1_epoch"])
    for config, ls in losses.items():
        # Same start, same batches, same rule: one epoch later the losses agree.
        assert max(ls) - min(ls) < 1e-3 * max(ls), (config, ls)
    ratio = {(r["config"], r["contender"]): r["speed_ratio"] for r in rows}
    assert all(ratio[(c, "retrograd")] == pytest.approx(1.0) for c in bench_mlp.QUICK)
    md = out_md.read_text()
    for heading in ("# Benchmarks", "## Machine", "## MLP training epoch", "## Targets"):
        assert heading in md
    assert "python benchmarks/run.py --quick --write" in md


def test_micro_step_runs_and_replays(capsys):
    import micro_step

    assert micro_step.main(["--batch", "2", "--blocks", "2", "--steps", "3"]) == 0
    out = capsys.readouterr().out
    for name in ("eager loop", "compiled step", "optimizer step", "NumPy limit"):
        assert name in out
    assert "ran eagerly" not in out


def test_missing_suite_is_skipped_with_a_note(tmp_path):
    got = bench_run.run_extra("rnn", str(tmp_path / "bench_nothing.py"), quick=True)
    (row,) = got["rows"]
    assert row["status"] == "skipped" and "not found" in row["note"]


def test_failing_suite_is_reported_not_raised(tmp_path):
    bad = tmp_path / "bench_broken.py"
    bad.write_text("def run(quick=False):\n    raise RuntimeError('boom')\n")
    got = bench_run.run_extra("cnn", str(bad), quick=True)
    (row,) = got["rows"]
    assert row["status"] == "failed" and "boom" in row["note"]


def test_extra_suite_rows_come_back(tmp_path):
    good = tmp_path / "bench_fake.py"
    good.write_text(
        "def run(quick=False):\n"
        "    return [{'config': 'c', 'contender': 'retrograd', 'status': 'ok',"
        " 'samples_per_s': 10.0}, {'config': 'c', 'contender': 'pytorch', 'status': 'ok',"
        " 'samples_per_s': 5.0}]\n"
    )
    got = bench_run.run_extra("cnn", str(good), quick=True)
    rows = got["rows"]
    assert [r["suite"] for r in rows] == ["cnn", "cnn"]
    bench_run.add_ratios(rows)
    assert rows[1]["speed_ratio"] == pytest.approx(2.0)


def test_targets_are_checked_against_ratios():
    rows = [
        {"suite": "mlp", "config": "digits-online", "contender": c, "samples_per_s": s}
        for c, s in (("retrograd", 600.0), ("pytorch", 100.0))
    ]
    bench_run.add_ratios(rows)
    targets = {t["target"]: t for t in bench_run.check_targets(rows, import_s=0.5)}
    online = next(t for k, t in targets.items() if k.startswith("digits-online"))
    assert online["got"] == pytest.approx(6.0) and online["met"] is True
    imp = next(t for k, t in targets.items() if "import" in k)
    assert imp["met"] is False
    b128 = next(t for k, t in targets.items() if k.startswith("mlp784-b128"))
    assert b128["got"] is None and b128["met"] is None


def test_importing_run_is_cheap():
    code = (
        f"import sys; sys.path.insert(0, {BENCH!r}); import run; "
        "print(sorted(m for m in ('numpy', 'torch', 'sklearn', 'retrograd') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bench_env_unsets_both_openblas_pins(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.delenv("OPENBLAS_L2_SIZE", raising=False)
    env, removed = _common.bench_env()
    assert removed == ["OPENBLAS_CORETYPE"]
    assert "OPENBLAS_CORETYPE" not in env and "OPENBLAS_L2_SIZE" not in env


def test_time_alternating_rotates_and_counts():
    calls = []
    fns = {n: (lambda n=n: calls.append(n)) for n in "abc"}
    times = _common.time_alternating(fns, repeats=3, warmup=1, settle=0.0)
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert calls[:3] == ["a", "b", "c"]  # warm-up
    assert calls[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # rotated rounds


def test_nets_suite_runs_both_contenders_on_the_same_work():
    import bench_nets

    rows = bench_nets.run(quick=True, repeats=1)
    assert {(r["config"], r["contender"]) for r in rows} == {
        (c, k) for c in bench_nets.CONFIGS for k in bench_nets.CONTENDERS
    }
    for r in rows:
        assert set(_common.RESULT_KEYS) <= set(r), r
        if r["contender"] == "retrograd":
            assert r["status"] == "ok", r["note"]
    by_config: dict = {}
    for r in rows:
        if r["status"] == "ok":
            by_config.setdefault(r["config"], []).append(r["final_loss"])
    for config, ls in by_config.items():
        # Same weights, same batches, same SGD rule: the same loss after the run.
        assert max(ls) - min(ls) < 1e-4 * max(ls), (config, ls)
    assert "speed vs PyTorch" in bench_nets.markdown(rows)


def _deq_rows(names):
    import bench_deq

    rows = bench_deq.run(quick=True, hidden=(8,), names=names)
    md = bench_deq.markdown(rows)
    return rows, md


def test_deq_suite_measures_every_part():
    names = ["retrograd iter", "retrograd anderson+jfb"]
    rows, md = _deq_rows(names)
    assert [r["contender"] for r in rows] == names
    for r in rows:
        assert set(_common.RESULT_KEYS) <= set(r), r
        assert r["status"] == "ok", r["note"]
        assert r["step_ms_median"] > 0 and r["fwd_last_epoch"] >= 1
        assert 0.0 <= r["test_acc"] <= 1.0
    assert rows[1]["bwd_last_epoch"] == 0  # jfb solves no adjoint system
    extra = rows[0]["extra"]
    assert {r["solver"] for r in extra["iters"]} >= {"iter", "anderson"}
    assert all(r["fwd_converged"] for r in extra["iters"])
    assert {c["contender"] for c in extra["cosines"]} == {"retrograd anderson+jfb"}
    assert all(-1.0 <= c["cosine"] <= 1.0 for c in extra["cosines"])
    assert {r["training"] for r in extra["jacreg"]} == {"without", "weight 0.1", "weight 1"}
    for heading in ("Hidden 8", "tol 1e-6", "Cosine", "Jacobian regularization"):
        assert heading in md


def test_deq_suite_against_torchdeq_same_start():
    pytest.importorskip("torchdeq")
    rows, _ = _deq_rows(["retrograd iter", "torchdeq fixed-point"])
    assert [r["status"] for r in rows] == ["ok", "ok"], [r["note"] for r in rows]
    # Same weights, batches and stopping rule, same algorithm: the same evaluation counts
    # (torchdeq's backward starts from zero, one evaluation more) and accuracy.
    ours, theirs = rows
    assert abs(ours["fwd_last_epoch"] - theirs["fwd_last_epoch"]) <= 1
    assert abs(ours["bwd_last_epoch"] + 1 - theirs["bwd_last_epoch"]) <= 1
    assert ours["test_acc"] == pytest.approx(theirs["test_acc"], abs=0.05)
