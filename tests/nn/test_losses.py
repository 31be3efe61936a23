"""Every loss variant against PyTorch in float64: values and input gradients."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
import retrograd.nn.functional as F

REDUCTIONS = ["mean", "sum", "none"]


def _compare(torch, rg_loss, torch_loss, z_np, *, grad_wrt_target=None):
    """Run both losses on logits/inputs z_np; compare the value and d(loss)/dz."""
    z = rg.tensor(z_np, requires_grad=True)
    zt = torch.tensor(z_np, requires_grad=True)
    out = rg_loss(z)
    out_t = torch_loss(zt)
    assert out.shape == tuple(out_t.shape)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    # A non-uniform upstream gradient checks the 'none' reduction's VJP too.
    g = np.linspace(0.5, 1.5, out.numel()).reshape(out.shape)
    out.backward(g)
    out_t.backward(torch.tensor(g))
    np.testing.assert_allclose(z.grad, zt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_matches_torch(torch, rng, reduction):
    z, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    _compare(
        torch,
        lambda a: rg.nn.MSELoss(reduction)(a, y),
        lambda a: torch.nn.MSELoss(reduction=reduction)(a, torch.tensor(y)),
        z,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l1_matches_torch(torch, rng, reduction):
    z, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    y[0, 0] = z[0, 0]  # equality: the gradient is sign(0) = 0 in both
    _compare(
        torch,
        lambda a: rg.nn.L1Loss(reduction)(a, y),
        lambda a: torch.nn.L1Loss(reduction=reduction)(a, torch.tensor(y)),
        z,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.3])
def test_huber_matches_torch(torch, rng, reduction, delta):
    z, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    _compare(
        torch,
        lambda a: rg.nn.HuberLoss(reduction, delta=delta)(a, y),
        lambda a: torch.nn.HuberLoss(reduction=reduction, delta=delta)(a, torch.tensor(y)),
        z,
    )


CE_VARIANTS = [
    {},
    {"weight": True},
    {"label_smoothing": 0.2},
    {"weight": True, "label_smoothing": 0.1},
    {"ignore_index": 2},
    {"ignore_index": 2, "weight": True, "label_smoothing": 0.3},
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", CE_VARIANTS, ids=lambda o: "-".join(o) or "plain")
def test_cross_entropy_class_indices_match_torch(torch, rng, reduction, opts):
    n, c = 6, 4
    z = rng.normal(size=(n, c)) * 3
    y = np.array([0, 1, 2, 3, 2, 1])
    kw = dict(opts)
    if kw.pop("weight", False):
        kw["weight"] = rng.uniform(0.5, 2.0, size=c)
    tkw = {k: (torch.tensor(v) if k == "weight" else v) for k, v in kw.items()}
    _compare(
        torch,
        lambda a: rg.nn.CrossEntropyLoss(reduction=reduction, **kw)(a, y),
        lambda a: torch.nn.CrossEntropyLoss(reduction=reduction, **tkw)(a, torch.tensor(y)),
        z,
    )


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("opts", [{}, {"weight": True}], ids=["plain", "weight"])
def test_every_target_ignored_gives_nan_with_zero_gradient_as_torch(torch, rng, name, opts):
    z = rng.normal(size=(3, 4))
    y = np.array([-100, 1, 1])
    kw = {"ignore_index": 1} if not opts else {"weight": np.array([1.0, 1.0, 0.0, 1.0])}
    if opts:
        y = np.array([2, 2, 2])
    tkw = {k: (torch.tensor(v) if k == "weight" else v) for k, v in kw.items()}
    _compare(
        torch,
        lambda a: getattr(F, name)(a, y if opts else np.array([1, 1, 1]), **kw),
        lambda a: getattr(torch.nn.functional, name)(
            a, torch.tensor(y if opts else np.array([1, 1, 1])), **tkw
        ),
        z,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "opts",
    [{}, {"weight": True}, {"label_smoothing": 0.25}, {"weight": True, "label_smoothing": 0.1}],
    ids=lambda o: "-".join(o) or "plain",
)
def test_cross_entropy_probability_targets_match_torch(torch, rng, reduction, opts):
    n, c = 5, 3
    z = rng.normal(size=(n, c))
    q = rng.dirichlet(np.ones(c), size=n)
    kw = dict(opts)
    if kw.pop("weight", False):
        kw["weight"] = rng.uniform(0.5, 2.0, size=c)
    tkw = {k: (torch.tensor(v) if k == "weight" else v) for k, v in kw.items()}
    _compare(
        torch,
        lambda a: F.cross_entropy(a, q, reduction=reduction, **kw),
        lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(q), reduction=reduction, **tkw),
        z,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_spatial_and_unbatched_match_torch(torch, rng, reduction):
    z = rng.normal(size=(2, 3, 4))
    y = rng.integers(0, 3, size=(2, 4))
    _compare(
        torch,
        lambda a: F.cross_entropy(a, y, reduction=reduction),
        lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(y), reduction=reduction),
        z,
    )
    z1 = rng.normal(size=(4,))
    _compare(
        torch,
        lambda a: F.cross_entropy(a, np.array(2), reduction=reduction),
        lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(2), reduction=reduction),
        z1,
    )


def test_cross_entropy_extreme_logits_stay_finite(torch):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], dtype=np.float32)
    loss = rg.nn.CrossEntropyLoss()(rg.tensor(z, requires_grad=True), np.array([1, 1]))
    expected = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor([1, 1]))
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "opts",
    [{}, {"weight": True}, {"pos_weight": True}, {"weight": True, "pos_weight": True}],
    ids=lambda o: "-".join(o) or "plain",
)
def test_bce_with_logits_matches_torch(torch, rng, reduction, opts):
    z = rng.normal(size=(5, 3)) * 4
    y = rng.uniform(size=(5, 3))
    y[0] = [0.0, 1.0, 1.0]
    kw = {}
    if opts.get("weight"):
        kw["weight"] = rng.uniform(0.5, 2.0, size=(1, 3))  # broadcast over the batch
    if opts.get("pos_weight"):
        kw["pos_weight"] = rng.uniform(0.5, 3.0, size=3)
    tkw = {k: torch.tensor(v) for k, v in kw.items()}
    _compare(
        torch,
        lambda a: rg.nn.BCEWithLogitsLoss(reduction=reduction, **kw)(a, y),
        lambda a: torch.nn.BCEWithLogitsLoss(reduction=reduction, **tkw)(a, torch.tensor(y)),
        z,
    )


def test_losses_keep_float32(rng):
    z = rg.tensor(rng.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    y32 = rng.normal(size=(4, 3)).astype(np.float32)
    for loss in (
        rg.nn.MSELoss()(z, y32),
        rg.nn.L1Loss()(z, y32),
        rg.nn.HuberLoss()(z, y32),
        rg.nn.BCEWithLogitsLoss()(z, (y32 > 0).astype(np.float32)),
        rg.nn.CrossEntropyLoss(label_smoothing=0.1)(z, np.array([0, 1, 2, 0])),
    ):
        z.grad = None
        loss.backward()
        assert loss.dtype == np.float32 and z.grad.dtype == np.float32


def test_mse_loss_is_module_with_repr():
    assert repr(rg.nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    assert isinstance(rg.nn.CrossEntropyLoss(), rg.nn.Module)


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "cls",
    [rg.nn.MSELoss, rg.nn.L1Loss, rg.nn.HuberLoss, rg.nn.CrossEntropyLoss, rg.nn.BCEWithLogitsLoss],
)
def test_bad_reduction_names_the_value(cls):
    with pytest.raises(ValueError, match="reduction.*'average'"):
        cls(reduction="average")


@pytest.mark.parametrize(
    "fn", [F.mse_loss, F.l1_loss, F.huber_loss, F.cross_entropy, F.binary_cross_entropy_with_logits]
)
def test_functional_bad_reduction(fn):
    with pytest.raises(ValueError, match="'avg'"):
        fn(rg.zeros(2, 3), np.zeros((2, 3), dtype=np.float32), reduction="avg")


def test_shape_mismatch_messages():
    with pytest.raises(ValueError, match=r"target has shape \(3,\).*\(3, 1\)"):
        rg.nn.MSELoss()(rg.zeros(3, 1), np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match=r"target has shape"):
        rg.nn.L1Loss()(rg.zeros(3, 1), np.zeros(3))
    with pytest.raises(ValueError, match=r"target has shape"):
        rg.nn.BCEWithLogitsLoss()(rg.zeros(3, 1), np.zeros(3))


def test_cross_entropy_bad_targets():
    z = rg.zeros(3, 4)
    with pytest.raises(ValueError, match=r"class 4.*\[0, 3\]"):
        F.cross_entropy(z, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match=r"target has shape \(2,\)"):
        F.cross_entropy(z, np.array([0, 1]))
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"weight has shape \(3,\)"):
        F.cross_entropy(z, np.array([0, 1, 2]), weight=np.ones(3))
    with pytest.raises(ValueError, match="label_smoothing"):
        rg.nn.CrossEntropyLoss(label_smoothing=1.5)


def test_huber_bad_delta():
    with pytest.raises(ValueError, match="delta must be > 0, got -1"):
        rg.nn.HuberLoss(delta=-1)


def test_loss_weights_are_buffers_like_torch(torch):
    w = np.array([1.0, 2.0, 0.5])
    ce, tce = rg.nn.CrossEntropyLoss(weight=w), torch.nn.CrossEntropyLoss(weight=torch.tensor(w))
    assert list(ce.state_dict()) == list(tce.state_dict()) == ["weight"]
    bce = rg.nn.BCEWithLogitsLoss(weight=w, pos_weight=w)
    tbce = torch.nn.BCEWithLogitsLoss(weight=torch.tensor(w), pos_weight=torch.tensor(w))
    assert list(bce.state_dict()) == list(tbce.state_dict()) == ["weight", "pos_weight"]
    assert list(rg.nn.CrossEntropyLoss().state_dict()) == []
    with pytest.raises(TypeError, match="ignore_index must be an int, got 1.5"):
        rg.nn.CrossEntropyLoss(ignore_index=1.5)


def test_bce_with_logits_target_gradient_matches_torch(torch, rng):
    z_np, y_np, pw = rng.normal(size=(4, 2)), rng.uniform(size=(4, 2)), np.array([2.0, 0.5])
    y = rg.tensor(y_np, requires_grad=True)
    yt = torch.tensor(y_np, requires_grad=True)
    F.binary_cross_entropy_with_logits(rg.tensor(z_np), y, pos_weight=pw).backward()
    torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(z_np), yt, pos_weight=torch.tensor(pw)
    ).backward()
    np.testing.assert_allclose(y.grad, yt.grad.numpy(), rtol=1e-10)
