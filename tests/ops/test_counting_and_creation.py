"""unique, bincount, searchsorted, index_add's rules, Tensor.new_*, as_tensor, and the
random draws randperm, multinomial, bernoulli: against torch where values are
deterministic, by their distribution where they are random."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _torch_float32_default():
    # Other tests set torch's default dtype to float64; these compare dtypes with torch's
    # out-of-the-box default, float32 (retrograd's too).
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(before)


def _same(ours, theirs):
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))


@pytest.mark.parametrize("kw", [{}, {"return_inverse": True}, {"return_counts": True},
                                {"return_inverse": True, "return_counts": True, "dim": 1},
                                {"dim": 0, "return_counts": True}])  # fmt: skip
def test_unique_matches_torch(kw):
    a = np.array([[3, 1, 3], [2, 1, 2], [3, 1, 3]])
    ours, theirs = rg.unique(rg.tensor(a), **kw), torch.unique(torch.tensor(a), **kw)
    if isinstance(theirs, tuple):
        for o, t in zip(ours, theirs):
            _same(o, t)
    else:
        _same(ours, theirs)
    f = rg.tensor([0.5, float("nan"), 0.5, -1.0])
    _same(f.unique(), torch.tensor([0.5, float("nan"), 0.5, -1.0]).unique())


def test_bincount_matches_torch():
    a = [0, 3, 3, 1, 0, 3]
    _same(rg.bincount(rg.tensor(a)), torch.bincount(torch.tensor(a)))
    _same(rg.tensor(a).bincount(minlength=6), torch.tensor(a).bincount(minlength=6))
    for w in ([0.5, 1.0, 2.0, 0.0, 1.0, 1.0], np.arange(6.0), [1, 2, 3, 4, 5, 6]):
        wt = torch.tensor(np.asarray(w, dtype=np.float32) if isinstance(w, list) and
                          isinstance(w[0], float) else np.asarray(w))  # fmt: skip
        _same(rg.bincount(rg.tensor(a), rg.tensor(wt.numpy())), torch.bincount(torch.tensor(a), wt))
    _same(rg.bincount(rg.tensor([], dtype="int64")), torch.bincount(torch.tensor([], dtype=int)))
    with pytest.raises(ValueError, match="non-negative"):
        rg.bincount(rg.tensor([1, -1]))
    with pytest.raises(ValueError, match="1-D"):
        rg.bincount(rg.tensor([[1]]))


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_matches_torch(right):
    seq = [1.0, 3.0, 3.0, 5.0]
    vals = [[0.0, 3.0], [5.0, 6.0]]
    _same(rg.searchsorted(rg.tensor(seq), rg.tensor(vals), right=right),
          torch.searchsorted(torch.tensor(seq), torch.tensor(vals), right=right))  # fmt: skip
    seq2 = [[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]
    v2 = [[3.0, 7.0], [1.0, 4.0]]
    _same(rg.searchsorted(rg.tensor(seq2), rg.tensor(v2), right=right, out_int32=True),
          torch.searchsorted(torch.tensor(seq2), torch.tensor(v2), right=right,
                             out_int32=True))  # fmt: skip
    side = "right" if right else "left"
    _same(rg.searchsorted(rg.tensor(seq), rg.tensor(2.0), side=side),
          torch.searchsorted(torch.tensor(seq), torch.tensor(2.0), side=side))  # fmt: skip
    unsorted = [5.0, 1.0, 3.0]
    order = np.argsort(unsorted)
    _same(rg.searchsorted(rg.tensor(unsorted), rg.tensor([2.0]), sorter=rg.tensor(order)),
          torch.searchsorted(torch.tensor(unsorted), torch.tensor([2.0]),
                             sorter=torch.tensor(order)))  # fmt: skip
    with pytest.raises(ValueError, match="leading dimensions"):
        rg.searchsorted(rg.tensor(seq2), rg.tensor([1.0]))


def test_index_add_rules_match_torch():
    x, s = np.zeros((3, 2)), np.ones((2, 2))
    with pytest.raises(IndexError, match="out of range"):
        rg.index_add(rg.tensor(x), 0, rg.tensor([0, -1]), rg.tensor(s))
    with pytest.raises(ValueError, match="source must have shape"):
        rg.index_add(rg.tensor(x), 0, rg.tensor([0, 1]), rg.ones(3, 2))
    y = rg.tensor(x)
    assert y.index_add_(0, rg.tensor([2, 2]), rg.tensor(s)) is y
    _same(y, torch.tensor(x).index_add_(0, torch.tensor([2, 2]), torch.tensor(s)))
    # Inside a graph, in place: gradients to the tensor and the source.
    w = rg.tensor(s, requires_grad=True)
    h = rg.tensor(x, requires_grad=True) * 2
    h.index_add_(0, rg.tensor([1, 1]), w * 3)
    h.sum().backward()
    assert w.grad.tolist() == [[3.0, 3.0], [3.0, 3.0]]


def test_new_constructors_match_torch():
    for dt in ("float32", "float64", "int64"):
        x = rg.ones(2, dtype=dt)
        xt = torch.ones(2, dtype=getattr(torch, dt))
        _same(x.new_zeros(2, 3), xt.new_zeros(2, 3))
        _same(x.new_ones((1, 2)), xt.new_ones((1, 2)))
        _same(x.new_full((2,), 7), xt.new_full((2,), 7))
        assert x.new_empty(3, 0).shape == (3, 0) and x.new_empty(1).dtype == x.dtype
        _same(x.new_tensor([1, 2]), xt.new_tensor([1, 2]))
    z = rg.ones(2).new_zeros(2, dtype=rg.float64, requires_grad=True)
    assert z.dtype == np.float64 and z.requires_grad and z.is_leaf
    with pytest.raises(ValueError, match="size"):
        rg.ones(1).new_zeros(-1)


def test_as_tensor_shares_memory_as_torch():
    a = np.arange(3.0)
    t = rg.as_tensor(a)
    a[0] = 9.0
    assert t.tolist() == [9.0, 1.0, 2.0]
    assert rg.as_tensor(t) is t
    c = rg.as_tensor(a, dtype=rg.float32)
    a[1] = 5.0
    assert c.dtype == np.float32 and c.tolist()[1] == 1.0  # a converted copy
    assert rg.as_tensor([1.0, 2.0]).dtype == np.float32
    with pytest.raises(ValueError, match="device"):
        rg.as_tensor(a, device="cuda")


def test_randperm_multinomial_bernoulli():
    rg.manual_seed(0)
    p = rg.randperm(50)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(50))
    assert rg.randperm(0).shape == (0,)
    w = rg.tensor([[0.0, 1.0, 3.0], [5.0, 0.0, 0.0]])
    draws = rg.multinomial(w, 2000, replacement=True)
    assert draws.shape == (2, 2000) and draws.dtype == np.int64
    assert set(draws[1].tolist()) == {0}
    frac = float((draws[0].data == 2).mean())
    assert abs(frac - 0.75) < 0.05  # 3 / (1 + 3); sd ~0.01
    no_rep = rg.multinomial(rg.tensor([1.0, 1.0, 1.0, 1.0]), 4)
    assert sorted(no_rep.tolist()) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="without replacement"):
        rg.multinomial(rg.tensor([1.0, 0.0]), 2)
    with pytest.raises(ValueError, match="non-negative"):
        rg.multinomial(rg.tensor([1.0, -1.0]), 1)
    b = rg.bernoulli(rg.full((4000,), 0.3, dtype=rg.float64))
    assert b.dtype == np.float64 and set(np.unique(b.data)) <= {0.0, 1.0}
    assert abs(float(b.data.mean()) - 0.3) < 0.04
    assert rg.bernoulli(rg.tensor([0.0, 1.0])).tolist() == [0.0, 1.0]
    z = rg.zeros(1000)
    assert z.bernoulli_(0.9) is z and abs(float(z.data.mean()) - 0.9) < 0.05
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rg.bernoulli(rg.tensor([1.5]))
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    assert rg.randperm(10, generator=g1).tolist() == rg.randperm(10, generator=g2).tolist()
