"""``retrograd train --model fixedpoint:H --fixed-point NAME=VALUE,...``: solver options."""

from __future__ import annotations

import pytest

import retrograd as rg
from retrograd.cli import main


def test_fixed_point_options_are_used_saved_and_reloaded(tmp_path, capsys):
    out = tmp_path / "fp.safetensors"
    rc = main(["train", "--data", "digits", "--model", "fixedpoint:8", "--epochs", "1",
               "--fixed-point", "solver=broyden, broyden_m=6,backward=phantom,"
               "backward_max_iter=3,tol=1e-4", "--out", str(out), "--verbose", "0"])  # fmt: skip
    assert rc == 0
    model = rg.load(out)
    fp = model.fixed_point
    assert (fp.solver, fp.broyden_m, fp.backward, fp.backward_max_iter, fp.tol) == (
        "broyden", 6, "phantom", 3, 1e-4,
    )  # fmt: skip
    assert model(rg.randn(5, 64)).shape == (5, 10)
    assert model.fixed_point.last_stats["forward_converged"]
    assert main(["evaluate", str(out), "--data", "digits"]) == 0


@pytest.mark.parametrize(
    "value, model, message",
    [
        ("solver=newton", "fixedpoint:8",
         "--fixed-point: solver must be one of ['iter', 'anderson', 'broyden'], got 'newton'"),
        ("broyden_m=0", "fixedpoint:8", "--fixed-point: broyden_m must be an int >= 1, got 0"),
        ("solvr=iter", "fixedpoint:8", "--fixed-point: unexpected solver option(s) ['solvr']"),
        ("solver", "fixedpoint:8", "--fixed-point: expected NAME=VALUE[,NAME=VALUE...]"),
        ("solver=anderson", "mlp:8", "--fixed-point applies to --model fixedpoint:H only"),
    ],
)  # fmt: skip
def test_bad_fixed_point_options(tmp_path, capsys, value, model, message):
    rc = main(["train", "--data", "digits", "--model", model, "--fixed-point", value,
               "--epochs", "1", "--out", str(tmp_path / "m.safetensors")])  # fmt: skip
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.safetensors").exists()
