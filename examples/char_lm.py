"""A character-level LSTM language model of the Zen of Python, trained by truncated BPTT.

The text ships with Python: ``this.s``, ROT13-decoded. It is cut into ``batch`` parallel
streams; each update runs a window of ``bptt`` steps, and the LSTM state is carried to
the next window with ``detach_state`` -- the graph (and backpropagation) stops at the
window's edge, while the forward pass still remembers everything before it. Then the
model writes text of its own, one sampled character at a time.

    python examples/char_lm.py          # about 15 s
"""

from __future__ import annotations

import os

# Small matrices: one BLAS thread is faster than two that wait on each other.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import codecs  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import retrograd as rg  # noqa: E402
from retrograd.nn.rnn import detach_state  # noqa: E402

PROMPT = "The Zen of Python"


def zen_of_python() -> str:
    with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the poem
        import this
    return codecs.decode(this.s, "rot13")


class CharLM(rg.nn.Module):
    def __init__(self, vocab: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.lstm = rg.nn.LSTM(vocab, hidden, num_layers=layers)
        self.head = rg.nn.Linear(hidden, vocab)

    def forward(self, idx: np.ndarray, state: object = None) -> tuple:
        """idx: (T, B) character ids -> logits (T, B, vocab), new state."""
        x = np.eye(self.vocab, dtype=np.float32)[idx]  # one-hot
        out, state = self.lstm(rg.tensor(x), state)
        return self.head(out), state


def sample(
    model: CharLM, chars: list, prompt: str, n: int, temperature: float, rng: np.random.Generator
) -> str:
    stoi = {c: i for i, c in enumerate(chars)}
    text = prompt
    with rg.no_grad():
        logits, state = model(np.array([[stoi[c]] for c in prompt]))
        for _ in range(n):
            z = logits.data[-1, 0].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            i = int(rng.choice(len(chars), p=p / p.sum()))
            text += chars[i]
            logits, state = model(np.array([[i]]), state)
    return text


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--bptt", type=int, default=32, help="steps per truncated-BPTT window")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)

    text = zen_of_python()
    chars = sorted(set(text))
    ids = np.array([chars.index(c) for c in text])
    rg.manual_seed(a.seed)
    model = CharLM(len(chars), a.hidden, a.layers)
    opt = rg.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = rg.nn.CrossEntropyLoss()

    # `batch` streams, each a contiguous slice of the text, read side by side.
    n = (len(ids) - 1) // a.batch
    inputs = ids[: n * a.batch].reshape(a.batch, n).T  # (n, batch)
    targets = ids[1 : n * a.batch + 1].reshape(a.batch, n).T
    print(f"{len(text)} characters, {len(chars)} distinct; {a.batch} streams of {n}")

    t0 = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        state = None
        total, count = 0.0, 0
        for s in range(0, n, a.bptt):
            x, y = inputs[s : s + a.bptt], targets[s : s + a.bptt]
            logits, state = model(x, state)
            loss = loss_fn(logits.reshape(-1, len(chars)), rg.tensor(y.reshape(-1)))
            opt.zero_grad()
            loss.backward()
            rg.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            # Truncated BPTT: keep the values, cut the graph.
            state = detach_state(state)
            total += loss.item() * y.size
            count += y.size
        if epoch % 25 == 0 or epoch == a.epochs:
            print(
                f"epoch {epoch:4d}  loss {total / count:.4f} nats/char  "
                f"({time.perf_counter() - t0:.1f} s)"
            )
    final = total / count
    sample_text = sample(model, chars, PROMPT, 500, 0.5, np.random.default_rng(a.seed))
    print(f"\nSample (temperature 0.5, prompt {PROMPT!r}):\n")
    print(sample_text)
    return {"loss": final, "sample": sample_text, "seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    main()
