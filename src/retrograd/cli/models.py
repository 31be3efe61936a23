"""The networks ``retrograd train --model ...`` builds: model specs and ``build_model``.

Every network takes the flat, standardized feature rows ``(N, F)`` the CLI prepares and
returns ``(N, outputs)``; the layers that reshape rows into images or sequences are part
of the model, so a saved model file needs nothing else. Those layers
(:class:`~retrograd.nn.InputReshape`, :class:`~retrograd.nn.SequenceClassifier`,
:class:`~retrograd.nn.NormBoundedTanhCell`, :class:`~retrograd.nn.EquilibriumClassifier`)
live in :mod:`retrograd.nn` like every other layer, so a CLI-trained ``cnn``, ``lstm`` or
``fixedpoint`` model loads in any program without the command line.

Example::

    >>> import retrograd as rg
    >>> from retrograd.cli.models import build_model
    >>> net = build_model("mlp:32,16", n_features=64, n_outputs=10)
    >>> net(rg.randn(5, 64)).shape
    (5, 10)
"""

from __future__ import annotations

import math
from typing import Any

from .. import nn
from ..nn import EquilibriumClassifier, InputReshape, NormBoundedTanhCell, SequenceClassifier

__all__ = [
    "InputReshape", "SequenceClassifier", "NormBoundedTanhCell", "EquilibriumClassifier",
    "build_model", "parse_model_spec", "ACTIVATIONS", "MODEL_KINDS",
]  # fmt: skip

ACTIVATIONS = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
}  # fmt: skip
MODEL_KINDS = ("mlp", "cnn", "lstm", "fixedpoint")
_DEFAULT_SIZES = {"mlp": [64], "cnn": [16, 32], "lstm": [64], "fixedpoint": [64]}


# ---------------------------------------------------------------------- model specs
def parse_model_spec(spec: str) -> tuple:
    """``"mlp:64,32"`` -> ``("mlp", [64, 32])``; sizes default per kind.

    Example::

        >>> parse_model_spec("mlp:64,32"), parse_model_spec("cnn")
        (('mlp', [64, 32]), ('cnn', [16, 32]))
    """
    kind, _, rest = str(spec).strip().partition(":")
    kind = kind.strip().lower()
    if kind not in MODEL_KINDS:
        raise ValueError(
            f"--model {spec!r}: unknown kind {kind!r}; expected one of "
            f"{', '.join(MODEL_KINDS)} (e.g. mlp:64,64, cnn, lstm:128, fixedpoint:64)"
        )
    if not rest.strip():
        return kind, list(_DEFAULT_SIZES[kind])
    sizes = []
    for part in rest.split(","):
        part = part.strip()
        if not part.isdigit() or (int(part) < 1 and kind != "mlp"):
            raise ValueError(
                f"--model {spec!r}: sizes must be positive integers separated by commas, "
                f"got {part!r}"
            )
        sizes.append(int(part))
    if kind == "mlp" and sizes == [0]:
        sizes = []  # mlp:0 = a single linear layer (no hidden layer)
    if kind in ("lstm", "fixedpoint") and len(sizes) != 1:
        raise ValueError(f"--model {spec!r}: {kind} takes one size (the hidden units)")
    if kind == "cnn" and len(sizes) != 2:
        raise ValueError(f"--model {spec!r}: cnn takes two sizes (channels of the two convs)")
    return kind, sizes


def image_side(n_features: int, image_shape: Any = None) -> tuple:
    """The (H, W) of images given as flat rows: the known shape, else a square side."""
    if image_shape:
        h, w = (int(s) for s in image_shape)
        if h * w == n_features:
            return h, w
    side = int(round(math.sqrt(n_features)))
    if side * side != n_features:
        raise ValueError(
            f"the data has {n_features} features per row, which is not a square image (and "
            "no image shape is known); cnn and lstm read rows as HxW images"
        )
    return side, side


def build_model(
    spec: str,
    n_features: int,
    n_outputs: int,
    activation: str = "relu",
    image_shape: Any = None,
    dropout: float = 0.0,
    solver: dict | None = None,
) -> nn.Module:
    """Build the network ``spec`` names for rows of ``n_features`` and ``n_outputs``.

    - ``mlp:H1,H2,...``: Linear layers with ``activation`` between them;
    - ``cnn[:C1,C2]``: two 3x3 convolutions (C1, C2 channels, ReLU, 2x2 max-pooling after
      each) and a 64-unit hidden layer; rows are read as HxW images (``image_shape`` or
      the square side of ``n_features``);
    - ``lstm:H``: an LSTM with H units reads image rows as time steps (or, for data that is
      not a square image, each feature as one step) and classifies its last output;
    - ``fixedpoint:H``: an equilibrium network of H tanh units trained by recurrent
      backpropagation (:class:`EquilibriumClassifier`); ``solver`` holds its solver
      options (``--fixed-point``; refused for the other kinds).

    Example::

        >>> from retrograd.cli.models import build_model
        >>> type(build_model("lstm:8", 64, 10)).__name__
        'SequenceClassifier'
    """
    kind, sizes = parse_model_spec(spec)
    if solver and kind != "fixedpoint":
        raise ValueError(f"--fixed-point applies to --model fixedpoint:H only, not {spec!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"--activation {activation!r}: expected one of {', '.join(ACTIVATIONS)}")
    act = ACTIVATIONS[activation]
    if kind == "mlp":
        layers: list = []
        width = n_features
        for h in sizes:
            layers += [nn.Linear(width, h), act()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_outputs))
        return nn.Sequential(*layers)
    if kind == "cnn":
        h, w = image_side(n_features, image_shape)
        c1, c2 = sizes
        hp, wp = h // 2 // 2, w // 2 // 2
        if hp < 1 or wp < 1:
            raise ValueError(f"--model cnn: images of {h}x{w} are too small for two 2x2 pools")
        return nn.Sequential(
            InputReshape([1, h, w]),
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * hp * wp, 64), nn.ReLU(), nn.Linear(64, n_outputs),
        )  # fmt: skip
    if kind == "lstm":
        try:
            h, w = image_side(n_features, image_shape)
            seq_len, step = h, w
        except ValueError:
            seq_len, step = n_features, 1
        return SequenceClassifier(seq_len, step, sizes[0], n_outputs)
    return EquilibriumClassifier(n_features, sizes[0], n_outputs, **(solver or {}))
