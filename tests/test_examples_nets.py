"""Smoke runs of the network-type examples (tiny settings: seconds, not the documented runs)."""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")
sys.path.insert(0, EXAMPLES)


def test_char_transformer_and_lstm_run_and_beat_nothing_silly():
    import char_transformer

    r = char_transformer.main(
        ["--steps", "3", "--max-chars", "4000", "--sample", "20", "--compare-lstm",
         "--d-model", "16", "--context", "16"]
    )  # fmt: skip
    # 70-odd symbols: the unigram code is a few bits per character; so are untrained models.
    assert 2.0 < r["unigram_bits"] < 6.5
    assert 2.0 < r["transformer_bits"] < 8.0 and 2.0 < r["lstm_bits"] < 8.0
    prompt = char_transformer.PROMPT
    assert r["sample"].startswith(prompt) and len(r["sample"]) == len(prompt) + 20


def test_shipped_text_is_the_documented_one():
    import char_transformer

    text = char_transformer.load_text()
    assert len(text.encode("utf-8")) == 197_449
    assert text.startswith("THE FIRST BOOK OF MOSES, CALLED GENESIS\n")


def test_conv_autoencoder_runs_and_writes_the_png(tmp_path):
    pytest.importorskip("matplotlib")
    import conv_autoencoder

    png = tmp_path / "ae.png"
    r = conv_autoencoder.main(["--epochs", "2", "--png", str(png)])
    assert png.stat().st_size > 1000 and r["png"] == str(png)
    assert 0 < r["mse"] < r["mean_mse"] * 1.5 and 0 < r["pca_mse"] < r["mean_mse"]


def test_conv1d_vs_gru_runs():
    import conv1d_vs_gru

    r = conv1d_vs_gru.main(["--epochs", "1", "--n-train", "256"])
    for name in ("conv", "gru"):
        assert 0.0 <= r[name]["accuracy"] <= 1.0 and r[name]["parameters"] > 0


def test_seq_transformer_padding_does_not_change_the_logits():
    import seq_transformer

    r = seq_transformer.main(["--epochs", "1", "--n-train", "256"])
    assert r["masked_diff"] == 0.0
    assert r["unmasked_diff"] > 1e-3
