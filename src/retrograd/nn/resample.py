"""Upsampling and pixel (un)shuffle layers (PyTorch's names and arguments)."""

from __future__ import annotations

from typing import Any

from ..autograd.tensor import Tensor
from ..ops.resample import _MODES, interpolate, pixel_shuffle, pixel_unshuffle
from .module import Module


def _listify(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


class Upsample(Module):
    """Resize by ``scale_factor`` or to ``size`` with :func:`~retrograd.nn.functional.interpolate`.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.Upsample(scale_factor=2, mode="bilinear")(rg.zeros(1, 3, 4, 5)).shape
        (1, 3, 8, 10)
    """

    def __init__(
        self,
        size: Any = None,
        scale_factor: Any = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        who = type(self).__name__
        if mode not in _MODES:
            raise ValueError(f"{who}: mode must be one of {_MODES}, got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{who}: give exactly one of size and scale_factor")
        self.size = tuple(size) if isinstance(size, (list, tuple)) else size
        self.scale_factor = (
            tuple(float(f) for f in scale_factor)
            if isinstance(scale_factor, (list, tuple))
            else None
            if scale_factor is None
            else float(scale_factor)
        )
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    capture_safe = True

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"

    def get_config(self) -> dict:
        return {
            "size": _listify(self.size),
            "scale_factor": _listify(self.scale_factor),
            "mode": self.mode,
            "align_corners": self.align_corners,
            "recompute_scale_factor": self.recompute_scale_factor,
        }


class UpsamplingNearest2d(Upsample):
    """``Upsample(mode="nearest")`` for 4-D input (PyTorch's older name).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.UpsamplingNearest2d(scale_factor=2)(rg.zeros(1, 1, 2, 2)).shape
        (1, 1, 4, 4)
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")

    def get_config(self) -> dict:
        return {"size": _listify(self.size), "scale_factor": _listify(self.scale_factor)}


class UpsamplingBilinear2d(Upsample):
    """``Upsample(mode="bilinear", align_corners=True)`` (PyTorch's older name).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.UpsamplingBilinear2d(size=(3, 3))(rg.ones(1, 1, 2, 2)).shape
        (1, 1, 3, 3)
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)

    def get_config(self) -> dict:
        return {"size": _listify(self.size), "scale_factor": _listify(self.scale_factor)}


class PixelShuffle(Module):
    """(N, C * r^2, H, W) -> (N, C, H * r, W * r) (sub-pixel convolution's rearrangement).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.PixelShuffle(3)(rg.zeros(1, 9, 4, 4)).shape
        (1, 1, 12, 12)
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        if (
            not isinstance(upscale_factor, int)
            or isinstance(upscale_factor, bool)
            or (upscale_factor < 1)
        ):
            raise ValueError(f"PixelShuffle: upscale_factor must be a positive int, got "
                             f"{upscale_factor!r}")  # fmt: skip
        self.upscale_factor = upscale_factor

    capture_safe = True

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"

    def get_config(self) -> dict:
        return {"upscale_factor": self.upscale_factor}


class PixelUnshuffle(Module):
    """(N, C, H * r, W * r) -> (N, C * r^2, H, W), the inverse of :class:`PixelShuffle`.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.PixelUnshuffle(2)(rg.zeros(1, 1, 4, 4)).shape
        (1, 4, 2, 2)
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        if (
            not isinstance(downscale_factor, int)
            or isinstance(downscale_factor, bool)
            or (downscale_factor < 1)
        ):
            raise ValueError(f"PixelUnshuffle: downscale_factor must be a positive int, got "
                             f"{downscale_factor!r}")  # fmt: skip
        self.downscale_factor = downscale_factor

    capture_safe = True

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"

    def get_config(self) -> dict:
        return {"downscale_factor": self.downscale_factor}
