"""Learning-rate schedules: the same sequences as PyTorch's; state dicts; validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrograd import nn, optim
from retrograd.optim import lr_scheduler as lrs

SCHEDULES = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 5}),
    ("CosineAnnealingLR", {"T_max": 4, "eta_min": 0.01}),
    ("LambdaLR", {"lr_lambda": lambda e: 0.9**e + 0.1 * (e % 3)}),
    ("LambdaLR", {"lr_lambda": [lambda e: 1.0 / (e + 1), lambda e: 0.5 * e]}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.25, "end_factor": 0.5, "total_iters": 8}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.0, "total_iters": 4}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 15}),
    (
        "OneCycleLR",
        {
            "max_lr": [1.0, 0.3],
            "epochs": 3,
            "steps_per_epoch": 5,
            "anneal_strategy": "linear",
            "pct_start": 0.4,
        },
    ),  # fmt: skip
    (
        "OneCycleLR",
        {
            "max_lr": 0.7,
            "total_steps": 20,
            "three_phase": True,
            "div_factor": 10.0,
            "final_div_factor": 100.0,
        },
    ),  # fmt: skip
]


def _opts(torch):
    lin = nn.Linear(2, 2)
    tlin = torch.nn.Linear(2, 2)
    opt = optim.SGD(
        [{"params": [lin.weight]}, {"params": [lin.bias], "lr": 0.5}], lr=0.1, momentum=0.9
    )
    topt = torch.optim.SGD(
        [{"params": [tlin.weight]}, {"params": [tlin.bias], "lr": 0.5}], lr=0.1, momentum=0.9
    )
    return opt, topt


@pytest.mark.parametrize("name,kw", SCHEDULES, ids=[f"{n}-{k}" for n, k in SCHEDULES])
def test_lr_sequence_matches_torch(torch, name, kw):
    opt, topt = _opts(torch)
    s = getattr(lrs, name)(opt, **kw)
    ts = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
    for _ in range(14):
        opt.step()
        topt.step()
        s.step()
        ts.step()
        np.testing.assert_allclose(s.get_last_lr(), ts.get_last_lr(), rtol=1e-12, atol=1e-15)
        assert [g["lr"] for g in opt.param_groups] == s.get_last_lr()


@pytest.mark.parametrize("which", ["SGD", "Adam"])
def test_one_cycle_momentum_matches_torch(torch, which):
    lin, tlin = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    kw = {"lr": 0.1, "momentum": 0.9} if which == "SGD" else {"lr": 0.1, "betas": (0.9, 0.99)}
    opt = getattr(optim, which)(lin.parameters(), **kw)
    topt = getattr(torch.optim, which)(tlin.parameters(), **kw)
    args = {"max_lr": 0.5, "total_steps": 12, "base_momentum": 0.8, "max_momentum": 0.9}
    s = lrs.OneCycleLR(opt, **args)
    ts = torch.optim.lr_scheduler.OneCycleLR(topt, **args)
    key = "momentum" if which == "SGD" else "betas"
    for _ in range(11):
        assert opt.param_groups[0][key] == pytest.approx(topt.param_groups[0][key], rel=1e-12)
        opt.step()
        topt.step()
        s.step()
        ts.step()
    with pytest.raises(ValueError, match="total_steps=12"):
        for _ in range(3):
            s.step()
    with pytest.raises(ValueError, match="no momentum or betas"):
        lrs.OneCycleLR(optim.Adagrad(lin.parameters()), max_lr=1.0, total_steps=3)


def test_reduce_on_plateau_matches_torch(torch):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85]
    for kw in [
        {"patience": 1, "factor": 0.5},
        {"patience": 0, "cooldown": 2, "min_lr": [0.02, 0.3], "factor": 0.5},
        {"mode": "max", "patience": 1, "threshold": 0.1, "threshold_mode": "abs"},
    ]:
        opt, topt = _opts(torch)
        s = lrs.ReduceLROnPlateau(opt, **kw)
        ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
        for m in metrics:
            s.step(m)
            ts.step(m)
            assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12), kw
        assert s.num_bad_epochs == ts.num_bad_epochs


# One group: the schedules given per-group lists are left out.
ONE_GROUP = [
    (n, k) for n, k in SCHEDULES if not any(isinstance(k.get(a), list) for a in ("lr_lambda",
                                                                                  "max_lr"))
]  # fmt: skip


@pytest.mark.parametrize(
    "name,kw",
    ONE_GROUP + [("ReduceLROnPlateau", {"patience": 1})],
    ids=[f"{n}-{i}" for i, (n, _) in enumerate(ONE_GROUP)] + ["ReduceLROnPlateau"],
)
def test_scheduler_state_dict_round_trip(name, kw):
    def build():
        lin = nn.Linear(2, 2)
        opt = optim.SGD(lin.parameters(), lr=0.1)
        return opt, getattr(lrs, name)(opt, **kw)

    def step(s, i):
        if name == "ReduceLROnPlateau":
            s.step(1.0 if i % 3 else 0.5)
        else:
            s.step()

    opt, s = build()
    for i in range(4):
        step(s, i)
    sd = json.loads(json.dumps(s.state_dict()))  # plain data: survives JSON
    osd = opt.state_dict()
    opt2, s2 = build()
    opt2.load_state_dict(osd)
    s2.load_state_dict(sd)
    for i in range(4, 12):
        step(s, i)
        step(s2, i)
        assert s.get_last_lr() == s2.get_last_lr()
        assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


def test_scheduler_bad_arguments():
    opt = optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"LinearLR: start_factor must be in \(0, 1\]"):
        lrs.LinearLR(opt, start_factor=0.0)
    with pytest.raises(TypeError, match="LambdaLR: lr_lambda must be callable"):
        lrs.LambdaLR(opt, 0.5)
    with pytest.raises(ValueError, match="OneCycleLR: give total_steps"):
        lrs.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lrs.OneCycleLR(opt, max_lr=1.0, total_steps=5, anneal_strategy="exp")
    with pytest.raises(ValueError, match="step_size must be a positive int, got 0"):
        lrs.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max must be a positive int, got -1"):
        lrs.CosineAnnealingLR(opt, T_max=-1)
    with pytest.raises(ValueError, match="gamma must be in"):
        lrs.ExponentialLR(opt, gamma=-0.5)
    with pytest.raises(ValueError, match="milestones"):
        lrs.MultiStepLR(opt, milestones=[2, -1])
    with pytest.raises(ValueError, match="factor must be in \\[0, 1\\), got 1.5"):
        lrs.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'up'"):
        lrs.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="expected 1 min_lr values"):
        lrs.ReduceLROnPlateau(opt, min_lr=[0.1, 0.2])
    with pytest.raises(TypeError, match="must be a retrograd Optimizer"):
        lrs.StepLR(object(), step_size=1)
