"""The noisy-data toolkit under its former name; it lives in :mod:`retrograd.noisy`.

Example::

    >>> from retrograd.train.noise import noise_report
    >>> noise_report.__module__
    'retrograd.noisy.report'
"""

from ..noisy import *  # noqa: F403
from ..noisy import __all__  # noqa: F401
