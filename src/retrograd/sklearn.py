"""scikit-learn estimators trained by retrograd, peers of ``MLPClassifier``/``MLPRegressor``.

- :class:`BackpropClassifier` / :class:`BackpropRegressor`: a feedforward network (Linear
  layers, an activation and optional dropout between them) trained by backpropagation with
  any retrograd optimizer (sgd, adam, adamw, rmsprop, lbfgs).
- :class:`FixedPointClassifier`: Pineda's fully recurrent network relaxed to a fixed point
  (:class:`retrograd.nn.RecurrentNet`) with a linear read-out, trained by recurrent
  backpropagation (Almeida-Pineda).

They follow scikit-learn's conventions (hyperparameters stored untouched by ``__init__``
and validated in ``fit``; fitted attributes end in ``_``), pass
``sklearn.utils.estimator_checks``, and work inside ``Pipeline``, ``GridSearchCV`` and
``cross_val_score``. The trained network is ``model_``, a plain :class:`retrograd.nn.Module`
that ``rg.save`` writes to a model file. Importing this module imports scikit-learn
(>= 1.6); ``import retrograd`` does not.

Example::

    >>> from sklearn.datasets import load_iris
    >>> from retrograd.sklearn import BackpropClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BackpropClassifier(hidden_layer_sizes=(16,), learning_rate=0.01,
    ...                          max_iter=300, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels

from ._checks import check_choice, check_int, check_real, fail, is_int, is_real

try:
    from sklearn.utils.validation import (
        _check_sample_weight,
        check_is_fitted,
        column_or_1d,
        validate_data,
    )
except ImportError as exc:  # validate_data and __sklearn_tags__ arrived in scikit-learn 1.6
    import sklearn

    raise ImportError(
        f"retrograd.sklearn needs scikit-learn >= 1.6, found {sklearn.__version__}: "
        'pip install -U "retrograd[sklearn]"'
    ) from exc

from . import _malloc, nn, optim
from ._warnings import warn_user
from .autograd.mode import no_grad
from .autograd.tensor import Tensor
from .nn import functional as F
from .nn import init
from .nn.fixedpoint import BACKWARDS, solver_options
from .ops import log_softmax
from .random import default_generator, get_rng_state, set_rng_state
from .train.compiled import CompiledStep

__all__ = ["BackpropClassifier", "BackpropRegressor", "FixedPointClassifier"]

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
}
_OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "lbfgs")
_CLASSIFIER_LOSSES = ("cross_entropy", "log_loss", "gce")
_REGRESSOR_LOSSES = ("squared_error", "absolute_error", "huber")
_DTYPES = ("float32", "float64")
#: The exponent q of the generalized cross-entropy (Zhang & Sabuncu 2018): q -> 0 is the
#: cross-entropy, q = 1 the (noise-robust) mean absolute error of the probabilities.
_GCE_Q = 0.7
#: Rows per forward pass at prediction time (bounds the memory of predict on big X).
_PREDICT_CHUNK = 8192


# ---------------------------------------------------------------- validation helpers
def _fail(est: Any, name: str, value: Any, expected: str) -> None:
    fail(type(est).__name__, name, value, expected)


def _check_int(est: Any, name: str, lo: int) -> int:
    return check_int(getattr(est, name), name, type(est).__name__, lo)


def _check_real(
    est: Any, name: str, lo: float, hi: float = math.inf, lo_open=False, hi_open=False
) -> float:
    return check_real(getattr(est, name), name, type(est).__name__, lo, hi, lo_open, hi_open)


def _check_choice(est: Any, name: str, choices: tuple) -> str:
    return check_choice(getattr(est, name), name, type(est).__name__, choices, strict=True)


@contextmanager
def _rng_scope(state: dict) -> Iterator[Any]:
    """Run with retrograd's global generator set to ``state`` (the estimator's own stream).

    Weight init and Dropout draw from the global generator; swapping it in makes ``fit``
    reproducible from ``random_state`` and leaves the caller's global stream untouched.
    The advanced state is written back into ``state``.
    """
    saved = get_rng_state()
    set_rng_state(state)
    try:
        yield default_generator()
    finally:
        state.clear()
        state.update(get_rng_state())
        set_rng_state(saved)


# ------------------------------------------------------------- the training step
#: Fewer training steps than this in one fit call run eagerly (recording costs ~1 step).
_MIN_COMPILED_STEPS = 8


class _Objective(nn.Module):
    """An estimator's unweighted training objective as a loss module (for CompiledStep)."""

    capture_safe = True

    def __init__(self, est: Any, p: dict) -> None:
        super().__init__()
        self._est, self._p = est, p

    def forward(self, out: Tensor, target: Any) -> Tensor:
        return self._est._objective(out, target, None, self._p, penalty=True)


# ---------------------------------------------------------------------- base class
class _BaseBackprop(BaseEstimator):
    """Training loop, validation and prediction shared by the three estimators."""

    _is_classifier = False

    # ---- hooks the subclasses define
    def _build_model(self, n_features: int, n_outputs: int, dtype: str) -> nn.Module:
        raise NotImplementedError

    def _check_arch_params(self) -> dict:
        return {}

    # ---- hyperparameters
    def _check_params(self, incremental: bool) -> dict:
        losses = _CLASSIFIER_LOSSES if self._is_classifier else _REGRESSOR_LOSSES
        p = {
            "loss": _check_choice(self, "loss", losses),
            "optimizer": _check_choice(self, "optimizer", _OPTIMIZERS),
            "learning_rate": _check_real(self, "learning_rate", 0.0, lo_open=True),
            "momentum": _check_real(self, "momentum", 0.0, 1.0),
            "max_iter": _check_int(self, "max_iter", 1),
            "tol": _check_real(self, "tol", 0.0),
            "n_iter_no_change": _check_int(self, "n_iter_no_change", 1),
            "alpha": _check_real(self, "alpha", 0.0),
            "validation_fraction": _check_real(
                self, "validation_fraction", 0.0, 1.0, lo_open=True, hi_open=True
            ),
        }
        bs = self.batch_size
        if not (bs in ("auto", "full") or (is_int(bs) and bs >= 1)):
            _fail(self, "batch_size", bs, "'auto', 'full' or an int >= 1")
        if self.target_loss is not None and not is_real(self.target_loss):
            _fail(self, "target_loss", self.target_loss, "None or a finite real number")
        for name in ("early_stopping", "shuffle", "warm_start"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                _fail(self, name, getattr(self, name), "a bool")
        if not (is_int(self.verbose) or isinstance(self.verbose, (bool, np.bool_))):
            _fail(self, "verbose", self.verbose, "an int or bool")
        try:
            dt = np.dtype(self.dtype).name
        except TypeError:
            dt = None
        if dt not in _DTYPES:
            _fail(self, "dtype", self.dtype, "'float32' or 'float64'")
        p["dtype"] = dt
        if self._is_classifier:
            p["label_smoothing"] = _check_real(self, "label_smoothing", 0.0, 1.0, hi_open=True)
            cw = self.class_weight
            if not (cw is None or cw == "balanced" or isinstance(cw, dict)):
                _fail(self, "class_weight", cw, "None, 'balanced' or a dict {label: weight}")
            if incremental and cw == "balanced":
                raise ValueError(
                    f"{type(self).__name__}: class_weight='balanced' is not supported by "
                    "partial_fit (one batch cannot tell the class frequencies); compute "
                    "the weights once with sklearn.utils.compute_class_weight and pass a dict"
                )
        else:
            p["huber_delta"] = _check_real(self, "huber_delta", 0.0, lo_open=True)
        if incremental and self.early_stopping:
            raise ValueError(
                f"{type(self).__name__}: partial_fit does not support early_stopping=True "
                "(got early_stopping=True)"
            )
        p.update(self._check_arch_params())
        return p

    # ---- public API
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _BaseBackprop:
        """Train on ``(X, y)`` for up to ``max_iter`` epochs; returns ``self``."""
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool, classes=None):
        _malloc.tune()  # training starts: see retrograd/_malloc.py
        p = self._check_params(incremental)
        dtype = p["dtype"]
        cont = (incremental or self.warm_start) and hasattr(self, "model_")
        if cont and dtype != self._dtype:
            raise ValueError(
                f"{type(self).__name__}: dtype changed from {self._dtype} to {dtype} "
                "between fits of one model; refit without warm_start"
            )
        X, y = validate_data(
            self, X, y, reset=not cont, dtype=dtype, y_numeric=not self._is_classifier,
            multi_output=True,
        )  # fmt: skip
        if self._is_classifier:
            if y.ndim == 2 and y.shape[1] > 1:
                raise ValueError(
                    f"{type(self).__name__}: y must hold binary or multiclass labels, got "
                    f"{type_of_target(y)!r} targets of shape {y.shape} (multilabel and "
                    "multioutput classification are not supported)"
                )
            y = column_or_1d(y, warn=True)  # DataConversionWarning for a (n, 1) column
        targets, sw = self._prepare_targets(y, sample_weight, X, p, cont, incremental, classes)
        n_outputs = self._n_outputs()

        if not cont:
            seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            self._rng_state = np.random.default_rng(seed).bit_generator.state
            self._seed = int(seed)
        with _rng_scope(self._rng_state) as gen:
            if not cont:
                self.model_ = self._build_model(X.shape[1], n_outputs, dtype)
                self._dtype = dtype
                self._optimizer = None
                self.n_iter_ = 0
                self.loss_curve_ = []
                self.best_loss_ = math.inf
                self.validation_loss_curve_ = [] if self.early_stopping else None
                self.validation_scores_ = [] if self.early_stopping else None
                self.best_validation_score_ = -math.inf if self.early_stopping else None
            if self.early_stopping and self.validation_scores_ is None:
                # warm_start turned early stopping on after a fit without it
                self.validation_loss_curve_, self.validation_scores_ = [], []
                self.best_validation_score_ = -math.inf
            if self._optimizer is None or self._optimizer_name != p["optimizer"]:
                self._optimizer = self._make_optimizer(p)
                self._optimizer_name = p["optimizer"]
            self._train(X, targets, sw, p, incremental, gen)
        return self

    def _n_outputs(self) -> int:
        return len(self.classes_) if self._is_classifier else self.n_outputs_

    # ---- optimisation
    def _weights_and_biases(self) -> tuple[list, list]:
        ps = list(self.model_.parameters())
        # L2 (alpha) acts on the connection weights only, never on biases (as MLP).
        return [q for q in ps if q.ndim >= 2], [q for q in ps if q.ndim < 2]

    def _make_optimizer(self, p: dict) -> optim.Optimizer:
        params = list(self.model_.parameters())
        lr, name = p["learning_rate"], p["optimizer"]
        if name == "sgd":
            return optim.SGD(params, lr=lr, momentum=p["momentum"])
        if name == "adam":
            return optim.Adam(params, lr=lr)
        if name == "adamw":
            # AdamW applies alpha as decoupled weight decay, on the weights only.
            weights, biases = self._weights_and_biases()
            groups = [{"params": weights, "weight_decay": p["alpha"]}]
            if biases:
                groups.append({"params": biases, "weight_decay": 0.0})
            return optim.AdamW(groups, lr=lr)
        if name == "rmsprop":
            return optim.RMSprop(params, lr=lr)
        # L-BFGS with a line search takes unit initial steps; learning_rate is unused
        # (as MLPClassifier's learning_rate_init with solver='lbfgs').
        # One iteration per step() (one epoch), with up to 25 line-search evaluations.
        return optim.LBFGS(params, lr=1.0, max_iter=1, max_eval=25, line_search_fn="strong_wolfe")

    def _objective(self, out: Tensor, target: Any, w: Any, p: dict, penalty: bool) -> Tensor:
        """Weighted mean of the per-sample losses (+ the L2 term): the quantity minimised.

        The L2 term ``alpha/2 * ||W||^2`` is divided by the batch's total sample weight, as
        in MLPClassifier, so that weights of 2 equal repeating a sample exactly.
        """
        per = self._per_sample_loss(out, target, p)
        if w is None:
            loss = per.mean()
            wsum = float(per.shape[0])
        else:
            wsum = float(w.sum())
            loss = (per * Tensor(w / wsum)).sum()
        if penalty and p["alpha"] > 0 and p["optimizer"] != "adamw":
            weights, _ = self._weights_and_biases()
            sq = (weights[0] * weights[0]).sum()
            for q in weights[1:]:
                sq = sq + (q * q).sum()
            loss = loss + sq * (0.5 * p["alpha"] / wsum)
        return loss

    def _train(self, X, targets, sw, p, incremental, gen) -> None:
        name = type(self).__name__
        val = None
        if self.early_stopping:
            X, targets, sw, *val = self._split_validation(X, targets, sw, p)
        n = X.shape[0]
        bs = self.batch_size
        bs = min(200, n) if bs == "auto" else n if bs == "full" else min(int(bs), n)
        if p["optimizer"] == "lbfgs":
            bs = n  # a quasi-Newton method needs the full-batch loss
        t0 = time.perf_counter()
        self.model_.train()
        with self._training_context():
            stop, best_state = self._epochs(X, targets, sw, p, incremental, gen, bs, val)
        self.model_.zero_grad()
        self.model_.eval()
        if best_state is not None:
            # Like MLPClassifier: keep the weights that scored best on the validation set.
            self.model_.load_state_dict(best_state)
        self.stop_reason_ = stop
        self.fit_time_ = time.perf_counter() - t0
        if stop == "max_iter":
            warnings.warn(
                f"{name}: {p['optimizer']} optimizer: maximum iterations ({p['max_iter']}) "
                "reached and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _epochs(self, X, targets, sw, p, incremental, gen, bs, val) -> tuple[str, Any]:
        """The epoch loop; returns (stop reason, best weights under early stopping)."""
        name = type(self).__name__
        n = X.shape[0]
        opt = self._optimizer
        no_improve = 0
        best_state = None
        epochs = 1 if incremental else p["max_iter"]
        step = self._compiled_step(p, epochs * -(-n // bs))
        for _ in range(epochs):
            # A full batch keeps the data's order: the sum is then the same in every epoch.
            order = gen.permutation(n) if self.shuffle and bs < n else None
            total = wtotal = 0.0
            for start in range(0, n, bs):
                idx = slice(None) if order is None else order[start : start + bs]
                xb, tb = X[idx], targets[idx]
                wb = None if sw is None else sw[idx]
                bw = float(xb.shape[0]) if wb is None else float(wb.sum())
                if bw <= 0.0:
                    continue  # every sample of this batch has weight 0: nothing to learn
                xt = Tensor(xb)

                def closure(xt=xt, tb=tb, wb=wb):
                    opt.zero_grad()
                    loss = self._objective(self.model_(xt), tb, wb, p, penalty=True)
                    loss.backward()
                    self._after_backward()
                    return loss

                if p["optimizer"] == "lbfgs":
                    value = float(opt.step(closure))
                elif step is not None and wb is None:
                    # The same computation as closure(), replayed (see _compiled_step).
                    opt.zero_grad()
                    value = float(step.run(xb, tb)[1])
                    self._after_backward()
                    opt.step()
                else:
                    value = float(closure())
                    opt.step()
                self._after_step()
                total += value * bw
                wtotal += bw
            if wtotal == 0.0:
                raise ValueError(f"{name}: sample_weight is zero for every sample")
            loss = total / wtotal
            if not math.isfinite(loss):
                raise ValueError(
                    f"{name}: the training loss became {loss} at iteration {self.n_iter_ + 1}; "
                    f"lower learning_rate (got {self.learning_rate!r}) or scale the inputs"
                )
            self.n_iter_ += 1
            self.loss_curve_.append(loss)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
            improved = loss <= self.best_loss_ - p["tol"]
            self.best_loss_ = min(self.best_loss_, loss)
            if val is not None:
                val_loss, val_score = self._evaluate(*val, p)
                self.model_.train()
                self.validation_loss_curve_.append(val_loss)
                self.validation_scores_.append(val_score)
                if self.verbose:
                    print(f"Validation score: {val_score:f}")
                improved = val_score >= self.best_validation_score_ + p["tol"]
                if val_score > self.best_validation_score_:
                    self.best_validation_score_ = val_score
                    best_state = {k: v.copy() for k, v in self.model_.state_dict().items()}
            if self.target_loss is not None and loss <= self.target_loss:
                return "target_loss", best_state
            no_improve = 0 if improved else no_improve + 1
            if not incremental and no_improve > p["n_iter_no_change"]:
                return ("early_stopping" if val is not None else "no_improvement"), best_state
        return ("partial_fit" if incremental else "max_iter"), best_state

    def _compiled_step(self, p: dict, n_steps: int) -> CompiledStep | None:
        """The unweighted training step as a :class:`~retrograd.train.CompiledStep`.

        Batches of the same shape replay one recorded step (bitwise the eager gradients),
        which saves most of the per-step Python work on small networks. Not for L-BFGS
        (it re-evaluates a closure) nor for calls of a few steps (``partial_fit``), where
        recording would cost more than it saves. Models or losses that cannot be replayed
        (the fixed-point network, generalized cross-entropy) run eagerly inside it.
        """
        if p["optimizer"] == "lbfgs" or n_steps < _MIN_COMPILED_STEPS:
            return None
        return CompiledStep(self.model_, _Objective(self, p))

    # Hooks: FixedPointClassifier counts the relaxations that did not converge.
    @contextmanager
    def _training_context(self) -> Iterator[None]:
        yield

    def _after_backward(self) -> None:
        pass

    def _after_step(self) -> None:
        pass

    def _split_validation(self, X, targets, sw, p):
        name = type(self).__name__
        stratify = targets if self._is_classifier else None
        arrays = (X, targets) if sw is None else (X, targets, sw)
        kw = dict(test_size=p["validation_fraction"], random_state=self._seed)
        try:
            parts = train_test_split(*arrays, stratify=stratify, **kw)
        except ValueError:
            # Stratifying needs 2 samples per class; fall back to a plain random split.
            parts = train_test_split(*arrays, **kw)
        if sw is None:
            X, X_val, t, t_val = parts
            w, w_val = None, None
        else:
            X, X_val, t, t_val, w, w_val = parts
        if X_val.shape[0] < 2 or X.shape[0] < 1:
            raise ValueError(
                f"{name}: the validation set is too small ({X_val.shape[0]} samples) for "
                f"early_stopping; increase validation_fraction (got {self.validation_fraction!r})"
                " or provide more samples"
            )
        return X, t, w, X_val, t_val, w_val

    def _evaluate(self, X, targets, sw, p) -> tuple[float, float]:
        """(weighted data loss, score) on held-out data, in eval mode."""
        out = self._raw_output(X)
        with no_grad():
            loss = float(self._objective(Tensor(out), targets, sw, p, penalty=False))
        if self._is_classifier:
            score = accuracy_score(targets, out.argmax(axis=1), sample_weight=sw)
        else:
            score = r2_score(targets, out, sample_weight=sw)
        return loss, float(score)

    # ---- prediction
    def _raw_output(self, X: np.ndarray) -> np.ndarray:
        self.model_.eval()
        with no_grad():
            outs = [
                self.model_(Tensor(X[i : i + _PREDICT_CHUNK])).data
                for i in range(0, X.shape[0], _PREDICT_CHUNK)
            ]
        return np.concatenate(outs, axis=0) if len(outs) != 1 else outs[0]

    def _forward(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=self._dtype)
        return self._raw_output(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


# ---------------------------------------------------------------- classifier mixin
class _ClassifierMixinBP(ClassifierMixin):
    _is_classifier = True

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> _ClassifierMixinBP:
        """One epoch over ``(X, y)``; ``classes`` (all labels) is required on the first call."""
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _prepare_targets(self, y, sample_weight, X, p, cont, incremental, classes):
        name = type(self).__name__
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"{name}: y must hold binary or multiclass labels, got {kind!r} targets "
                "(multilabel and multioutput classification are not supported)"
            )
        if incremental and not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError(
                    f"{name}: classes must be passed on the first call to partial_fit "
                    "(got classes=None)"
                )
            self.classes_ = unique_labels(classes)
        elif (
            incremental
            and classes is not None
            and not np.array_equal(self.classes_, unique_labels(classes))
        ):
            raise ValueError(
                f"{name}: classes={classes!r} is not the same as on the first call to "
                f"partial_fit, {self.classes_!r}"
            )
        elif not cont:
            self.classes_ = LabelEncoder().fit(y).classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{name}: y contains one class only ({self.classes_[0]!r}); a classifier "
                "needs samples of at least 2 classes"
            )
        unseen = np.setdiff1d(unique_labels(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"{name}: y has labels {unseen.tolist()!r} that are not in classes_ "
                f"{self.classes_.tolist()!r}"
            )
        targets = np.searchsorted(self.classes_, y).astype(np.int64)
        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X, dtype=p["dtype"], ensure_non_negative=True)
        if self.class_weight is not None:
            present = self.classes_
            if self.class_weight == "balanced":
                present = unique_labels(y)
            cw = compute_class_weight(self.class_weight, classes=present, y=y)
            full = np.ones(len(self.classes_))
            full[np.searchsorted(self.classes_, present)] = cw
            cws = full[targets].astype(p["dtype"])
            sw = cws if sw is None else sw * cws
        if sw is not None and not incremental and len(np.unique(targets[sw > 0])) < 2:
            raise ValueError(
                f"{name}: only one class has a positive sample_weight; a classifier needs "
                "samples of at least 2 classes"
            )
        return targets, sw

    def _per_sample_loss(self, out: Tensor, target: Any, p: dict) -> Tensor:
        if p["loss"] == "gce":
            # Generalized cross-entropy (Zhang & Sabuncu 2018): (1 - p_y^q) / q, from the
            # log-probabilities so that a confident wrong answer does not overflow.
            onehot = np.zeros(out.shape, dtype=out.dtype)
            onehot[np.arange(out.shape[0]), target] = 1.0
            logp_y = (log_softmax(out, axis=1) * Tensor(onehot)).sum(axis=1)
            return (1.0 - (logp_y * _GCE_Q).exp()) * (1.0 / _GCE_Q)
        return F.cross_entropy(out, target, reduction="none", label_smoothing=p["label_smoothing"])

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits, (n_samples, n_classes); for 2 classes the margin of classes_[1], (n_samples,)."""
        z = self._forward(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba`, computed stably from the logits."""
        z = self._forward(X)
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, (n_samples, n_classes), columns in the order of classes_."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label of each sample."""
        z = self._forward(X)  # first: it raises NotFittedError before classes_ is read
        return self.classes_[z.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


def _mlp_init(model: nn.Module, activation: str) -> None:
    """Glorot-uniform weights and biases, as MLPClassifier draws them.

    ``U(-b, b)``, ``b = sqrt(k / (fan_in + fan_out))``, ``k = 2`` for a logistic network and
    6 otherwise; using MLP's initialisation keeps the comparison with it like-for-like.
    """
    k = 2.0 if activation in ("logistic", "sigmoid") else 6.0
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            bound = math.sqrt(k / (layer.in_features + layer.out_features))
            init.uniform_(layer.weight, -bound, bound)
            if layer.bias is not None:
                init.uniform_(layer.bias, -bound, bound)


def _check_mlp_arch(est: Any) -> dict:
    h = est.hidden_layer_sizes
    sizes = [h] if is_int(h) else list(h) if isinstance(h, (list, tuple, np.ndarray)) else None
    if sizes is None or not all(is_int(s) and s >= 1 for s in sizes):
        _fail(est, "hidden_layer_sizes", h, "an int >= 1 or a sequence of them")
    return {
        "hidden": [int(s) for s in sizes],
        "activation": _check_choice(est, "activation", tuple(_ACTIVATIONS)),
        "dropout": _check_real(est, "dropout", 0.0, 1.0, hi_open=True),
    }


def _mlp(n_in: int, hidden: list, n_out: int, activation: str, dropout: float, dt: str):
    layers: list = []
    for width in hidden:
        layers += [nn.Linear(n_in, width, dtype=dt), _ACTIVATIONS[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = width
    layers.append(nn.Linear(n_in, n_out, dtype=dt))
    model = nn.Sequential(*layers)
    _mlp_init(model, activation)
    return model


_TRAIN_DOC = """
    Training hyperparameters (shared by the estimators of retrograd.sklearn):

    optimizer : {'adam', 'sgd', 'adamw', 'rmsprop', 'lbfgs'}, default='adam'
        Update rule (retrograd.optim). 'lbfgs' is full batch with a strong-Wolfe line search
        and ignores learning_rate and batch_size; 'adamw' applies alpha as decoupled weight
        decay instead of an L2 term in the loss.
    learning_rate : float, default=0.001
        Step size (MLP's learning_rate_init).
    momentum : float in [0, 1], default=0.9
        Momentum of 'sgd'.
    batch_size : 'auto', 'full' or int, default='auto'
        'auto' is min(200, n_samples) as in MLP; 1 is online learning; 'full' is the whole
        training set; an int larger than n_samples is clipped.
    max_iter : int, default=200
        Epochs (L-BFGS: iterations). A ConvergenceWarning is raised when all are used.
    tol, n_iter_no_change : float, int, default=1e-4, 10
        Stop when the training loss (the validation score with early_stopping) has not
        improved by tol for more than n_iter_no_change consecutive epochs.
    early_stopping, validation_fraction : bool, float, default=False, 0.1
        Hold out validation_fraction of the data (stratified for classifiers), stop on its
        score and keep the weights that scored best.
    target_loss : float or None, default=None
        Stop as soon as an epoch's training loss is <= target_loss.
    alpha : float, default=1e-4
        L2 penalty alpha/2 * ||W||^2 on the connection weights (not biases), divided by
        the batch's total sample weight as in MLP.
    shuffle : bool, default=True
        Reshuffle the samples every epoch.
    warm_start : bool, default=False
        Continue from the previous fit's weights (and optimizer state).
    random_state : None, int or RandomState, default=None
        Seeds weight init, shuffling, dropout and the validation split.
    verbose : int, default=0
        Print the loss after each epoch.
    dtype : {'float64', 'float32'}, default='float64'
        The network's float type; float32 is about twice as fast.
"""


class BackpropClassifier(_ClassifierMixinBP, _BaseBackprop):
    """Feedforward network classifier trained by backpropagation (a peer of MLPClassifier).

    The network is ``Linear -> activation [-> Dropout]`` per hidden layer and a final
    ``Linear`` to one logit per class; the loss is softmax cross-entropy (also for two
    classes). Hyperparameters mean what they mean in ``MLPClassifier``.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Units per hidden layer; ``()`` gives a (multinomial) logistic regression.
    activation : {'relu', 'tanh', 'logistic', 'identity', 'gelu', 'leaky_relu'}, default='relu'
    dropout : float in [0, 1), default=0.0
        Dropout probability after each hidden activation (training only).
    loss : {'cross_entropy', 'log_loss', 'gce'}, default='cross_entropy'
        'log_loss' is an alias of 'cross_entropy'; 'gce' is the generalized cross-entropy
        ``(1 - p_y^0.7) / 0.7``, robust to noisy labels.
    label_smoothing : float in [0, 1), default=0.0
        Label smoothing of the cross-entropy (another remedy for noisy labels).
    class_weight : None, 'balanced' or dict, default=None
        Multiplies each sample's weight by its class's weight.
    """

    __doc__ += _TRAIN_DOC
    __doc__ += """
    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_, n_iter_, loss_curve_, best_loss_,
    validation_loss_curve_ and validation_scores_ (None unless early_stopping),
    best_validation_score_, stop_reason_ ('max_iter', 'no_improvement', 'early_stopping',
    'target_loss' or 'partial_fit'), fit_time_ (seconds of the last fit's training loop),
    model_ (the trained retrograd.nn.Sequential; ``rg.save(clf.model_, path)`` saves it).

    Example::

        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.pipeline import make_pipeline
        >>> from sklearn.preprocessing import StandardScaler
        >>> from retrograd.sklearn import BackpropClassifier
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> clf = make_pipeline(StandardScaler(),
        ...                     BackpropClassifier((32,), max_iter=50, random_state=0))
        >>> clf.fit(X, y).score(X, y) > 0.95
        True
    """

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        loss: str = "cross_entropy",
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        momentum: float = 0.9,
        batch_size: Any = "auto",
        max_iter: int = 200,
        tol: float = 1e-4,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        target_loss: float | None = None,
        alpha: float = 1e-4,
        dropout: float = 0.0,
        label_smoothing: float = 0.0,
        class_weight: Any = None,
        shuffle: bool = True,
        warm_start: bool = False,
        random_state: Any = None,
        verbose: int = 0,
        dtype: str = "float64",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.target_loss = target_loss
        self.alpha = alpha
        self.dropout = dropout
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight
        self.shuffle = shuffle
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype

    def _check_arch_params(self) -> dict:
        return _check_mlp_arch(self)

    def _build_model(self, n_features: int, n_outputs: int, dtype: str) -> nn.Module:
        a = self._check_arch_params()
        return _mlp(n_features, a["hidden"], n_outputs, a["activation"], a["dropout"], dtype)


class BackpropRegressor(RegressorMixin, _BaseBackprop):
    """Feedforward network regressor trained by backpropagation (a peer of MLPRegressor).

    ``Linear -> activation [-> Dropout]`` per hidden layer, then a linear output layer with
    one unit per target. ``y`` may be 1-D (predictions are 1-D) or 2-D (multi-output).

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
    activation : {'relu', 'tanh', 'logistic', 'identity', 'gelu', 'leaky_relu'}, default='relu'
    dropout : float in [0, 1), default=0.0
    loss : {'squared_error', 'absolute_error', 'huber'}, default='squared_error'
        'squared_error' is ``0.5 * mean((y - f)^2)`` as in MLPRegressor (so learning rates
        carry over); 'absolute_error' and 'huber' are robust to outliers in y.
    huber_delta : float > 0, default=1.0
        Where the Huber loss turns from quadratic to linear.
    """

    __doc__ += _TRAIN_DOC
    __doc__ += """
    Attributes
    ----------
    n_outputs_, n_features_in_, feature_names_in_, n_iter_, loss_curve_, best_loss_,
    validation_loss_curve_, validation_scores_ (R^2; None unless early_stopping),
    best_validation_score_, stop_reason_, fit_time_, model_ (see BackpropClassifier).

    Example::

        >>> import numpy as np
        >>> from retrograd.sklearn import BackpropRegressor
        >>> X = np.linspace(-1, 1, 200).reshape(-1, 1)
        >>> y = np.sin(3 * X).ravel()
        >>> reg = BackpropRegressor((32,), activation="tanh", optimizer="lbfgs",
        ...                         max_iter=200, random_state=0).fit(X, y)
        >>> reg.score(X, y) > 0.99
        True
    """

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        loss: str = "squared_error",
        huber_delta: float = 1.0,
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        momentum: float = 0.9,
        batch_size: Any = "auto",
        max_iter: int = 200,
        tol: float = 1e-4,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        target_loss: float | None = None,
        alpha: float = 1e-4,
        dropout: float = 0.0,
        shuffle: bool = True,
        warm_start: bool = False,
        random_state: Any = None,
        verbose: int = 0,
        dtype: str = "float64",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.huber_delta = huber_delta
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.target_loss = target_loss
        self.alpha = alpha
        self.dropout = dropout
        self.shuffle = shuffle
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype

    def _check_arch_params(self) -> dict:
        return _check_mlp_arch(self)

    def _build_model(self, n_features: int, n_outputs: int, dtype: str) -> nn.Module:
        a = self._check_arch_params()
        return _mlp(n_features, a["hidden"], n_outputs, a["activation"], a["dropout"], dtype)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> BackpropRegressor:
        """One epoch over ``(X, y)``, continuing from the current weights."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _prepare_targets(self, y, sample_weight, X, p, cont, incremental, classes):
        y = np.asarray(y, dtype=p["dtype"])
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        if cont:
            if y2.shape[1] != self.n_outputs_:
                raise ValueError(
                    f"{type(self).__name__}: y has {y2.shape[1]} outputs, but the model was "
                    f"fitted with {self.n_outputs_}"
                )
        else:
            self.n_outputs_ = y2.shape[1]
            self._y_ndim = y.ndim
        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X, dtype=p["dtype"], ensure_non_negative=True)
        return y2, sw

    def _per_sample_loss(self, out: Tensor, target: Any, p: dict) -> Tensor:
        t = Tensor(target)
        if p["loss"] == "squared_error":
            d = out - t
            return (d * d).mean(axis=1) * 0.5
        if p["loss"] == "absolute_error":
            return (out - t).abs().mean(axis=1)
        return F.huber_loss(out, t, reduction="none", delta=p["huber_delta"]).mean(axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """Predictions, (n_samples,) for a 1-D training y, else (n_samples, n_outputs)."""
        out = self._forward(X)
        return out.ravel() if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


#: FixedPointClassifier's parameters that are options of the fixed-point solver
#: (``retrograd.nn.fixedpoint.SOLVER_OPTIONS``: parameter -> option); _SOLVER_FIXED holds
#: the options it sets itself, and every other option keeps its default (a test checks
#: that each option is accounted for here, so a new solver option is a conscious choice).
_SOLVER_PARAMS = {
    "relax_tol": "tol", "relax_max_iter": "max_iter", "damping": "damping", "backward": "backward",
    "relax_solver": "solver", "backward_solver": "backward_solver",
    "backward_max_iter": "backward_max_iter", "backward_damping": "backward_damping",
    "anderson_m": "anderson_m", "anderson_beta": "anderson_beta", "anderson_lam": "anderson_lam",
    "broyden_m": "broyden_m",
}  # fmt: skip
_SOLVER_FIXED = {"on_nonconvergence": "warn"}
_SOLVER_DEFAULTS = ("tol_mode", "backward_tol", "estimate_spectral_radius", "stop")
# The solver parameters checked by solver_options (the older four have their own checks).
_OPTION_PARAMS = (
    "solver", "backward_solver", "backward_max_iter", "backward_damping", "anderson_m",
    "anderson_beta", "anderson_lam", "broyden_m",
)  # fmt: skip


class FixedPointClassifier(_ClassifierMixinBP, _BaseBackprop):
    """Recurrent (Almeida-Pineda) network classifier: relax to a fixed point, read out.

    ``n_units`` fully interconnected units receive the input through ``weight_in`` and
    relax to ``s* = f(W s* + W_in x + b)`` (:class:`retrograd.nn.RecurrentNet`); a
    ``Linear`` layer reads one logit per class from ``s*``. Training backpropagates through
    the fixed point by recurrent backpropagation (``backward='rbp'``), so memory does not
    grow with the number of relaxation steps.

    Parameters
    ----------
    n_units : int, default=32
        Recurrent units.
    activation : {'sigmoid', 'tanh'}, default='sigmoid'
    damping : float in (0, 1], default=1.0
        Relaxation step ``s <- (1 - damping) s + damping f(...)``.
    relax_tol, relax_max_iter : float, int, default=1e-4, 100
        Each sample's relaxation stops when its own relative change is <= relax_tol
        (so its fixed point does not depend on the other rows of its batch), or after
        relax_max_iter steps (counted in ``n_relaxation_failures_``; one
        ConvergenceWarning per fit).
    backward : {'rbp', 'neumann', 'cg', 'unrolled', 'jfb', 'phantom'}, default='rbp'
        How the adjoint fixed point is solved, or approximated ('jfb', 'phantom'; see
        retrograd.nn.FixedPoint).
    relax_solver : {'iter', 'anderson', 'broyden'}, default='iter'
        The forward solver: the damped iteration, Anderson acceleration or limited-memory
        Broyden (each sample stops on its own relax_tol either way).
    backward_solver : {'iter', 'anderson', 'broyden'} or None, default=None
        The solver of the 'rbp' adjoint relaxation (None: the same as relax_solver).
    backward_max_iter, backward_damping : int, float or None, default=None
        The adjoint's iteration cap and damping ('phantom': its number of steps and
        damping); None: relax_max_iter and damping.
    anderson_m, anderson_beta, anderson_lam : int, float, float, default=5, 1.0, 1e-8
        Anderson's memory, mixing and scale-relative regularization.
    broyden_m : int, default=20
        Broyden's memory (rank-one pairs per sample before a restart).
    symmetric : bool, default=False
        Use ``(W + W^T) / 2`` (a Hopfield-style net).
    contraction : float in (0, 1) or None, default=0.9
        After every update (and at init) the recurrent weights are rescaled so that
        ``||W||_2 * max|f'| <= contraction``: the relaxation is then a contraction and
        converges from any start, forward and backward. None leaves W free (Pineda's
        original network, which can lose its fixed point while it learns).
    loss, label_smoothing, class_weight
        As in BackpropClassifier. ``alpha`` (L2) also keeps the recurrent weights small,
        which keeps the relaxation contracting.
    """

    __doc__ += _TRAIN_DOC.replace("default=0.001", "default=0.01")
    __doc__ += """
    Attributes
    ----------
    As BackpropClassifier, plus ``n_relaxation_failures_`` (relaxations of the last fit that
    hit relax_max_iter). ``model_`` is ``Sequential(RecurrentNet, Linear)``.

    Example::

        >>> from sklearn.datasets import load_iris
        >>> from retrograd.sklearn import FixedPointClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = FixedPointClassifier(n_units=8, max_iter=150, random_state=0).fit(X, y)
        >>> clf.score(X, y) > 0.9
        True
    """

    def __init__(
        self,
        n_units: int = 32,
        activation: str = "sigmoid",
        *,
        damping: float = 1.0,
        relax_tol: float = 1e-4,
        relax_max_iter: int = 100,
        backward: str = "rbp",
        relax_solver: str = "iter",
        backward_solver: str | None = None,
        backward_max_iter: int | None = None,
        backward_damping: float | None = None,
        anderson_m: int = 5,
        anderson_beta: float = 1.0,
        anderson_lam: float = 1e-8,
        broyden_m: int = 20,
        symmetric: bool = False,
        contraction: float | None = 0.9,
        loss: str = "cross_entropy",
        optimizer: str = "adam",
        learning_rate: float = 0.01,
        momentum: float = 0.9,
        batch_size: Any = "auto",
        max_iter: int = 200,
        tol: float = 1e-4,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        target_loss: float | None = None,
        alpha: float = 1e-4,
        label_smoothing: float = 0.0,
        class_weight: Any = None,
        shuffle: bool = True,
        warm_start: bool = False,
        random_state: Any = None,
        verbose: int = 0,
        dtype: str = "float64",
    ) -> None:
        self.n_units = n_units
        self.activation = activation
        self.damping = damping
        self.relax_tol = relax_tol
        self.relax_max_iter = relax_max_iter
        self.backward = backward
        self.relax_solver = relax_solver
        self.backward_solver = backward_solver
        self.backward_max_iter = backward_max_iter
        self.backward_damping = backward_damping
        self.anderson_m = anderson_m
        self.anderson_beta = anderson_beta
        self.anderson_lam = anderson_lam
        self.broyden_m = broyden_m
        self.symmetric = symmetric
        self.contraction = contraction
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.target_loss = target_loss
        self.alpha = alpha
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight
        self.shuffle = shuffle
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype

    def _check_arch_params(self) -> dict:
        if not isinstance(self.symmetric, (bool, np.bool_)):
            _fail(self, "symmetric", self.symmetric, "a bool")
        if self.contraction is not None:
            _check_real(self, "contraction", 0.0, 1.0, lo_open=True, hi_open=True)
        return {
            "n_units": _check_int(self, "n_units", 1),
            "activation": _check_choice(self, "activation", ("tanh", "sigmoid")),
            "damping": _check_real(self, "damping", 0.0, 1.0, lo_open=True),
            "relax_tol": _check_real(self, "relax_tol", 0.0, lo_open=True),
            "relax_max_iter": _check_int(self, "relax_max_iter", 1),
            "backward": _check_choice(self, "backward", BACKWARDS),
            **self._check_solver_params(),
        }

    def _check_solver_params(self) -> dict:
        """The solver parameters, checked by the options' own rules (names as here)."""
        names = {p: o for p, o in _SOLVER_PARAMS.items() if o in _OPTION_PARAMS}
        given = {o: getattr(self, p) for p, o in names.items() if getattr(self, p) is not None}
        who = type(self).__name__
        try:
            opts = solver_options(who, given)
        except ValueError as exc:  # name the parameter, not the option it sets
            msg = str(exc).replace(f"{who}: solver ", f"{who}: relax_solver ", 1)
            raise ValueError(msg) from None
        # None keeps following relax_max_iter / damping / solver in the net itself.
        return {p: (opts[o] if o in given else None) for p, o in names.items()}

    def _build_model(self, n_features: int, n_outputs: int, dtype: str) -> nn.Module:
        a = self._check_arch_params()
        solver = {option: a[param] for param, option in _SOLVER_PARAMS.items()}
        net = nn.RecurrentNet(
            n_features, 0, a["n_units"], activation=a["activation"],
            symmetric=bool(self.symmetric), dtype=dtype, **solver, **_SOLVER_FIXED,
        )  # fmt: skip
        self._project(net)
        readout = nn.Linear(a["n_units"], n_outputs, dtype=dtype)
        bound = math.sqrt(6.0 / (a["n_units"] + n_outputs))
        init.uniform_(readout.weight, -bound, bound)
        init.uniform_(readout.bias, -bound, bound)
        return nn.Sequential(net, readout)

    # Relaxation failures are counted from the solver's statistics after every pass and
    # reported once per fit, instead of one RuntimeWarning per mini-batch.
    @contextmanager
    def _training_context(self) -> Iterator[None]:
        self.n_relaxation_failures_ = 0
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="FixedPoint ", category=RuntimeWarning)
            yield
        if self.n_relaxation_failures_:
            warn_user(
                f"FixedPointClassifier: {self.n_relaxation_failures_} relaxations did not "
                f"reach relax_tol={self.relax_tol!r} within relax_max_iter="
                f"{self.relax_max_iter!r} steps; increase relax_max_iter or alpha, or use "
                "damping < 1",
                ConvergenceWarning,
            )

    def _after_step(self) -> None:
        # Projected gradient step: rescale W so that ||W||_2 * max|f'| <= contraction. The
        # map s -> f(W s + u) is then a contraction, so the relaxation (and the adjoint one
        # of the backward pass) converges from any start, at a rate <= contraction.
        self._project(self.model_[0])

    def _project(self, net: nn.RecurrentNet) -> None:
        if self.contraction is None:
            return
        w = net.weight.data
        slope = 0.25 if self.activation == "sigmoid" else 1.0
        bound = self.contraction / slope
        norm = float(np.linalg.norm(w, 2))
        if norm > bound:
            w *= bound / norm

    def _after_backward(self) -> None:
        stats = self.model_[0].last_stats
        for key in ("forward_converged", "backward_converged"):
            if not stats.get(key, True):
                self.n_relaxation_failures_ += 1
