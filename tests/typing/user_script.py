"""Ordinary user code: tests/test_typing.py type-checks it (mypy, pyright) and runs it.

It exercises the README's examples and the everyday Tensor surface, so a type checker
that cannot see Tensor's operators or methods fails the test.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

import retrograd as rg
from retrograd import nn
from retrograd.nn import functional as F


def first_graph() -> float:
    x = rg.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    W = rg.tensor([[0.1, -0.2, 0.3], [0.0, 0.5, -0.5]], requires_grad=True)
    b = rg.tensor([0.1, -0.1], requires_grad=True)
    y = (x @ W.T + b).tanh()
    loss = (y * y).sum()
    loss.backward()
    grad: np.ndarray | None = W.grad
    assert grad is not None and grad.shape == (2, 3)
    W64 = rg.tensor(np.random.rand(2, 3), requires_grad=True)
    assert rg.gradcheck(lambda W: (W @ W.T).tanh().sum(), [W64])
    return loss.item()


def everyday_tensor_code() -> rg.Tensor:
    x = rg.randn(4, 3)
    w = rg.randn(3, 2, requires_grad=True)
    h = x @ w
    h = h.relu() + 1.0
    h = 2.0 * h - h / 3 + (-h) ** 2
    h = h.sigmoid() * h.exp().log() + abs(h) + h.sqrt()
    h = h.reshape(2, 4).transpose(0, 1).flatten().unsqueeze(0).squeeze(0)
    s = x * x
    total = s.sum() + s.mean(axis=0).sum() + s.max() + s.min(axis=1, keepdims=True).sum()
    total = total + h.sum() + x.softmax(-1).log_softmax(-1).sum() + x.clamp(-1.0, 1.0).sum()
    total = total + x.var() + x.std(axis=0).sum() + x.logsumexp(axis=1).mean()
    mask = x > 0
    picked = x[0, 1:] + x[[0, 1]].sum() + x[mask].sum()
    total = total + picked.sum()
    n: int = x.shape[0] + x.ndim + len(x)
    dtype = x.double().float().astype(np.float64).dtype
    assert n == 10 and dtype == np.float64
    torch_style = x.sum(dim=1, keepdim=True) + x.mean(dim=0) + x.max(dim=1).values.sum()
    values, indices = x.min(0)
    rows: int = x.size(0) + x.numel() + x.dim() + int(indices.sum().item())
    y64 = x.to("cpu").to(rg.float64).clone().detach()
    with rg.no_grad():
        y64 += 1.0
        y64.mul_(2.0).clamp_(0.0, 10.0)
    total = total + torch_style.sum() + values.sum() + rows + y64.float().sum()
    z = rg.cat([x, x], dim=1)
    assert z.shape == (4, 6) and rg.stack([x, x], dim=0).shape == (2, 4, 3)
    labels = x.argmax(axis=1)
    arr: np.ndarray = x.numpy() + labels.numpy()[:, None]
    assert arr.shape == (4, 3)
    total = total + rg.from_numpy(np.ones(3, np.float32)).sum() + rg.linspace(0, 1, 3).sum()
    total.backward()
    with rg.no_grad():
        z = w * 2
    assert not z.requires_grad
    return total.detach()


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x: rg.Tensor) -> rg.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


def training() -> float:
    rg.manual_seed(0)
    net = Net()
    opt = rg.optim.Adam(net.parameters(), lr=1e-2)
    x = rg.randn(32, 8)
    y = rg.tensor(np.arange(32) % 3)
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(net(x), y)
    for _ in range(3):
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
    sched = rg.optim.lr_scheduler.StepLR(opt, step_size=1)
    sched.step()
    seq = nn.Sequential(nn.Linear(8, 4), nn.Tanh(), nn.Linear(4, 3))
    sgd = rg.optim.SGD(seq.parameters(), lr=0.1, momentum=0.9)
    rg.nn.utils.clip_grad_norm_(seq.parameters(), 1.0)
    X = np.random.rand(40, 8).astype(np.float32)
    t = np.arange(40) % 3
    history = rg.train.fit(seq, nn.CrossEntropyLoss(), sgd, (X, t), epochs=2, verbose=0)
    state = seq.state_dict()
    seq.load_state_dict(state)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.safetensors")
        rg.save(seq, path)
        rg.load(path)
    return float(len(history.history["loss"])) + float(loss.item())


def digits_readme() -> None:
    X, y = rg.data.load_digits()
    X_tr, X_te, y_tr, y_te = rg.data.train_test_split(X / 16, y, test_size=0.25, seed=0, stratify=y)
    rg.manual_seed(0)
    net = rg.nn.Sequential(rg.nn.Linear(64, 16), rg.nn.ReLU(), rg.nn.Linear(16, 10))
    opt = rg.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    rg.train.fit(
        net,
        rg.nn.CrossEntropyLoss(),
        opt,
        (X_tr, y_tr),
        val_data=(X_te, y_te),
        epochs=1,
        batch_size=32,
        verbose=0,
    )


class Cell(rg.nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.lin = rg.nn.Linear(n, n)

    def forward(self, h: rg.Tensor, x: rg.Tensor) -> rg.Tensor:
        return (self.lin(h) + x).tanh()


def recurrent_readme() -> None:
    fp = rg.nn.FixedPoint(Cell(8), tol=1e-6, max_iter=200, backward="rbp")
    h_star = fp(rg.randn(4, 8))
    h_star.sum().backward()
    print(fp.last_stats)


if __name__ == "__main__":
    first_graph()
    everyday_tensor_code()
    training()
    digits_readme()
    recurrent_readme()
