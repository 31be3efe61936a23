"""Bad input raises ValueError/TypeError naming the argument, the value and the expectation."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import ops as R


def _z(*shape):
    return rg.tensor(np.zeros(shape), requires_grad=True)


BAD = [
    # matmul / linear shapes
    ("matmul-inner", lambda: _z(2, 3) @ _z(4, 2), ValueError, r"\(2, 3\) @ \(4, 2\).*3 != 4"),
    ("matmul-batch", lambda: _z(2, 3, 4) @ _z(3, 4, 5), ValueError, r"batch dimensions"),
    ("matmul-0d", lambda: R.matmul(_z(), _z(3)), ValueError, r"at least 1 dim"),
    (
        "linear-in",
        lambda: R.linear(_z(4, 3), _z(2, 5)),
        ValueError,
        r"input has shape \(4, 3\), expected last dimension 5",
    ),
    ("linear-weight", lambda: R.linear(_z(4, 3), _z(3)), ValueError, r"weight must be 2-D"),
    (
        "linear-bias",
        lambda: R.linear(_z(4, 3), _z(2, 3), _z(3)),
        ValueError,
        r"bias has shape \(3,\), expected \(2,\)",
    ),
    # cross_entropy targets
    (
        "ce-class-high",
        lambda: R.cross_entropy(_z(2, 3), np.array([0, 3])),
        ValueError,
        r"class 3, expected classes in \[0, 2\]",
    ),
    (
        "ce-class-negative",
        lambda: R.cross_entropy(_z(2, 3), np.array([-1, 0])),
        ValueError,
        r"class -1",
    ),
    (
        "ce-float-labels",
        lambda: R.cross_entropy(_z(2, 3), np.array([0.0, 1.0])),
        TypeError,
        r"dtype float64.*integer class indices",
    ),
    (
        "ce-int-probs",
        lambda: R.cross_entropy(_z(2, 3), np.zeros((2, 3), int)),
        TypeError,
        r"probability targets.*floating point",
    ),
    (
        "ce-target-shape",
        lambda: R.cross_entropy(_z(2, 3), np.array([0, 1, 2])),
        ValueError,
        r"target has shape \(3,\), expected \(2,\)",
    ),
    (
        "ce-weight",
        lambda: R.cross_entropy(_z(2, 3), np.array([0, 1]), weight=np.ones(2)),
        ValueError,
        r"weight has shape \(2,\), expected \(3,\)",
    ),
    (
        "ce-smoothing",
        lambda: R.cross_entropy(_z(2, 3), np.array([0, 1]), label_smoothing=1.5),
        ValueError,
        r"label_smoothing must be in \[0, 1\], got 1.5",
    ),
    (
        "ce-reduction",
        lambda: R.cross_entropy(_z(2, 3), np.array([0, 1]), reduction="avg"),
        ValueError,
        r"reduction must be one of .*'avg'",
    ),
    ("ce-scalar", lambda: R.cross_entropy(_z(), np.array(0)), ValueError, r"class dimension"),
    (
        "bce-shape",
        lambda: R.binary_cross_entropy_with_logits(_z(3), np.zeros(4)),
        ValueError,
        r"target has shape \(4,\), expected the input's shape \(3,\)",
    ),
    (
        "mse-shape",
        lambda: R.mse_loss(_z(3), np.zeros((3, 1))),
        ValueError,
        r"target has shape \(3, 1\)",
    ),
    (
        "bce-weight",
        lambda: R.binary_cross_entropy_with_logits(_z(3), np.zeros(3), weight=np.ones((2, 3))),
        ValueError,
        r"weight has shape \(2, 3\), which does not broadcast to the input's shape \(3,\)",
    ),
    (
        "bce-pos-weight",
        lambda: R.binary_cross_entropy_with_logits(_z(2, 3), np.zeros((2, 3)), pos_weight=[1, 2]),
        ValueError,
        r"pos_weight has shape \(2,\)",
    ),
    # axes
    ("sum-axis", lambda: _z(2, 3).sum(axis=2), ValueError, r"sum: dim 2 is out of range.*2 dim"),
    ("mean-axis", lambda: _z(2, 3).mean(axis=-3), ValueError, r"mean: dim -3 is out of range"),
    ("max-axis-type", lambda: _z(2, 3).max(axis=1.0), TypeError, r"max: dim must be an int"),
    ("max-dim-type", lambda: _z(2, 3).max(1.0), TypeError, r"max: dim must be an int"),
    ("dim-and-axis", lambda: _z(2, 3).sum(0, axis=1), TypeError, r"both dim=0 and axis=1"),
    ("axis-repeat", lambda: _z(2, 3).sum(axis=(1, -1)), ValueError, r"repeats an axis"),
    ("softmax-axis", lambda: R.softmax(_z(2, 3), axis=5), ValueError, r"softmax: dim 5"),
    ("log_softmax-axis", lambda: R.log_softmax(_z(2), axis=1), ValueError, r"log_softmax"),
    ("logsumexp-axis", lambda: _z(2).logsumexp(axis=3), ValueError, r"logsumexp: dim 3"),
    ("var-axis", lambda: R.var(_z(2, 3), axis=4), ValueError, r"var: dim 4"),
    (
        "concat-axis",
        lambda: R.concatenate([_z(2), _z(2)], axis=1),
        ValueError,
        r"cat: dim 1",
    ),
    (
        "concat-shapes",
        lambda: R.concatenate([_z(2, 3), _z(2, 4)]),
        ValueError,
        r"tensor 1 has shape \(2, 4\)",
    ),
    ("concat-0d", lambda: R.concatenate([_z(), _z()]), ValueError, r"0-d"),
    ("stack-shapes", lambda: R.stack([_z(2), _z(3)]), ValueError, r"tensor 1 has shape \(3,\)"),
    ("unsqueeze-axis", lambda: _z(2).unsqueeze(3), ValueError, r"unsqueeze: dim 3"),
    ("max-empty", lambda: _z(0).max(), ValueError, r"empty"),
    # shapes
    ("reshape", lambda: _z(2, 3).reshape(4, 2), ValueError, r"shape \(2, 3\) .*\(4, 2\)"),
    ("reshape-two-unknown", lambda: _z(2, 3).reshape(-1, -1), ValueError, r"reshape"),
    ("permute", lambda: _z(2, 3).permute(0, 3), ValueError, r"not a permutation"),
    ("permute-short", lambda: _z(2, 3, 4).permute(1, 0), ValueError, r"not a permutation"),
    ("transpose-one", lambda: R.transpose(_z(2, 3), 0), ValueError, r"both dim0 and dim1"),
    ("expand", lambda: _z(2, 3).expand(4, 3), ValueError, r"cannot broadcast"),
    ("expand-new-minus-one", lambda: _z(3).expand(-1, 3), ValueError, r"-1 is not allowed"),
    ("pad-negative", lambda: R.pad(_z(2), ((-1, 0),)), ValueError, r"non-negative"),
    ("index", lambda: _z(2, 3)[5], IndexError, r"shape \(2, 3\)"),
    # elementwise arguments
    ("where-cond", lambda: R.where(np.ones(2), _z(2), _z(2)), TypeError, r"boolean"),
    ("clip-none", lambda: R.clip(_z(2)), ValueError, r"at least one of min and max"),
    ("gelu-approx", lambda: R.gelu(_z(2), approximate="fast"), ValueError, r"'fast'"),
    ("softplus-beta", lambda: R.softplus(_z(2), beta=0.0), ValueError, r"beta must be > 0"),
    # tensors
    (
        "int-requires-grad",
        lambda: rg.tensor([1, 2], requires_grad=True),
        TypeError,
        r"floating-point",
    ),
    ("ragged", lambda: rg.tensor([[1.0], [1.0, 2.0]]), ValueError, r"tensor:.*rectangular"),
    ("object", lambda: rg.tensor([object()]), TypeError, r"tensor: cannot convert"),
]


@pytest.mark.parametrize("call, exc, pattern", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_raises_a_clear_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
