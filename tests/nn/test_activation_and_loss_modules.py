"""The activation and loss modules added for PyTorch parity: same values and gradients as
torch's modules, saved and loaded by rg.save/rg.load, arguments validated."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg

ACTIVATIONS = [
    ("SiLU", {}), ("ELU", {"alpha": 0.7}), ("CELU", {"alpha": 1.5}), ("SELU", {}),
    ("ReLU6", {}), ("Hardtanh", {"min_val": -0.5, "max_val": 2.0}), ("Hardswish", {}),
    ("Hardsigmoid", {}), ("Mish", {}), ("Softsign", {}), ("LogSigmoid", {}),
    ("Softmin", {"dim": 1}),
]  # fmt: skip
X = np.linspace(-7.3, 7.1, 24).reshape(4, 6)


@pytest.mark.parametrize("name, kw", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_module_matches_torch(name, kw, torch):
    ours = getattr(rg.nn, name)(**kw)
    theirs = getattr(torch.nn, name)(**kw)
    x, t = rg.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    out, ref = ours(x), theirs(t)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = np.cos(X)
    out.backward(g)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name, kw", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_module_saves_and_loads(name, kw, tmp_path):
    model = rg.nn.Sequential(rg.nn.Linear(6, 6), getattr(rg.nn, name)(**kw))
    path = tmp_path / "m.safetensors"
    rg.save(model, path)
    back = rg.load(path)
    assert type(back[1]) is type(model[1])
    x = rg.tensor(X.astype(np.float32))
    np.testing.assert_array_equal(back(x).data, model(x).data)
    assert repr(back[1]) == repr(model[1])


def test_softmin_without_dim_warns_and_picks_torchs_dim(torch):
    with pytest.warns(UserWarning, match="softmin: implicit dimension"):
        out = rg.nn.functional.softmin(rg.tensor(X))
    np.testing.assert_allclose(out.data, torch.nn.functional.softmin(torch.tensor(X), 1).numpy())


LOSSES = [
    ("NLLLoss", {}, 2), ("NLLLoss", {"ignore_index": 1, "reduction": "sum"}, 2),
    ("BCELoss", {}, 2), ("BCELoss", {"reduction": "none"}, 2),
    ("KLDivLoss", {"reduction": "batchmean"}, 2), ("KLDivLoss", {"log_target": True}, 2),
    ("SmoothL1Loss", {"beta": 0.5}, 2), ("CosineEmbeddingLoss", {"margin": 0.2}, 3),
    ("MarginRankingLoss", {"margin": 0.1, "reduction": "sum"}, 3),
    ("CosineSimilarity", {"dim": 1}, 2),
]  # fmt: skip


def _loss_inputs(name, rng):
    if name == "NLLLoss":
        return [np.log(rng.dirichlet(np.ones(3), 4)), np.array([0, 1, 2, 1])]
    if name == "BCELoss":
        return [rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0, 1, (4, 3))]
    if name == "KLDivLoss":
        return [np.log(rng.dirichlet(np.ones(3), 4)), rng.dirichlet(np.ones(3), 4)]
    if name == "CosineEmbeddingLoss":
        return [rng.standard_normal((4, 3)), rng.standard_normal((4, 3)),
                np.array([1.0, -1.0, 1.0, -1.0])]  # fmt: skip
    if name == "MarginRankingLoss":
        return [rng.standard_normal(4), rng.standard_normal(4), np.array([1.0, -1.0, -1.0, 1.0])]
    return [rng.standard_normal((4, 3)), rng.standard_normal((4, 3))]


@pytest.mark.parametrize("name, kw, n", LOSSES, ids=[f"{a[0]}-{i}" for i, a in enumerate(LOSSES)])
def test_loss_module_matches_torch(name, kw, n, torch):
    arrays = _loss_inputs(name, np.random.default_rng(len(name)))
    diff = [a.dtype.kind == "f" for a in arrays]
    if name == "CosineEmbeddingLoss":
        diff[2] = False
    ours = [rg.tensor(a, requires_grad=d) for a, d in zip(arrays, diff)]
    theirs = [torch.tensor(a, requires_grad=d) for a, d in zip(arrays, diff)]
    out = getattr(rg.nn, name)(**kw)(*ours)
    ref = getattr(torch.nn, name)(**kw)(*theirs)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = np.ones(out.shape)
    out.backward(g)
    ref.backward(torch.tensor(g))
    for o, t, d in zip(ours, theirs, diff):
        if d:
            np.testing.assert_allclose(o.grad, t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_weighted_losses_keep_the_weight_buffer_like_torch(torch):
    w = np.array([0.5, 2.0, 1.0])
    ours, theirs = rg.nn.NLLLoss(weight=w), torch.nn.NLLLoss(weight=torch.tensor(w))
    assert set(ours.state_dict()) == set(theirs.state_dict()) == {"weight"}
    x = np.log(np.random.default_rng(0).dirichlet(np.ones(3), 5))
    y = np.array([0, 2, 1, 1, 0])
    np.testing.assert_allclose(
        ours(rg.tensor(x), rg.tensor(y)).item(), theirs(torch.tensor(x), torch.tensor(y)).item()
    )


BAD = [
    ("celu-alpha", lambda: rg.nn.CELU(alpha=0), ValueError, r"CELU: alpha must not be 0"),
    ("hardtanh-order", lambda: rg.nn.Hardtanh(1.0, -1.0), ValueError,
     r"Hardtanh: min_val \(1.0\) must not exceed max_val \(-1.0\)"),
    ("elu-alpha", lambda: rg.nn.ELU(alpha="1"), TypeError, r"ELU: alpha must be a number"),
    ("silu-int", lambda: rg.nn.functional.silu(rg.tensor([1, 2])), TypeError,
     r"silu: expected a floating-point tensor, got dtype int64"),
    ("kl-reduction", lambda: rg.nn.KLDivLoss(reduction="avg"), ValueError,
     r"KLDivLoss: reduction must be one of"),
    ("nll-target", lambda: rg.nn.functional.nll_loss(rg.zeros(2, 3), rg.tensor([0, 3])),
     ValueError, r"nll_loss: target contains class 3, expected classes in \[0, 2\]"),
    ("nll-shape", lambda: rg.nn.functional.nll_loss(rg.zeros(2, 3), rg.tensor([0])),
     ValueError, r"nll_loss: target has shape \(1,\), expected \(2,\)"),
    ("nll-weight", lambda: rg.nn.functional.nll_loss(rg.zeros(2, 3), rg.tensor([0, 1]),
                                                     weight=[1.0]),
     ValueError, r"nll_loss: weight must have shape \(3,\), got \(1,\)"),
    ("bce-range", lambda: rg.nn.functional.binary_cross_entropy(rg.tensor([1.5]),
                                                                rg.tensor([1.0])),
     ValueError, r"binary_cross_entropy: input must hold probabilities in \[0, 1\]"),
    ("bce-shape", lambda: rg.nn.functional.binary_cross_entropy(rg.tensor([0.5]),
                                                                rg.tensor([1.0, 0.0])),
     ValueError, r"binary_cross_entropy: target has shape \(2,\), expected the input's shape"),
    ("smooth-beta", lambda: rg.nn.SmoothL1Loss(beta=-1.0), ValueError,
     r"SmoothL1Loss: beta must be a number >= 0, got -1.0"),
    ("cos-emb-target", lambda: rg.nn.functional.cosine_embedding_loss(
        rg.ones(2, 3), rg.ones(2, 3), rg.tensor([1.0])),
     ValueError, r"cosine_embedding_loss: target has shape \(1,\), expected \(2,\)"),
    ("cos-sim-shape", lambda: rg.nn.functional.cosine_similarity(rg.ones(2, 3), rg.ones(2, 4)),
     ValueError, r"cosine_similarity: x1 of shape \(2, 3\) and x2 of shape \(2, 4\) do not"),
]  # fmt: skip


@pytest.mark.parametrize("call, exc, pattern", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_raises_a_clear_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
