"""Layers of a convolutional network, built on the eight blocks.

Every layer has the same small life cycle:

* construct it with its hyperparameters (checked at once: ``ValueError`` / ``TypeError``);
* ``build(input_shape, rng, dtype)`` creates its parameters for inputs of one example's
  shape -- ``(n_H, n_W, n_C)`` for images, ``(n,)`` after :class:`Flatten`;
* ``forward(x, training=True)`` maps a batch ``(m, *input_shape)`` to ``(m, *output_shape)``
  and, when training, keeps what ``backward`` needs;
* ``backward(dout, input_gradient=True)`` stores the gradients of the parameters in
  ``grads`` (same keys as ``params``: ``"W"``, ``"b"``) and returns the gradient with
  respect to ``x`` -- or None with ``input_gradient=False``, which skips computing it (a
  network's first layers have no use for it).
* ``output_shape(input_shape)`` is a pure shape rule: one example's shape in, its output
  shape out, the blocks' own errors for a shape the layer cannot take;
* ``fuse(following)`` offers a :class:`Step` that runs this layer and the next as one, with
  the same protocol and the same numbers (None: no such step). A ReLU moves past a layer
  that declares ``commutes_with_relu`` (max-pooling: ReLU then runs on the pooled output) or
  runs in place on a convolution's new output; :class:`~cnnstep.nn.Sequential` plans its
  run from these answers.

The math is the blocks' own: :class:`Conv2D` calls ``cnnstep.conv_forward`` /
``cnnstep.conv_backward``, the pooling layers call ``cnnstep.pool_forward`` /
``cnnstep.pool_backward``, and :class:`Dense` is a 1x1 convolution of a 1x1 image, so there
is one implementation of each piece of math. No layer writes to its input or to ``dout``.
"""

from __future__ import annotations

import numpy as np

import cnnstep
from cnnstep._kernels import checks as _checks
from cnnstep.nn import steps as _steps
from cnnstep.nn.args import (
    example_shape,
    float_dtype,
    generator,
    init_name,
    initial_weights,
    jsonable,
    layer_padding,
    pad_text,
    positive_int,
)
from cnnstep.nn.steps import Step, _ReLUAfter, _ReLUInPlace

__all__ = ["Layer", "Step", "Conv2D", "MaxPool2D", "AvgPool2D", "ReLU", "Flatten", "Dense"]

# --------------------------------------------------------------------------- the base


class Layer:
    """What every layer shares: parameters, gradients, the built shape, the cache.

    Attributes
    ----------
    params : dict of str -> ndarray
        The trainable arrays (empty for layers without parameters).
    grads : dict of str -> ndarray
        Their gradients after ``backward``, same keys and shapes as ``params``.
    input_shape : tuple or None
        One example's input shape, set by ``build``.
    dtype : numpy.dtype or None
        The dtype of the parameters, set by ``build``.
    """

    def __init__(self):
        self.params: dict = {}
        self.grads: dict = {}
        self.input_shape: tuple | None = None
        self.dtype: np.dtype | None = None
        self._cache = None
        self._out_shape: tuple | None = None

    # ----- what subclasses define

    def _args(self) -> dict:
        """The constructor's arguments, as they rebuild this layer."""
        return {}

    def describe(self) -> str:
        """A short account of the hyperparameters, for :meth:`Sequential.summary`."""
        return ""

    def output_shape(self, input_shape) -> tuple:
        """One example's output shape for one example's ``input_shape``."""
        return example_shape(input_shape, self._name)

    def _create_params(self, input_shape: tuple, rng: np.random.Generator, dtype: np.dtype) -> dict:
        return {}

    def place_last(self) -> None:
        """Told by a model that this layer gives its logits (softmax follows); most layers need nothing."""

    def forward(self, x, training=True) -> np.ndarray:
        """A batch ``(m, *input_shape)`` -> ``(m, *output_shape)``; ``training`` keeps the cache."""
        raise NotImplementedError(f"{self._name}.forward")

    def backward(self, dout, input_gradient=True):
        """``dout (m, *output_shape)`` -> ``dx (m, *input_shape)``, or None without ``input_gradient``."""
        raise NotImplementedError(f"{self._name}.backward")

    #: True when ``forward(relu(x)) == relu(forward(x))``, gradients included (max-pooling)
    commutes_with_relu = False
    #: True for ReLU: it may run in place on the new output of the layer before it
    fuses_after_owner = False

    def fuse(self, following: Layer) -> Step | None:
        """A step running this layer and ``following`` (built, in a row) as one, or None.

        The step computes exactly what the two layers compute one after the other -- the
        same numbers, the same gradients in both layers' ``grads`` -- with less work in
        between. :class:`~cnnstep.nn.Sequential` asks every pair of neighbours once.
        """
        return None

    # ----- shared

    @property
    def _name(self) -> str:
        return type(self).__name__

    @property
    def built(self) -> bool:
        return self.input_shape is not None

    def build(self, input_shape, rng, dtype=np.float32) -> None:
        """Create the parameters for inputs of one example's shape ``input_shape``.

        Parameters
        ----------
        input_shape : tuple of int
            ``(n_H, n_W, n_C)`` for images, ``(n,)`` for flat vectors.
        rng : numpy.random.Generator or int
            Draws the initial weights.
        dtype : float32 or float64
            The dtype of the parameters.
        """
        shape = example_shape(input_shape, f"{self._name}.build")
        self.output_shape(shape)  # refuses an input the layer cannot take
        rng = generator(rng, f"{self._name}.build")
        dtype = float_dtype(dtype, f"{self._name}.build")
        self.params = self._create_params(shape, rng, dtype)
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        self.input_shape, self.dtype = shape, dtype
        self._cache = self._out_shape = None

    def unbuild(self) -> None:
        """Forget the parameters and the built shape (the hyperparameters stay)."""
        self.params, self.grads = {}, {}
        self.input_shape = self.dtype = None
        self._cache = self._out_shape = None

    def config(self) -> dict:
        """A JSON-able dict that rebuilds this layer with :func:`layer_from_config`."""
        return {"type": self._name, **{k: jsonable(v) for k, v in self._args().items()}}

    def count_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._args().items())
        return f"{self._name}({args})"

    def _input(self, x) -> np.ndarray:
        """Check a batch against the built input shape."""
        func = f"{self._name}.forward"
        if not self.built:
            raise RuntimeError(
                f"{func}: the layer is not built; call build(input_shape, rng, dtype) first "
                f"(Sequential does this for its layers)"
            )
        x = _checks.real_array(x, func, "x")
        if x.shape[1:] != self.input_shape or x.ndim != len(self.input_shape) + 1:
            expected = ("m",) + self.input_shape
            raise ValueError(
                f"{func}: x must have shape ({', '.join(map(str, expected))}) for the input shape "
                f"{self.input_shape} the layer was built for, got shape {x.shape}"
            )
        return x

    def _keep(self, cache, training: bool, out_shape: tuple) -> None:
        self._cache = cache if training else None
        self._out_shape = out_shape if training else None

    def _cached(self, dout):
        """The forward's cache, after checking ``dout`` against the forward's output."""
        func = f"{self._name}.backward"
        if self._cache is None:
            raise RuntimeError(f"{func}: no forward pass to differentiate; call forward(x, training=True) first")
        return self._cache, _checks.gradient_shape(dout, func, "dout", self._out_shape, "the last forward's output")


# --------------------------------------------------------------------------- convolution


def _conv_backward(dout, cache, input_gradient: bool, func: str):
    """``cnnstep.conv_backward``, or the same kernels without dA_prev (None) for a first layer."""
    if input_gradient:
        return cnnstep.conv_backward(dout, cache)
    return cnnstep.conv.backward_parts(dout, cache, input_gradient=False, func=func)


class Conv2D(Layer):
    """A convolution layer: ``cnnstep.conv_forward`` with its own filters and biases.

    Parameters
    ----------
    filters : int
        n_C, the number of filters.
    kernel_size : int or (f_h, f_w)
    stride : int or (s_h, s_w)
    pad : "same", "valid", int, (p_h, p_w) or ((top, bottom), (left, right))
        As ``conv_forward`` takes it; ``"same"`` keeps ``ceil(n_prev / stride)``.
    init : "he" or "glorot"
        He normal for a layer followed by ReLU, Glorot uniform otherwise.

    Shapes: input ``(m, n_H_prev, n_W_prev, n_C_prev)``, params ``W (f_h, f_w, n_C_prev, filters)``
    and ``b (1, 1, 1, filters)``, output ``(m, n_H, n_W, filters)`` with::

        n_H = (n_H_prev + pad_top + pad_bottom - f_h) // s_h + 1
    """

    def __init__(self, filters, kernel_size, stride=1, pad="same", init="he"):
        super().__init__()
        func = "Conv2D"
        self.filters = positive_int(filters, func, "filters")
        self.kernel_size = _checks.positive_pair(kernel_size, func, "kernel_size")
        self.stride = _checks.positive_pair(stride, func, "stride")
        self.pad = layer_padding(pad, func)
        self.init = init_name(init, func)
        self.hparameters = {"stride": self.stride, "pad": self.pad}

    def _args(self) -> dict:
        return {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "pad": self.pad,
            "init": self.init,
        }

    def describe(self) -> str:
        (f_h, f_w), (s_h, s_w) = self.kernel_size, self.stride
        stride = s_h if s_h == s_w else f"{s_h}x{s_w}"
        return f"{self.filters} filters {f_h}x{f_w}, stride {stride}, {pad_text(self.pad)}"

    def output_shape(self, input_shape) -> tuple:
        n_H_prev, n_W_prev, n_C_prev = example_shape(input_shape, self._name, ndim=3)
        f_h, f_w = self.kernel_size
        # the blocks' own shape rule and errors
        g = _checks.conv_geometry(
            (0, n_H_prev, n_W_prev, n_C_prev), (f_h, f_w, n_C_prev, self.filters), self.hparameters, self._name
        )
        return (g.n_H, g.n_W, self.filters)

    def _create_params(self, input_shape, rng, dtype) -> dict:
        f_h, f_w = self.kernel_size
        n_C_prev = input_shape[2]
        W = initial_weights(
            rng,
            (f_h, f_w, n_C_prev, self.filters),
            fan_in=f_h * f_w * n_C_prev,
            fan_out=f_h * f_w * self.filters,
            init=self.init,
            dtype=dtype,
        )
        return {"W": W, "b": np.zeros((1, 1, 1, self.filters), dtype=dtype)}

    def forward(self, x, training=True):
        """x (m, n_H_prev, n_W_prev, n_C_prev) -> Z (m, n_H, n_W, filters)."""
        x = self._input(x)
        Z, cache = cnnstep.conv_forward(x, self.params["W"], self.params["b"], self.hparameters)
        self._keep(cache, training, Z.shape)
        return Z

    def backward(self, dout, input_gradient=True):
        """dout (m, n_H, n_W, filters) -> dx (m, n_H_prev, n_W_prev, n_C_prev); fills grads W, b.

        ``input_gradient=False`` skips dx (returns None): a first layer has no use for it.
        """
        cache, dout = self._cached(dout)
        dx, dW, db = _conv_backward(dout, cache, input_gradient, "Conv2D.backward")
        self.grads["W"], self.grads["b"] = dW, db
        return dx

    def fuse(self, following):
        """A following ReLU runs in place on the convolution's new output."""
        return _ReLUInPlace(self, following) if following.fuses_after_owner else None


# --------------------------------------------------------------------------- pooling


class _Pool2D(Layer):
    """Shared by the pooling layers: ``cnnstep.pool_forward`` / ``pool_backward`` in one mode."""

    mode = "max"

    def __init__(self, f, stride=None, pad=0):
        super().__init__()
        func = self._name
        self.f = _checks.positive_pair(f, func, "f")
        self.stride = self.f if stride is None else _checks.positive_pair(stride, func, "stride")
        self.pad = layer_padding(pad, func)
        if not isinstance(self.pad, str):
            (top, bottom), (left, right) = self.pad
            if max(top, bottom) >= self.f[0] or max(left, right) >= self.f[1]:
                raise ValueError(f"{func}: pad must be smaller than the window f={self.f} on every side, got {pad!r}")
        self.hparameters = {"f": self.f, "stride": self.stride, "pad": self.pad}

    def _args(self) -> dict:
        return {"f": self.f, "stride": self.stride, "pad": self.pad}

    def describe(self) -> str:
        (f_h, f_w), (s_h, s_w) = self.f, self.stride
        stride = s_h if s_h == s_w else f"{s_h}x{s_w}"
        return f"{f_h}x{f_w}, stride {stride}, {pad_text(self.pad)}"

    def output_shape(self, input_shape) -> tuple:
        shape = example_shape(input_shape, self._name, ndim=3)
        g = _checks.pool_geometry((0,) + shape, self.hparameters, self.mode, self._name)
        return (g.n_H, g.n_W, g.n_C)

    def forward(self, x, training=True):
        """x (m, n_H_prev, n_W_prev, n_C) -> A (m, n_H, n_W, n_C)."""
        x = self._input(x)
        A, cache = cnnstep.pool_forward(x, self.hparameters, mode=self.mode)
        self._keep(cache, training, A.shape)
        return A

    def _ties(self) -> str:
        return "all"

    def backward(self, dout, input_gradient=True):
        """dout (m, n_H, n_W, n_C) -> dx (m, n_H_prev, n_W_prev, n_C); no parameters."""
        cache, dout = self._cached(dout)
        if not input_gradient:
            return None
        return cnnstep.pool_backward(dout, cache, mode=self.mode, ties=self._ties())


class MaxPool2D(_Pool2D):
    """Max-pooling over f_h x f_w windows, channel by channel.

    Parameters
    ----------
    f : int or (f_h, f_w)
        The window.
    stride : int, (s_h, s_w) or None
        None: the window, so that windows tile the input.
    pad : 0, "same", "valid", int, (p_h, p_w) or ((top, bottom), (left, right))
        Padding counts as -inf; each side must be smaller than the window.
    ties : "all" or "first"
        Who receives a window's gradient when several cells hold its maximum: every one
        (the exercise's mask, the default) or the first in row-major order (PyTorch's rule).

    Shapes: input ``(m, n_H_prev, n_W_prev, n_C)``, output ``(m, n_H, n_W, n_C)`` with
    ``n_H = (n_H_prev + pad_top + pad_bottom - f_h) // s_h + 1``.
    """

    mode = "max"

    def __init__(self, f, stride=None, pad=0, ties="all"):
        super().__init__(f, stride, pad)
        self.ties = _checks.tie_rule(ties, "MaxPool2D")

    def _args(self) -> dict:
        return {**super()._args(), "ties": self.ties}

    def _ties(self) -> str:
        return self.ties

    # a window's maximum after ReLU is ReLU of its maximum (either tie rule: where the maximum
    # is positive the same cells hold it, elsewhere ReLU's gradient is 0 on all of them)
    commutes_with_relu = True

    def forward(self, x, training=True):
        """x (m, n_H_prev, n_W_prev, n_C) -> A (m, n_H, n_W, n_C).

        When training, the layer keeps where each window's maximum lies (the mask of side
        by side windows, the column pass of others), so the backward needs not find the
        maxima again; the numbers are ``pool_forward``'s and ``pool_backward``'s.
        """
        if not training:
            return super().forward(x, training)
        x = self._input(x)
        A, kept = cnnstep.pool.max_forward_routed(x, self.hparameters)
        self._keep(kept, training, A.shape)
        return A

    def backward(self, dout, input_gradient=True):
        """dout (m, n_H, n_W, n_C) -> dx (m, n_H_prev, n_W_prev, n_C); no parameters."""
        kept, dout = self._cached(dout)
        if not input_gradient:
            return None
        return cnnstep.pool.max_backward_routed(dout, kept, ties=self.ties)


class AvgPool2D(_Pool2D):
    """Average-pooling over f_h x f_w windows, channel by channel.

    Parameters as :class:`MaxPool2D` (without ``ties``); a padded window averages its real
    cells only.
    """

    mode = "average"


# --------------------------------------------------------------------------- element-wise and reshaping


class ReLU(Layer):
    """``max(x, 0)`` element by element; the gradient passes where ``x > 0``. Any input shape.

    In a :class:`~cnnstep.nn.Sequential` it moves past a following layer that commutes with
    it (max-pooling: ReLU then runs on the pooled, smaller output) or, failing that, runs in
    place on the new output of the layer before it (a convolution).
    """

    fuses_after_owner = True

    def forward(self, x, training=True):
        x = self._input(x)
        out = np.maximum(x, 0)
        self._keep(x > 0 if training else None, training, out.shape)
        return out

    def backward(self, dout, input_gradient=True):
        mask, dout = self._cached(dout)
        if not input_gradient:
            return None
        return _steps.relu_gradient(dout, mask)  # a new array: dout is left as it is

    def fuse(self, following):
        """ReLU after a following layer that commutes with it, on its (smaller) output."""
        return _ReLUAfter(self, following) if following.commutes_with_relu else None


class Flatten(Layer):
    """``(m, n_H, n_W, n_C) -> (m, n_H * n_W * n_C)`` in C order (channels last, as Keras).

    Forward and backward return new arrays (not views), as every layer does.
    """

    def output_shape(self, input_shape) -> tuple:
        shape = example_shape(input_shape, self._name)
        return (int(np.prod(shape)),)

    def forward(self, x, training=True):
        x = self._input(x)
        out = x.reshape(x.shape[0], int(np.prod(self.input_shape))).copy()
        self._keep(x.shape, training, out.shape)
        return out

    def backward(self, dout, input_gradient=True):
        shape, dout = self._cached(dout)
        if not input_gradient:
            return None
        return dout.reshape(shape).copy()


# --------------------------------------------------------------------------- dense


_POINTWISE = {"stride": 1, "pad": 0}


class Dense(Layer):
    """A fully connected layer ``Z = x @ W + b`` (logits when last; softmax lives in the loss).

    Computed as a 1x1 convolution of a 1x1 image with ``cnnstep.conv_forward`` /
    ``conv_backward``, so the affine map has one implementation.

    Parameters
    ----------
    units : int
        Outputs per example.
    init : "he", "glorot" or None
        None lets the model choose: Glorot uniform for the last layer of a
        :class:`~cnnstep.nn.Sequential` (softmax follows), He normal otherwise.

    Shapes: input ``(m, n)``, params ``W (n, units)`` and ``b (1, units)``, output ``(m, units)``.
    """

    def __init__(self, units, init=None):
        super().__init__()
        self.units = positive_int(units, "Dense", "units")
        self.init = self._requested_init = init_name(init, "Dense", allow_none=True)

    def _args(self) -> dict:
        return {"units": self.units, "init": self.init}

    def describe(self) -> str:
        return f"{self.units} units"

    def place_last(self) -> None:
        """Glorot uniform unless an init was asked for: softmax, not ReLU, follows the logits."""
        if self.init is None:
            self.init = "glorot"

    def unbuild(self) -> None:
        super().unbuild()
        self.init = self._requested_init  # a model's choice is undone with the rest

    def output_shape(self, input_shape) -> tuple:
        shape = example_shape(input_shape, self._name)
        if len(shape) != 1:
            raise ValueError(f"Dense: the input must be flat, shape (n,), got {shape}: put a Flatten() before Dense")
        return (self.units,)

    def _create_params(self, input_shape, rng, dtype) -> dict:
        if self.init is None:
            self.init = "he"
        (n,) = input_shape
        W = initial_weights(rng, (n, self.units), fan_in=n, fan_out=self.units, init=self.init, dtype=dtype)
        return {"W": W, "b": np.zeros((1, self.units), dtype=dtype)}

    def forward(self, x, training=True):
        """x (m, n) -> Z (m, units)."""
        x = self._input(x)
        m, (n,) = x.shape[0], self.input_shape
        # m n , n k -> m k, as the convolution m 1 1 n , 1 1 n k -> m 1 1 k
        Z, cache = cnnstep.conv_forward(
            x.reshape(m, 1, 1, n),
            self.params["W"].reshape(1, 1, n, self.units),
            self.params["b"].reshape(1, 1, 1, self.units),
            _POINTWISE,
        )
        Z = Z.reshape(m, self.units)
        self._keep(cache, training, Z.shape)
        return Z

    def backward(self, dout, input_gradient=True):
        """dout (m, units) -> dx (m, n) (None without ``input_gradient``); fills grads W (n, units), b (1, units)."""
        cache, dout = self._cached(dout)
        m, (n,) = dout.shape[0], self.input_shape
        dx, dW, db = _conv_backward(dout.reshape(m, 1, 1, self.units), cache, input_gradient, "Dense.backward")
        self.grads["W"], self.grads["b"] = dW.reshape(n, self.units), db.reshape(1, self.units)
        return None if dx is None else dx.reshape(m, n)
