"""Reductions, scans, sorting, indexing and movement beyond the op table: integer results,
(values, indices) tuples, gradients where finite differences cannot be used, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
import retrograd.nn.functional as F
from retrograd import ops as R

X = np.array([[3.0, 1.0, 2.0, 1.0], [0.5, 4.0, -1.0, 4.0], [2.0, 2.0, 2.0, 0.0]])
# Without ties: PyTorch leaves the index of tied values unspecified for topk/kthvalue.
DISTINCT = np.array([[3.0, 1.0, 2.0, 1.5], [0.5, 4.0, -1.0, 4.5], [2.0, 2.5, 2.25, 0.0]])


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: m.sort(x, 1),
        lambda m, x: m.sort(x, 0, descending=True),
        lambda m, x: m.topk(x, 2, 1),
        lambda m, x: m.topk(x, 2, 0, largest=False),
        lambda m, x: m.kthvalue(x, 3, 1),
        lambda m, x: m.kthvalue(x, 1, 0, keepdim=True),
        lambda m, x: m.sort(x, 1, descending=True),
        lambda m, x: m.median(x, 1),
        lambda m, x: m.median(x, 0, keepdim=True),
        lambda m, x: m.mode(x, 1),
        lambda m, x: m.mode(x, 0),
        lambda m, x: m.cummax(x, 1),
        lambda m, x: m.cummin(x, 0),
    ],
)
def test_values_indices_match_torch(call, torch):
    # Ties (X) for sort, median, mode, cummax/cummin, where PyTorch's choice is fixed.
    names = call.__code__.co_names
    data = DISTINCT if "topk" in names or "kthvalue" in names else X
    ours = call(rg, rg.tensor(data, requires_grad=True))
    theirs = call(torch, torch.tensor(data, requires_grad=True))
    values, indices = ours
    assert type(ours).__name__ == type(theirs).__name__.split(".")[-1]
    np.testing.assert_array_equal(values.data, theirs.values.detach().numpy())
    np.testing.assert_array_equal(ours.indices.data, theirs.indices.numpy())
    assert indices.dtype == np.int64


def test_mode_and_sort_gradients_follow_the_indices(torch):
    for fn in (lambda m, x: m.mode(x, 1).values, lambda m, x: m.median(x, 0).values,
               lambda m, x: m.cummax(x, 1).values, lambda m, x: m.sort(x, 1).values):  # fmt: skip
        a, b = rg.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
        out, ref = fn(rg, a), fn(torch, b)
        g = np.arange(out.data.size, dtype=float).reshape(out.shape) + 1
        out.backward(g)
        ref.backward(torch.tensor(g))
        np.testing.assert_array_equal(a.grad, b.grad.numpy())


def test_median_nan_and_argsort(torch):
    a = np.array([[1.0, np.nan, 3.0], [3.0, 1.0, 2.0]])
    np.testing.assert_array_equal(rg.median(rg.tensor(a), 1).indices.data, [1, 2])
    assert np.isnan(rg.median(rg.tensor(a)).item())
    for desc in (False, True):
        np.testing.assert_array_equal(
            rg.argsort(rg.tensor(X), 1, descending=desc).data,
            torch.argsort(torch.tensor(X), dim=1, descending=desc, stable=True).numpy(),
        )


def test_integer_reductions_and_scans_match_torch(torch):
    ints = np.array([[1, 2, 0], [3, -1, 2]])
    for fn in (lambda m, x: m.cumsum(x, 1), lambda m, x: m.cumprod(x, 0),
               lambda m, x: m.prod(x), lambda m, x: m.prod(x, 1),
               lambda m, x: m.any(x, 1), lambda m, x: m.all(x), lambda m, x: m.all(x, 0, True),
               lambda m, x: m.cumsum(x > 0, 1), lambda m, x: m.nonzero(x),
               lambda m, x: m.argwhere(x)):  # fmt: skip
        ours, theirs = fn(rg, rg.tensor(ints)), fn(torch, torch.tensor(ints))
        np.testing.assert_array_equal(ours.data, theirs.numpy())
        assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))


def test_nonzero_as_tuple_and_one_hot(torch):
    a = np.array([[0, 1], [2, 0]])
    ours = rg.nonzero(rg.tensor(a), as_tuple=True)
    theirs = torch.nonzero(torch.tensor(a), as_tuple=True)
    assert [o.tolist() for o in ours] == [t.tolist() for t in theirs]
    labels = np.array([[0, 2], [1, 1]])
    for n in (-1, 4):
        np.testing.assert_array_equal(
            F.one_hot(rg.tensor(labels), n).data,
            torch.nn.functional.one_hot(torch.tensor(labels), n).numpy(),
        )


def test_normalize_zero_row_matches_torch(torch):
    a = np.array([[0.0, 0.0], [3.0, 4.0]])
    x, t = rg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out, ref = F.normalize(x), torch.nn.functional.normalize(t)
    np.testing.assert_allclose(out.data, ref.detach().numpy())
    g = np.array([[1.0, -2.0], [0.5, 1.0]])
    out.backward(g)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad, t.grad.numpy())


def test_split_chunk_unbind_shapes_match_torch(torch):
    a = np.arange(24.0).reshape(4, 6)
    for fn in (lambda m, x: m.split(x, 4, 1), lambda m, x: m.split(x, [1, 0, 3], 0),
               lambda m, x: m.chunk(x, 4, 1), lambda m, x: m.chunk(x, 3, 0),
               lambda m, x: m.chunk(x, 5, 1), lambda m, x: m.unbind(x, 1),
               lambda m, x: m.meshgrid(x[0], x[1, :3], indexing="xy")):  # fmt: skip
        ours, theirs = fn(rg, rg.tensor(a)), fn(torch, torch.tensor(a))
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            np.testing.assert_array_equal(o.data, t.numpy())


def test_scalar_inputs_accept_dim_zero(torch):
    s = 2.5
    for fn in (lambda m, x: m.cumsum(x, 0), lambda m, x: m.cumprod(x, -1),
               lambda m, x: m.sort(x, 0).values, lambda m, x: m.prod(x, 0),
               lambda m, x: m.logcumsumexp(x, 0), lambda m, x: m.flip(x, [0])):  # fmt: skip
        ours, theirs = fn(rg, rg.tensor(s)), fn(torch, torch.tensor(s))
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


def test_einsum_implicit_output_order_matches_torch(torch):
    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    for eq in ("cab", "bAa", "a...->...", "...a"):
        if "A" in eq:
            arr = np.random.default_rng(1).standard_normal((2, 3, 2))
        else:
            arr = a
        np.testing.assert_allclose(
            rg.einsum(eq, rg.tensor(arr)).data, torch.einsum(eq, torch.tensor(arr)).numpy()
        )


BAD = [
    ("gather-dtype", lambda: rg.gather(rg.ones(2, 2), 1, rg.ones(2, 2)), TypeError,
     r"gather: index must be an integer \(int64\) tensor, got dtype float32"),
    ("gather-range", lambda: rg.gather(rg.ones(2, 2), 1, rg.tensor([[0, 2]])), IndexError,
     r"gather: index 2 is out of bounds for dimension 1 with size 2"),
    ("gather-ndim", lambda: rg.gather(rg.ones(2, 2), 1, rg.tensor([0])), ValueError,
     r"gather: index must have as many dimensions as input \(2\)"),
    ("gather-dim", lambda: rg.gather(rg.ones(2, 2), 2, rg.tensor([[0]])), IndexError,
     r"gather: dim 2 is out of range for a tensor with 2 dimensions"),
    ("scatter-both", lambda: rg.scatter(rg.ones(2), 0, rg.tensor([0]), rg.ones(1), 1.0),
     ValueError, r"scatter: give exactly one of src"),
    ("scatter_reduce-mode", lambda: rg.scatter_reduce(rg.ones(2), 0, rg.tensor([0]),
                                                      rg.ones(1), "max"),
     ValueError, r"scatter_reduce: reduce must be one of"),
    ("index_select-range", lambda: rg.index_select(rg.ones(2, 3), 1, rg.tensor([3])),
     IndexError, r"index_select: index 3 is out of range for size 3 of dim 1"),
    ("masked_select-dtype", lambda: rg.masked_select(rg.ones(2), rg.ones(2)), TypeError,
     r"masked_select: mask must be a bool tensor"),
    ("one_hot-range", lambda: F.one_hot(rg.tensor([0, 3]), 3), ValueError,
     r"one_hot: class values must be smaller than num_classes=3, got 3"),
    ("one_hot-float", lambda: F.one_hot(rg.tensor([0.0])), TypeError,
     r"one_hot: tensor must hold int64 class indices, got dtype float32"),
    ("topk-k", lambda: rg.topk(rg.ones(3), 4), ValueError,
     r"topk: k must be in \[0, 3\] for a dimension of size 3, got 4"),
    ("kthvalue-k", lambda: rg.kthvalue(rg.ones(3), 0), ValueError,
     r"kthvalue: k must be in \[1, 3\]"),
    ("sort-dim", lambda: rg.sort(rg.ones(3), 1), IndexError,
     r"sort: dim 1 is out of range for a tensor with 1 dimensions"),
    ("cumsum-dim", lambda: rg.cumsum(rg.ones(3), 2), IndexError, r"cumsum: dim 2 is out of range"),
    ("prod-dim", lambda: rg.prod(rg.ones(3), (0,)), TypeError, r"prod: dim must be an int"),
    ("norm-p", lambda: rg.norm(rg.ones(3), "nuc"), ValueError,
     r"norm: p must be a number or 'fro'"),
    ("norm-int", lambda: rg.norm(rg.tensor([1, 2])), TypeError,
     r"vector_norm: expected a floating"),
    ("split-sum", lambda: rg.split(rg.ones(4), [1, 2]), ValueError,
     r"split: sections \[1, 2\] must sum to the size of dim 0 \(4\), got 3"),
    ("chunk-0", lambda: rg.chunk(rg.ones(4), 0), ValueError, r"chunk: chunks must be >= 1, got 0"),
    ("unflatten", lambda: rg.unflatten(rg.ones(2, 6), 1, (4, -1)), ValueError,
     r"unflatten: sizes \(4, -1\) do not multiply to the size of dim 1 \(6\)"),
    ("roll-len", lambda: rg.roll(rg.ones(2, 2), (1, 1), 0), ValueError,
     r"roll: shifts and dims must have the same length"),
    ("repeat-few", lambda: rg.ones(2, 2).repeat(2), ValueError,
     r"repeat: sizes \(2,\) must have at least as many entries"),
    ("diag-3d", lambda: rg.diag(rg.ones(2, 2, 2)), ValueError, r"diag: input must be 1-D or 2-D"),
    ("diagonal-same", lambda: rg.diagonal(rg.ones(2, 2), 0, 1, 1), ValueError,
     r"diagonal: dim1 and dim2 must differ"),
    ("tril-1d", lambda: rg.tril(rg.ones(3)), ValueError, r"tril: input must have at least 2"),
    ("meshgrid-index", lambda: rg.meshgrid(rg.ones(2), indexing="yx"), ValueError,
     r"meshgrid: indexing must be 'ij' or 'xy', got 'yx'"),
    ("pad-mode", lambda: F.pad(rg.ones(1, 3), (1, 1), mode="wrap"), ValueError,
     r"pad: mode must be one of"),
    ("pad-odd", lambda: F.pad(rg.ones(1, 3), (1,)), ValueError, r"pad: pad must have an even"),
    ("pad-reflect-big", lambda: F.pad(rg.ones(1, 3), (3, 0), mode="reflect"), ValueError,
     r"pad: reflect padding \(3, 0\) must be smaller than the size of dimension 1 \(3\)"),
    ("pad-reflect-dims", lambda: F.pad(rg.ones(3), (1, 1), mode="reflect"), ValueError,
     r"pad: mode 'reflect' pads the last 1-3 dimensions"),
    ("unfold-size", lambda: rg.ones(3).unfold(0, 4, 1), ValueError,
     r"unfold: size 4 exceeds the size of dimension 0 \(3\)"),
    ("einsum-count", lambda: rg.einsum("ij,jk", rg.ones(2, 2)), ValueError,
     r"einsum: the equation 'ij,jk' has 2 operand\(s\), got 1 tensor\(s\)"),
    ("einsum-ndim", lambda: rg.einsum("ijk", rg.ones(2, 2)), ValueError,
     r"einsum: subscripts 'ijk' do not match operand of shape \(2, 2\)"),
    ("einsum-size", lambda: rg.einsum("ij,jk", rg.ones(2, 3), rg.ones(2, 2)), ValueError,
     r"einsum: subscript 'j' has size 3 in one operand and 2 in another"),
    ("einsum-dtype", lambda: rg.einsum("i,i", rg.ones(2), rg.ones(2, dtype="float64")),
     TypeError, r"einsum: operands must share one dtype"),
    ("take_along_dim-ndim", lambda: rg.take_along_dim(rg.ones(2, 2), rg.tensor([0]), 1),
     ValueError, r"take_along_dim: indices must have as many dimensions as input \(2\)"),
]  # fmt: skip


@pytest.mark.parametrize("call, exc, pattern", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_raises_a_clear_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_cumprod_and_prod_gradients_with_zeros_match_torch(torch):
    # Beyond the table's cases: several zeros in a row, a zero first and last.
    a = np.array([[0.0, 2.0, 0.0, 3.0], [1.5, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 2.0]])
    for fn in (lambda m, x: m.cumprod(x, 1), lambda m, x: m.prod(x, 1), lambda m, x: m.prod(x)):
        x, t = rg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        out, ref = fn(rg, x), fn(torch, t)
        g = np.linspace(1.0, 2.0, out.data.size).reshape(out.shape)
        out.backward(g)
        ref.backward(torch.tensor(g))
        np.testing.assert_allclose(x.grad, t.grad.numpy())


def test_ops_namespace_and_methods_exist():
    x = rg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.flip(0).tolist() == [[3.0, 4.0], [1.0, 2.0]]
    assert x.flip(0, 1).tolist() == [[4.0, 3.0], [2.0, 1.0]]
    assert x.flip(dims=[1]).tolist() == [[2.0, 1.0], [4.0, 3.0]]
    assert x.tile(dims=(1, 2)).shape == (2, 4)
    assert x.tile(2).shape == (2, 4)
    assert x.moveaxis(0, 1).tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert R.movement.repeat(x, 1, 2).shape == (2, 4)
