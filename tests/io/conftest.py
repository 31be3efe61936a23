"""Fixtures of the io tests: a model file written by ``retrograd train``."""

from __future__ import annotations

import pytest

from retrograd.cli import main


@pytest.fixture(scope="session")
def cli_model(tmp_path_factory):
    """A small digits classifier saved by the command line (with its metadata)."""
    out = tmp_path_factory.mktemp("cli_model") / "digits.safetensors"
    argv = ["train", "--data", "digits", "--model", "mlp:8", "--epochs", "1", "--verbose",
            "0", "--test-split", "0.2", "--val-split", "0.1", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    return out
