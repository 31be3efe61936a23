"""Accuracy against the noise level, plain cross-entropy against robust options."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._backend import xp
from .._checks import positive_int
from ._common import _accuracy, _check_rate, _class_labels, _standardize
from .inject import inject_input_noise, inject_label_noise
from .options import DEFAULT_LOSSES, OPTION_DEFAULTS, RobustOption, _train


@dataclass
class NoiseReport:
    """Test accuracy against noise level, from :func:`noise_report`.

    ``rows`` is a list of dicts, one per (option, noise kind, level): ``option``,
    ``noise`` ("label" or "input"), ``level``, ``accuracy_mean``, ``accuracy_std``,
    ``accuracies`` (one per seed). ``to_markdown()`` renders the tables, ``plot(path)``
    draws them, ``to_dict()`` gives JSON-able data.
    """

    rows: list
    options: list
    label_noise: list
    input_noise: list
    seeds: list
    epochs: int
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0
    suspicious: dict | None = None

    def accuracy(self, option: str, noise: str, level: float) -> float:
        """Mean test accuracy of ``option`` at ``level`` of ``noise`` ("label"/"input")."""
        for r in self.rows:
            if r["option"] == option and r["noise"] == noise and r["level"] == float(level):
                return r["accuracy_mean"]
        raise KeyError(f"NoiseReport: no row for option={option!r}, {noise} noise {level}")

    def _table(self, noise: str) -> str:
        levels = self.label_noise if noise == "label" else self.input_noise
        if not levels:
            return ""
        if noise == "label":
            head = [f"{lv:.0%} flipped" for lv in levels]
        else:
            head = [f"sigma {lv:g}" for lv in levels]
        lines = [
            "| option | " + " | ".join(head) + " |",
            "|---|" + "---:|" * len(levels),
        ]
        multi = len(self.seeds) > 1
        for opt in self.options:
            cells = []
            for lv in levels:
                r = next(
                    r for r in self.rows
                    if r["option"] == opt and r["noise"] == noise and r["level"] == lv
                )  # fmt: skip
                cell = f"{100 * r['accuracy_mean']:.1f}"
                if multi:
                    cell += f" ± {100 * r['accuracy_std']:.1f}"
                cells.append(cell)
            lines.append(f"| {opt} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The label-noise and input-noise tables (test accuracy in %, mean ± std over
        seeds), then the suspicious-sample precision when measured."""
        n_seeds = len(self.seeds)
        seeds_s = f"{n_seeds} seed{'s' if n_seeds > 1 else ''}"
        parts = []
        if self.label_noise:
            parts.append(
                f"Test accuracy (%) under label noise (training labels flipped to another "
                f"class; clean test set), {self.epochs} epochs, {seeds_s}:\n\n"
                + self._table("label")
            )
        if self.input_noise:
            parts.append(
                f"Test accuracy (%) under Gaussian input noise (std = sigma x feature std, "
                f"train and test inputs; clean labels), {self.epochs} epochs, {seeds_s}:\n\n"
                + self._table("input")
            )
        if self.suspicious:
            s = self.suspicious
            parts.append(
                f"Suspicious-sample ranking ({s['method']}, {s.get('option')} models): "
                f"{s['n_flipped']} labels flipped "
                f"({s['rate']:.0%}); precision of the top {s['top_k']} = "
                f"{100 * s['mean']:.1f} ± {100 * s['std']:.1f} % over {len(s['precision'])} "
                f"seed(s) (chance {100 * s['rate']:.0f} %)"
            )
        return "\n\n".join(parts) + "\n"

    def to_dict(self) -> dict:
        return {
            "rows": [dict(r) for r in self.rows],
            "options": list(self.options),
            "label_noise": list(self.label_noise),
            "input_noise": list(self.input_noise),
            "seeds": list(self.seeds),
            "epochs": self.epochs,
            "settings": dict(self.settings),
            "seconds": self.seconds,
            "suspicious": self.suspicious,
        }

    def plot(self, path: str) -> None:
        """Write a PNG with test accuracy against label noise and input noise."""
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError("NoiseReport.plot needs matplotlib: pip install matplotlib") from None
        kinds = [k for k, lv in (("label", self.label_noise), ("input", self.input_noise)) if lv]
        fig = Figure(figsize=(5.5 * len(kinds), 4.2))
        axes = fig.subplots(1, len(kinds), squeeze=False)[0]
        for ax, kind in zip(axes, kinds):
            levels = self.label_noise if kind == "label" else self.input_noise
            for opt in self.options:
                rs = [
                    next(r for r in self.rows
                         if r["option"] == opt and r["noise"] == kind and r["level"] == lv)
                    for lv in levels
                ]  # fmt: skip
                ax.errorbar(
                    levels,
                    [100 * r["accuracy_mean"] for r in rs],
                    yerr=[100 * r["accuracy_std"] for r in rs],
                    marker="o",
                    capsize=3,
                    label=opt,
                )
            ax.set_xlabel(
                "fraction of training labels flipped"
                if kind == "label"
                else "input noise std (x feature std)"
            )
            ax.set_ylabel("test accuracy (%)")
            ax.set_title(f"{kind} noise")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.suptitle(f"{self.settings.get('data', 'data')}: {self.epochs} epochs, "
                     f"{len(self.seeds)} seed(s)")  # fmt: skip
        fig.tight_layout()
        fig.savefig(path, dpi=110)


def _levels(values: Any, name: str, hi: float | None) -> list:
    if values is None:
        return []
    if isinstance(values, (int, float)):
        values = (values,)
    out = [_check_rate(v, name, "noise_report", hi=hi) for v in values]
    if len(set(out)) != len(out):
        raise ValueError(f"noise_report: {name} has repeated levels: {list(values)}")
    return out


def noise_report(
    X: Any,
    y: Any,
    *,
    model_fn: Callable | None = None,
    losses: Sequence[str | RobustOption] = DEFAULT_LOSSES,
    label_noise: Sequence[float] = (0.0, 0.1, 0.2, 0.4),
    input_noise: Sequence[float] = (0.0, 0.5, 1.0),
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 3e-3,
    seeds: Sequence[int] = (0,),
    test_size: float = 0.25,
    standardize: bool = True,
    plot: str | None = None,
    data_name: str = "data",
    progress: Callable[[str], None] | None = None,
) -> NoiseReport:
    """Measure how noisy data hurts training, and how much each robust option helps.

    For each seed, ``(X, y)`` is split (stratified, ``test_size``) and standardized with
    the training split's statistics. Then, for each option in ``losses`` (names parsed by
    :class:`RobustOption`: ``"ce"``, ``"label_smoothing"``, ``"gce"``, ``"sce"``,
    ``"ce+clip"``, ``"ce+weight_decay"``, ``"ce+dropout"``, ``"gce=0.5+clip=2"``...), the
    same network (``model_fn(n_features, n_classes[, dropout=p])``, default
    :func:`default_model`: 64 ReLU hidden units; same initial weights for every option) is
    trained by AdamW (``lr``, ``batch_size``, ``epochs``) on:

    - copies whose *training* labels have a fraction ``label_noise`` flipped to a
      different class (:func:`inject_label_noise`; the test set stays clean, the flipped
      samples are the same for every option), and
    - copies whose training *and* test inputs carry Gaussian noise of std ``input_noise``
      x each feature's std (:func:`inject_input_noise`; clean labels).

    Returns a :class:`NoiseReport` of test accuracies (mean, std and per-seed values);
    ``plot`` is a path for a PNG (needs matplotlib). ``progress`` receives one line per
    training run.

    Example::

        >>> import retrograd as rg
        >>> X, y = rg.data.load_digits()
        >>> rep = rg.noisy.noise_report(X[:300], y[:300], losses=("ce", "gce"),
        ...                             label_noise=(0, 0.2), input_noise=(), epochs=3)
        >>> [(r["option"], r["level"]) for r in rep.rows]
        [('ce', 0.0), ('ce', 0.2), ('gce', 0.0), ('gce', 0.2)]
    """
    from ..data.split import train_test_split

    fn = "noise_report"
    X = xp.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{fn}: X must be (n_samples, n_features), got shape {X.shape}")
    if X.dtype.kind != "f":
        X = X.astype(xp.float32)
    y = _class_labels(y, fn)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{fn}: X has {X.shape[0]} samples but y has {y.shape[0]}")
    positive_int(epochs, "epochs", fn)
    options = [RobustOption.parse(o) for o in losses]
    if not options:
        raise ValueError(f"{fn}: losses is empty; give at least one option, e.g. ('ce',)")
    names = [o.name for o in options]
    if len(set(names)) != len(names):
        raise ValueError(f"{fn}: losses has repeated options: {names}")
    lab_levels = _levels(label_noise, "label_noise", 1.0)
    inp_levels = _levels(input_noise, "input_noise", None)
    if not lab_levels and not inp_levels:
        raise ValueError(f"{fn}: give at least one label_noise or input_noise level")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError(f"{fn}: seeds is empty")
    if plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ImportError(f"{fn}: plot= needs matplotlib: pip install matplotlib") from None
    n_classes = int(y.max()) + 1
    say = progress or (lambda line: None)
    t_start = time.perf_counter()
    acc: dict = {}  # (option, kind, level) -> list over seeds
    kw = dict(model_fn=model_fn, epochs=epochs, batch_size=batch_size, lr=lr)

    for seed in seeds:
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, seed=seed, stratify=y)
        if standardize:
            X_tr, X_te = _standardize(X_tr, X_te)
        clean: dict = {}
        for lv in lab_levels:
            # One noisy copy per (seed, level), shared by all options: a fair comparison.
            y_noisy, _ = inject_label_noise(
                y_tr, lv, n_classes, rng=xp.random.default_rng([seed, 1, int(lv * 1e6)])
            )
            for o in options:
                t0 = time.perf_counter()
                net = _train(o, X_tr, y_noisy, n_classes, seed=seed, **kw)
                a = _accuracy(net, X_te, y_te)
                acc.setdefault((o.name, "label", lv), []).append(a)
                if lv == 0:
                    clean[o.name] = a
                say(f"seed {seed} {o.name:<24} label noise {lv:<5g} test acc {a:.4f} "
                    f"({time.perf_counter() - t0:.1f}s)")  # fmt: skip
        feat_std = X_tr.std(axis=0)
        for lv in inp_levels:
            gen = xp.random.default_rng([seed, 2, int(lv * 1e6)])
            Xn_tr = inject_input_noise(X_tr, lv, gen, std=feat_std)
            Xn_te = inject_input_noise(X_te, lv, gen, std=feat_std)
            for o in options:
                if lv == 0 and o.name in clean:  # the same run as 0 % label noise
                    a = clean[o.name]
                else:
                    t0 = time.perf_counter()
                    net = _train(o, Xn_tr, y_tr, n_classes, seed=seed, **kw)
                    a = _accuracy(net, Xn_te, y_te)
                    say(f"seed {seed} {o.name:<24} input noise {lv:<5g} test acc {a:.4f} "
                        f"({time.perf_counter() - t0:.1f}s)")  # fmt: skip
                acc.setdefault((o.name, "input", lv), []).append(a)

    rows = []
    for o in options:
        for kind, levels in (("label", lab_levels), ("input", inp_levels)):
            for lv in levels:
                a = xp.asarray(acc[(o.name, kind, lv)])
                rows.append({
                    "option": o.name, "noise": kind, "level": lv,
                    "accuracy_mean": float(a.mean()), "accuracy_std": float(a.std()),
                    "accuracies": [float(v) for v in a],
                })  # fmt: skip
    report = NoiseReport(
        rows=rows,
        options=names,
        label_noise=lab_levels,
        input_noise=inp_levels,
        seeds=seeds,
        epochs=epochs,
        settings={
            "data": data_name,
            "n_samples": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "n_classes": n_classes,
            "test_size": test_size,
            "batch_size": batch_size,
            "lr": lr,
            "optimizer": "AdamW",
            "model": "default_model (64 ReLU hidden)"
            if model_fn is None
            else getattr(model_fn, "__name__", "model_fn"),
            "option_defaults": dict(OPTION_DEFAULTS),
        },  # fmt: skip
        seconds=time.perf_counter() - t_start,
    )
    if plot is not None:
        report.plot(plot)
    return report
