"""Run exported models with ONNX Runtime and compare them with retrograd."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

BATCHES = (1, 7, 64)
TOL = 1e-5  # float32: |ort - retrograd| <= TOL + TOL * |retrograd|


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def flat(out):
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in flat(o)]
    return [np.asarray(out.data)]


def reference(model, x):
    model.eval()
    with rg.no_grad():
        return flat(model(rg.tensor(x)))


def assert_matches(model, path, xs, tol=TOL):
    """ONNX Runtime's outputs for each input in ``xs`` equal retrograd's (shapes too)."""
    sess = session(path)
    name = sess.get_inputs()[0].name
    worst = 0.0
    for x in xs:
        want = reference(model, x)
        got = sess.run(None, {name: x})
        assert len(got) == len(want)
        for w, g in zip(want, got):
            assert g.shape == w.shape, (g.shape, w.shape)
            assert g.dtype == w.dtype
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
            worst = max(worst, float(np.abs(g - w).max(initial=0.0)))
    return worst


def random_inputs(sample_shape, batches=BATCHES, dtype=np.float32, seed=0, axis=0):
    rng = np.random.default_rng(seed)
    out = []
    for b in batches:
        shape = list(sample_shape)
        shape.insert(axis, b)
        out.append(rng.standard_normal(shape).astype(dtype))
    return out


def export_and_check(model, sample_shape, tmp_path, *, batches=BATCHES, axis=0, **kw):
    """Export with a batch-2 example, check the file, compare on batches 1, 7 and 64."""
    x = random_inputs(sample_shape, (2,), axis=axis, seed=99)[0]
    path = rg.onnx.export(model, rg.tensor(x), tmp_path / "m.onnx", **kw)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert_matches(model, path, random_inputs(sample_shape, batches, axis=axis))
    return path
