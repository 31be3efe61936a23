"""compile_step: a recorded step replayed must be the eager step, to the bit, or not run."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import retrograd as rg
from retrograd.train.compiled import module_capture_safe


def _data(n=40, d=6, k=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(dtype), rng.integers(0, k, n)


def _pair(build, opt_fn=None, seed=0):
    """Two identical models (same init) with their optimizers."""
    out = []
    for _ in range(2):
        rg.manual_seed(seed)
        m = build()
        opt = (opt_fn or (lambda p: rg.optim.SGD(p, lr=0.05, momentum=0.9)))(m.parameters())
        out.append((m, opt))
    return out


def _eager_step(m, lf, opt, x, y):
    opt.zero_grad()
    loss = lf(m(rg.tensor(x)), rg.tensor(y))
    loss.backward()
    opt.step()
    return float(loss.data)


def _mlp(act=rg.nn.ReLU, d=6, k=3):
    return lambda: rg.nn.Sequential(
        rg.nn.Linear(d, 8), act(), rg.nn.Linear(8, 8), act(), rg.nn.Linear(8, k)
    )


@pytest.mark.parametrize(
    "build, loss, target",
    [
        (_mlp(rg.nn.ReLU), rg.nn.CrossEntropyLoss(), "labels"),
        (_mlp(rg.nn.Tanh), rg.nn.CrossEntropyLoss(reduction="sum"), "labels"),
        (_mlp(rg.nn.Sigmoid), rg.nn.MSELoss(), "regression"),
        (_mlp(rg.nn.GELU), rg.nn.MSELoss(), "regression"),
        (_mlp(lambda: rg.nn.LeakyReLU(0.1)), rg.nn.BCEWithLogitsLoss(), "binary"),
        (_mlp(rg.nn.Softplus), rg.nn.L1Loss(), "regression"),
    ],
)
@pytest.mark.parametrize("batch", [1, 7, 40])
def test_replay_is_bitwise_the_eager_step(build, loss, target, batch):
    x, labels = _data()
    if target == "labels":
        y = labels
    elif target == "binary":
        y = (np.random.default_rng(1).random((40, 3)) > 0.5).astype(np.float32)
    else:
        y = np.random.default_rng(1).standard_normal((40, 3)).astype(np.float32)
    (m1, o1), (m2, o2) = _pair(build)
    step = rg.train.compile_step(m2, loss, o2)
    calls = 0
    for _ in range(2):
        for i in range(0, 40, batch):
            calls += 1
            xb, yb = x[i : i + batch], y[i : i + batch]
            assert step(xb, yb) == _eager_step(m1, loss, o1, xb, yb)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p1.data, p2.data)
        np.testing.assert_array_equal(p1.grad, p2.grad)
    assert step.eager_reason is None
    # one recording per batch shape; every other step was a replay
    assert step.recordings == len({min(batch, 40 - i) for i in range(0, 40, batch)})
    assert step.replays == calls - step.recordings


def test_cnn_replay_matches_eager_float64():
    def build():
        return rg.nn.Sequential(
            rg.nn.Conv2d(1, 3, 3, padding=1), rg.nn.ReLU(), rg.nn.MaxPool2d(2),
            rg.nn.Flatten(), rg.nn.Linear(3 * 4 * 4, 4),
        ).double()  # fmt: skip

    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 1, 8, 8))
    y = rng.integers(0, 4, 6)
    (m1, o1), (m2, o2) = _pair(build, lambda p: rg.optim.Adam(p, lr=1e-2))
    lf = rg.nn.CrossEntropyLoss()
    step = rg.train.compile_step(m2, lf, o2)
    for _ in range(4):
        assert step(x, y) == _eager_step(m1, lf, o1, x, y)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert p2.data.dtype == np.float64
        np.testing.assert_array_equal(p1.data, p2.data)
    assert step.replays == 3


def test_shared_weights_accumulate_in_engine_order():
    class Tied(rg.nn.Module):
        capture_safe = True

        def __init__(self):
            super().__init__()
            self.fc = rg.nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x).tanh()) + self.fc(x)

    (m1, o1), (m2, o2) = _pair(Tied)
    x, y = _data(d=4, k=4)
    lf = rg.nn.CrossEntropyLoss()
    step = rg.train.compile_step(m2, lf, o2)
    for _ in range(3):
        assert step(x, y) == _eager_step(m1, lf, o1, x, y)
    np.testing.assert_array_equal(m1.fc.weight.data, m2.fc.weight.data)
    assert step.replays == 2


def test_forward_backward_accumulates_like_backward():
    (m1, _), (m2, _) = _pair(_mlp())
    x, y = _data()
    lf = rg.nn.CrossEntropyLoss()
    step = rg.train.compile_step(m2, lf)
    for _ in range(3):
        lf(m1(rg.tensor(x)), rg.tensor(y)).backward()
        out, loss = step.forward_backward(x, y)
        assert isinstance(out, rg.Tensor) and out.shape == (40, 3) and loss.grad_fn is None
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p1.grad, p2.grad)  # three batches' sum
    with pytest.raises(TypeError, match="needs an optimizer"):
        step(x, y)


def test_models_it_cannot_prove_safe_run_eagerly():
    x, y = _data()
    lf = rg.nn.CrossEntropyLoss()

    class Custom(rg.nn.Module):  # does not declare capture_safe
        def __init__(self):
            super().__init__()
            self.fc = rg.nn.Linear(6, 3)

        def forward(self, x):
            return self.fc(x)

    class Overridden(rg.nn.Linear):  # forward overridden below the declaration
        def forward(self, x):
            return super().forward(x) * 2.0

    cases = {
        "HuberLoss": rg.nn.Linear(6, 3),
        "GeneralizedCrossEntropyLoss": rg.nn.Linear(6, 3),
        "Custom": Custom(),
        "BatchNorm1d": rg.nn.Sequential(rg.nn.Linear(6, 3), rg.nn.BatchNorm1d(3)),
        "Overridden": Overridden(6, 3),
    }
    for name, model in cases.items():
        loss = {"HuberLoss": rg.nn.HuberLoss(), "GeneralizedCrossEntropyLoss":
                rg.nn.GeneralizedCrossEntropyLoss()}.get(name, lf)  # fmt: skip
        target = np.eye(3, dtype=np.float32)[y] if name == "HuberLoss" else y
        assert not all(module_capture_safe(m) for m in [*model.modules(), loss])
        step = rg.train.compile_step(model, loss, rg.optim.SGD(model.parameters(), lr=0.1))
        for _ in range(3):
            step(x, target)
        assert step.recordings == 0 and step.replays == 0
        assert name in step.eager_reason and "capture_safe" in step.eager_reason


def test_dropout_draws_a_new_mask_in_every_replay():
    def build():
        return rg.nn.Sequential(
            rg.nn.Linear(6, 16), rg.nn.ReLU(), rg.nn.Dropout(0.5), rg.nn.Linear(16, 3)
        )

    (m1, o1), (m2, o2) = _pair(build)
    x, y = _data()
    lf = rg.nn.CrossEntropyLoss()
    step = rg.train.compile_step(m2, lf, o2)
    losses = []
    for i in range(4):
        rg.manual_seed(100 + i)  # the global generator replaced: replays must follow it
        eager = _eager_step(m1, lf, o1, x, y)
        rg.manual_seed(100 + i)
        losses.append(step(x, y))
        assert losses[-1] == eager
    assert step.replays == 3 and step.eager_reason is None
    assert len(set(losses)) == 4  # a new mask every step
    # a mask made outside the ops (an explicit generator) is never frozen into a replay

    class Drop(rg.nn.Module):
        capture_safe = True

        def forward(self, h):
            return rg.nn.functional.dropout(h, 0.5, generator=np.random.default_rng())

    gen_net = rg.nn.Sequential(rg.nn.Linear(6, 16), Drop(), rg.nn.Linear(16, 3))
    step = rg.train.compile_step(gen_net, lf, rg.optim.SGD(gen_net.parameters(), lr=0.1))
    for _ in range(3):
        step(x, y)
    assert step.replays == 0 and "neither an input" in step.eager_reason


def test_changes_to_the_model_are_seen():
    (m1, o1), (m2, o2) = _pair(_mlp())
    x, y = _data()
    lf = rg.nn.CrossEntropyLoss()
    step = rg.train.compile_step(m2, lf, o2)

    def both():
        assert step(x, y) == _eager_step(m1, lf, o1, x, y)

    both()
    both()
    n = step.recordings
    # a frozen layer: replays must stop giving it gradients
    m1[0].weight.requires_grad_(False)
    m2[0].weight.requires_grad_(False)
    both()
    assert step.recordings == n + 1 and m2[0].weight.grad is None
    # a replaced layer (new parameters)
    rg.manual_seed(5)
    setattr(m1, "4", rg.nn.Linear(8, 3))
    rg.manual_seed(5)
    setattr(m2, "4", rg.nn.Linear(8, 3))
    o1.add_param_group({"params": list(m1[4].parameters())})
    o2.add_param_group({"params": list(m2[4].parameters())})
    both()
    both()
    # new values loaded into the parameters
    m1.load_state_dict(m2.state_dict())
    both()
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p1.data, p2.data)


def test_new_shapes_record_again_and_bad_labels_still_raise():
    net = _mlp()()
    lf = rg.nn.CrossEntropyLoss()
    step = rg.train.compile_step(net, lf, rg.optim.SGD(net.parameters(), lr=0.1))
    x, y = _data()
    step(x[:8], y[:8])
    step(x[:8], y[:8])
    step(x[:5], y[:5])  # the last, short batch of an epoch
    step(x[:5], y[:5])
    assert step.recordings == 2 and step.replays == 2
    bad = y[:8].copy()
    bad[3] = 7
    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(ValueError, match="class 7"):
        step(x[:8], bad)
    assert "check" in step.eager_reason
    bad[3] = -1
    with pytest.raises(ValueError, match="class -1"):
        step(x[:8], bad)
    for b, p in zip(before, net.parameters()):
        np.testing.assert_array_equal(b, p.data)  # nothing was updated


def test_modes_that_need_the_engine_run_eagerly():
    net = _mlp()()
    lf = rg.nn.CrossEntropyLoss()
    step = rg.train.compile_step(net, lf, rg.optim.SGD(net.parameters(), lr=0.1))
    x, y = _data()
    step(x, y)
    with rg.detect_anomaly():
        step(x, y)
    assert step.replays == 0 and "anomaly" in step.eager_reason
    xt = rg.tensor(x, requires_grad=True)
    step.forward_backward(xt, y)
    assert xt.grad is not None and step.eager_reason == "an input requires grad"


def test_replay_holds_no_activations_between_steps():
    net = rg.nn.Sequential(rg.nn.Linear(64, 512), rg.nn.ReLU(), rg.nn.Linear(512, 10))
    step = rg.train.compile_step(net, rg.nn.CrossEntropyLoss(), rg.optim.SGD(net.parameters(), 0.1))
    x, y = _data(n=256, d=64, k=10)
    for _ in range(3):
        step(x, y)
    gc.collect()
    held = [
        v.nbytes
        for ctx in gc.get_objects()
        if isinstance(ctx, rg.autograd.Function)
        for v in vars(ctx).values()
        if isinstance(v, np.ndarray)
    ]
    # a (256, 512) float32 activation is 512 KiB; nothing of that size is kept
    assert sum(held) < 64 * 1024, held


def test_fit_uses_the_compiled_step_and_matches_eager_fit():
    X, y = _data(n=100)
    results = []
    for compile_flag in (True, False):
        rg.manual_seed(0)
        net = _mlp()()
        opt = rg.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        h = rg.train.fit(net, rg.nn.CrossEntropyLoss(), opt, (X, y), epochs=3, batch_size=16,
                         seed=1, verbose=0, compile_step=compile_flag)  # fmt: skip
        results.append(([p.data.copy() for p in net.parameters()], h["loss"], h["accuracy"]))
    (p1, l1, a1), (p2, l2, a2) = results
    assert l1 == l2 and a1 == a2
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a, b)


def test_generated_source_holds_only_names():
    net = _mlp()()
    step = rg.train.compile_step(net, rg.nn.CrossEntropyLoss(), rg.optim.SGD(net.parameters(), 0.1))
    x, y = _data()
    step(x, y)
    (fn,) = step._programs.values()
    fn = getattr(fn, "generic", fn)  # (the op-by-op replay under a whole-step kernel)
    assert fn.source.startswith("def replay(v0, v1):")
    assert "import" not in fn.source and "[" not in fn.source.replace("r[", "")


def test_python_lists_are_converted_as_the_eager_path_converts_them():
    (m1, o1), (m2, o2) = _pair(_mlp(d=2, k=2))
    x = [[0.0, 1.0], [1.0, 0.5], [0.25, 0.75]]
    y = [0, 1, 1]
    lf = rg.nn.CrossEntropyLoss()
    step = rg.train.compile_step(m2, lf, o2)
    for _ in range(3):
        assert step(x, y) == _eager_step(m1, lf, o1, np.float32(x), np.array(y))
    assert step.replays == 2 and m2[0].weight.data.dtype == np.float32
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p1.data, p2.data)


def _steps_agree(build, lf, batches, opt_fn=None):
    """Run the compiled and the eager step on the same batches; return the step."""
    (m1, o1), (m2, o2) = _pair(build, opt_fn)
    step = rg.train.compile_step(m2, lf, o2)
    for x, y in batches:
        assert step(x, y) == _eager_step(m1, lf, o1, x, y)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p1.data, p2.data)
    return step


def test_an_index_holding_the_labels_is_never_frozen_into_a_replay():
    # out[(rows, y)] puts the batch's labels inside a tuple keyword: a replay would
    # keep the recorded labels (it did, silently, before arrays in containers were refused)
    class PickedNLL(rg.nn.Module):
        capture_safe = True

        def forward(self, out, y):
            n = out.shape[0]
            return -rg.ops.log_softmax(out, axis=1)[(np.arange(n), y)].mean()

    x, _ = _data()
    batches = [(x, np.full(40, k)) for k in (0, 1, 2)]
    step = _steps_agree(_mlp(), PickedNLL(), batches)
    assert step.replays == 0 and "inside its argument 'index'" in step.eager_reason


def test_cross_entropy_replays_check_the_labels_on_every_path():
    x, y = _data()
    bad = y.copy()
    bad[3] = -1  # not ignore_index: eager raises, a replay must not wrap it to class 2
    lf = rg.nn.CrossEntropyLoss(label_smoothing=0.1)  # the general path, not `checked`
    (m1, o1), (m2, o2) = _pair(_mlp())
    step = rg.train.compile_step(m2, lf, o2)
    for _ in range(2):
        assert step(x, y) == _eager_step(m1, lf, o1, x, y)
    assert step.replays == 1
    with pytest.raises(ValueError, match="target contains class -1"):
        _eager_step(m1, lf, o1, x, bad)
    with pytest.raises(ValueError, match="target contains class -1"):
        step(x, bad)
    assert step.eager_reason == "the batch failed a check the recorded step relied on"
    # labels equal to ignore_index pass the check and replay
    lf = rg.nn.CrossEntropyLoss(ignore_index=1)
    step = _steps_agree(_mlp(), lf, [(x, y), (x, np.where(y == 2, 1, y)), (x, y)])
    assert step.replays == 2


def _scale_fn(replay):
    body = {
        "forward": lambda self, a: a * 3.0,
        "backward": lambda self, g: (g * 3.0,),
        "__module__": __name__,
    }
    if replay is not None:
        body["replay"] = replay
    return type(f"Scale_{replay}", (rg.autograd.Function,), body)


@pytest.mark.parametrize("replay", [None, "never", "pure"])
def test_a_primitive_is_replayed_only_when_it_says_it_can_be(replay):
    fn = _scale_fn(replay)

    class Scale(rg.nn.Module):
        capture_safe = True

        def forward(self, h):
            return fn.apply(h)

    def build():
        return rg.nn.Sequential(rg.nn.Linear(6, 8), Scale(), rg.nn.Linear(8, 3))

    x, y = _data()
    step = _steps_agree(build, rg.nn.CrossEntropyLoss(), [(x, y)] * 3)
    if replay == "pure":
        assert step.replays == 2 and step.eager_reason is None
    else:
        assert step.replays == 0
        expected = 'replay = "pure"' if replay is None else "replay = 'never'"
        assert fn.__name__ in step.eager_reason and expected in step.eager_reason


def test_the_replay_hands_gradients_over_through_the_engine():
    net = _mlp()()
    step = rg.train.compile_step(net, rg.nn.CrossEntropyLoss(), rg.optim.SGD(net.parameters(), 0.1))
    x, y = _data()
    step(x, y)
    (fn,) = step._programs.values()
    fn = getattr(fn, "generic", fn)  # (the op-by-op replay under a whole-step kernel)
    # one call of engine.store_grads, the rule backward uses, for all six parameters
    assert fn.source.count("_store(") == 1 and ".grad" not in fn.source
    step(x, y)
    assert step.replays == 1


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_the_loss_and_its_vjp_replay_as_one_call_bitwise(reduction):
    # cross-entropy at the root: its forward and VJP are one call in the replay
    x, y = _data()
    lf = rg.nn.CrossEntropyLoss(reduction=reduction)
    (m1, o1), (m2, o2) = _pair(_mlp())
    step = rg.train.compile_step(m2, lf, o2)
    for _ in range(3):
        assert step(x, y) == _eager_step(m1, lf, o1, x, y)
    prog = next(iter(step._programs.values()))
    src = getattr(prog, "generic", prog).source
    assert src.count("= FB") == 1 and step.replays == 2
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p1.data, p2.data)


def test_max_pool_indices_read_by_later_ops_are_never_replayed_stale():
    # MaxPool2d(return_indices=True) makes its indices outside the recorded ops; a step
    # whose ops read them must run eagerly, or a replay would keep the recorded indices.
    class GatherAtMax(rg.nn.Module):
        capture_safe = True

        def __init__(self):
            super().__init__()
            self.pool = rg.nn.MaxPool2d(2, return_indices=True)
            self.fc = rg.nn.Linear(16, 3)

        def forward(self, x):
            v, i = self.pool(x)
            n = x.shape[0]
            g = rg.gather(x.reshape(n, 1, -1), 2, i.reshape(n, 1, -1))
            return self.fc((g + v.reshape(n, 1, -1)).reshape(n, -1))

    rng = np.random.default_rng(0)
    batches = [
        (rng.standard_normal((4, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, 4))
        for _ in range(3)
    ]
    step = _steps_agree(GatherAtMax, rg.nn.CrossEntropyLoss(), batches)
    assert step.replays == 0
    assert "neither an input, a parameter nor a buffer" in step.eager_reason
