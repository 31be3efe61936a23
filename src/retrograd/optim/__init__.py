"""Optimizers (PyTorch's update rules and names) and learning-rate schedules.

Example::

    >>> import retrograd as rg
    >>> net = rg.nn.Linear(2, 1)
    >>> opt = rg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    >>> loss = net(rg.ones(4, 2)).sum()
    >>> loss.backward(); opt.step(); opt.zero_grad()
"""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .clipped import ClippedOptimizer
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "LBFGS", "ClippedOptimizer", "lr_scheduler",
    "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
]  # fmt: skip
