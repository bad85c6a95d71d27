"""The three small torch modules that a converted model needs besides torch's own.

Imported only by :func:`~cnnstep.nn.to_torch` and :func:`~cnnstep.nn.from_torch` (this
module imports torch). They are plain modules without parameters, so a converted network
trains, saves (``torch.save``) and loads like any other.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["ChannelsFirst", "ChannelsLast", "AvgPool2dExcludePad"]


class ChannelsFirst(torch.nn.Module):
    """``(batch, n_H, n_W, n_C) -> (batch, n_C, n_H, n_W)``: cnnstep's images as torch's layers take them.

    A copy in torch's default (contiguous NCHW) memory format rather than the permuted view,
    which torch would treat as ``channels_last``: torch 2.13's CPU float32 convolution in that
    format returns wrong numbers for some small geometries (e.g. a 4x3 one-channel image, a 3x3
    filter, stride (1, 2)), the contiguous one does not.
    """

    def forward(self, x):
        return x.permute(0, 3, 1, 2).clone(memory_format=torch.contiguous_format)


class ChannelsLast(torch.nn.Module):
    """``(batch, n_C, n_H, n_W) -> (batch, n_H, n_W, n_C)``: before a Flatten, for cnnstep's (h, w, c) order."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1)


class AvgPool2dExcludePad(torch.nn.Module):
    """Average pooling of a padded input that divides by the number of real cells in each window.

    ``torch.nn.AvgPool2d(count_include_pad=False)`` does this for equal padding on opposite
    sides of at most half the window; this module takes any padding, as cnnstep's
    ``AvgPool2D`` does.

    Parameters
    ----------
    kernel_size, stride : (height, width)
    padding : (left, right, top, bottom)
        As ``torch.nn.functional.pad`` takes it.
    """

    def __init__(self, kernel_size, stride, padding):
        super().__init__()
        self.kernel_size = tuple(kernel_size)
        self.stride = tuple(stride)
        self.padding = tuple(padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, x):
        def window_sums(t):
            return F.avg_pool2d(F.pad(t, self.padding), self.kernel_size, self.stride, divisor_override=1)

        counts = window_sums(torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device))
        return window_sums(x) / counts
