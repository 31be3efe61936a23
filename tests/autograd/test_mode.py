"""Global modes: no_grad / enable_grad (context managers and decorators), detect_anomaly."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg


def test_no_grad_context_restores_the_previous_state_even_on_error():
    x = rg.tensor([1.0], requires_grad=True)
    assert rg.is_grad_enabled()
    with pytest.raises(KeyError):
        with rg.no_grad():
            assert not rg.is_grad_enabled()
            raise KeyError("boom")
    assert rg.is_grad_enabled()
    assert (x * 2.0).requires_grad


def test_no_grad_as_decorator_with_and_without_parentheses():
    x = rg.tensor([1.0], requires_grad=True)

    @rg.no_grad()
    def f(t):
        return t * 2.0

    @rg.no_grad
    def g(t):
        return t * 2.0

    assert not f(x).requires_grad
    assert not g(x).requires_grad
    assert g.__name__ == "g"
    assert (x * 2.0).requires_grad
    with pytest.raises(TypeError, match="no_grad"):
        rg.no_grad(3)


def test_enable_grad_inside_no_grad():
    x = rg.tensor([1.0], requires_grad=True)
    with rg.no_grad():
        with rg.enable_grad():
            y = x * 2.0
        z = x * 2.0
    assert y.requires_grad and not z.requires_grad

    @rg.enable_grad()
    def h(t):
        return t * 3.0

    with rg.no_grad():
        assert h(x).requires_grad


def test_detect_anomaly_names_the_op_in_forward():
    x = rg.tensor(np.array([-1.0, 1.0]), requires_grad=True)
    with pytest.raises(rg.AnomalyError, match="Log produced nan in forward"):
        with rg.detect_anomaly(), np.errstate(invalid="ignore"):
            x.log()
    with np.errstate(invalid="ignore"):
        assert np.isnan(x.log().data[0])  # off again afterwards


def test_detect_anomaly_names_the_op_in_backward_and_its_creation_site():
    x = rg.tensor(np.array([0.0, 4.0]), requires_grad=True)
    with rg.detect_anomaly(), np.errstate(divide="ignore"):
        y = x.sqrt().sum()
        with pytest.raises(rg.AnomalyError, match=r"Sqrt produced inf in backward") as info:
            y.backward()
    assert "test_mode.py" in str(info.value)
