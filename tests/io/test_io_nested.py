"""The generic, exact, pickle-free serialiser of nested state (through real files)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import retrograd as rg
from retrograd.io.nested import MAX_NESTING, decode_nested, encode_nested


def _roundtrip(obj, tmp_path):
    """Through a real checkpoint file: encode -> safetensors -> JSON -> decode."""
    path = tmp_path / "n.safetensors"
    rg.save_checkpoint(path, model=rg.nn.Identity(), state=obj)
    return rg.load_checkpoint(path, model=rg.nn.Identity(), restore_rng=False)


def _same(a, b):
    """Exact equality including types, dict key types and order, NaN, -0.0, dtypes."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for (ka, va), (kb, vb) in zip(a.items(), b.items()):
            _same(ka, kb)
            _same(va, vb)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype
        assert a.tobytes() == b.tobytes()
    else:
        assert a == b


def test_everything_the_brief_lists_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(5)
    rng.random(3)
    obj = {
        "epoch": 7,
        "step": 10**30,
        "lr": 1e-3,
        "flags": [True, False, None],
        "inf": float("inf"),
        "-inf": float("-inf"),
        "nan": float("nan"),
        "neg0": -0.0,
        "tiny": 5e-324,
        "text": 'ünïcode ✓ "quotes" \n',
        1: "int key",
        "1": "str key",
        -3: {0: [1, 2], "0": (3, 4)},
        "rng": rng.bit_generator.state,
        "rg_rng": rg.get_rng_state(),
        "history": {"loss": [0.5, 0.25], "acc": [np.float64(0.1), np.float32(0.2)]},
        "arrays": [np.arange(5), np.ones((2, 0)), np.array(3.0, np.float32), np.array([True])],
        "u8": np.arange(4, dtype=np.uint8),
        "scalars": (np.int64(-5), np.uint16(9), np.bool_(True), np.float16(1.5)),
        "empty": {},
        "empty_list": [],
        "tuple_key": {(1, "a"): 2},
        "none_key": {None: 1, True: 2, 2.5: 3},
    }
    back = _roundtrip(obj, tmp_path)
    _same(obj, back)
    assert back["rng"]["state"]["state"] == rng.bit_generator.state["state"]["state"]
    # A restored generator continues the same stream.
    g = np.random.Generator(np.random.PCG64())
    g.bit_generator.state = back["rng"]
    assert g.random() == rng.random()


def test_tag_like_user_dicts_are_not_misread(tmp_path):
    obj = {"t": "array", "key": "state.0", "k": [1], "v": [2]}
    _same(obj, _roundtrip(obj, tmp_path))


def test_tensors_round_trip(tmp_path):
    t = rg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    back = _roundtrip({"t": t}, tmp_path)["t"]
    assert isinstance(back, rg.Tensor) and back.requires_grad
    np.testing.assert_array_equal(back.data, t.data)


def test_unsupported_values_raise_with_their_path():
    with pytest.raises(TypeError, match=r"state\['a'\]\[1\].*set"):
        encode_nested({"a": [1, {2}]}, "s.")
    with pytest.raises(TypeError, match="key of type frozenset"):
        encode_nested({frozenset(): 1}, "s.")
    with pytest.raises(TypeError, match="dtype"):
        encode_nested(np.array(["x"]), "s.")
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="itself"):
        encode_nested(cyclic, "s.")
    deep: list = []
    for _ in range(MAX_NESTING + 2):
        deep = [deep]
    with pytest.raises(ValueError, match="nested deeper"):
        encode_nested(deep, "s.")


def test_shared_objects_are_written_twice_not_as_cycles():
    shared = [1, 2]
    js, _ = encode_nested({"a": shared, "b": shared}, "s.")
    assert decode_nested(js, {}, "t") == {"a": [1, 2], "b": [1, 2]}


@pytest.mark.parametrize(
    "node, message",
    [
        ({"t": "exec", "v": "print(1)"}, "unknown node tag"),
        ({"t": "dict", "k": [1, 1], "v": [2, 3]}, "repeated"),
        ({"t": "dict", "k": [[1]], "v": [2]}, "not hashable"),
        ({"t": "dict", "k": [1], "v": []}, "1 keys but 0 values"),
        ({"t": "dict", "k": 1, "v": 2}, "must be lists"),
        ({"t": "array", "key": "missing"}, "lacks"),
        ({"t": "array", "key": "s.0", "x": 1}, "exactly the keys"),
        ({"t": "float", "v": "1e5"}, "non-finite"),
        ({"t": "scalar", "key": "s.0"}, "0-d"),
        ({"t": "tensor", "key": "s.0", "rg": 1}, "requires_grad"),
        ([{"t": "array", "key": "s.0"}, {"t": "array", "key": "s.0"}], "twice"),
        (1e400, "non-finite"),
    ],
)
def test_malformed_nodes_raise_model_file_error(node, message):
    with pytest.raises(rg.ModelFileError, match=message):
        decode_nested(node, {"s.0": np.ones(2)}, "test")


def test_deep_json_is_refused():
    node: list = []
    for _ in range(MAX_NESTING + 5):
        node = [node]
    with pytest.raises(rg.ModelFileError, match="nested deeper"):
        decode_nested(node, {}, "test")


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**130), max_value=2**130)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
_keys = st.integers(min_value=-5, max_value=5) | st.text(max_size=3)
_arrays = st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_]).flatmap(
    lambda dt: st.integers(0, 4).map(lambda n: np.arange(n).astype(dt))
)
_nested = st.recursive(
    _scalars | _arrays,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(_keys, children, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(obj=_nested)
def test_random_nested_structures_round_trip_exactly(tmp_path, obj):
    _same(obj, _roundtrip(obj, tmp_path))
