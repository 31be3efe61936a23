"""Layers, losses and containers. Names, parameter names and layouts follow PyTorch."""

from . import functional, init
from .module import Module, ModuleList, Parameter, Sequential
from .layers import *  # noqa: F403
from .losses import *  # noqa: F403
