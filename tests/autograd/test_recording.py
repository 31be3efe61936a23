"""autograd.record: the primitive calls of a computation, in order, for replaying them."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.autograd.mode import MODE
from retrograd.autograd.recording import Record, is_recording, record, replay_refusal


def test_record_lists_every_call_with_its_inputs_keywords_and_output():
    x = rg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    with record() as calls:
        assert is_recording()
        h = (x * 2.0).relu()
        loss = h.sum(axis=1).mean()
    assert not is_recording() and MODE.tape is None and not MODE.watched
    names = [type(c.fn).__name__ for c in calls]
    assert names == ["Mul", "Relu", "Sum", "Mean"]
    assert all(isinstance(c, Record) for c in calls)
    assert calls[0].inputs[0] is x and calls[1].inputs[0] is calls[0].output
    assert calls[2].params == {"axis": 1, "keepdims": False}
    assert calls[-1].output is loss and calls[1].output is h
    # the recorded Function objects are the graph's nodes
    assert loss._ctx is calls[-1].fn


def test_calls_under_no_grad_are_recorded_too():
    x = rg.tensor([1.0, -2.0])
    with record() as calls, rg.no_grad():
        x.abs()
    assert [type(c.fn).__name__ for c in calls] == ["Abs"]


def test_recordings_do_not_nest_and_always_end():
    with record():
        with pytest.raises(RuntimeError, match="do not nest"):
            with record():
                pass
        assert is_recording()
    with pytest.raises(ZeroDivisionError):
        with record():
            1 / 0  # noqa: B018
    assert MODE.tape is None and not MODE.watched


def test_recording_and_anomaly_detection_share_one_switch():
    with rg.detect_anomaly():
        assert MODE.watched
        with record() as calls:
            rg.tensor([1.0]).exp()
        assert MODE.watched and MODE.anomaly  # anomaly still on after the recording
        assert calls[0].fn._anomaly_trace  # both ran on the same call
    assert not MODE.watched
    with record():
        with rg.detect_anomaly():
            pass
        assert MODE.watched  # the recording is still on
    assert not MODE.watched


def test_replay_refusal_reads_the_declaration():
    class Undeclared(rg.autograd.Function):
        def forward(self, a):
            return a

    class Never(rg.autograd.Function):
        replay = "never"

        def forward(self, a):
            return a

    assert replay_refusal(rg.ops.elementwise.Exp()) is None
    assert 'replay = "pure"' in replay_refusal(Undeclared())
    assert "replay = 'never'" in replay_refusal(Never())
