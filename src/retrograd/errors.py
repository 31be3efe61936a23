"""Exceptions a user of retrograd can catch by name."""


class RetrogradError(Exception):
    """Base class of every retrograd-specific error."""


class GradcheckError(RetrogradError, AssertionError):
    """An analytic gradient disagrees with central finite differences."""


class ConvergenceError(RetrogradError, RuntimeError):
    """A fixed-point (forward or adjoint) relaxation did not converge."""


class AnomalyError(RetrogradError, RuntimeError):
    """A NaN or Inf appeared in a forward or backward computation under detect_anomaly."""


class ModelFileError(RetrogradError, ValueError):
    """A model or checkpoint file is malformed, truncated, tampered with or unsafe."""


class SecondOrderError(RetrogradError, RuntimeError):
    """``create_graph=True`` reached a primitive whose backward cannot be differentiated."""


class ShapeError(RetrogradError, ValueError, RuntimeError):
    """Tensor shapes that do not fit together (broadcasting, matmul, reshape, cat, ...).

    A ValueError for NumPy habits and a RuntimeError for PyTorch's (torch raises
    RuntimeError for shape mismatches), so either ``except`` catches it.
    """


class DistributedError(RetrogradError, RuntimeError):
    """An MPI job cannot go on: another rank failed, or the ranks disagree on the run.

    Raised on every rank together (no rank is left waiting for another).
    """
