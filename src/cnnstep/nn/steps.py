"""Steps: two neighbouring layers run as one, with the layer protocol and the same numbers.

A layer's ``fuse(following)`` offers one of these (:meth:`cnnstep.nn.Layer.fuse`), and
:class:`~cnnstep.nn.Sequential` plans its run from the answers. Each step computes exactly
what its two layers compute one after the other -- outputs and every gradient, bit for bit
-- with less work in between: ReLU in place on a convolution's new output, or ReLU moved
past a max-pooling it commutes with, onto the pooled (smaller) output.
"""

from __future__ import annotations

import numpy as np

from cnnstep._kernels import checks as _checks

__all__ = ["Step", "relu_gradient"]


class Step:
    """Two neighbouring layers run as one, with the layer protocol's ``forward`` / ``backward``.

    ``layers`` are the layers it runs; their parameters and gradients stay theirs.
    """

    def __init__(self, *layers):
        self.layers = layers

    def forward(self, x, training=True):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dout, input_gradient=True):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.layers))})"


def relu_gradient(dout, mask):
    """ReLU's backward, ``dout * mask``: one pass over both, into a new array (a NaN or
    infinite dout becomes NaN where the mask is 0, as the product says)."""
    return np.multiply(dout, mask)


class _ReLUInPlace(Step):
    """A layer whose output it owns, then ReLU: ReLU runs in place on that output."""

    def __init__(self, layer, relu):
        super().__init__(layer, relu)
        self._mask = self._out_shape = None

    def forward(self, x, training=True):
        layer, relu = self.layers
        z = layer.forward(x, training)
        relu._input(z)  # the ReLU's own shape check
        mask = np.greater(z, 0)
        np.maximum(z, 0, out=z)  # z is the layer's new array, handed to no one else yet
        self._mask = mask if training else None
        self._out_shape = z.shape if training else None
        return z

    def backward(self, dout, input_gradient=True):
        layer, relu = self.layers
        if self._mask is None:
            raise RuntimeError("ReLU.backward: no forward pass to differentiate; call forward(x, training=True) first")
        dout = _checks.gradient_shape(dout, "ReLU.backward", "dout", self._out_shape, "the last forward's output")
        return layer.backward(relu_gradient(dout, self._mask), input_gradient)


class _ReLUAfter(Step):
    """ReLU, then a layer that commutes with it (max-pooling): the layer first, ReLU on its output.

    ``pool(relu(x)) == relu(pool(x))``: a window's largest value after ReLU is ReLU of its
    largest value (NaN included: ``np.maximum`` keeps it). Gradients, under the all-ties
    rule: where a window's maximum is positive, both route dy to the cells equal to it (all
    positive, so ReLU passes them); where it is 0 or less, ReLU's gradient is 0 on the
    pooled value and on every cell of the window alike -- so is the result. A NaN or
    infinite dy turns into NaN over its whole window either way (``0 * inf``).
    """

    def __init__(self, relu, layer):
        super().__init__(relu, layer)
        self._mask = None

    def forward(self, x, training=True):
        relu, layer = self.layers
        relu._input(x)  # the ReLU's own shape check
        y = layer.forward(x, training)
        self._mask = np.greater(y, 0) if training else None
        return np.maximum(y, 0)  # the layer keeps its output for its backward: a new array

    def backward(self, dout, input_gradient=True):
        relu, layer = self.layers
        if self._mask is None:
            raise RuntimeError("ReLU.backward: no forward pass to differentiate; call forward(x, training=True) first")
        if np.shape(dout) != self._mask.shape:  # the layer's check names the shape expected
            return layer.backward(dout, input_gradient)
        return layer.backward(relu_gradient(np.asarray(dout), self._mask), input_gradient)
