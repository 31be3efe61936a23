"""Run ``retrograd train ARGS`` as one MPI rank that misbehaves at its third step.

usage: _cli_rank.py MODE ARGS...   (MODE: error, sigint)
Used by test_mpi.py in MPMD jobs next to a plain ``retrograd train`` rank.
"""

import os
import signal
import sys

import retrograd as rg
from retrograd.cli import main

MODE = sys.argv[1]
_fit = rg.train.fit


class _AtStep3(rg.train.Callback):
    def on_batch_end(self, ts, loss):
        if ts.step != 3:
            return
        if MODE == "error":
            raise ValueError("rank 1 broke at step 3")
        if MODE == "sigint":  # Ctrl-C reaching this rank alone
            os.kill(os.getpid(), signal.SIGINT)


def fit(*args, callbacks=(), **kwargs):
    return _fit(*args, callbacks=[*callbacks, _AtStep3()], **kwargs)


rg.train.fit = fit
sys.exit(main(sys.argv[2:]))
