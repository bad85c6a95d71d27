"""cnnstep models to PyTorch and back, with their trained weights.

:func:`to_torch` gives a ``torch.nn.Sequential`` that takes cnnstep's channels-last
batches and returns the **logits** (what ``torch.nn.CrossEntropyLoss`` takes, so training
goes on at once; ``torch.softmax(logits, dim=1)`` is ``predict_proba``). Its first module,
:class:`~cnnstep.nn.export.torch_layers.ChannelsFirst`, turns ``(batch, n_H, n_W, n_C)``
into torch's ``(batch, n_C, n_H, n_W)``; after it come torch's own layers (``Conv2d``,
``MaxPool2d``, ``AvgPool2d``, ``ReLU``, ``Flatten``, ``Linear``, and ``ZeroPad2d`` /
``ConstantPad2d`` for padding that torch's layers cannot take), a ``ChannelsLast``
before each ``Flatten`` of an image so that the flattened order is cnnstep's (h, w, c),
and ``AvgPool2dExcludePad`` for average pooling with uneven padding.

:func:`from_torch` reads such a network back -- or any ``torch.nn.Sequential`` of those
layer kinds written for torch's channels-first images (a ``Flatten`` there flattens in
(c, h, w) order; the ``Linear`` after it is reordered to match) -- into a
:class:`~cnnstep.nn.Sequential` that predicts the same.

Needs torch (``pip install "cnnstep[torch]"``), imported when called.
"""

from __future__ import annotations

import functools

import numpy as np

from cnnstep._kernels import checks as _checks
from cnnstep._optional import require
from cnnstep.nn import layers as _layers
from cnnstep.nn.export import _plan
from cnnstep.nn.layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU
from cnnstep.nn.model import Sequential

__all__ = ["to_torch", "from_torch", "SUPPORTED"]

SUPPORTED = (
    "Conv2d, MaxPool2d, AvgPool2d, ReLU, Flatten, Linear, ZeroPad2d or ConstantPad2d right before a Conv2d "
    "(value 0) or a MaxPool2d (value -inf), and to_torch's ChannelsFirst (first), ChannelsLast (before a Flatten) "
    "and AvgPool2dExcludePad"
)


# --------------------------------------------------------------------------- cnnstep -> torch


def to_torch(model):
    """A ``torch.nn.Sequential`` with ``model``'s weights: NHWC images in, logits out.

    Parameters
    ----------
    model : cnnstep.nn.Sequential

    Returns
    -------
    torch.nn.Sequential
        Takes a tensor ``(batch, n_H, n_W, n_C)`` of the model's dtype (float32 unless the
        model is float64), channels-last as cnnstep takes it, and returns the logits
        ``(batch, n_classes)``; ``torch.softmax(net(x), dim=1)`` agrees with
        ``model.predict_proba``. Its parameters are copies: training it leaves ``model`` as it
        is. :func:`from_torch` brings it back.

    Raises
    ------
    TypeError
        ``model`` is not a cnnstep ``Sequential`` or holds a layer of an unknown kind.
    ImportError
        torch is not installed.
    """
    func = "to_torch"
    model = _plan.checked_model(model, func)
    steps = _plan.steps(model, func)
    torch = require("torch", func)
    from cnnstep.nn.export import torch_layers

    modules = [torch_layers.ChannelsFirst()]
    for step in steps:
        modules += _TORCH_WRITERS[type(step.layer)](step, torch, torch_layers)
    return torch.nn.Sequential(*modules)


def _symmetric(p) -> bool:
    return p.top == p.bottom and p.left == p.right


def _param(torch, array):
    return torch.nn.Parameter(torch.from_numpy(np.array(array, copy=True)))


def _torch_conv(step, torch, tl) -> list:
    layer = step.layer
    W, b = layer.params["W"], layer.params["b"]
    p = _plan.padding(step)
    same_each_side = _symmetric(p)
    conv = torch.nn.Conv2d(
        W.shape[2],
        layer.filters,
        layer.kernel_size,
        stride=layer.stride,
        padding=(p.top, p.left) if same_each_side else 0,
        dtype=getattr(torch, W.dtype.name),
    )
    conv.weight = _param(torch, W.transpose(3, 2, 0, 1))  # (f_h, f_w, n_C_prev, n_C) -> (n_C, n_C_prev, f_h, f_w)
    conv.bias = _param(torch, b.reshape(-1))
    if same_each_side:
        return [conv]
    return [torch.nn.ZeroPad2d((p.left, p.right, p.top, p.bottom)), conv]


def _torch_pool(step, torch, tl) -> list:
    """Torch's own pooling where its padding rule allows (equal sides, at most half the window)."""
    layer = step.layer
    p, f = _plan.padding(step), layer.f
    native = _symmetric(p) and p.top <= f[0] // 2 and p.left <= f[1] // 2
    sides = (p.left, p.right, p.top, p.bottom)
    if isinstance(layer, MaxPool2D):
        if native:
            return [torch.nn.MaxPool2d(f, layer.stride, padding=(p.top, p.left))]
        return [torch.nn.ConstantPad2d(sides, float("-inf")), torch.nn.MaxPool2d(f, layer.stride)]
    if not p.any:
        return [torch.nn.AvgPool2d(f, layer.stride)]
    if native:
        return [torch.nn.AvgPool2d(f, layer.stride, padding=(p.top, p.left), count_include_pad=False)]
    return [tl.AvgPool2dExcludePad(f, layer.stride, sides)]


def _torch_relu(step, torch, tl) -> list:
    return [torch.nn.ReLU()]


def _torch_flatten(step, torch, tl) -> list:
    if len(step.input_shape) == 3:
        return [tl.ChannelsLast(), torch.nn.Flatten()]
    return [torch.nn.Flatten()]


def _torch_dense(step, torch, tl) -> list:
    layer = step.layer
    W, b = layer.params["W"], layer.params["b"]
    linear = torch.nn.Linear(W.shape[0], layer.units, dtype=getattr(torch, W.dtype.name))
    linear.weight = _param(torch, W.T)  # x @ W + b is x @ weight.T + bias
    linear.bias = _param(torch, b.reshape(-1))
    return [linear]


_TORCH_WRITERS = {
    Conv2D: _torch_conv,
    MaxPool2D: _torch_pool,
    AvgPool2D: _torch_pool,
    ReLU: _torch_relu,
    Flatten: _torch_flatten,
    Dense: _torch_dense,
}


# --------------------------------------------------------------------------- torch -> cnnstep


def from_torch(module, input_shape, classes=None) -> Sequential:
    """A cnnstep model with the layers and weights of a ``torch.nn.Sequential``.

    Parameters
    ----------
    module : torch.nn.Sequential
        Made by :func:`to_torch` (perhaps trained since), or any sequence of the kinds in
        :data:`SUPPORTED` (nested Sequentials are read in place) written for torch's
        channels-first images: a ``Flatten`` of an
        image there flattens in (c, h, w) order, and the ``Linear`` after it is reordered to
        cnnstep's (h, w, c). It must end in class scores (e.g. ``Flatten``, ``Linear``).
    input_shape : (n_H, n_W, n_C)
        One image's shape, channels-last; the paddings and the reordering depend on it.
    classes : list of str, optional
        The class names; default ``"0", ..., "k-1"``.

    Returns
    -------
    cnnstep.nn.Sequential
        In the dtype of the module's parameters (float32 or float64). Its ``predict_proba``
        is the softmax of the module's output. Padding is explicit per side (a ``"same"``
        of the original cnnstep model comes back as the amounts it stood for, the
        predictions unchanged); a max-pooling layer gets cnnstep's default ``ties="all"``.

    Raises
    ------
    TypeError
        ``module`` is not a ``torch.nn.Sequential``.
    ValueError
        A layer of a kind cnnstep does not have (the message names it and the kinds
        supported), a setting cnnstep's layers lack (dilation, groups, ceil_mode, ...), or a
        shape that does not fit.
    ImportError
        torch is not installed.
    """
    func = "from_torch"
    torch = require("torch", func)
    from cnnstep.nn.export import torch_layers as tl

    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(f"{func}: module must be a torch.nn.Sequential, got {_checks.show(module)}")
    input_shape = shape = _layers.example_shape(input_shape, func, "input_shape", ndim=3)
    labels, items = _layers_in_order(torch, module)
    if not items:
        raise ValueError(f"{func}: module holds no layers")
    reader = _Reader(torch, tl, func, labels)
    start = 1 if isinstance(items[0], tl.ChannelsFirst) else 0
    for i in range(start, len(items)):
        shape = reader.read(i, items, shape)
    reader.finish(shape)
    model = Sequential(reader.layers, input_shape, classes=classes, dtype=reader.dtype or np.float32)
    for layer, arrays in zip(model.layers, reader.arrays, strict=True):
        for name, array in arrays.items():
            np.copyto(layer.params[name], array)
    return model


def _layers_in_order(torch, module, label="module") -> tuple[list, list]:
    """The layers of a Sequential, nested Sequentials opened in place; labels such as ``module[2][0]``."""
    labels, items = [], []
    for i, m in enumerate(module):
        if isinstance(m, torch.nn.Sequential):
            inner_labels, inner_items = _layers_in_order(torch, m, f"{label}[{i}]")
            labels += inner_labels
            items += inner_items
        else:
            labels.append(f"{label}[{i}]")
            items.append(m)
    return labels, items


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class _Reader:
    """Walks the torch layers in order, one cnnstep layer (and its arrays) per torch layer or pair."""

    def __init__(self, torch, tl, func, labels):
        self.torch, self.tl, self.func, self.labels = torch, tl, func, labels
        self.layers, self.arrays = [], []
        self.dtype = None
        self.consumed = set()  # indices read together with the layer before them
        self.flattened = None  # (n_H, n_W, n_C) of an image torch flattened in (c, h, w) order

    def _name(self, i, m) -> str:
        return f"{self.labels[i]} {type(m).__name__}"

    def _refuse(self, i, m, what: str):
        raise ValueError(f"{self.func}: {self._name(i, m)}: {what}")

    def _unsupported(self, i, m):
        raise ValueError(
            f"{self.func}: {self._name(i, m)} is a layer cnnstep does not have; the kinds it supports: {SUPPORTED}"
        )

    def _array(self, i, m, tensor) -> np.ndarray:
        if tensor.dtype not in (self.torch.float32, self.torch.float64):
            self._refuse(i, m, f"parameters must be float32 or float64, got {tensor.dtype}")
        array = tensor.detach().cpu().numpy()
        if self.dtype is None:
            self.dtype = array.dtype
        elif array.dtype != self.dtype:
            self._refuse(i, m, f"parameters are {array.dtype} but the layers before are {self.dtype}")
        return array

    def _add(self, i, m, make, shape, arrays=None) -> tuple:
        """The cnnstep layer ``make()`` for torch's ``m``; one example's output shape."""
        try:
            layer = make()
        except ValueError as exc:
            raise ValueError(f"{self.func}: {self._name(i, m)}: {exc}") from None
        try:
            out = layer.output_shape(shape)
        except ValueError as exc:
            raise ValueError(f"{self.func}: {self._name(i, m)} cannot take its input of shape {shape}: {exc}") from None
        self.layers.append(layer)
        self.arrays.append(arrays or {})
        return out

    def read(self, i, items, shape) -> tuple:
        if i in self.consumed:
            return shape
        torch, tl = self.torch, self.tl
        m = items[i]
        after = items[i + 1] if i + 1 < len(items) else None
        if isinstance(m, torch.nn.ConstantPad2d):
            return self._padded(i, m, after, shape)
        if isinstance(m, tl.ChannelsLast):
            if not isinstance(after, torch.nn.Flatten) or len(shape) != 3:
                self._refuse(i, m, "must come right before a Flatten of an image")
            self.consumed.add(i + 1)
            self._flatten_args(i + 1, after)
            return self._add(i, m, Flatten, shape)
        if isinstance(m, torch.nn.Conv2d):
            return self._conv(i, m, shape, extra=None)
        if isinstance(m, torch.nn.MaxPool2d):
            return self._max_pool(i, m, shape, extra=None)
        if isinstance(m, torch.nn.AvgPool2d):
            return self._avg_pool(i, m, shape)
        if isinstance(m, tl.AvgPool2dExcludePad):
            left, right, top, bottom = m.padding
            return self._add(i, m, lambda: AvgPool2D(m.kernel_size, m.stride, ((top, bottom), (left, right))), shape)
        if isinstance(m, torch.nn.ReLU):
            return self._add(i, m, ReLU, shape)
        if isinstance(m, torch.nn.Flatten):
            self._flatten_args(i, m)
            if len(shape) == 3:
                self.flattened = shape
            return self._add(i, m, Flatten, shape)
        if isinstance(m, torch.nn.Linear):
            return self._linear(i, m, shape)
        self._unsupported(i, m)

    # ----- the kinds

    def _padded(self, i, m, after, shape):
        left, right, top, bottom = m.padding
        if min(m.padding) < 0:
            self._refuse(i, m, f"negative padding (cropping) {m.padding} is not a cnnstep layer")
        extra = ((top, bottom), (left, right))
        if m.value == 0 and isinstance(after, self.torch.nn.Conv2d):
            self.consumed.add(i + 1)
            return self._conv(i + 1, after, shape, extra)
        if m.value == float("-inf") and isinstance(after, self.torch.nn.MaxPool2d):
            self.consumed.add(i + 1)
            return self._max_pool(i + 1, after, shape, extra)
        raise ValueError(
            f"{self.func}: {self._name(i, m)} (value {m.value}) is a layer cnnstep does not have on its own; "
            f"it must come right before a Conv2d (value 0) or a MaxPool2d (value -inf); the kinds cnnstep "
            f"supports: {SUPPORTED}"
        )

    @staticmethod
    def _sum_pads(extra, own):
        """A pad layer's ((top, bottom), (left, right)) plus a layer's own symmetric (p_h, p_w)."""
        if extra is None:
            return ((own[0], own[0]), (own[1], own[1]))
        (top, bottom), (left, right) = extra
        return ((top + own[0], bottom + own[0]), (left + own[1], right + own[1]))

    def _conv(self, i, m, shape, extra):
        if _pair(m.dilation) != (1, 1):
            self._refuse(i, m, f"dilation {m.dilation}: cnnstep's Conv2D has dilation 1 only")
        if m.groups != 1:
            self._refuse(i, m, f"groups={m.groups}: cnnstep's Conv2D has groups=1 only")
        if m.padding_mode != "zeros":
            self._refuse(i, m, f"padding_mode={m.padding_mode!r}: cnnstep's Conv2D pads with zeros only")
        n_C_prev = shape[-1] if len(shape) == 3 else None
        if m.in_channels != n_C_prev:
            self._refuse(i, m, f"takes {m.in_channels} channels but its input has shape {shape} (n_H, n_W, n_C)")
        f = _pair(m.kernel_size)
        if isinstance(m.padding, str):
            if extra is None:
                pad = m.padding
            else:  # torch's "same" (stride 1): (f - 1) split as cnnstep splits it; "valid": none
                pad = self._sum_pads(extra, (0, 0))
                if m.padding == "same":
                    (top, bottom), (left, right) = pad
                    more_top, more_bottom = _checks.same_padding(shape[0], f[0], 1)
                    more_left, more_right = _checks.same_padding(shape[1], f[1], 1)
                    pad = ((top + more_top, bottom + more_bottom), (left + more_left, right + more_right))
        else:
            pad = self._sum_pads(extra, _pair(m.padding))
        W = self._array(i, m, m.weight).transpose(2, 3, 1, 0)  # (n_C, n_C_prev, f_h, f_w) -> (f_h, f_w, n_C_prev, n_C)
        b = np.zeros(m.out_channels, W.dtype) if m.bias is None else self._array(i, m, m.bias)
        layer = functools.partial(Conv2D, m.out_channels, f, stride=_pair(m.stride), pad=pad)
        return self._add(i, m, layer, shape, {"W": W, "b": b.reshape(1, 1, 1, -1)})

    def _pool_args(self, i, m):
        if m.ceil_mode:
            self._refuse(i, m, "ceil_mode=True: cnnstep's pooling takes the floor of the output size")
        return _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)

    def _max_pool(self, i, m, shape, extra):
        f, s, p = self._pool_args(i, m)
        if _pair(m.dilation) != (1, 1):
            self._refuse(i, m, f"dilation {m.dilation}: cnnstep's MaxPool2D has dilation 1 only")
        if m.return_indices:
            self._refuse(i, m, "return_indices=True: cnnstep's MaxPool2D returns the pooled values only")
        return self._add(i, m, lambda: MaxPool2D(f, s, self._sum_pads(extra, p)), shape)

    def _avg_pool(self, i, m, shape):
        f, s, p = self._pool_args(i, m)
        if m.divisor_override is not None:
            self._refuse(i, m, f"divisor_override={m.divisor_override}: cnnstep's AvgPool2D divides by the real cells")
        if p != (0, 0) and m.count_include_pad:
            self._refuse(
                i,
                m,
                "count_include_pad=True with padding: cnnstep's AvgPool2D divides by the real cells only "
                "(count_include_pad=False)",
            )
        return self._add(i, m, lambda: AvgPool2D(f, s, self._sum_pads(None, p)), shape)

    def _flatten_args(self, i, m):
        if (m.start_dim, m.end_dim) != (1, -1):
            self._refuse(i, m, f"start_dim={m.start_dim}, end_dim={m.end_dim}: cnnstep flattens all but the batch")

    def _linear(self, i, m, shape):
        if len(shape) != 1 or m.in_features != shape[0]:
            self._refuse(i, m, f"takes {m.in_features} features but its input has shape {shape}: flatten before it")
        W = self._array(i, m, m.weight).T  # (units, n) -> (n, units)
        b = np.zeros(m.out_features, W.dtype) if m.bias is None else self._array(i, m, m.bias)
        if len(shape) == 1 and m.in_features == shape[0] and self.flattened is not None:
            n_H, n_W, n_C = self.flattened  # rows in torch's (c, h, w) order -> cnnstep's (h, w, c)
            W = W.reshape(n_C, n_H, n_W, -1).transpose(1, 2, 0, 3).reshape(shape[0], -1)
            self.flattened = None
        return self._add(i, m, lambda: Dense(m.out_features), shape, {"W": W, "b": b.reshape(1, -1)})

    def finish(self, shape) -> None:
        if self.flattened is not None:
            n_H, n_W, n_C = self.flattened
            if n_C > 1 and n_H * n_W > 1:
                raise ValueError(
                    f"{self.func}: the module ends with an image flattened in torch's (c, h, w) order, which "
                    f"cnnstep's Flatten (h, w, c) cannot give; end with a Linear or put to_torch's ChannelsLast "
                    f"before the Flatten"
                )
