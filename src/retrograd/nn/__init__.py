"""Layers, losses and containers. Names, parameter names and layouts follow PyTorch."""

# This module only re-exports; each layer family adds one import line at the end.
# ruff: noqa: F401, F403, I001

from . import functional, init, utils
from .module import Module, ModuleList, Parameter, Sequential
from .layers import *
from .activation import *
from .losses import *
from .fixedpoint import FixedPoint, RecurrentNet, NormBoundedTanhCell, EquilibriumClassifier
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, Dropout2d
from .pool import MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, MaxPool1d, AvgPool1d, AdaptiveAvgPool1d
from .pool import AdaptiveMaxPool2d
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, InstanceNorm2d
from .rnn import RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell, SequenceClassifier
from .embedding import Embedding
from .attention import MultiheadAttention
from .transformer import (
    Transformer,
    TransformerEncoderLayer,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerDecoder,
)
from .resample import (
    Upsample,
    UpsamplingNearest2d,
    UpsamplingBilinear2d,
    PixelShuffle,
    PixelUnshuffle,
)
