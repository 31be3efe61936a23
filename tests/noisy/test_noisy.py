"""Noise injection, robust training options, the suspicious-sample ranking, noise_report
and the ``retrograd noise`` subcommand (built on a private parser: registration in
retrograd.cli is the CLI's business)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

import retrograd as rg
from retrograd.noisy import (
    LossTrajectory,
    RobustOption,
    default_model,
    inject_input_noise,
    inject_label_noise,
    per_sample_loss,
    suspicious_precision,
    suspicious_samples,
)


def _blobs(n=200, seed=0, n_classes=2):
    """Well separated Gaussian blobs: any label far from its blob is a planted error."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    angles = 2 * np.pi * np.arange(n_classes) / n_classes
    centers = 6 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    X = (centers[y] + rng.normal(size=(n, 2))).astype(np.float32)
    return X, y.astype(np.int64)


# --------------------------------------------------------------------- label noise
@pytest.mark.parametrize("rate,n", [(0.1, 200), (0.05, 1797), (0.4, 333), (0.0, 50), (1.0, 40)])
def test_label_noise_exact_rate_and_always_a_different_class(rate, n):
    y = np.arange(n) % 10
    y_before = y.copy()
    y_noisy, flipped = inject_label_noise(y, rate, 10, rng=3)
    assert flipped.dtype == bool and flipped.shape == (n,)
    assert flipped.sum() == round(rate * n)
    assert (y_noisy[flipped] != y[flipped]).all()
    assert (y_noisy[~flipped] == y[~flipped]).all()
    assert ((0 <= y_noisy) & (y_noisy < 10)).all() and y_noisy.dtype == y.dtype
    np.testing.assert_array_equal(y, y_before)  # the input is not modified


def test_label_noise_reproducible_with_a_seed():
    y = np.arange(500) % 7
    a, fa = inject_label_noise(y, 0.2, 7, rng=11)
    b, fb = inject_label_noise(y, 0.2, 7, rng=np.random.default_rng(11))
    c, fc = inject_label_noise(y, 0.2, 7, rng=12)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fa, fb)
    assert not np.array_equal(fa, fc)
    rg.manual_seed(5)
    d, _ = inject_label_noise(y, 0.2, 7)
    rg.manual_seed(5)
    e, _ = inject_label_noise(y, 0.2, 7)
    np.testing.assert_array_equal(d, e)


def test_label_noise_is_uniform_over_the_other_classes():
    y = np.zeros(30000, dtype=np.int64)
    y_noisy, flipped = inject_label_noise(y, 0.6, 4, rng=0)
    counts = np.bincount(y_noisy[flipped], minlength=4)
    assert counts[0] == 0
    # 18000 flips over 3 classes: 6000 each, binomial std ~63.
    assert np.all(np.abs(counts[1:] - 6000) < 400), counts


def test_label_noise_infers_n_classes_and_validates():
    y_noisy, flipped = inject_label_noise(np.array([0, 1, 2, 0, 1, 2]), 0.5, rng=0)
    assert flipped.sum() == 3 and y_noisy.max() <= 2
    with pytest.raises(ValueError, match="rate must be in"):
        inject_label_noise(np.array([0, 1]), 1.5, 2)
    with pytest.raises(ValueError, match="n_classes must be >= 2"):
        inject_label_noise(np.array([0, 0]), 0.5, 1)
    with pytest.raises(ValueError, match="integer class labels"):
        inject_label_noise(np.array([0.0, 1.0]), 0.5, 2)
    with pytest.raises(ValueError, match="label 5, expected labels in 0..2"):
        inject_label_noise(np.array([0, 5]), 0.5, 3)
    with pytest.raises(TypeError, match="rng must be"):
        inject_label_noise(np.array([0, 1]), 0.5, 2, rng="seed")


# --------------------------------------------------------------------- input noise
def test_input_noise_scale_in_units_of_feature_std():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(20000, 3)) * [1.0, 10.0, 0.1]).astype(np.float32)
    X[:, 2] = 7.0  # a constant feature gets no noise
    Xn = inject_input_noise(X, 0.5, rng=1)
    assert Xn.dtype == np.float32 and Xn.shape == X.shape
    ratio = (Xn - X).std(axis=0)[:2] / X.std(axis=0)[:2]
    np.testing.assert_allclose(ratio, 0.5, rtol=0.03)
    np.testing.assert_array_equal(Xn[:, 2], X[:, 2])
    assert abs(float((Xn - X).mean())) < 0.05  # zero-mean noise


def test_input_noise_reproducible_zero_scale_and_given_std():
    X = np.arange(40, dtype=np.float64).reshape(20, 2)
    np.testing.assert_array_equal(
        inject_input_noise(X, 0.7, rng=4), inject_input_noise(X, 0.7, rng=4)
    )
    z = inject_input_noise(X, 0.0, rng=4)
    np.testing.assert_array_equal(z, X)
    assert z is not X
    Xn = inject_input_noise(np.zeros((5000, 2)), 2.0, rng=0, std=np.array([1.0, 3.0]))
    np.testing.assert_allclose(Xn.std(axis=0), [2.0, 6.0], rtol=0.05)
    assert inject_input_noise(np.ones((3, 2), dtype=np.int64), 1.0, rng=0).dtype == np.float32
    with pytest.raises(ValueError, match="scale must be"):
        inject_input_noise(X, -1.0)
    with pytest.raises(ValueError, match="std has shape"):
        inject_input_noise(X, 1.0, std=np.ones(3))


# ---------------------------------------------------------------- training options
def test_robust_option_names():
    o = RobustOption.parse("ce")
    assert (o.loss, o.clip, o.weight_decay, o.dropout) == ("ce", None, 0.0, 0.0)
    o = RobustOption.parse("label_smoothing=0.2+dropout+wd=0.5")
    assert (o.loss, o.loss_param, o.dropout, o.weight_decay) == ("label_smoothing", 0.2, 0.3, 0.5)
    assert RobustOption.parse("clip").loss == "ce" and RobustOption.parse("clip").clip == 1.0
    assert isinstance(RobustOption.parse("gce").make_loss(), rg.nn.GeneralizedCrossEntropyLoss)
    assert RobustOption.parse("mae").make_loss().q == 1.0
    assert isinstance(RobustOption.parse("sce").make_loss(), rg.nn.SymmetricCrossEntropyLoss)
    assert RobustOption.parse("ls").make_loss().label_smoothing == 0.1
    for bad, match in [
        ("focal", "unknown part 'focal'"),
        ("ce+gce", "two losses"),
        ("gce=2", "q must be in"),
        ("ce+clip=x", "not a number"),
        ("ce+dropout=1", "dropout must be in"),
    ]:
        with pytest.raises(ValueError, match=match):
            RobustOption.parse(bad)


def test_loss_trajectory_and_per_sample_loss():
    X, y = _blobs(60)
    traj = LossTrajectory()
    net = rg.nn.Linear(2, 2)
    opt = rg.optim.Adam(net.parameters(), lr=0.05)
    rg.train.fit(net, rg.nn.CrossEntropyLoss(), opt, (X, y), epochs=4, verbose=0, callbacks=[traj])
    assert len(traj.losses) == 4 and traj.mean_loss().shape == (60,)
    # The last recorded epoch equals the final model's per-sample cross-entropy.
    out = rg.train.predict(net, X)
    np.testing.assert_allclose(traj.losses[-1], per_sample_loss(out, y), rtol=1e-6)
    ce = rg.nn.functional.cross_entropy(rg.tensor(out.astype(np.float64)), rg.tensor(y),
                                        reduction="none").data  # fmt: skip
    np.testing.assert_allclose(per_sample_loss(out, y), ce, rtol=1e-6)
    assert traj.mean_loss()[0] == pytest.approx(np.mean([e[0] for e in traj.losses]))


# -------------------------------------------------------------- suspicious samples
@pytest.mark.parametrize("method", ["oof", "trajectory", "loss"])
def test_ranking_finds_planted_label_flips(method):
    X, y = _blobs(200, seed=1, n_classes=3)
    y_noisy, flipped = inject_label_noise(y, 0.05, 3, rng=2)  # 10 planted errors
    found = suspicious_samples(default_model, (X, y_noisy), 10, method=method, epochs=15)
    assert found.method == method
    assert len(found.indices) == 10 and np.all(np.diff(found.scores) <= 0)
    assert found.all_scores.shape == (200,)
    # Chance is 5 %; these planted errors sit inside another blob, so most are caught.
    assert found.precision(flipped) >= 0.7, (method, found.precision(flipped))
    idx, scores = found
    np.testing.assert_array_equal(found.all_scores[idx], scores)
    assert found.predicted.shape == (200,)
    # The model's class differs from the (wrong) label for most top-ranked samples.
    assert (found.predicted[idx] != y_noisy[idx]).mean() >= 0.7


def test_default_ranking_for_a_factory_is_the_loss_trajectory():
    X, y = _blobs(60, seed=5)
    assert suspicious_samples(default_model, (X, y), 3, epochs=2).method == "trajectory"


def test_ranking_of_a_trained_module_and_its_trajectory():
    X, y = _blobs(120, seed=2)
    y_noisy, flipped = inject_label_noise(y, 0.05, 2, rng=0)
    traj = LossTrajectory()
    net = default_model(2, 2)
    rg.train.fit(net, rg.nn.CrossEntropyLoss(), rg.optim.Adam(net.parameters(), lr=1e-2),
                 (X, y_noisy), epochs=10, verbose=0, callbacks=[traj])  # fmt: skip
    by_traj = suspicious_samples(net, (X, y_noisy), 6, trajectory=traj)
    by_loss = suspicious_samples(net, (X, y_noisy), 6)
    assert by_traj.method == "trajectory" and by_loss.method == "loss"
    assert by_traj.precision(flipped) >= 0.5 and by_loss.precision(flipped) >= 0.5
    assert by_loss.predicted.shape == (120,)


def test_ranking_errors():
    X, y = _blobs(20)
    with pytest.raises(TypeError, match="factory"):
        suspicious_samples(default_model(2, 2), (X, y), 3, method="oof")
    with pytest.raises(ValueError, match="top_k must be an int in 1..20"):
        suspicious_samples(default_model, (X, y), 0)
    with pytest.raises(ValueError, match="method must be one of"):
        suspicious_samples(default_model, (X, y), 3, method="magic")
    with pytest.raises(ValueError, match="needs the LossTrajectory"):
        suspicious_samples(default_model(2, 2), (X, y), 3, method="trajectory")


def test_suspicious_precision_summary():
    X, y = _blobs(100, seed=3)
    res = suspicious_precision(X, y, rate=0.1, seeds=(0, 1), epochs=8, folds=3, ks=(5,))
    assert res["n_flipped"] == 10 and res["top_k"] == 10 and len(res["precision"]) == 2
    assert res["mean"] > 0.5 and res["std"] >= 0
    assert len(res["precision_at"][5]) == 2
    json.dumps(res)  # JSON-able


# -------------------------------------------------------------------- noise_report
def test_noise_report_small_run(tmp_path):
    X, y = rg.data.load_digits()
    X, y = X[:240], y[:240]
    png = tmp_path / "noise.png"
    rep = rg.train.noise_report(
        X, y, losses=("ce", "gce+clip"), label_noise=(0, 0.4), input_noise=(0, 1.0),
        epochs=2, seeds=(0, 1), plot=str(png),
    )  # fmt: skip
    assert [(r["option"], r["noise"], r["level"]) for r in rep.rows] == [
        ("ce", "label", 0.0), ("ce", "label", 0.4), ("ce", "input", 0.0), ("ce", "input", 1.0),
        ("gce+clip", "label", 0.0), ("gce+clip", "label", 0.4),
        ("gce+clip", "input", 0.0), ("gce+clip", "input", 1.0),
    ]  # fmt: skip
    for r in rep.rows:
        assert len(r["accuracies"]) == 2 and 0.0 <= r["accuracy_mean"] <= 1.0
        assert r["accuracy_mean"] == pytest.approx(np.mean(r["accuracies"]))
        assert r["accuracy_std"] == pytest.approx(np.std(r["accuracies"]))
    # Input noise 0 is the same training run as label noise 0.
    assert rep.accuracy("ce", "input", 0) == rep.accuracy("ce", "label", 0)
    md = rep.to_markdown()
    assert "| option | 0% flipped | 40% flipped |" in md
    assert "| option | sigma 0 | sigma 1 |" in md and "| gce+clip |" in md and "±" in md
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(rep.to_dict())


def test_noise_report_is_reproducible_and_validates():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(80, 3)).astype(np.float32), np.arange(80) % 2
    kw = dict(losses=("ce", "ce+dropout"), label_noise=(0.2,), input_noise=(), epochs=2)
    a, b = rg.train.noise_report(X, y, **kw), rg.train.noise_report(X, y, **kw)
    assert [r["accuracies"] for r in a.rows] == [r["accuracies"] for r in b.rows]

    def no_dropout_fn(n_features, n_classes):
        return rg.nn.Linear(n_features, n_classes)

    with pytest.raises(TypeError, match="dropout"):
        rg.train.noise_report(X, y, model_fn=no_dropout_fn, **kw)
    with pytest.raises(ValueError, match="unknown part"):
        rg.train.noise_report(X, y, losses=("ce", "bogus"))
    with pytest.raises(ValueError, match="label_noise must be in"):
        rg.train.noise_report(X, y, label_noise=(0.5, 2.0))
    with pytest.raises(ValueError, match="integer class labels"):
        rg.train.noise_report(X, y.astype(float))


# ------------------------------------------------------------------------------ CLI
def _cli(argv):
    from retrograd.cli import noise

    parser = argparse.ArgumentParser(prog="retrograd")
    noise.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_prints_table_and_suspicious_precision(tmp_path, capsys):
    X, y = _blobs(160, seed=4, n_classes=3)
    data = tmp_path / "blobs.npz"
    np.savez(data, X=X, y=y)
    out_json = tmp_path / "r.json"
    code = _cli([
        "noise", "--data", str(data), "--losses", "ce,gce", "--label-noise", "0,0.2",
        "--input-noise", "none", "--epochs", "3", "--suspicious", "4", "--json", str(out_json),
        "-q",
    ])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "| option | 0% flipped | 20% flipped |" in out
    assert "| ce |" in out and "| gce |" in out
    assert "precision of the top 8 =" in out  # 5 % of 160 labels flipped
    assert "precision of the top 4:" in out
    assert "the 4 most suspicious samples" in out
    saved = json.loads(out_json.read_text())
    assert saved["suspicious"]["n_flipped"] == 8 and len(saved["rows"]) == 4


def test_cli_rejects_bad_arguments(tmp_path):
    from retrograd.cli._common import UsageError

    with pytest.raises(UsageError, match="unknown part 'nope'"):
        _cli(["noise", "--losses", "ce,nope"])
    with pytest.raises(UsageError, match="--label-noise must be comma-separated numbers"):
        _cli(["noise", "--label-noise", "a,b"])
    with pytest.raises(UsageError, match="--epochs must be >= 1"):
        _cli(["noise", "--epochs", "0"])
    reg = tmp_path / "reg.npz"
    np.savez(reg, X=np.zeros((10, 2)), y=np.linspace(0, 1, 10))
    with pytest.raises(ValueError, match="needs integer class labels"):
        _cli(["noise", "--data", str(reg)])


def test_plot_without_matplotlib_says_so(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    X, y = _blobs(40)
    with pytest.raises(ImportError, match="plot= needs matplotlib: pip install matplotlib"):
        rg.train.noise_report(X, y, losses=("ce",), plot=str(tmp_path / "p.png"), epochs=1)


def test_former_module_path_and_train_names_still_import():
    import retrograd.noisy as noisy
    import retrograd.train.noise as old

    for name in noisy.__all__:
        assert getattr(old, name) is getattr(noisy, name)
    for name in rg.train._NOISY:
        assert getattr(rg.train, name) is getattr(noisy, name)
    from retrograd.train import noise_report

    assert noise_report is noisy.noise_report
