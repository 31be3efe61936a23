"""Reproduce the table of docs/classic-1986.md: every classic 1986 problem over many seeds.

python examples/run_1986.py            # 20 seeds per problem (0..19), tol 0.1
python examples/run_1986.py --seeds 5 --problems xor symmetry
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import classic1986 as c  # noqa: E402


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0..n-1 per problem")
    parser.add_argument(
        "--tol", type=float, default=0.1, help="criterion: every |output - target| <= tol"
    )
    parser.add_argument("--problems", nargs="+", default=list(c.PROBLEMS), choices=list(c.PROBLEMS))
    args = parser.parse_args(argv)
    rows = []
    t0 = time.perf_counter()
    for name in args.problems:
        t = time.perf_counter()
        s = c.run_many(name, range(args.seeds), args.tol)
        rows.append(s.row())
        print(
            f"{name}: {sum(r.solved for r in s.runs)}/{len(s.runs)} solved, median sweeps "
            f"{s.median_sweeps}, {time.perf_counter() - t:.1f}s",
            file=sys.stderr,
        )
    print(f"criterion: every output within {args.tol:g} of its target; seeds 0..{args.seeds - 1}")
    print(c.TABLE_HEADER)
    print("\n".join(rows))
    print(f"(total {time.perf_counter() - t0:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
