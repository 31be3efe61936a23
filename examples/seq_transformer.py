"""Sequence classification with Embedding + TransformerEncoder and padding masks.

The task: token sequences of random length 4..24 over 10 symbols (ids 1..10; id 0 is
padding). The label says which of the symbols 1 and 2 occurs more often (ties removed) --
a question about the whole sequence, whatever its length. Batches are padded to 24 with
id 0, and ``src_key_padding_mask`` marks the padding so that attention ignores it; the
classifier averages the encoder outputs over the real positions only.

Positions are the sinusoidal encoding (the recipe in docs/network-types.md).

The check at the end: the same test batch is run again with every padded position
replaced by random symbols (the padding mask still marking those positions). With the
mask, the logits do not change at all (the difference printed is exactly 0.0); without
the mask they do.

    python examples/seq_transformer.py          # ~1 min
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices, busy machine

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import retrograd as rg  # noqa: E402
from retrograd import nn  # noqa: E402

MAX_LEN, VOCAB, PAD = 24, 11, 0


def sinusoidal_positions(length: int, d_model: int) -> np.ndarray:
    """Vaswani et al. 2017: sin on even features, cos on odd ones."""
    pos = np.arange(length)[:, None]
    div = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    pe = np.zeros((length, d_model), dtype=np.float32)
    pe[:, 0::2] = np.sin(pos * div)
    pe[:, 1::2] = np.cos(pos * div)
    return pe


def make_data(n: int, rng: np.random.Generator) -> tuple:
    ids = np.zeros((n, MAX_LEN), dtype=np.int64)
    labels = np.zeros(n, dtype=np.int64)
    i = 0
    while i < n:
        length = int(rng.integers(4, MAX_LEN + 1))
        seq = rng.integers(1, VOCAB, length)
        ones, twos = int((seq == 1).sum()), int((seq == 2).sum())
        if ones == twos:
            continue
        ids[i, :length] = seq
        labels[i] = int(ones > twos)
        i += 1
    return ids, labels


class Classifier(nn.Module):
    def __init__(self, d_model: int = 32, heads: int = 4, layers: int = 2) -> None:
        super().__init__()
        self.d_model = d_model
        self.tok = nn.Embedding(VOCAB, d_model, padding_idx=PAD)
        self.register_buffer("pe", rg.tensor(sinusoidal_positions(MAX_LEN, d_model)))
        layer = nn.TransformerEncoderLayer(d_model, heads, 2 * d_model, dropout=0.0,
                                           batch_first=True)  # fmt: skip
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(d_model, 2)

    def forward(self, ids: np.ndarray, pad: np.ndarray | None = None,
                use_mask: bool = True) -> rg.Tensor:  # fmt: skip
        """ids (N, L); ``pad`` (N, L) True at padding (default: where ids == PAD)."""
        if pad is None:
            pad = ids == PAD
        x = self.tok(ids) * math.sqrt(self.d_model) + self.pe[: ids.shape[1]]
        h = self.encoder(x, src_key_padding_mask=pad if use_mask else None)
        keep = rg.tensor((~pad)[:, :, None].astype(np.float32))
        pooled = (h * keep).sum(axis=1) / keep.sum(axis=1)  # mean over real positions
        return self.head(pooled)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--n-train", type=int, default=4000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    X_tr, y_tr = make_data(a.n_train, rng)
    X_te, y_te = make_data(1000, rng)
    rg.manual_seed(a.seed)
    model = Classifier()
    opt = rg.optim.Adam(model.parameters(), lr=2e-3)
    t0 = time.perf_counter()
    # Token ids must stay integers: a TensorDataset keeps dtypes ((X, y) would make floats).
    hist = rg.train.fit(
        model, nn.CrossEntropyLoss(), opt, rg.data.TensorDataset(X_tr, y_tr),
        epochs=a.epochs, batch_size=64, seed=a.seed, verbose=False,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    model.eval()
    with rg.no_grad():
        logits = model(X_te).data
        acc = float((logits.argmax(axis=1) == y_te).mean())
        # The same sequences with random symbols where the padding was.
        noisy = X_te.copy()
        pad = X_te == PAD
        noisy[pad] = rng.integers(1, VOCAB, int(pad.sum()))
        masked_diff = float(np.abs(model(noisy, pad).data - logits).max())
        unmasked_diff = float(np.abs(model(noisy, pad, use_mask=False).data
                                     - model(X_te, pad, use_mask=False).data).max())  # fmt: skip
    print(f"{len(y_tr)} training and {len(y_te)} test sequences, lengths 4..{MAX_LEN}, "
          f"{pad.mean():.0%} of the test positions are padding")  # fmt: skip
    print(f"training loss {hist.history['loss'][0]:.4f} -> {hist.history['loss'][-1]:.4f} "
          f"in {a.epochs} epochs ({seconds:.1f} s)")  # fmt: skip
    print(f"test accuracy {acc:.3f}")
    print(f"padded positions replaced by random symbols: logits change by {masked_diff} with "
          f"the padding mask, by {unmasked_diff:.3f} without it")  # fmt: skip
    return {"accuracy": acc, "masked_diff": masked_diff, "unmasked_diff": unmasked_diff,
            "seconds": seconds}  # fmt: skip


if __name__ == "__main__":
    main()
