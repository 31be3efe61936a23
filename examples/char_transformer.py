"""A character-level transformer language model of Genesis (King James Version).

The text (examples/data/genesis.txt, public domain, provenance in examples/data/README.md)
is split 90/10 into training and validation characters. The model: token embedding plus
a learned position table, a causal ``TransformerEncoder`` (pre-norm, GELU), a final
LayerNorm and a linear read-out. Each step trains on ``batch`` windows of ``context``
characters drawn at random from the training part; every position predicts the next
character.

The report gives validation bits per character for three models trained on the same
split: the unigram baseline (character frequencies of the training part), this
transformer, and ``--compare-lstm`` the LSTM of examples/char_lm.py (one-hot input,
LSTM(vocab, 128), linear read-out) trained for the same number of steps on the same
batches. Then the transformer writes text, one sampled character at a time.

    python examples/char_transformer.py                  # ~1 min CPU (2 min wall, busy machine)
    python examples/char_transformer.py --compare-lstm   # also the LSTM (~2x longer)
"""

from __future__ import annotations

import os

# Small matrices on a shared machine: one BLAS thread is faster than two that wait on
# each other (measured 7x less CPU per step here under load).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import retrograd as rg  # noqa: E402
from retrograd import nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data", "genesis.txt")
LN2 = math.log(2.0)
PROMPT = "And God said, "


def load_text(path: str = DATA) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


class CharTransformer(nn.Module):
    """Embedding + learned positions -> causal transformer encoder -> next-char logits."""

    def __init__(self, vocab: int, context: int, d_model: int, heads: int, layers: int,
                 dropout: float) -> None:  # fmt: skip
        super().__init__()
        self.context = context
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(context, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, 4 * d_model, dropout=dropout, activation="gelu",
            batch_first=True, norm_first=True,
        )  # fmt: skip
        self.encoder = nn.TransformerEncoder(layer, layers, nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, vocab)
        self.mask = nn.Transformer.generate_square_subsequent_mask(context)

    def forward(self, ids: np.ndarray) -> rg.Tensor:
        """ids: (N, L) character ids, L <= context -> logits (N, L, vocab)."""
        length = ids.shape[1]
        x = self.tok(ids) + self.pos(np.arange(length))
        mask = self.mask[:length, :length]
        return self.head(self.encoder(x, mask=mask, is_causal=True))


class LSTMCharLM(nn.Module):
    """examples/char_lm.py's model: one-hot characters -> LSTM -> linear read-out."""

    def __init__(self, vocab: int, hidden: int = 128) -> None:
        super().__init__()
        self.vocab = vocab
        self.lstm = nn.LSTM(vocab, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: np.ndarray) -> rg.Tensor:
        x = np.eye(self.vocab, dtype=np.float32)[ids]
        return self.head(self.lstm(rg.tensor(x))[0])


def unigram_bits(train: np.ndarray, val: np.ndarray, vocab: int) -> float:
    """Cross-entropy (bits/char) of the validation part under the training frequencies."""
    counts = np.bincount(train, minlength=vocab) + 1.0  # add-one: no character has p = 0
    logp = np.log2(counts / counts.sum())
    return float(-logp[val].mean())


def evaluate(model: nn.Module, val: np.ndarray, context: int, vocab: int) -> float:
    """Validation bits/char: the text cut into windows of ``context``, each position
    predicting the next character from the window's earlier ones."""
    model.eval()
    n = (len(val) - 1) // context
    x = val[: n * context].reshape(n, context)
    y = val[1 : n * context + 1].reshape(n, context)
    total = 0.0
    with rg.no_grad():
        for s in range(0, n, 64):
            logits = model(x[s : s + 64])
            loss = nn.functional.cross_entropy(
                logits.reshape(-1, vocab), y[s : s + 64].reshape(-1), reduction="sum"
            )
            total += loss.item()
    model.train()
    return total / (n * context) / LN2


def train(model: nn.Module, data: np.ndarray, a: argparse.Namespace, vocab: int,
          label: str) -> float:  # fmt: skip
    """Adam with warm-up and cosine decay; returns the seconds spent."""
    opt = rg.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(a.seed)  # the same batches for every model
    t0 = time.perf_counter()
    for step in range(1, a.steps + 1):
        warm = min(1.0, step / 100)
        for group in opt.param_groups:
            group["lr"] = a.lr * warm * 0.5 * (1 + math.cos(math.pi * step / a.steps))
        starts = rng.integers(0, len(data) - a.context - 1, a.batch)
        x = np.stack([data[s : s + a.context] for s in starts])
        y = np.stack([data[s + 1 : s + a.context + 1] for s in starts])
        logits = model(x)
        loss = loss_fn(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % max(1, a.steps // 6) == 0 or step == a.steps:
            print(f"  {label} step {step:5d}  train loss {loss.item() / LN2:.3f} bits/char  "
                  f"({time.perf_counter() - t0:.0f} s)")  # fmt: skip
    return time.perf_counter() - t0


def sample(model: CharTransformer, chars: list, prompt: str, n: int, temperature: float,
           rng: np.random.Generator) -> str:  # fmt: skip
    stoi = {c: i for i, c in enumerate(chars)}
    ids = [stoi[c] for c in prompt]
    model.eval()
    with rg.no_grad():
        for _ in range(n):
            window = np.array([ids[-model.context :]])
            z = model(window).data[0, -1].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            ids.append(int(rng.choice(len(chars), p=p / p.sum())))
    model.train()
    return "".join(chars[i] for i in ids)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-chars", type=int, default=0, help="use only this many characters")
    p.add_argument("--compare-lstm", action="store_true", help="also train the LSTM char-LM")
    p.add_argument("--sample", type=int, default=300, help="characters to generate")
    a = p.parse_args(argv)

    text = load_text()
    if a.max_chars:
        text = text[: a.max_chars]
    chars = sorted(set(text))
    vocab = len(chars)
    ids = np.array([chars.index(c) for c in text], dtype=np.int64)
    cut = int(0.9 * len(ids))
    train_ids, val_ids = ids[:cut], ids[cut:]
    print(f"{len(text):,} characters, {vocab} distinct; {len(train_ids):,} for training, "
          f"{len(val_ids):,} for validation")  # fmt: skip
    result = {"unigram_bits": unigram_bits(train_ids, val_ids, vocab)}
    print(f"unigram baseline: {result['unigram_bits']:.3f} bits/char on validation")

    rg.manual_seed(a.seed)
    model = CharTransformer(vocab, a.context, a.d_model, a.heads, a.layers, a.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"transformer: {n_params:,} parameters, {a.steps} steps of {a.batch} x {a.context}")
    result["transformer_seconds"] = train(model, train_ids, a, vocab, "transformer")
    result["transformer_bits"] = evaluate(model, val_ids, a.context, vocab)
    print(f"transformer: {result['transformer_bits']:.3f} bits/char on validation")

    if a.compare_lstm:
        rg.manual_seed(a.seed)
        lstm = LSTMCharLM(vocab)
        n_params = sum(p.numel() for p in lstm.parameters())
        print(f"LSTM (examples/char_lm.py's model): {n_params:,} parameters, same batches")
        result["lstm_seconds"] = train(lstm, train_ids, a, vocab, "LSTM")
        result["lstm_bits"] = evaluate(lstm, val_ids, a.context, vocab)
        print(f"LSTM: {result['lstm_bits']:.3f} bits/char on validation")

    if a.sample:
        text_out = sample(model, chars, PROMPT, a.sample, 0.7,
                          np.random.default_rng(a.seed))  # fmt: skip
        print("\nSample (temperature 0.7):\n")
        print(text_out)
        result["sample"] = text_out
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
