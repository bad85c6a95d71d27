"""Every promised error: the right type, raised before any compute, naming function, argument,
what was received and what was expected."""

import functools

import numpy as np
import pytest

import cnnstep
from cnnstep import reference

IMPLS = [pytest.param(cnnstep, id="fast"), pytest.param(reference, id="reference")]

A = np.ones((2, 5, 5, 3))
W = np.ones((3, 3, 3, 4))
B = np.ones((1, 1, 1, 4))
HP = {"stride": 1, "pad": 1}
POOL_HP = {"f": 2, "stride": 2}


@functools.cache
def conv_cache():
    return cnnstep.conv_forward(A, W, B, HP)


@functools.cache
def pool_cache():
    return cnnstep.pool_forward(A, POOL_HP)


CASES = [
    # arrays of the wrong rank
    (
        "zero_pad",
        lambda m: m.zero_pad(np.ones((3, 3)), 1),
        ValueError,
        r"zero_pad: X must be a 4-D array \(m, n_H, n_W, n_C\), got shape \(3, 3\)",
    ),
    (
        "conv A rank",
        lambda m: m.conv_forward(np.ones((5, 5, 3)), W, B, HP),
        ValueError,
        r"conv_forward: A_prev must be a 4-D array .*got shape \(5, 5, 3\)",
    ),
    (
        "conv W rank",
        lambda m: m.conv_forward(A, np.ones((3, 3, 3)), B, HP),
        ValueError,
        r"conv_forward: W must be a 4-D array \(f_h, f_w, n_C_prev, n_C\), got shape \(3, 3, 3\)",
    ),
    (
        "pool A rank",
        lambda m: m.pool_forward(np.ones((5, 5)), POOL_HP),
        ValueError,
        r"pool_forward: A_prev must be a 4-D array",
    ),
    (
        "mask rank",
        lambda m: m.create_mask_from_window(np.ones((2, 2, 2))),
        ValueError,
        r"create_mask_from_window: x must be a 2-D array \(f_h, f_w\), got shape \(2, 2, 2\)",
    ),
    (
        "single step rank",
        lambda m: m.conv_single_step(np.ones((3, 3)), np.ones((3, 3)), 1.0),
        ValueError,
        r"conv_single_step: a_slice_prev must be a 3-D array",
    ),
    # channels and bias
    (
        "channels",
        lambda m: m.conv_forward(A, np.ones((3, 3, 1, 8)), np.ones((1, 1, 1, 8)), HP),
        ValueError,
        r"conv_forward: channel mismatch: A_prev has n_C_prev=3 but W.shape=\(3, 3, 1, 8\) expects 1",
    ),
    (
        "bias shape",
        lambda m: m.conv_forward(A, W, np.ones(4), HP),
        ValueError,
        r"conv_forward: b must have shape \(1, 1, 1, n_C\) = \(1, 1, 1, 4\) .*got shape \(4,\)",
    ),
    (
        "single step W shape",
        lambda m: m.conv_single_step(np.ones((3, 3, 2)), np.ones((3, 3, 3)), 1.0),
        ValueError,
        r"conv_single_step: W must have the shape of a_slice_prev \(3, 3, 2\), got shape \(3, 3, 3\)",
    ),
    (
        "single step b size",
        lambda m: m.conv_single_step(np.ones((3, 3, 2)), np.ones((3, 3, 2)), np.ones(2)),
        ValueError,
        r"conv_single_step: b must hold exactly one number .*got shape \(2,\)",
    ),
    # gradients of the wrong shape
    (
        "dZ shape",
        lambda m: m.conv_backward(np.ones((2, 5, 5, 3)), conv_cache()[1]),
        ValueError,
        r"conv_backward: dZ must have shape \(2, 5, 5, 4\) \(implied by the cache: Z's shape\), got shape \(2, 5, 5, 3\)",
    ),
    (
        "dA shape",
        lambda m: m.pool_backward(np.ones((2, 3, 3, 3)), pool_cache()[1]),
        ValueError,
        r"pool_backward: dA must have shape \(2, 2, 2, 3\) .*got shape \(2, 3, 3, 3\)",
    ),
    # caches that are not what the forward returned
    (
        "conv cache type",
        lambda m: m.conv_backward(np.ones((2, 5, 5, 4)), A),
        TypeError,
        r"conv_backward: cache must be the \(A_prev, W, b, hparameters\) tuple returned by conv_forward",
    ),
    (
        "conv cache of pool",
        lambda m: m.conv_backward(np.ones((2, 5, 5, 4)), pool_cache()[1]),
        ValueError,
        r"conv_backward: cache must be .* got a tuple of 2 items",
    ),
    (
        "pool cache of conv",
        lambda m: m.pool_backward(np.ones((2, 2, 2, 3)), conv_cache()[1]),
        ValueError,
        r"pool_backward: cache must be the \(A_prev, hparameters\) tuple returned by pool_forward, got a tuple of 4",
    ),
    (
        "conv cache bad content",
        lambda m: m.conv_backward(np.ones((2, 5, 5, 4)), (A, W, np.ones(4), HP)),
        ValueError,
        r"conv_backward: b must have shape",
    ),
    # windows that do not fit
    (
        "conv window",
        lambda m: m.conv_forward(np.ones((1, 2, 2, 3)), W, B, {"stride": 1, "pad": 0}),
        ValueError,
        r"conv_forward: window larger than the padded input: W .* is 3x3 but the padded input is 2x2",
    ),
    (
        "pool window",
        lambda m: m.pool_forward(np.ones((1, 2, 5, 1)), {"f": 3, "stride": 1}),
        ValueError,
        r"pool_forward: window larger than the padded input: .* is 3x3 but the padded input is 2x5",
    ),
    # shape arguments
    (
        "distribute zero",
        lambda m: m.distribute_value(1.0, (0, 2)),
        ValueError,
        r"distribute_value: shape must be a pair \(n_H, n_W\) of positive integers \(no zero or negative size\), got \(0, 2\)",
    ),
    (
        "distribute negative",
        lambda m: m.distribute_value(1.0, (2, -1)),
        ValueError,
        r"distribute_value: shape .* got \(2, -1\)",
    ),
    (
        "distribute length",
        lambda m: m.distribute_value(1.0, (2, 2, 2)),
        ValueError,
        r"distribute_value: shape must be a pair",
    ),
    (
        "distribute type",
        lambda m: m.distribute_value(1.0, 4),
        TypeError,
        r"distribute_value: shape must be a pair .*got 4 \(int\)",
    ),
    ("distribute float size", lambda m: m.distribute_value(1.0, (2.0, 2)), TypeError, r"distribute_value: shape"),
    (
        "distribute dz",
        lambda m: m.distribute_value(np.ones(2), (2, 2)),
        ValueError,
        r"distribute_value: dz must be one number",
    ),
    (
        "empty dims",
        lambda m: m.conv_forward(np.ones((1, 5, 5, 0)), np.ones((3, 3, 0, 2)), np.ones((1, 1, 1, 2)), HP),
        ValueError,
        r"conv_forward: A_prev has an empty dimension",
    ),
    # hyperparameters
    (
        "hp type",
        lambda m: m.conv_forward(A, W, B, [1, 1]),
        TypeError,
        r"conv_forward: hparameters must be a dict such as \{\"stride\": 1, \"pad\": 0\}, got \[1, 1\] \(list\)",
    ),
    (
        "hp missing pad",
        lambda m: m.conv_forward(A, W, B, {"stride": 1}),
        ValueError,
        r"conv_forward: hparameters is missing the key 'pad'",
    ),
    (
        "hp missing f",
        lambda m: m.pool_forward(A, {"stride": 1}),
        ValueError,
        r"pool_forward: hparameters is missing the key 'f'",
    ),
    (
        "stride float",
        lambda m: m.conv_forward(A, W, B, {"stride": 1.5, "pad": 0}),
        TypeError,
        r"conv_forward: hparameters\[\"stride\"\] must be a positive integer or a pair \(height, width\) of them, got 1.5 \(float\)",
    ),
    (
        "stride zero",
        lambda m: m.conv_forward(A, W, B, {"stride": 0, "pad": 0}),
        ValueError,
        r"conv_forward: hparameters\[\"stride\"\] must be a positive integer .*got 0",
    ),
    (
        "stride negative",
        lambda m: m.pool_forward(A, {"f": 2, "stride": -1}),
        ValueError,
        r"pool_forward: hparameters\[\"stride\"\]",
    ),
    (
        "stride bool",
        lambda m: m.conv_forward(A, W, B, {"stride": True, "pad": 0}),
        TypeError,
        r"conv_forward: hparameters\[\"stride\"\] .*got True \(bool\)",
    ),
    (
        "stride string",
        lambda m: m.conv_forward(A, W, B, {"stride": "2", "pad": 0}),
        TypeError,
        r"conv_forward: hparameters\[\"stride\"\] .*got '2' \(str\)",
    ),
    (
        "stride float two",
        lambda m: m.pool_forward(A, {"f": 2, "stride": 2.0}),
        TypeError,
        r"pool_forward: hparameters\[\"stride\"\]",
    ),
    (
        "stride triple",
        lambda m: m.conv_forward(A, W, B, {"stride": (1, 1, 1), "pad": 0}),
        ValueError,
        r"conv_forward: hparameters\[\"stride\"\] .*with 3 items",
    ),
    (
        "f float",
        lambda m: m.pool_forward(A, {"f": 1.5, "stride": 1}),
        TypeError,
        r"pool_forward: hparameters\[\"f\"\] .*got 1.5",
    ),
    (
        "f zero",
        lambda m: m.pool_forward(A, {"f": 0, "stride": 1}),
        ValueError,
        r"pool_forward: hparameters\[\"f\"\] .*got 0",
    ),
    ("f bool", lambda m: m.pool_forward(A, {"f": True, "stride": 1}), TypeError, r"pool_forward: hparameters\[\"f\"\]"),
    (
        "f string",
        lambda m: m.pool_forward(A, {"f": "2", "stride": 1}),
        TypeError,
        r"pool_forward: hparameters\[\"f\"\]",
    ),
    (
        "pad negative",
        lambda m: m.conv_forward(A, W, B, {"stride": 1, "pad": -1}),
        ValueError,
        r"conv_forward: hparameters\[\"pad\"\] must not be negative, got -1",
    ),
    (
        "pad unknown word",
        lambda m: m.conv_forward(A, W, B, {"stride": 1, "pad": "full"}),
        ValueError,
        r"conv_forward: hparameters\[\"pad\"\] must be .*'valid' or 'same', got the unknown form 'full'",
    ),
    (
        "pad float",
        lambda m: m.conv_forward(A, W, B, {"stride": 1, "pad": 1.5}),
        TypeError,
        r"conv_forward: hparameters\[\"pad\"\] must be .*got 1.5 \(float\)",
    ),
    (
        "pad triple",
        lambda m: m.conv_forward(A, W, B, {"stride": 1, "pad": (1, 1, 1)}),
        ValueError,
        r"conv_forward: hparameters\[\"pad\"\] must be .*with 3 items",
    ),
    (
        "pad mixed",
        lambda m: m.conv_forward(A, W, B, {"stride": 1, "pad": (1, (1, 1))}),
        ValueError,
        r"conv_forward: hparameters\[\"pad\"\] .*mixed form",
    ),
    (
        "pad negative pair",
        lambda m: m.conv_forward(A, W, B, {"stride": 1, "pad": ((0, -1), (0, 0))}),
        ValueError,
        r"conv_forward: hparameters\[\"pad\"\] must not be negative",
    ),
    (
        "pad bool",
        lambda m: m.conv_forward(A, W, B, {"stride": 1, "pad": True}),
        TypeError,
        r"conv_forward: hparameters\[\"pad\"\]",
    ),
    ("zero_pad negative", lambda m: m.zero_pad(A, -2), ValueError, r"zero_pad: pad must not be negative, got -2"),
    (
        "zero_pad word",
        lambda m: m.zero_pad(A, "same"),
        ValueError,
        r"zero_pad: pad must be an int p >= 0.*got the unknown form 'same'",
    ),
    (
        "pool pad too big",
        lambda m: m.pool_forward(A, {"f": 2, "stride": 2, "pad": 2}),
        ValueError,
        r"pool_forward: pooling padding must be smaller than the window",
    ),
    (
        "mode",
        lambda m: m.pool_forward(A, POOL_HP, mode="avg"),
        ValueError,
        r"pool_forward: unknown mode 'avg', expected \"max\" or \"average\"",
    ),
    (
        "mode type",
        lambda m: m.pool_forward(A, POOL_HP, mode=None),
        TypeError,
        r"pool_forward: mode must be \"max\" or \"average\"",
    ),
    (
        "backward mode",
        lambda m: m.pool_backward(np.ones((2, 2, 2, 3)), pool_cache()[1], mode="mean"),
        ValueError,
        r"pool_backward: unknown mode 'mean'",
    ),
    (
        "ties",
        lambda m: m.pool_backward(np.ones((2, 2, 2, 3)), pool_cache()[1], ties="last"),
        ValueError,
        r"pool_backward: unknown ties rule 'last'",
    ),
    # arrays that are not real numbers
    (
        "complex",
        lambda m: m.conv_forward(A.astype(complex), W, B, HP),
        TypeError,
        r"conv_forward: A_prev must hold real numbers \(integer or floating dtype\), got dtype complex128",
    ),
    (
        "bool",
        lambda m: m.pool_forward(A.astype(bool), POOL_HP),
        TypeError,
        r"pool_forward: A_prev must hold real numbers.*bool",
    ),
    (
        "object",
        lambda m: m.conv_forward(A, W.astype(object), B, HP),
        TypeError,
        r"conv_forward: W must hold real numbers.*object",
    ),
    (
        "strings",
        lambda m: m.zero_pad(np.full((1, 2, 2, 1), "a"), 1),
        TypeError,
        r"zero_pad: X must hold real numbers.*<U1",
    ),
    (
        "string X",
        lambda m: m.zero_pad("abc", 1),
        TypeError,
        r"zero_pad: X must be a NumPy array of real numbers, got 'abc' \(str\)",
    ),
    (
        "None b",
        lambda m: m.conv_forward(A, W, None, HP),
        TypeError,
        r"conv_forward: b must be a NumPy array of real numbers, got None",
    ),
    (
        "complex dZ",
        lambda m: m.conv_backward(np.ones((2, 5, 5, 4), dtype=complex), conv_cache()[1]),
        TypeError,
        r"conv_backward: dZ must hold real numbers",
    ),
    (
        "bool mask input",
        lambda m: m.create_mask_from_window(np.ones((2, 2), dtype=bool)),
        TypeError,
        r"create_mask_from_window: x must hold real numbers",
    ),
    ("complex dz", lambda m: m.distribute_value(1j, (2, 2)), TypeError, r"distribute_value: dz must hold real numbers"),
    (
        "ragged",
        lambda m: m.conv_forward([[1, 2], [3]], W, B, HP),
        TypeError,
        r"conv_forward: A_prev must be a NumPy array",
    ),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name, call, error, message", CASES, ids=[c[0] for c in CASES])
def test_error_message(impl, name, call, error, message):
    with pytest.raises(error, match=message):
        call(impl)


@pytest.mark.parametrize("name, call, error, message", CASES, ids=[c[0] for c in CASES])
def test_errors_are_raised_before_any_compute(monkeypatch, name, call, error, message):
    """Validation happens first: a bad input never reaches a kernel (every kernel entry is trapped)."""
    from cnnstep import conv
    from cnnstep._kernels import pooling

    conv_cache(), pool_cache()  # made (and kept) before the traps are set

    def boom(*args, **kwargs):
        raise AssertionError("kernel reached")

    for module, names in (
        (conv, ("_forward", "_backward")),
        (pooling, ("max_forward", "average_forward", "max_backward", "average_backward")),
    ):
        for attr in names:
            monkeypatch.setattr(module, attr, boom)
    with pytest.raises(error, match=message):
        call(cnnstep)


def test_nothing_fails_later_with_a_numpy_error_on_odd_shapes():
    """Shapes that fit exactly and strides far beyond the input compute, with the promised sizes."""
    Z, _ = cnnstep.conv_forward(np.ones((1, 3, 3, 3)), W, B, {"stride": 7, "pad": 0})
    assert Z.shape == (1, 1, 1, 4)
    A_out, _ = cnnstep.pool_forward(np.ones((1, 3, 3, 1)), {"f": 3, "stride": 9})
    assert A_out.shape == (1, 1, 1, 1)
