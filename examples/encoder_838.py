"""encoder_838: 8-3-8 network, lr 0.1, momentum 0.9;
PDP vol. 1 ch. 8 (encoder problem; no sweep count given).

    python examples/encoder_838.py --seeds 20

Trains one network per seed with full-batch sweeps until every output is within --tol
(default 0.1) of its target, then prints the sweeps per seed and a summary row. See
classic1986.py for the exact setup and docs/classic-1986.md for measured results.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import classic1986  # noqa: E402

if __name__ == "__main__":
    classic1986.main_for("encoder_838")
